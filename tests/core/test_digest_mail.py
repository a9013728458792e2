"""The weekly digest and the alerts against a real SMTP server on 127.0.0.1 (aiosmtpd): exact
recipients, content scoped per role, sent once under reruns and concurrent senders, failures
recorded and retried, the command line, previews and tests for admins."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from salesplan import engine, notify
from salesplan.cli import main
from salesplan.errors import NotAllowed
from salesplan.notify import content as C
from salesplan.notify import render
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store
from tests.helpers.mail import DEMO_ACCOUNTS, DEMO_TODAY, Collector, SmtpServer, demo_store, free_port, running_server

D = DEMO_TODAY
EARLY = dt.date(2026, 1, 5)  # within the grace share of FY2026: nobody is on the watch list yet
DASHBOARD = "https://plan.example.com/"  # the first run's dashboard_url


@pytest.fixture(scope="module")
def server():
    """One SMTP server for the module (starting one per test cost more than most tests' checks)."""
    yield from running_server()


def _forget(server: SmtpServer) -> None:
    server.collector.received.clear()
    server.collector.refuse_rcpt.clear()
    server.collector.refuse_data.clear()


@pytest.fixture
def smtp(server):
    """The module's server, holding no message and refusing nothing when the test starts (sending
    is synchronous: no message of an earlier test can arrive later)."""
    _forget(server)
    yield server
    _forget(server)


@pytest.fixture
def store(tmp_path, smtp):
    opened = demo_store(tmp_path, smtp_port=smtp.port)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, server):
    """The weekly run on D (digests and alerts) on a fresh demo with the dashboard_url set, done
    once: the result, the messages the server received and the closed database file afterwards.
    The tests that only read what this run sent and stored share it (each opens a copy of the file),
    instead of each sending it again."""
    folder = tmp_path_factory.mktemp("first-run")
    _forget(server)
    store = demo_store(folder, smtp_port=server.port, dashboard_url=DASHBOARD)
    try:
        result = run(store)
    finally:
        store.close()
    received = list(server.collector.received)
    _forget(server)
    return result, received, Path(store.path)


@dataclass
class Sent:
    result: notify.RunResult
    collector: Collector  # what the server received from that run (and nothing else)
    store: Store  # a private copy of the database after that run


@pytest.fixture
def sent(first_run, tmp_path):
    result, received, path = first_run
    collector = Collector()
    collector.received.extend(received)
    copy = tmp_path / "after-first-run.duckdb"
    shutil.copyfile(path, copy)
    opened = Store.open(copy)
    try:
        yield Sent(result, collector, opened)
    finally:
        opened.close()


def run(store: Store, as_of: dt.date = D, **options) -> notify.RunResult:
    settings = store.settings()
    due = notify.build_due(store, as_of, **options)
    return notify.send(store, due, notify.SmtpTransport(notify.smtp_config(settings)))


@pytest.fixture(scope="module")
def system_inputs(first_run, tmp_path_factory):
    """The whole organisation's engine inputs after the first run, read once for the module: sending
    changes no number (the messages' log is no engine input), so the tests that compare messages
    with the dashboard's numbers share them instead of each reading the database again."""
    copy = tmp_path_factory.mktemp("inputs") / "after-first-run.duckdb"
    shutil.copyfile(first_run[2], copy)
    with Store.open(copy) as opened:
        return opened.engine_inputs(SYSTEM)


def system_rows(inputs, level: str = "rep", period: str = "year", as_of: dt.date = D):
    return engine.report(inputs, as_of, level=level, period=period)


# --------------------------------------------------------------------------- recipients and format
def test_every_account_gets_one_weekly_digest_as_multipart_alternative(sent):
    result = sent.result
    assert len(result.sent) == 5 and not result.failed
    received = sent.collector.of_kind("digest")
    assert sorted(r for message in received for r in message.rcpt_tos) == sorted(DEMO_ACCOUNTS)
    for message in received:
        assert message.rcpt_tos == [str(message.message["To"])]
        assert message.message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.message.iter_parts()] == ["text/plain", "text/html"]
        assert str(message.message["Subject"]).startswith("Weekly digest")
        assert message.mail_from == "plan@demo.test"
    assert not sent.collector.of_kind("alert")  # nothing newly went wrong since the day before


def test_a_rep_sees_exactly_their_own_numbers_and_nobody_else(sent, system_inputs):
    store = sent.store
    rep1 = store.principal_for_email("rep1@demo.test")
    [message] = sent.collector.to("rep1@demo.test")
    text = message.text
    rows = system_rows(system_inputs)
    own = rows[rows["owner_id"] == rep1.rep_id].iloc[0]
    # the numbers are the dashboard's (the engine on the whole organisation) for the same date
    assert f"Target:             {C.money(own['target'])}" in text
    assert f"{C.money(own['actual_to_date'])} ({C.pct(own['attainment'])} of target)" in text
    assert f"{C.pct(own['pace'])} of the plan to date" in text
    assert f"{C.money(own['required_per_working_day'])} per working day" in text
    month = system_rows(system_inputs, period="month")
    month = month[(month["owner_id"] == rep1.rep_id) & (month["period"] == "FY2026-M03")].iloc[0]
    assert "This month (FY2026-M03)" in text and f"Target:             {C.money(month['target'])}" in text
    assert C.status_words(own["status"]) in text
    for other in rows[rows["owner_id"] != rep1.rep_id].to_dict("records"):
        assert other["owner_id"] not in text and other["owner_name"] not in text
        assert other["owner_name"] not in message.html
    reps = store.reps(SYSTEM)
    for name in reps.loc[reps["rep_id"] != rep1.rep_id, "name"]:
        assert name not in text
    # the organisation's and regions' totals are not in a rep's digest either
    org = system_rows(system_inputs, level="org").iloc[0]
    assert C.money(org["target"]) not in text and "North" not in text


def test_a_reps_digest_gives_the_chance_to_reach_with_the_math(sent):
    store = sent.store
    rep1 = store.principal_for_email("rep1@demo.test")
    [message] = sent.collector.to("rep1@demo.test")
    # the chance as the engine computes it on the rep's own inputs (what their page shows)
    inputs = store.engine_inputs(rep1)
    for period, title in (("year", "This fiscal year"), ("month", "This month")):
        rows = engine.report(inputs, D, level="rep", period=period)
        rows = rows[(rows["owner_id"] == rep1.rep_id) & (rows["period_start"] <= D) & (rows["period_end"] >= D)]
        own = rows.iloc[0]
        assert not C.empty(own["chance_to_reach"]), f"the demo gives rep1 a chance for the {period}"
        math = engine.chance_details(inputs, D, level="rep", period=period)
        [explanation] = math.loc[(math["owner_id"] == rep1.rep_id) & (math["period"] == own["period"]), "explanation"]
        section = message.text.split(f"{title} ({own['period']})", 1)[1]
        assert f"Chance to reach:    {C.pct(own['chance_to_reach'])}" in section.split("\n\n", 1)[0]
        assert f"The math:           {explanation}" in section
        assert explanation.startswith("In ") and C.pct(own["chance_to_reach"]) in message.html


def test_a_manager_sees_only_their_reps_and_a_leader_the_organisation(sent, system_inputs):
    store = sent.store
    manager = store.principal_for_email("manager1@demo.test")
    team = store.visible_rep_ids(manager)
    reps = store.reps(SYSTEM)
    [message] = sent.collector.to("manager1@demo.test")
    text = message.text
    for rep in reps.to_dict("records"):
        if rep["rep_id"] not in team:
            assert rep["name"] not in text and f"({rep['rep_id']})" not in text
    watch = engine.watchlist(system_inputs, D, levels=("rep",))
    team_watch = watch[watch["owner_id"].isin(team - {manager.rep_id})]
    assert f"Your reps on the watch list ({len(team_watch)})" in text
    for row in team_watch.to_dict("records"):
        assert f"{row['owner_name']} ({row['owner_id']})" in text and row["recommended_action"] in text
    submitted = [p for p in team - {manager.rep_id}
                 if store.plan(SYSTEM, p, 2026)["exists"] and store.plan(SYSTEM, p, 2026)["status"] == "submitted"]
    assert f"Plans waiting for your agreement ({len(submitted)})" in text
    for rep_id in submitted:
        assert f"({rep_id})" in text
    # leaders: the organisation, its regions and the first ten of the whole watch list
    [leader] = sent.collector.to("leader@demo.test")
    org = system_rows(system_inputs, level="org").iloc[0]
    assert f"Target:             {C.money(org['target'])}" in leader.text
    for region in system_rows(system_inputs, level="region")["owner_name"]:
        assert f"* {region}: " in leader.text
    whole = engine.watchlist(system_inputs, D)
    assert f"Watch list: the first {min(10, len(whole))} of {len(whole)}" in leader.text


def _as_sent(content: C.Content) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the message a content renders to."""
    message = render.email_message(content, "plan@demo.test")
    return (str(message["Subject"]), message.get_body(("plain",)).get_content(),
            message.get_body(("html",)).get_content())


def _received(message) -> tuple[str, str, str]:
    """The same of a message the server received (its line ends are CRLF on the wire)."""
    return (str(message.message["Subject"]), message.text.replace("\r\n", "\n"), message.html.replace("\r\n", "\n"))


@pytest.fixture(scope="module")
def alone(first_run, tmp_path_factory) -> dict[str, tuple[Principal, C.Numbers]]:
    """Per account: its principal and a computation of its own view at D, shared with no other
    account: its own engine inputs as the store reads them for it alone (not the run's cut of the
    organisation's, tests/core/test_digest_scope.py), each computed afresh. Read once for the
    module from a copy of the first run's database (sending changes no number, see
    system_inputs); the digests' and the alerts' tests both compare with them."""
    copy = tmp_path_factory.mktemp("alone") / "after-first-run.duckdb"
    shutil.copyfile(first_run[2], copy)
    with Store.open(copy) as opened:
        views = {}
        for account in DEMO_ACCOUNTS:
            principal = opened.principal_for_email(account)
            views[account] = (principal, C.Numbers(opened.engine_inputs(principal), D))
        return views


def test_each_digest_is_what_the_accounts_own_view_computed_alone_says(sent, alone):
    """A run shares computations between accounts (one per set of visible reps) and cuts each
    account's engine inputs from the organisation's: every digest must still be, to the byte, what
    the account's own engine inputs computed afresh give (the alerts:
    test_opted_out_accounts_get_neither_digest_nor_alerts)."""
    for account in DEMO_ACCOUNTS:
        principal, numbers = alone[account]
        [message] = sent.collector.to(account, "digest")
        assert _received(message) == _as_sent(C.digest(sent.store, principal, numbers, None)), account


def test_link_to_the_owners_page_when_the_dashboard_url_is_set(sent):
    rep1 = sent.store.principal_for_email("rep1@demo.test")  # the first run had the dashboard_url set
    [message] = sent.collector.to("rep1@demo.test")
    assert f"https://plan.example.com/my_plan?rep={rep1.rep_id}" in message.text
    assert f'href="https://plan.example.com/my_plan?rep={rep1.rep_id}"' in message.html


# --------------------------------------------------------------------------- once, and only once
def test_a_rerun_sends_nothing_again(sent, smtp):
    store = sent.store  # after the first run, which sent 5
    assert len(sent.result.sent) == 5
    second = run(store)  # to the module's server too (the copy keeps the settings)
    # nothing was even due: a due message would have been claimed and skipped, sent or failed
    assert second.sent == [] and second.failed == [] and second.skipped == []
    assert smtp.collector.received == []
    # a later day of the same week still owes nothing; the next week's digest is due again
    assert notify.build_due(store, D + dt.timedelta(days=3), kinds=("digest",)) == []
    assert len(notify.build_due(store, D + dt.timedelta(days=7), kinds=("digest",))) == 5


def test_two_senders_at_once_send_each_message_once(store, smtp, tmp_path):
    second_store = Store.open(store.path)  # another connection to the same database, as a second sender
    try:
        # both senders found the same five digests due before either sent (build_due is one
        # computation of the unchanged database; its own rules are tested above)
        computed = notify.build_due(store, D, kinds=("digest",))
        due = [list(computed), list(computed)]
        assert len(computed) == 5
        start = threading.Barrier(2)
        results: list[notify.RunResult] = [notify.RunResult(), notify.RunResult()]

        def sender(index: int, target: Store) -> None:
            start.wait()
            results[index] = notify.send(target, due[index], notify.SmtpTransport(notify.smtp_config(target.settings())))

        threads = [threading.Thread(target=sender, args=(i, s)) for i, s in enumerate((store, second_store))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        second_store.close()
    assert sum(len(r.sent) for r in results) == 5
    assert sum(len(r.skipped) for r in results) == 5
    assert sorted(r for m in smtp.collector.received for r in m.rcpt_tos) == sorted(DEMO_ACCOUNTS)


# --------------------------------------------------------------------------- failures
# two accounts of different scopes are enough to show that nothing is lost (every account more
# is another computation of its digest)
TWO = ("admin@demo.test", "rep1@demo.test")


def test_an_unreachable_server_loses_nothing_and_the_next_run_sends(tmp_path):
    port = free_port()  # nothing listens there yet: the connection is refused at once
    store = demo_store(tmp_path, smtp_port=port)
    try:
        first = run(store, kinds=("digest",), recipients=TWO)
        assert first.sent == [] and len(first.failed) == 2
        failed = store.failed_notifications(SYSTEM)
        assert sorted(failed["recipient"]) == sorted(TWO)
        assert failed["last_error"].str.contains(f"cannot reach the SMTP server 127.0.0.1:{port}").all()
        with pytest.raises(NotAllowed):
            store.failed_notifications(store.principal_for_email("rep1@demo.test"))
        server = SmtpServer(port=port).start()
        try:
            second = run(store, kinds=("digest",), recipients=TWO)
        finally:
            server.stop()
        assert len(second.sent) == 2
        assert sorted(r for m in server.collector.received for r in m.rcpt_tos) == sorted(TWO)
        assert store.failed_notifications(SYSTEM).empty
        log = store.notification_log(SYSTEM)
        assert set(log["state"]) == {"sent"} and set(log["attempts"]) == {2}
    finally:
        store.close()


def test_refused_messages_4xx_5xx_are_recorded_and_retried_alone(store, smtp):
    smtp.collector.refuse_rcpt["rep1@demo.test"] = "550 5.1.1 mailbox unavailable"
    smtp.collector.refuse_data["leader@demo.test"] = "451 4.3.0 try again later"
    # three accounts, one of them sent at once: two computations of digests instead of four
    three = ("admin@demo.test", "leader@demo.test", "rep1@demo.test")
    first = run(store, kinds=("digest",), recipients=three)
    assert [key.recipient for key in first.sent] == ["admin@demo.test"]
    errors = dict((key.recipient, error) for key, error in first.failed)
    assert set(errors) == {"rep1@demo.test", "leader@demo.test"}
    assert "550" in errors["rep1@demo.test"] and "451" in errors["leader@demo.test"]
    failed = store.failed_notifications(SYSTEM)
    assert sorted(failed["recipient"]) == ["leader@demo.test", "rep1@demo.test"]
    smtp.collector.refuse_rcpt.clear()
    smtp.collector.refuse_data.clear()
    second = run(store, kinds=("digest",), recipients=three)
    assert sorted(key.recipient for key in second.sent) == ["leader@demo.test", "rep1@demo.test"]
    assert sorted(r for m in smtp.collector.received for r in m.rcpt_tos) == sorted(three)


def test_missing_settings_say_what_to_set_and_claim_nothing(tmp_path, capsys, monkeypatch):
    store = demo_store(tmp_path)

    def built_anyway(*args, **kwargs):
        raise AssertionError("the messages were built although they could not be sent")

    # the command checks the mail settings before building any message
    monkeypatch.setattr(notify, "build_due", built_anyway)
    try:
        # the message suits the Admin page's "Send me a test" too: it names no command-line option
        with pytest.raises(notify.NotConfigured, match="set the mail server on the Admin page.*set the sender") as raised:
            notify.smtp_config(store.settings())
        assert "--" not in str(raised.value) and "salesplan " not in str(raised.value)
        capsys.readouterr()
        assert main(["--db", store.path, "digest", "--as-of", D.isoformat(), "--send"]) == 1
        err = capsys.readouterr().err  # the command line adds its own options, each on a line of its own
        assert "  (on the command line: salesplan settings --smtp-host HOST)\n" in err
        assert "  (on the command line: salesplan settings --mail-from ADDRESS)\n" in err
        assert store.notification_log(SYSTEM).empty
        store.save_settings(SYSTEM, smtp_host="127.0.0.1", mail_from="plan@demo.test", smtp_user="mailer")
        with pytest.raises(notify.NotConfigured, match="SALESPLAN_SMTP_PASSWORD"):
            notify.smtp_config(store.settings(), env={}, secrets_file=tmp_path / "none.toml")
    finally:
        store.close()


# --------------------------------------------------------------------------- alerts
def test_alerts_go_to_whoever_follows_the_owner_once_a_day(store, smtp, system_inputs):
    watch = engine.watchlist(system_inputs, D)
    rep1 = store.principal_for_email("rep1@demo.test")
    manager = store.principal_for_email("manager1@demo.test")
    team = store.visible_rep_ids(manager) - {manager.rep_id}
    result = run(store, kinds=("alert",), previous_day=EARLY)
    assert not result.failed
    got = {(key.recipient, key.owner_key) for key in result.sent}
    flagged = {(row["owner_type"], row["owner_id"]) for row in watch.to_dict("records")}
    expected = set()
    for owner_type, owner_id in flagged:
        key = f"{owner_type}:{owner_id}"
        if owner_type in ("org", "region"):
            expected |= {("admin@demo.test", key), ("leader@demo.test", key)}
        if owner_type == "rep" and owner_id in team:
            expected.add(("manager1@demo.test", key))
        if owner_type == "rep" and owner_id == rep1.rep_id:
            expected.add(("rep1@demo.test", key))
    assert got == expected and ("rep1@demo.test", f"rep:{rep1.rep_id}") in got
    for message in smtp.collector.of_kind("alert"):
        assert str(message.message["Subject"]).startswith("Alert: ")
        assert "is now on the watch list" in message.text
    # at most one per owner and recipient a day: a rerun sends nothing
    assert run(store, kinds=("alert",), previous_day=EARLY).sent == []
    assert len(smtp.collector.of_kind("alert")) == len(expected)


def test_opted_out_accounts_get_neither_digest_nor_alerts(store, smtp, alone):
    store.save_settings(SYSTEM, dashboard_url=DASHBOARD)  # as in the own views' database (their links)
    rep1 = store.principal_for_email("rep1@demo.test")
    assert notify.set_email_preferences(store, rep1, digest=False, alert=False) == {"digest": False, "alert": False}
    with pytest.raises(NotAllowed):
        notify.set_email_preferences(store, rep1, digest=False, email="rep2@demo.test")
    run(store, previous_day=EARLY)
    assert smtp.collector.to("rep1@demo.test") == []
    assert len(smtp.collector.of_kind("digest")) == 4
    # the others' alerts are, to the byte, what each account's own view computed alone gives: the
    # run shared computations (a leader's alerts read the watch list of their digest's computation)
    for account in set(DEMO_ACCOUNTS) - {"rep1@demo.test"}:
        principal, numbers = alone[account]
        own = sorted(_as_sent(alert) for alert in C.alerts(principal, numbers, EARLY))
        assert sorted(_received(message) for message in smtp.collector.to(account, "alert")) == own, account
    assert smtp.collector.to("leader@demo.test", "alert")
    notify.set_email_preferences(store, SYSTEM, digest=True, email="rep1@demo.test")
    assert notify.email_preferences(store, rep1) == {"digest": True, "alert": False}


def test_the_next_digest_says_what_changed(sent, smtp, system_inputs):
    store = sent.store  # after the first run, which sent this week's digests
    later = D + dt.timedelta(days=7)
    run(store, later, kinds=("digest",), recipients=["rep1@demo.test"])
    rep1 = store.principal_for_email("rep1@demo.test")
    messages = sent.collector.to("rep1@demo.test", "digest") + smtp.collector.to("rep1@demo.test", "digest")
    assert len(messages) == 2
    assert "This is your first weekly digest." in messages[0].text
    before = system_rows(system_inputs, as_of=D)
    after = system_rows(system_inputs, as_of=later)
    old = before[before["owner_id"] == rep1.rep_id].iloc[0]
    new = after[after["owner_id"] == rep1.rep_id].iloc[0]
    text = messages[1].text
    assert "This is your first weekly digest." not in text
    if old["status"] != new["status"]:
        assert f"FY2026: status {C.status_words(old['status'])} → {C.status_words(new['status'])}" in text
    if C.ponr_key(old.to_dict()) != C.ponr_key(new.to_dict()):
        assert "FY2026: point of no return" in text
    if old["status"] == new["status"] and C.ponr_key(old.to_dict()) == C.ponr_key(new.to_dict()):
        assert "FY2026:" not in text.split("Since your last digest")[1]


# --------------------------------------------------------------------------- command line and admin
def test_cli_dry_run_writes_eml_files_a_mail_client_opens_and_records_nothing(store, smtp, tmp_path, capsys):
    # no alert is due on D (see the first test); with alerts off the four runs below compute the
    # digests only, and the last one (every digest sent) nothing at all; digests to two accounts
    # of different scopes (the others opted out: every scope is another computation, per run)
    for account in DEMO_ACCOUNTS:
        notify.set_email_preferences(store, SYSTEM, alert=False, digest=account in TWO, email=account)
    out = tmp_path / "eml"
    assert main(["--db", store.path, "digest", "--as-of", D.isoformat(), "--dry-run", str(out)]) == 0
    files = sorted(out.glob("*.eml"))
    assert len(files) == 2
    recipients = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert message["X-Salesplan-Kind"] == "digest" and message["Message-ID"] and message["Date"]
        assert message.get_body(("html",)).get_content().startswith("<!DOCTYPE html>")
        recipients.append(str(message["To"]))
    assert sorted(recipients) == sorted(TWO)
    assert smtp.collector.received == [] and store.notification_log(SYSTEM).empty
    capsys.readouterr()
    assert main(["--db", store.path, "digest", "--as-of", D.isoformat()]) == 0
    listing = capsys.readouterr().out
    assert all(account in listing for account in TWO)
    assert not any(account in listing for account in set(DEMO_ACCOUNTS) - set(TWO))
    assert main(["--db", store.path, "digest", "--as-of", D.isoformat(), "--send"]) == 0
    assert "sent 2, failed 0" in capsys.readouterr().out
    assert main(["--db", store.path, "digest", "--as-of", D.isoformat(), "--send"]) == 0
    assert "sent 0, failed 0" in capsys.readouterr().out
    assert len(smtp.collector.received) == 2


def test_admin_preview_is_the_message_the_account_gets_and_the_test_goes_to_oneself(store, smtp):
    admin = store.principal_for_email("admin@demo.test")
    preview = notify.preview_digest(store, admin, "rep1@demo.test", D)
    with pytest.raises(NotAllowed):
        notify.preview_digest(store, store.principal_for_email("rep2@demo.test"), "rep1@demo.test", D)
    assert notify.send_test(store, admin, D) == "A test digest was sent to admin@demo.test."
    [test_message] = smtp.collector.received
    assert test_message.rcpt_tos == ["admin@demo.test"] and str(test_message.message["Subject"]).startswith("[Test] ")
    assert store.notification_log(SYSTEM).empty  # a test does not stand in for the weekly digest
    run(store, kinds=("digest",), recipients=["rep1@demo.test", "admin@demo.test"])
    [real] = smtp.collector.to("rep1@demo.test")
    assert real.text.replace("\r\n", "\n") == preview.text and str(real.message["Subject"]) == preview.subject
    assert len(smtp.collector.to("admin@demo.test")) == 2


def test_smtp_login_with_the_password_from_the_environment(tmp_path, monkeypatch):
    from aiosmtpd.smtp import AuthResult

    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        ok = auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=ok)  # handled=False: aiosmtpd answers 535 itself

    server = SmtpServer(authenticator=authenticator, auth_require_tls=False).start()
    store = demo_store(tmp_path, smtp_port=server.port, smtp_user="mailer")
    try:
        monkeypatch.setenv("SALESPLAN_SMTP_PASSWORD", "wrong")
        refused = run(store, recipients=["rep1@demo.test"])
        assert refused.sent == [] and "refused the user 'mailer'" in refused.failed[0][1]
        monkeypatch.setenv("SALESPLAN_SMTP_PASSWORD", "s3cret")
        assert len(run(store, recipients=["rep1@demo.test"]).sent) == 1
        assert (b"mailer", b"s3cret") in seen
        # the password never reaches the database
        assert "s3cret" not in repr(store.snapshot())
    finally:
        server.stop()
        store.close()


def test_the_password_comes_from_the_secrets_file_when_the_environment_has_none(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[smtp]\npassword = "from-file"\n', encoding="utf-8")
    assert notify.smtp.smtp_password(env={}, secrets_file=secrets) == "from-file"
    assert notify.smtp.smtp_password(env={"SALESPLAN_SMTP_PASSWORD": "env"}, secrets_file=secrets) == "env"
    secrets.write_text("[smtp\n", encoding="utf-8")
    with pytest.raises(notify.NotConfigured, match="secrets.toml"):
        notify.smtp.smtp_password(env={}, secrets_file=secrets)


def test_cli_settings_flags_for_email_and_their_refusals(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main(["--db", db, "settings", "--timezone", "Europe/Berlin", "--digest-day", "Wed", "--digest-hour", "6",
                 "--mail-from", "plan@example.com", "--smtp-host", "smtp.example.com", "--smtp-port", "2525",
                 "--smtp-starttls", "off", "--smtp-user", "mailer", "--dashboard-url", "https://plan.example.com"]) == 0
    shown = capsys.readouterr().out
    for line in ("timezone        Europe/Berlin", "digest_day      Wed", "digest_hour     6", "smtp_port       2525",
                 "smtp_starttls   off", "smtp_user       mailer", "dashboard_url   https://plan.example.com"):
        assert line in shown
    assert main(["--db", db, "settings", "--timezone", "Nowhere/Town", "--window", "30"]) == 1
    assert "--timezone" in capsys.readouterr().err
    with Store.open(db) as check:
        assert check.settings().window == 65 and check.settings().timezone == "Europe/Berlin"
    assert main(["--db", db, "digest", "--send", "--dry-run", str(tmp_path)]) == 2

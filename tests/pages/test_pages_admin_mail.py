"""Admin page, e-mail and pipeline: the mail settings, "Send me a test" against a real SMTP server
on 127.0.0.1 (aiosmtpd), any account's digest preview (scoped to that account), the failed sends,
each user's own e-mail choices, the stage probabilities, and the background sender app.py starts."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from salesplan import notify
from salesplan.notify import scheduler
from salesplan.principal import SYSTEM
from tests.helpers.mail import running_server
from tests.helpers.pages import ADMIN, DEMO_TODAY, app, engine_year, fresh_db, open_store, texts

MAIL_FORM = "FormSubmitter:mail_form-Save e-mail settings"
# the Admin page runs only its open tab: these tests open it on the tab they test
MAIL_TAB = {"admin_tabs": "E-mail"}
PIPELINE_TAB = {"admin_tabs": "Pipeline"}


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


@pytest.fixture
def smtp():
    yield from running_server()


@pytest.fixture(autouse=True)
def no_sender_left(monkeypatch):
    """No test sends in the background unless it says so; a sender a test started is stopped."""
    monkeypatch.setenv("SALESPLAN_MAIL_SCHEDULER", "off")
    yield
    scheduler.stop_background()


def save(db, **settings) -> None:
    store = open_store(db)
    try:
        store.save_settings(SYSTEM, **settings)
    finally:
        store.close()


def stored_settings(db):
    store = open_store(db)
    try:
        return store.settings()
    finally:
        store.close()


def plain(values) -> str:
    """The messages of a page without markdown's escapes."""
    return " ".join(element.value for element in values).replace("\\", "")


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_admin_saves_the_email_settings_and_sees_them(monkeypatch, db):
    at = app(monkeypatch, db, page="admin", state=MAIL_TAB)
    assert "E-mail is off" in texts(at), "the tab says that nothing is sent yet"
    at.selectbox(key="mail_timezone").set_value("Europe/Berlin")
    at.selectbox(key="mail_day").set_value("Fri")
    at.number_input(key="mail_hour").set_value(9)
    at.text_input(key="mail_from").set_value("Sales plan <plan@example.com>")
    at.text_input(key="mail_smtp_host").set_value("smtp.example.com")
    at.number_input(key="mail_smtp_port").set_value(2525)
    at.text_input(key="mail_smtp_user").set_value("planner")
    at.toggle(key="mail_starttls").set_value(False)
    at.text_input(key="mail_dashboard_url").set_value("https://plan.example.com")
    click(at, MAIL_FORM)
    assert any("E-mail settings saved" in s.value for s in at.success)
    saved = stored_settings(db)
    assert (saved.timezone, saved.digest_day, saved.digest_hour) == ("Europe/Berlin", 4, 9)
    assert (saved.mail_from, saved.smtp_host, saved.smtp_port, saved.smtp_user, saved.smtp_starttls,
            saved.dashboard_url) == ("Sales plan <plan@example.com>", "smtp.example.com", 2525, "planner", False,
                                     "https://plan.example.com")
    # a new session (another admin, a reload) shows what is stored
    fresh = app(monkeypatch, db, page="admin", state=MAIL_TAB)
    assert fresh.selectbox(key="mail_timezone").value == "Europe/Berlin"
    assert fresh.selectbox(key="mail_day").value == "Fri" and fresh.number_input(key="mail_hour").value == 9
    assert fresh.text_input(key="mail_smtp_host").value == "smtp.example.com"
    assert fresh.toggle(key="mail_starttls").value is False
    assert "The dashboard does not send" not in texts(fresh) and "E-mail is off" not in texts(fresh)


def test_bad_email_settings_are_refused_and_change_nothing(monkeypatch, db):
    at = app(monkeypatch, db, page="admin", state=MAIL_TAB)
    at.text_input(key="mail_from").set_value("nobody")
    at.text_input(key="mail_smtp_host").set_value("smtp://example.com")
    click(at, MAIL_FORM)
    shown = plain(at.error)
    assert "Sender: 'nobody' is not an e-mail address" in shown
    assert "Mail server: 'smtp://example.com' is not a host name" in shown, "the page's words, not the options'"
    saved = stored_settings(db)
    assert (saved.mail_from, saved.smtp_host) == ("", "")


def test_send_me_a_test_reaches_the_local_server_and_failures_are_plain_messages(monkeypatch, db, smtp):
    at = app(monkeypatch, db, page="admin", state=MAIL_TAB)
    click(at, "mail_test")
    assert any("mail server" in e.value.lower() or "smtp" in e.value.lower() for e in at.error), \
        [e.value for e in at.error]
    assert not smtp.collector.received

    save(db, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls="off", mail_from="Sales plan <plan@demo.test>")
    at = app(monkeypatch, db, page="admin", state=MAIL_TAB)
    click(at, "mail_test")
    assert "A test digest was sent to admin@demo.test" in plain(at.success), plain(at.error)
    [message] = smtp.collector.received
    assert message.rcpt_tos == ["admin@demo.test"]
    assert str(message.message["Subject"]).startswith("[Test] Weekly digest")

    smtp.stop()  # an unreachable server: the page says so, in words
    click(at, "mail_test")
    assert at.error and not at.exception
    assert len(smtp.collector.received) == 1


def test_preview_of_a_reps_digest_shows_that_reps_numbers_only(monkeypatch, db):
    store = open_store(db)
    try:
        rep_id = store.users(ADMIN).set_index("email").loc["rep1@demo.test", "rep_id"]
        expected = notify.preview_digest(store, ADMIN, "rep1@demo.test", as_of=DEMO_TODAY)
    finally:
        store.close()
    year = engine_year(db).set_index("owner_id")
    own, others = year.loc[rep_id], year.drop(index=rep_id)

    at = app(monkeypatch, db, page="admin", state=MAIL_TAB)
    at.selectbox(key="preview_account").set_value("rep1@demo.test")  # sent with the click
    click(at, "preview_show")
    [code] = at.code
    text = code.value
    assert text.strip() == expected.text.strip(), "the preview is the message the account gets, as of the dashboard's date"
    assert expected.subject in plain(at.markdown)
    assert f"Target:             {own['target']:,.0f}" in text
    assert f"Actual to date:     {own['actual_to_date']:,.0f}" in text
    assert not [a for a in others["actual_to_date"] if a > 1000 and f"{a:,.0f}" in text], "no other rep's actual"
    assert set(re.findall(r"\bR\d{3}\b", text)) <= {rep_id}, "no other rep is named"
    assert at.get("iframe"), "the HTML part is drawn too"


def test_failed_sends_are_listed(monkeypatch, db, smtp):
    save(db, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls="off", mail_from="Sales plan <plan@demo.test>")
    smtp.collector.refuse_data["rep1@demo.test"] = "550 5.1.1 mailbox unavailable"
    store = open_store(db)
    try:
        outgoing = notify.build_due(store, DEMO_TODAY, kinds=("digest",), recipients=["rep1@demo.test"])
        result = notify.send(store, outgoing, notify.SmtpTransport(notify.smtp_config(store.settings())))
    finally:
        store.close()
    assert result.failed
    at = app(monkeypatch, db, page="admin", state=MAIL_TAB)
    failed = next(d.value for d in at.dataframe if "recipient" in d.value.columns)
    assert failed["recipient"].tolist() == ["rep1@demo.test"] and "550" in failed["last_error"].iloc[0]


def test_a_rep_cannot_open_the_admin_tools_but_turns_their_own_emails_off(monkeypatch, db):
    at = app(monkeypatch, db, page="admin", user="rep1@demo.test")
    assert any("Not allowed" in e.value for e in at.error)
    assert not [b for b in at.button if b.key in ("mail_test", "preview_show")]
    assert not at.get("tab")

    at.toggle(key="email_digest").set_value(False).run()
    assert not at.exception
    store = open_store(db)
    try:
        assert store.notification_opt_outs("rep1@demo.test") == {"digest"}
        assert store.notification_opt_outs("rep2@demo.test") == set()
    finally:
        store.close()
    at.toggle(key="email_digest").set_value(True)  # both changes in one run: each saves its own choice
    at.toggle(key="email_alert").set_value(False).run()
    store = open_store(db)
    try:
        assert store.notification_opt_outs("rep1@demo.test") == {"alert"}
    finally:
        store.close()


def test_stage_probabilities_are_edited_and_checked(monkeypatch, db):
    save(db, stage_probabilities=["Discovery=20%", "Proposal=40%"])
    at = app(monkeypatch, db, page="admin", state=PIPELINE_TAB)
    [editor] = [d for d in at.dataframe if list(d.value.columns) == ["stage", "percent"]]
    assert editor.value["stage"].tolist() == ["Discovery", "Proposal", "Commit", "Negotiation", "Qualification"], \
        "the saved stages, then the imported deals' stages that have none"
    assert editor.value["percent"].iloc[:2].tolist() == [20.0, 40.0] and editor.value["percent"].iloc[2:].isna().all()

    at.session_state["stage_editor"] = {"edited_rows": {2: {"percent": 85.0}}, "deleted_rows": [0],
                                        "added_rows": [{"stage": "Verbal yes", "percent": 95.0}]}
    click(at, "FormSubmitter:stages_form-Save stage probabilities")
    saved = stored_settings(db)
    assert dict(saved.stage_probabilities) == {"Commit": 0.85, "Proposal": 0.4, "Verbal yes": 0.95}
    assert saved.stage_probability("verbal  YES") == pytest.approx(0.95)
    flashed = plain(at.success)
    assert "3 stages" in flashed and "“Negotiation”, “Qualification”" in flashed

    at.session_state["stage_editor"] = {"edited_rows": {}, "deleted_rows": [],
                                        "added_rows": [{"stage": "proposal ", "percent": 50.0}]}
    click(at, "FormSubmitter:stages_form-Save stage probabilities")
    assert "Stage probabilities: stage 'proposal' is given twice" in plain(at.error)
    assert stored_settings(db).stage_probabilities == saved.stage_probabilities


def test_app_starts_the_background_sender_once_mail_is_set(monkeypatch, db, smtp):
    monkeypatch.delenv("SALESPLAN_MAIL_SCHEDULER")
    # app.py starts the sender whatever the page: the Upload page, which computes no engine numbers
    app(monkeypatch, db, page="upload")
    assert not scheduler._running, "nothing runs while e-mail is off"

    # a digest hour still to come today: the first start records that it waits and sends nothing
    now = dt.datetime.now(dt.UTC)
    zone, hour = ("UTC", now.hour + 1) if now.hour < 23 else ("Etc/GMT+2", 22)
    save(db, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls="off", mail_from="Sales plan <plan@demo.test>",
         timezone=zone, digest_hour=hour)
    at = app(monkeypatch, db, page="upload")
    sender = scheduler._running
    assert sender is not None and sender.running
    at.run()
    assert scheduler._running is sender, "a rerun does not start a second one"
    store = open_store(db)
    try:
        run_date = scheduler.pass_date(store.settings(), now)
        for _ in range(300):  # the thread's first pass runs at once; wait for it, whatever the machine's load
            if store.notification_run(run_date) is not None:
                break
            time.sleep(0.1)
        assert store.notification_run(run_date) is not None, sender.last_error
    finally:
        store.close()
    assert not smtp.collector.received

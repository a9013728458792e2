"""Alerts on a small built organisation whose numbers are worked out by hand (the run-rates of
docs' worked example, at the end of a fiscal year): a point of no return 3 working days away and a
target out of reach, each alert going to the rep and their manager only (and the organisation's
to the admin)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from salesplan import engine, imports, notify
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates

D = dt.date(2025, 12, 19)  # a Friday; 8 working days are left in FY2025 (22-31 December)
EARLY = dt.date(2025, 6, 30)
REPS = ("rep_id,name,email,territory,region,manager\n"
        "M0,Max Lead,max@example.com,North,N,\n"
        "R1,Rita Near,rita@example.com,North,N,M0\n"
        "R2,Rob Late,rob@example.com,North,N,M0\n"
        "R3,Ria Fine,ria@example.com,North,N,M0\n")


def _actuals() -> tuple[str, float]:
    """800 a working day all year to D, 1,500 a day in the week of 10 March (the best window)."""
    days = np.arange(np.datetime64("2025-01-01"), np.datetime64(D) + 1)
    days = days[np.is_busday(days)]
    lines = ["date,rep,amount"]
    total = 0.0
    for day in days.astype(object):
        amount = 1500 if dt.date(2025, 3, 10) <= day <= dt.date(2025, 3, 14) else 800
        total += amount
        lines += [f"{day.isoformat()},{rep},{amount}" for rep in ("R1", "R2", "R3")]
    return "\n".join(lines) + "\n", total


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The organisation below, built once (three imports and four password hashes); each test gets
    a copy of the closed file."""
    path = templates.duckdb_copy(tmp_path_factory.mktemp("alerts") / "template.duckdb", templates.MIGRATED)
    with Store.open(path) as opened:
        actuals, A = _actuals()
        W, B, c = 8, 1500.0, 800.0
        targets = {
            "R1": A + B * W - 3.5 * (B - c),  # x = 3.5: 3 working days to act
            "R2": A + B * W + 5000,  # out of reach even at the best pace: passed, too late
            "R3": A,  # achieved
        }
        lines = ["owner,month,amount"] + [f"{rep},2025-12,{amount}" for rep, amount in targets.items()]
        opened.save_settings(SYSTEM, window=5)
        for kind, text in (("reps", REPS), ("targets", "\n".join(lines) + "\n"), ("actuals", actuals)):
            imports.import_file(opened, kind, text.encode(), file_name=f"{kind}.csv", principal=SYSTEM)
        for email, role, rep_id in (("rita@example.com", "rep", "R1"), ("rob@example.com", "rep", "R2"),
                                    ("max@example.com", "manager", "M0"), ("boss@example.com", "admin", None)):
            opened.add_user(SYSTEM, email, role, rep_id=rep_id, password="pw-1234")
    return path


@pytest.fixture
def store(tmp_path, template):
    with templates.open_copy(template, tmp_path / "alerts.duckdb") as opened:
        yield opened


def test_the_hand_worked_numbers_hold(store):
    rows = engine.report(store.engine_inputs(SYSTEM), D).set_index("owner_id")
    assert rows.loc["R1", "working_days_to_act"] == 3
    assert rows.loc["R2", "point_of_no_return"] == engine.PASSED and rows.loc["R2", "status"] == "too_late"
    assert rows.loc["R3", "status"] == "achieved"


def test_near_point_of_no_return_and_too_late_alert_the_rep_and_the_manager_only(store):
    due = notify.build_due(store, D, kinds=("alert",), previous_day=EARLY)
    got = {(item.key.recipient, item.key.owner_key): item for item in due}
    # the organisation and its region sum the three: 3 x 800 now, 3 x 1,500 at best, and 9,450 of
    # slack over 2,100 a day: 4 working days to act, so the admin is alerted about those two
    assert set(got) == {("rita@example.com", "rep:R1"), ("rob@example.com", "rep:R2"),
                        ("max@example.com", "rep:R1"), ("max@example.com", "rep:R2"),
                        ("boss@example.com", "org:org"), ("boss@example.com", "region:N")}
    org = got[("boss@example.com", "org:org")].message.get_body(("plain",)).get_content()
    assert "Whole organisation is 5 working days or fewer from its point of no return" in org
    assert "(4 working days to act)" in org and "R1" not in org
    near = got[("rita@example.com", "rep:R1")].message
    assert near["X-Salesplan-Kind"] == "alert" and near["To"] == "rita@example.com"
    assert str(near["Subject"]) == "Alert: Rita Near (R1) is point of no return in 3 working days"
    assert "is 5 working days or fewer from its point of no return" in near.get_body(("plain",)).get_content()
    late = got[("max@example.com", "rep:R2")].message.get_body(("plain",)).get_content()
    assert "Rob Late (R2) has become too late" in late and "Rita" not in late
    assert all(item.key.slot == D.isoformat() for item in due)
    # the day before already looked the same (R1 had 4 working days to act, R2 was too late and on
    # the watch list): nothing is new, so nothing is sent again
    assert notify.build_due(store, D, kinds=("alert",), previous_day=D - dt.timedelta(days=1)) == []


def test_an_opted_out_manager_gets_no_alert(store):
    manager = store.principal_for_email("max@example.com")
    notify.set_email_preferences(store, manager, alert=False)
    due = notify.build_due(store, D, kinds=("alert",), previous_day=EARLY)
    assert {item.key.recipient for item in due} == {"rita@example.com", "rob@example.com", "boss@example.com"}


def test_names_and_descriptions_are_text_in_the_html_part():
    from salesplan.notify import render
    from salesplan.notify.content import Content, Item, Section

    content = Content(recipient="a@example.com", kind="alert", owner_key="rep:R9", subject="Alert: <b>x</b>",
                      heading='Early warning: <a href="http://evil">R9</a>', intro="As of today:",
                      sections=[Section("Why", items=[Item("<img src=x onerror=alert(1)>", details=["<i>d</i>"])])],
                      as_of=D, link='https://plan.example.com/my_plan?rep="x"')
    html = render.html(content)
    assert "<img" not in html and "<a href=\"http://evil\"" not in html and "<i>d</i>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and 'href="https://plan.example.com/my_plan?rep=&quot;x&quot;"' in html
    message = render.email_message(content, "plan@example.com")
    assert message["X-Salesplan-Kind"] == "alert" and message["Auto-Submitted"] == "auto-generated"


def test_digest_and_alerts_write_money_with_the_base_currency_symbol(store):
    """Hand-worked (the fixture's numbers): Rita's target is A + 1,500 x 8 - 3.5 x 700, so she needs
    (12,000 - 2,450) / 8 = 1,193.75 a working day against her 800; Rob's is A + 17,000, out of reach
    at his best 1,500 a day (2,125 needed). With EUR as the base currency every amount of the digest
    (text and HTML) and of the alert's advice carries "€"; without one they are plain numbers."""
    _, A = _actuals()
    admin = store.principal_for_email("boss@example.com")
    plain = notify.preview_digest(store, admin, "rita@example.com", D)
    assert f"{A:,.0f} (" in plain.text and "1,194 per working day" in plain.text and "€" not in plain.text
    store.save_settings(SYSTEM, base_currency="EUR")
    digest = notify.preview_digest(store, admin, "rita@example.com", D)
    target = A + 1500 * 8 - 3.5 * 700
    for part in (digest.text, digest.html):
        assert f"€{target:,.0f}" in part and f"€{A:,.0f} (" in part
        assert "€1,194 per working day" in part and "€800 per working day" in part
    assert digest.text.replace("€", "") == plain.text  # only the symbol differs
    due = notify.build_due(store, D, kinds=("alert",), previous_day=EARLY, recipients=["rob@example.com"])
    [late] = [item.message.get_body(("plain",)).get_content() for item in due]
    assert ("What to do: the target is out of reach even at the best run-rate so far (€1,500.00 per working day; "
            "€2,125.00 needed)") in late
    assert "Gap to date:" in late and "€" in late.split("Gap to date:")[1].splitlines()[0]

"""Admin page, Currencies tab (docs/currencies.md): the base currency, one rate set by hand, a rates
file, the history of a currency's rates and the undo of a rates batch; money with the base
currency's symbol on the other pages. People tab (docs/people.md): the editor of a rep's territory
and manager over time and of a leaver's end date."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from salesplan.principal import SYSTEM

from tests.helpers.pages import app, fresh_db, metric_value, open_store, texts


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


@pytest.fixture
def at(monkeypatch, db):
    """The Admin page on its first tab, People."""
    return app(monkeypatch, db, page="admin")


@pytest.fixture
def currencies(monkeypatch, db):
    """The Admin page on its Currencies tab (it runs only its open tab)."""
    return app(monkeypatch, db, page="admin", state={"admin_tabs": "Currencies"})


def _stored(db, read):
    store = open_store(db)
    try:
        return read(store)
    finally:
        store.close()


def _save_base(at, code: str) -> None:
    at.selectbox(key="base_currency").set_value(code)
    at.button(key="FormSubmitter:base_currency_form-Save base currency").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_base_currency_rates_history_and_undo(currencies, db):
    at = currencies
    assert any("single-currency organisation" in i.value for i in at.info)
    _save_base(at, "EUR")
    assert _stored(db, lambda s: s.settings().base_currency) == "EUR"

    # one rate by hand: its own batch, in the table
    at.selectbox(key="rate_currency").set_value("USD")
    at.text_input(key="rate_month").set_value("2026-10")
    at.number_input(key="rate_value").set_value(0.92)
    at.button(key="FormSubmitter:rate_form-Set rate").click().run()
    assert not at.exception and not at.error
    assert any("USD rate for 2026-10 set to 0.92" in s.value for s in at.success)
    rates = _stored(db, lambda s: s.rates(SYSTEM))
    assert rates[["currency", "rate"]].values.tolist() == [["USD", 0.92]]
    assert pd.Timestamp(rates["month"].iloc[0]) == pd.Timestamp("2026-10-01")

    # a rates file changes it and adds another month; the previous rate is kept in the history
    at.file_uploader(key="rates_upload").set_value(
        ("rates.csv", b"currency,month,rate\nUSD,2026-10,0.95\nGBP,2026-11,1.17\n", "text/csv")).run()
    [b for b in at.button if b.key == "rates_upload_import"][0].click().run()
    assert not at.exception and not at.error
    assert any("Rates imported" in s.value and "1 new, 1 changed" in s.value for s in at.success)
    shown = [d.value for d in at.dataframe if "rate" in d.value.columns and "currency" in d.value.columns][0]
    assert shown[["month", "currency", "rate"]].values.tolist() == [["2026-11", "GBP", 1.17], ["2026-10", "USD", 0.95]]
    at.selectbox(key="rate_history_currency").set_value("USD").run()
    history = [d.value for d in at.dataframe if "previous_rate" in d.value.columns][0]
    assert sorted(history["rate"].tolist()) == [0.92, 0.95]
    assert history.loc[history["rate"] == 0.95, "previous_rate"].tolist() == [0.92]

    # undo the file: USD goes back to the hand-set 0.92, GBP goes away
    file_batch = int(_stored(db, lambda s: s.batches(SYSTEM)).query("file_name == 'rates.csv'")["batch_id"].iloc[0])
    at.selectbox(key="rates_undo").set_value(file_batch)
    at.button(key="FormSubmitter:rates_undo_form-Undo").click().run()
    assert not at.exception and not at.error
    rates = _stored(db, lambda s: s.rates(SYSTEM))
    assert rates[["currency", "rate"]].values.tolist() == [["USD", 0.92]]

    # the base currency cannot change while rates are stored: refused in words, nothing changes
    _save_base(at, "GBP")
    assert any("Base currency: the stored rates are in units of EUR" in e.value.replace("\\", "") for e in at.error)
    assert _stored(db, lambda s: s.settings().base_currency) == "EUR"


def test_a_bad_rate_is_refused_with_its_reason(currencies, db):
    at = currencies
    _save_base(at, "EUR")
    at.text_input(key="rate_month").set_value("2026-13")
    at.button(key="FormSubmitter:rate_form-Set rate").click().run()
    assert any("'2026-13' is not a month between 1900-01 and 2199-12" in e.value.replace("\\", "") for e in at.error)
    assert _stored(db, lambda s: s.rates(SYSTEM)).empty


def test_money_shows_the_base_currencys_symbol(monkeypatch, db):
    at = app(monkeypatch, db, page="my_plan")
    plain = metric_value(at, "Gap to date")  # signed: "-6,581" behind plan
    sign, number = ("-", plain[1:]) if plain.startswith("-") else ("", plain)
    assert number[:1].isdigit(), plain  # a single-currency organisation: plain numbers
    at.session_state["admin_tabs"] = "Currencies"
    at.switch_page("pages/admin.py").run()
    _save_base(at, "EUR")
    at.switch_page("pages/my_plan.py").run()
    assert metric_value(at, "Gap to date") == sign + "€" + number
    assert "€" in texts(at)
    at.switch_page("pages/team.py").run()
    labels = {c.get("label") for c in json.loads(at.dataframe[0].proto.columns).values()}
    assert {"Target (€)", "Actual (€)", "Gap to date (€)"} <= labels
    assert "Attainment" in labels  # ratios keep their header


# ---------------------------------------------------------------- people over time
def _history_table(at) -> list[list]:
    table = [d.value for d in at.dataframe if list(d.value.columns) == ["from", "until", "territory", "manager"]][0]
    return table.astype(object).where(table.notna(), None).values.tolist()


def _form(at, rep: str) -> tuple[str | None, str | None]:
    return at.selectbox(key=f"history_territory_{rep}").value, at.selectbox(key=f"history_manager_{rep}").value


def test_a_move_is_added_shown_and_deleted(at, db):
    at.selectbox(key="history_rep").set_value("R004").run()
    assert _history_table(at) == [["since always", None, "Nordics", "R003"]]
    # the form starts from the rep's current values: only the territory and the day change
    assert _form(at, "R004") == ("Nordics", "R003")
    at.date_input(key="history_from").set_value(dt.date(2026, 3, 15))
    at.selectbox(key="history_territory_R004").set_value("Baltics")
    at.button(key="FormSubmitter:history_form-Save row").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _history_table(at) == [["since always", "2026-03-14", "Nordics", "R003"],
                                  ["2026-03-15", None, "Baltics", "R003"]]
    history = _stored(db, lambda s: s.rep_history(SYSTEM, "R004"))
    assert pd.to_datetime(history["effective_from"]).dt.date.tolist() == [dt.date(1900, 1, 1), dt.date(2026, 3, 15)]
    assert _stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R004", "territory"]) == "Baltics"
    assert "rep history" in _stored(db, lambda s: s.audit_log(SYSTEM))["action"].tolist()

    # deleting the move: the first row runs on
    at.selectbox(key="history_delete").set_value(dt.date(2026, 3, 15))
    at.button(key="FormSubmitter:history_delete_form-Delete row").click().run()
    assert not at.exception and not at.error
    assert _history_table(at) == [["since always", None, "Nordics", "R003"]]
    assert _stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R004", "territory"]) == "Nordics"
    # another rep: the form shows that rep's own territory and manager
    at.selectbox(key="history_rep").set_value("R007").run()
    assert _form(at, "R007") == ("UK & Ireland", "R002")


def test_the_manager_choice_leaves_out_the_rep_and_a_same_day_row_is_replaced(at, db):
    at.selectbox(key="history_rep").set_value("R004").run()
    before = _stored(db, lambda s: s.rep_history(SYSTEM))
    options = at.selectbox(key="history_manager_R004").options
    assert any(o.endswith("(R003)") for o in options) and not any(o.endswith("(R004)") for o in options)
    # two saves for the same day: the second replaces the first (one new row)
    for manager in ("R005", "R006"):
        at.date_input(key="history_from").set_value(dt.date(2026, 5, 1))
        at.selectbox(key="history_manager_R004").set_value(manager)
        at.button(key="FormSubmitter:history_form-Save row").click().run()
    assert _history_table(at)[-1] == ["2026-05-01", None, "Nordics", "R006"]
    assert len(_stored(db, lambda s: s.rep_history(SYSTEM))) == len(before) + 1


def test_a_leavers_end_date_is_saved_and_cleared(at, db):
    at.selectbox(key="history_rep").set_value("R005").run()
    at.checkbox(key="leaver_R005").check()
    at.date_input(key="leaver_end_R005").set_value(dt.date(2026, 9, 30))
    at.button(key="FormSubmitter:leaver_form-Save end date").click().run()
    assert not at.exception and not at.error
    assert pd.Timestamp(_stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R005", "end_date"])) == \
        pd.Timestamp("2026-09-30")
    assert at.checkbox(key="leaver_R005").value and at.date_input(key="leaver_end_R005").value == dt.date(2026, 9, 30)
    # before the start date: refused in words, nothing changes
    at.date_input(key="leaver_end_R005").set_value(dt.date(2020, 1, 1))
    at.button(key="FormSubmitter:leaver_form-Save end date").click().run()
    assert any("before R005" in e.value.replace("\\", "") for e in at.error)
    assert pd.Timestamp(_stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R005", "end_date"])) == \
        pd.Timestamp("2026-09-30")
    at.checkbox(key="leaver_R005").uncheck()
    at.button(key="FormSubmitter:leaver_form-Save end date").click().run()
    assert pd.isna(_stored(db, lambda s: s.reps(SYSTEM).set_index("rep_id").loc["R005", "end_date"]))

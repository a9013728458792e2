"""Admin page, Currencies tab (docs/currencies.md): the base currency, one rate set by hand, a rates
file, the history of a currency's rates and the undo of a rates batch; money with the base
currency's symbol on the other pages."""

from __future__ import annotations

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
    return app(monkeypatch, db, page="admin")


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


def test_base_currency_rates_history_and_undo(at, db):
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


def test_a_bad_rate_is_refused_with_its_reason(at, db):
    _save_base(at, "EUR")
    at.text_input(key="rate_month").set_value("2026-13")
    at.button(key="FormSubmitter:rate_form-Set rate").click().run()
    assert any("'2026-13' is not a month between 1900-01 and 2199-12" in e.value.replace("\\", "") for e in at.error)
    assert _stored(db, lambda s: s.rates(SYSTEM)).empty


def test_money_shows_the_base_currencys_symbol(at, db):
    at.switch_page("pages/my_plan.py").run()
    plain = metric_value(at, "Gap to date")
    assert plain[:1].isdigit(), plain  # a single-currency organisation: plain numbers
    at.switch_page("pages/admin.py").run()
    _save_base(at, "EUR")
    at.switch_page("pages/my_plan.py").run()
    assert metric_value(at, "Gap to date") == "€" + plain
    assert "€" in texts(at)
    at.switch_page("pages/team.py").run()
    labels = {c.get("label") for c in json.loads(at.dataframe[0].proto.columns).values()}
    assert {"Target (€)", "Actual (€)", "Gap to date (€)"} <= labels
    assert "Attainment" in labels  # ratios keep their header


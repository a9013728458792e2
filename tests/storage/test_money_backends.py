"""Currencies and people over time on every storage backend (DuckDB and PostgreSQL): the same
imports give the same engine inputs, and the refusals hold on both."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesplan import imports
from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal


def _load(store, kind: str, text: str, name: str | None = None):
    return imports.import_file(store, kind, text.encode(), file_name=name or f"{kind}.csv", principal=SYSTEM)


def test_rates_conversion_and_history_on_every_backend(any_store):
    store = any_store
    _load(store, "reps", "rep_id,name,territory,region,end_date\nR1,Ann,North,EU,\nR2,Bob,South,EU,2025-06-30\n")
    _load(store, "reps", "rep_id,name,territory,region,effective_from\nR1,Ann,South,EU,2025-03-15\n", "move.csv")
    store.save_settings(SYSTEM, base_currency="EUR")
    rates = _load(store, "rates", "currency,month,rate\nUSD,2025-03,0.5\nUSD,2025-04,0.25\n")
    _load(store, "actuals", "date,rep,amount\n2025-03-14,R1,USD 100\n2025-03-15,R1,USD 100\n2025-04-01,R2,8\n")
    _load(store, "targets", "owner,month,amount\nR1,2025-03,USD 1000\nR1,2025-04,40\n")
    inputs = store.engine_inputs(SYSTEM)
    daily = inputs.daily_actuals.sort_values(["date", "rep_id"])
    assert daily["territory"].tolist() == ["North", "South", "South"]
    assert daily["revenue"].tolist() == pytest.approx([50.0, 50.0, 8.0])
    assert inputs.targets.sort_values("month")["amount"].tolist() == pytest.approx([500.0, 40.0])
    assert inputs.rep_history is not None and len(inputs.rep_history) == 3
    assert store.reps(SYSTEM).set_index("rep_id")["left"].to_dict() == {"R1": False, "R2": True}
    # a second rates batch re-prices, undo brings the first back; undoing what rows need is refused
    newer = _load(store, "rates", "currency,month,rate\nUSD,2025-03,2\n", "r2.csv")
    assert store.engine_inputs(SYSTEM).daily_actuals["revenue"].sum() == pytest.approx(408.0)
    store.undo(SYSTEM, newer.batch_id)
    assert store.engine_inputs(SYSTEM).daily_actuals["revenue"].sum() == pytest.approx(108.0)
    with pytest.raises(BadInput, match="no USD rate for 2025-03"):
        store.undo(SYSTEM, rates.batch_id)
    with pytest.raises(BadInput, match="no USD rate for 2025-05"):
        _load(store, "actuals", "date,rep,amount\n2025-05-02,R1,USD 1\n", "may.csv")
    # the history editor
    store.set_rep_history(SYSTEM, "R1", dt.date(2025, 3, 14), "South", None)
    moved = store.engine_inputs(SYSTEM).daily_actuals.sort_values(["date", "rep_id"])
    assert moved["territory"].tolist() == ["South", "South", "South"]
    store.delete_rep_history(SYSTEM, "R1", dt.date(2025, 3, 14))
    history = store.rep_history(SYSTEM, "R1")
    assert pd.to_datetime(history["effective_from"]).tolist() == [pd.Timestamp("1900-01-01"), pd.Timestamp("2025-03-15")]


def test_deals_convert_at_the_snapshots_month_on_every_backend(any_store):
    store = any_store
    _load(store, "reps", "rep_id,name,territory,region\nR1,Ann,North,EU\n")
    store.save_settings(SYSTEM, base_currency="EUR")
    _load(store, "rates", "currency,month,rate\nUSD,2025-03,0.5\n")
    imports.import_file(store, "deals", b"deal_id,owner,amount,expected_close,probability\nD1,R1,$300,2025-05-01,0.5\n"
                        b"D2,R1,40,2025-05-01,1\n", file_name="deals.csv", principal=SYSTEM, as_of=dt.date(2025, 3, 20))
    deals = store.open_deals(SYSTEM, dt.date(2025, 3, 21)).set_index("deal_id")
    assert deals["amount"].to_dict() == pytest.approx({"D1": 150.0, "D2": 40.0})
    assert deals["original_amount"].to_dict() == pytest.approx({"D1": 300.0, "D2": 40.0})
    assert deals["currency"].to_dict() == {"D1": "USD", "D2": "EUR"}
    assert store.deal_history(SYSTEM).set_index("deal_id")["amount"].to_dict() == pytest.approx({"D1": 150.0, "D2": 40.0})
    assert store.stored_currencies() == ["EUR", "USD"]
    with pytest.raises(BadInput, match=r"no USD rate for 2025-03 \(1 deals\)"):
        store.undo(SYSTEM, int(store.batches(SYSTEM).query("kind == 'rates'")["batch_id"].iloc[0]))


def test_a_leavers_end_date_is_set_and_cleared_on_every_backend(any_store):
    store = any_store
    _load(store, "reps", "rep_id,name,territory,region,start_date\nR1,Ann,North,EU,2025-01-01\nR2,Bob,North,EU,\n")
    _load(store, "targets", "owner,month,amount\nR1,2025-06,10\nR1,2025-07,20\n")
    store.set_rep_end_date(SYSTEM, "R1", dt.date(2025, 6, 15))
    assert store.reps(SYSTEM).set_index("rep_id")["end_date"].map(pd.Timestamp).to_dict()["R1"] == pd.Timestamp("2025-06-15")
    # the month with the end date keeps its target, the later one is ignored
    assert store.engine_inputs(SYSTEM).targets["amount"].tolist() == pytest.approx([10.0])
    assert "rep end date" in store.audit_log(SYSTEM)["action"].tolist()
    with pytest.raises(BadInput, match="before R1's start date 2025-01-01"):
        store.set_rep_end_date(SYSTEM, "R1", dt.date(2024, 12, 31))
    with pytest.raises(BadInput, match="unknown rep 'R9'"):
        store.set_rep_end_date(SYSTEM, "R9", None)
    with pytest.raises(NotAllowed):
        store.set_rep_end_date(Principal("m@x.test", "manager", "R2"), "R1", None)
    store.set_rep_end_date(SYSTEM, "R1", None)
    assert pd.isna(store.reps(SYSTEM).set_index("rep_id").loc["R1", "end_date"])
    assert store.engine_inputs(SYSTEM).targets["amount"].tolist() == pytest.approx([10.0, 20.0])

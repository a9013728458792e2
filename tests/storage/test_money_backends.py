"""Currencies and people over time on every storage backend (DuckDB and PostgreSQL): the same
imports give the same engine inputs, and the refusals hold on both."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM


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

"""A large batch of actual rows in memory is written through a view of its rows, not a typed copy
(salesplan/storage/ledger.py, ``_VIEW_ROWS``; BENCHMARKS.md, issue 17): the same counts, ledger,
versions, keys and holds as the copy, through imports, re-imports, changes and undo.

Each case runs the same uploads twice into copies of one store, once with every batch taking
the view (``_VIEW_ROWS`` 0) and once with none (``_VIEW_ROWS`` past any batch), and compares
what the store holds. PostgreSQL always writes from its staged copy (the threshold is DuckDB's):
there the two runs take the same path and must agree all the same.
"""

from __future__ import annotations

import pandas as pd
import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.storage import ledger
from salesplan.store import Store
from tests.helpers.ledger_writes import FIRST, SECOND, _file, _spy_sql, _state
from tests.helpers.storage_fixtures import another_database, from_template, import_contract_reps

def _run(store: Store, steps: list) -> list:
    """Run the uploads and undos of ``steps`` in order; the counts of each upload."""
    counts, batches = [], []
    for step in steps:
        if isinstance(step, int):
            store.undo(SYSTEM, batches[step])
            continue
        result = imports.import_file(store, "actuals", _file(step), file_name="sales.csv")
        batches.append(result.batch_id)
        counts.append((result.inserted, result.updated, result.unchanged))
    return counts


def _both_ways(request, db_target: str, monkeypatch, steps: list) -> tuple:
    """(counts, state, SQL written) of ``steps`` with every batch through the view, then the same
    of a second copy of the store with no batch through it."""
    out = []
    for view_rows in (0, 10**12):
        monkeypatch.setattr(ledger, "_VIEW_ROWS", view_rows)
        target = (from_template(request, db_target, "contract-reps", import_contract_reps) if view_rows == 0
                  else another_database(request, "copy-run", "contract-reps", import_contract_reps))
        with Store.open(target) as store:
            seen = _spy_sql(store, monkeypatch)
            counts = _run(store, steps)
            out.append((counts, _state(store), seen))
    return tuple(out)


STEPS = {
    "import, identical re-import": [FIRST, FIRST],
    "import, changes, undo of the changes": [FIRST, SECOND, 1],
    "import, changes, undo of the first, re-import": [FIRST, SECOND, 0, FIRST],
}


@pytest.mark.parametrize("case", list(STEPS))
def test_a_batch_written_through_the_view_leaves_the_store_as_the_copy_does(case, request, db_target, monkeypatch,
                                                                          backend):
    (view_counts, view_state, view_sql), (copy_counts, copy_state, copy_sql) = _both_ways(
        request, db_target, monkeypatch, STEPS[case])
    assert view_counts == copy_counts
    assert view_state == copy_state
    # the paths taken: on DuckDB the view's batches read a view of their rows and never copy them
    # whole; the copy's never make the view. PostgreSQL writes from its copy either way
    viewed = any("TEMP VIEW typed_actuals" in sql for sql in view_sql)
    assert viewed == (backend == "duckdb")
    assert not any("TEMP VIEW typed_actuals" in sql for sql in copy_sql)


def test_the_counts_and_ledger_through_the_view_are_the_documented_ones(org, monkeypatch):
    monkeypatch.setattr(ledger, "_VIEW_ROWS", 0)
    assert _run(org, [FIRST, FIRST, SECOND]) == [(5, 0, 0), (0, 0, 5), (1, 3, 1)]
    frame = org.actuals(SYSTEM).sort_values("row_key")
    assert list(frame["revenue"]) == [10, 25, 30, 40, 50, 60]
    assert list(frame["rep_id"]) == ["R1", "R1", "R2", "R3", "R1", "R3"]
    assert list(frame["customer"].fillna("")) == ["c1", "c2", "c9", "", "c3", "c4"]
    # the row without a territory has its rep's
    assert list(frame["territory"]) == ["Nordics", "Nordics", "Nordics", "Benelux", "Nordics", "Benelux"]


@pytest.mark.parametrize("view_rows", [0, 10**12], ids=["view", "copy"])
def test_a_batch_with_a_repeated_row_key_is_refused_and_writes_nothing(view_rows, request, db_target, monkeypatch):
    """Two rows of one key would both become current versions (the import removes such repeats
    before it writes; a direct caller of the store gets BadInput, on either path, and the store
    keeps what it held)."""
    monkeypatch.setattr(ledger, "_VIEW_ROWS", view_rows)
    target = from_template(request, db_target, "contract-reps", import_contract_reps)
    rows = pd.DataFrame({
        "row_key": ["k1", "k1", "k2"], "line": [1, 2, 3], "sale_date": ["2025-03-04"] * 3, "rep_id": ["R1"] * 3,
        "territory": ["Nordics"] * 3, "revenue": [5.0, 6.0, 7.0], "cost": [None] * 3, "profit": [None] * 3,
        "order_id": ["B", "B", "C"], "order_line": ["1", "1", "1"], "customer": [None] * 3, "product": [None] * 3,
        "territory_from_file": [True] * 3,
    })
    no_rejects = rows.iloc[0:0].assign(record="", problems="")
    with Store.open(target) as store:
        before = _state(store)
        with pytest.raises(BadInput) as refused:
            store.apply_actuals(SYSTEM, rows, no_rejects, file_name="direct.csv", sha256=None, valid_only=False)
        assert refused.value.problems[0].column == "row_key"
        assert "direct.csv" == refused.value.problems[0].file
        assert _state(store) == before
        # the same rows without the repeat are written
        store.apply_actuals(SYSTEM, rows.iloc[1:], no_rejects, file_name="direct.csv", sha256=None, valid_only=False)
        with store.cursor() as cursor:
            assert cursor.execute("SELECT count(*) FROM actual_versions WHERE is_current").fetchall()[0][0] == 2

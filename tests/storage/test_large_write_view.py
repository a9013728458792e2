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
from tests.helpers.storage_fixtures import another_database, from_template, import_contract_reps

HEADER = "date,rep,amount,cost,order id,line,customer,territory\n"


def _file(rows: list[tuple]) -> bytes:
    return (HEADER + "".join(",".join(str(cell) for cell in row) + "\n" for row in rows)).encode()


# (date, rep, amount, cost, order, line, customer, territory): rows without a territory take
# the rep's (looked up in the people history); "Northern Isles" is a territory the ledger has no
# key for yet, as "R3" is a rep it has no key for before the second file
FIRST = [
    ("2025-03-03", "R1", 10, 4, "A", 1, "c1", "Nordics"),
    ("2025-03-03", "R1", 20, 5, "A", 2, "c2", ""),
    ("2025-03-04", "R2", 30, 6, "B", 1, "c1", "Nordics"),
    ("2025-03-05", "R2", 40, 7, "C", 1, "", "Benelux"),
    ("2025-03-06", "R1", 50, 8, "D", 1, "c3", "Nordics"),
]
SECOND = [
    ("2025-03-03", "R1", 10, 4, "A", 1, "c1", "Nordics"),  # the same
    ("2025-03-03", "R1", 25, 5, "A", 2, "c2", ""),  # another amount
    ("2025-03-04", "R2", 30, 6, "B", 1, "c9", "Nordics"),  # another customer (the fingerprint differs)
    ("2025-03-05", "R3", 40, 7, "C", 1, "", "Benelux"),  # another rep, new to the keys
    ("2025-03-07", "R3", 60, 9, "E", 1, "c4", "Benelux"),  # new
]


def _state(store: Store) -> dict[str, list]:
    """What the store holds of actuals: the ledger, every version, the keys and the holds."""
    tables = {
        "versions": "SELECT batch_id, row_key, line, sale_date, rep_id, territory, revenue, cost, profit, order_id, "
                    "order_line, customer, product, currency, territory_from_file, is_current, row_hash IS NULL, "
                    "rep_key, territory_key FROM actual_versions ORDER BY batch_id, row_key",
        "keys": "SELECT name, key_id FROM actual_keys ORDER BY key_id",
        "batch_holds": "SELECT * FROM actual_batch_holds ORDER BY 1, 2",
        "key_holds": "SELECT * FROM actual_key_holds ORDER BY 1, 2, 3",
        "batches": "SELECT batch_id, rows_inserted, rows_updated, rows_unchanged, reverted_at IS NULL "
                   "FROM upload_batches WHERE kind = 'actuals' ORDER BY batch_id",
    }
    with store.cursor() as cursor:
        held = {name: [tuple(row) for row in cursor.execute(sql).fetchall()] for name, sql in tables.items()}
    frame = store.actuals(SYSTEM)
    held["ledger"] = [tuple(row) for row in frame.drop(columns=["batch_id"]).itertuples(index=False)]
    return held


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


def _spy_sql(store: Store, monkeypatch) -> list[str]:
    """The statements the store's writes run (to tell which path a write took)."""
    seen: list[str] = []
    write = store.write

    def spying(principal, action, detail, work, **kwargs):
        def spied(cursor):
            execute, temp_table = cursor.execute, cursor.temp_table

            class Spy:
                def __getattr__(self, name):
                    return getattr(cursor, name)

                def execute(self, sql, *args, **kw):
                    seen.append(sql)
                    return execute(sql, *args, **kw)

                def temp_table(self, name, select, *args, **kw):
                    seen.append(f"TEMP TABLE {name} AS {select}")
                    return temp_table(name, select, *args, **kw)

            return work(Spy())

        return write(principal, action, detail, spied, **kwargs)

    monkeypatch.setattr(store, "write", spying)
    return seen


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

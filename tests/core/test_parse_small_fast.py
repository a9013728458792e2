"""A small actuals file is first read with the usual cells' rules only (a plain YYYY-MM-DD, a plain
number); its rows with any other date or amount take their values from the full rules with the
suspect rows, then their keys (docs/decisions.md, "The import's parse of a small file"). These
tests import the same rows through that path and through the large file's path (every rule in
one statement: ``_SMALL_FILE_ROWS`` set to 0) and compare everything written and refused."""

from __future__ import annotations

import pytest

from salesplan.imports import actuals as actuals_module
from salesplan.imports import parser as parser_module
from salesplan.imports import problems as problems_module
from salesplan.principal import SYSTEM

from tests.helpers import templates
from tests.helpers.actuals import actuals

# no order id: every key is a hash of the row's values plus its occurrence, so a row whose date
# or amount needs the full rules is keyed only after it has its values (two identical such rows
# are two sales)
HASHED = (
    "date,rep,amount,cost,customer\n"
    "2025-03-03,R001,10,1,plain\n"
    '14/03/2025,R001,"$1,234.50",(2.00),slashes and a symbol\n'
    '14/03/2025,R001,"$1,234.50",(2.00),slashes and a symbol\n'
    "2025/03/15,R002,(12.00),,iso with slashes and brackets\n"
    "2025-03-16 10:30,R002,7.5-,0.5,a time and a trailing minus\n"
    "2025-03-17,R003,USD 8,,a code\n"
)
# order ids and lines: keys from the file; one row refused for a cell the full rules read
KEYED = (
    "date,rep,order_id,line,amount,profit\n"
    "2025-03-03,R001,A,1,10,2\n"
    "03/14/2025,R001,A,2,\"1,000\",1.5\n"
    "2025-03-05,R002,B,1,x12,1\n"
    "2025-3-6,R002,B,2,5,(1)\n"
)


def _set_small_file_rows(monkeypatch, rows: int) -> None:
    # each module that imported the threshold by name reads its own copy: all of them, so that the
    # large path is the large path in the parser's checks and the problems' listing too
    for module in (actuals_module, parser_module, problems_module):
        monkeypatch.setattr(module, "_SMALL_FILE_ROWS", rows)


def _import_both(reps_template, tmp_path, monkeypatch, text, **options):
    """(small path's store, large path's store) after importing ``text`` into a copy of each."""
    results = []
    for name, small_rows in (("small", actuals_module._SMALL_FILE_ROWS), ("large", 0)):
        _set_small_file_rows(monkeypatch, small_rows)
        store = templates.open_copy(reps_template, tmp_path / f"{name}.duckdb").__enter__()
        result = actuals(store, text, **options)
        results.append((store, result))
    return results


def _written(store):
    frame = store.actuals(SYSTEM).drop(columns=["batch_id"])
    return frame.sort_values("line").reset_index(drop=True)


def test_rows_needing_the_full_rules_are_written_as_the_large_path_writes_them(reps_template, tmp_path, monkeypatch):
    (small, small_result), (large, large_result) = _import_both(reps_template, tmp_path, monkeypatch, HASHED)
    try:
        assert small_result.inserted == large_result.inserted == 6
        written = _written(small)
        assert written.equals(_written(large))
        by_customer = {row.customer: row for row in written.itertuples()}
        symbol = by_customer["slashes and a symbol"]
        assert (str(symbol.sale_date)[:10], symbol.revenue, symbol.cost, symbol.profit) == ("2025-03-14", 1234.5, -2.0, 1236.5)
        # keyed by their values after they had them, occurrence 1 and 2 (not by their line)
        assert sorted(row.row_key[-2:] for row in written.itertuples() if row.customer == "slashes and a symbol") == ["|1", "|2"]
        assert all(row.row_key.startswith("h|") for row in written.itertuples())
        assert (by_customer["iso with slashes and brackets"].revenue, by_customer["a time and a trailing minus"].revenue) == (-12.0, -7.5)
        assert str(by_customer["a time and a trailing minus"].sale_date)[:10] == "2025-03-16"
        assert small.stored_currencies() == large.stored_currencies() == ["USD"]
    finally:
        small.close()
        large.close()


def test_a_valid_only_import_refuses_and_writes_the_same_rows_on_both_paths(reps_template, tmp_path, monkeypatch):
    (small, small_result), (large, large_result) = _import_both(
        reps_template, tmp_path, monkeypatch, KEYED, valid_only=True
    )
    try:
        assert (small_result.inserted, small_result.rejected) == (large_result.inserted, large_result.rejected) == (3, 1)
        assert small_result.problems == large_result.problems
        assert [problem.line for problem in small_result.problems] == [4]
        written = _written(small)
        assert written.equals(_written(large))
        assert list(written["row_key"]) == ["o|A|1", "o|A|2", "o|B|2"]
        assert list(written["revenue"]) == [10.0, 1000.0, 5.0]
        small_rejected = small.rejected_rows(SYSTEM, small_result.batch_id)
        large_rejected = large.rejected_rows(SYSTEM, large_result.batch_id)
        assert small_rejected[["line", "record", "problems"]].equals(large_rejected[["line", "record", "problems"]])
    finally:
        small.close()
        large.close()


@pytest.mark.parametrize("cell", ["14/03/2025", "2025-02-30", "1.1.1800"])
def test_a_date_the_full_rules_read_or_refuse_gets_the_same_answer_on_both_paths(reps_template, tmp_path, monkeypatch, cell):
    text = f"date,rep,amount\n2025-03-03,R001,1\n{cell},R001,2\n"
    outcomes = []
    for name, small_rows in (("small", actuals_module._SMALL_FILE_ROWS), ("large", 0)):
        _set_small_file_rows(monkeypatch, small_rows)
        with templates.open_copy(reps_template, tmp_path / f"{name}.duckdb") as store:
            result = actuals(store, text, valid_only=True)
            outcomes.append((result.inserted, result.rejected, result.problems, _written(store).drop(columns=["row_key"])))
    assert outcomes[0][:3] == outcomes[1][:3]
    assert outcomes[0][3].equals(outcomes[1][3])


def test_a_file_whose_only_row_needs_the_full_rules_is_keyed_by_its_values(reps_store):
    # the usual cells' rules leave its date NULL (a row refused by its line's key), the full rules
    # read it: only then is it numbered among the rows keyed by their values
    result = actuals(reps_store, 'date,rep,amount\n14/03/2025,R001,"$1,234.50"\n')
    assert result.inserted == 1
    [row] = list(reps_store.actuals(SYSTEM).itertuples())
    assert row.row_key.startswith("h|") and row.row_key.endswith("|1")
    assert (str(row.sale_date)[:10], row.revenue) == ("2025-03-14", 1234.5)

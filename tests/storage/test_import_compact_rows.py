"""The actuals import of a large file (docs/decisions.md, "The import's fast paths"): a parse too large
for the parser's memory stays in a spilling DuckDB (the workspace an embedded store lends, else the
parser's) and the store reads its rows there, or from a Parquet file (the rows are never whole in
Python memory); on both backends it writes and refuses what the in-memory path does."""

from __future__ import annotations

import pyarrow.dataset
import pytest

from salesplan import imports
from salesplan.errors import Problem
from salesplan.principal import SYSTEM
from salesplan.storage import WorkspaceTable
from tests.helpers.actuals import HEADER, actuals, problems


def _large_file() -> str:
    # over the small-file size (the large paths): explicit keys, keys by occurrence and by values,
    # an exact repeat, a conflicting repeat, a bad cell, another currency's symbol
    rows = [f"2025-03-{3 + i % 20:02d},R00{1 + i % 2},O{i},1,{i}.25" for i in range(imports.parser._SMALL_FILE_ROWS + 50)]
    rows += ["2025-03-03,R001,B,,20", "2025-03-03,R001,B,,21", "2025-03-03,R002,,,30", "2025-03-03,R002,,,30"]
    rows += ["2025-03-10,R002,O7,1,7.25", "2025-03-03,R001,O9,1,99", "2025-02-30,R001,X1,1,5", "2025-03-03,R001,X2,1,abc"]
    return HEADER + "\n".join(rows) + "\n"


@pytest.mark.parametrize("share", [0.0, 1e9], ids=["parse kept in DuckDB", "parse in Arrow"])
def test_a_large_parse_kept_in_duckdb_writes_the_same_rows(reps_org, monkeypatch, share):
    reps_store = reps_org
    # a file whose cells take more than a share of the parser's memory keeps its parse in DuckDB
    # and hands the store its rows there (an embedded store's workspace) or as a Parquet file;
    # both paths write and refuse the same
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", share)
    given = []
    apply = reps_store.apply_actuals

    def spy(principal, rows, rejected, **options):
        given.append((rows, options.get("memory_mb")))
        return apply(principal, rows, rejected, **options)

    monkeypatch.setattr(reps_store, "apply_actuals", spy)
    text = _large_file()
    last = len(text.splitlines())  # the header is line 1
    assert problems(reps_store, text) == [
        Problem("sales.csv", last - 2, "order_id", "order O9 line 1 is also on line 11 with other values"),
        Problem("sales.csv", last - 1, "date", "'2025-02-30' is not a real date"),
        Problem("sales.csv", last, "amount", "'abc' has letters in it: amounts must be numbers"),
    ]
    result = actuals(reps_store, text, valid_only=True)
    n = imports.parser._SMALL_FILE_ROWS + 50
    assert (result.inserted, result.rejected) == (n + 4, 3)
    frame = reps_store.actuals(SYSTEM)
    assert len(frame) == n + 4
    assert frame["revenue"].sum() == pytest.approx(sum(i + 0.25 for i in range(n)) + 20 + 21 + 30 + 30)
    keys = sorted(key for key in frame["row_key"] if not key.startswith("o|O"))
    assert keys[2:] == ["o|B|#1", "o|B|#2"] and keys[0][:2] == "h|" and keys[0][:-1] == keys[1][:-1]
    rejected = reps_store.rejected_rows(SYSTEM, result.batch_id).sort_values("line")
    assert rejected["line"].tolist() == [last - 2, last - 1, last]
    # the rejected rows keep the user's cells: they are read before the cells are let go
    assert '"amount": "abc"' in rejected["record"].iloc[-1] and "X2" in rejected["record"].iloc[-1]
    rows, memory_mb = given[-1]
    # handed over where they are: in the workspace an embedded store lends, else a Parquet file
    in_place = WorkspaceTable if reps_store.dialect == "duckdb" else pyarrow.dataset.FileSystemDataset
    assert isinstance(rows, in_place) is (share == 0.0)
    # only a large file's write is held to the import's memory (the limit is the whole files
    # database's: the dashboard's reads meanwhile share it)
    assert (memory_mb is not None) is (share == 0.0)
    assert actuals(reps_store, text, valid_only=True).unchanged == n + 4

"""A large actuals file whose parse is kept in DuckDB (spilled; its rows handed to the store in the
workspace the store lent, or as a Parquet file): its rows join the reps only when a rep text or a
missing territory needs it, and its overview is read from the parse's own rows, not from the rows
written (docs/decisions.md, issue 17 sessions 14 and 15). Each shortcut's answer is held to the
full work's."""

from __future__ import annotations

import contextlib
import datetime as dt
from types import SimpleNamespace

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from salesplan import imports
from salesplan.imports.actuals import _reps_as_written
from salesplan.principal import SYSTEM
from tests.helpers.actuals import actuals

HEADER = "date,rep,order_id,line,amount,territory,customer\n"
_ROWS = imports.parser._SMALL_FILE_ROWS + 30


class _Recorded:
    """The import's connection, with the text of every statement it executes kept in ``seen``."""

    def __init__(self, connection, seen: list[str]):
        self._connection, self._seen = connection, seen

    def execute(self, sql, *args, **kwargs):
        self._seen.append(sql)
        return self._connection.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._connection, name)


@pytest.fixture(params=["workspace", "rows file"])
def spilled(request, reps_store, monkeypatch):
    """Every large parse kept in DuckDB: in the workspace the store lends, or (as on PostgreSQL) in
    the parser database with its rows handed over as a Parquet file; for each import, whether its
    keyed rows were made with a join of the reps (read off the statement that made them)."""
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0)
    if request.param == "rows file":  # (a store that lends no workspace, as a server's)
        monkeypatch.setattr(reps_store, "import_workspace", lambda memory_mb: contextlib.nullcontext(None))
    seen: list[str] = []
    original, lent = imports.flow.quiet_connection, imports.flow.parsing_session
    monkeypatch.setattr(imports.flow, "quiet_connection", lambda *args, **kwargs: _Recorded(original(*args, **kwargs), seen))
    # (the connection an embedded DuckDB store lends the import, in its workspace)
    monkeypatch.setattr(imports.flow, "parsing_session", lambda connection: _Recorded(lent(connection), seen))
    made = ("CREATE TEMP TABLE keyed AS", "CREATE TABLE keyed AS")

    class Spilled:
        def __call__(self) -> list[bool]:
            return ["LEFT JOIN file_reps" in sql for sql in seen if sql.lstrip().startswith(made)]

        @staticmethod
        def statements() -> list[str]:
            return list(seen)

    return Spilled()


def _rows() -> list[list[str]]:
    return [[f"2025-03-{1 + i % 28:02d}", ("R001", "R002")[i % 2], f"F{i}", str(1 + i % 3), f"{i}.25",
             ("Nordics", "DACH")[i % 3 == 0], f"C{i % 7}"] for i in range(_ROWS)]


def _text(rows: list[list[str]]) -> str:
    return HEADER + "".join(",".join(row) + "\n" for row in rows)


def _written(store) -> pd.DataFrame:
    return store.actuals(SYSTEM).sort_values("line").reset_index(drop=True)


@pytest.mark.parametrize("change, joined", [
    (None, False),  # every rep a rep_id as written, every row a territory: no join
    ((3, 1, "ava@example.com"), True),  # a rep by email: resolved by the join
    ((4, 1, "r002"), True),  # a rep_id in other case
    ((5, 5, ""), True),  # a row without a territory takes its rep's
    ((6, 5, " DACH"), True),  # a padded cell: trimmed in DuckDB (no fact known)
    ((7, 5, " "), True),  # a blank territory (padded): none given, the rep's
])
def test_a_spilled_parse_joins_the_reps_only_when_a_row_needs_it(reps_store, spilled, change, joined):
    rows = _rows()
    if change is not None:
        row, column, text = change
        rows[row][column] = text
    result = actuals(reps_store, _text(rows))
    assert (result.inserted, result.rejected) == (_ROWS, 0)
    assert spilled() == [joined]
    written = _written(reps_store)
    expected_reps = [row[1] for row in rows]
    expected_territories = [row[5] for row in rows]
    if change is not None and change[2] == "ava@example.com":
        expected_reps[3] = "R001"
    if change is not None and change[2] == "r002":
        expected_reps[4] = "R002"
    if change is not None and change[2] == "":
        expected_territories[5] = {"R001": "Nordics", "R002": "DACH"}[rows[5][1]]
    if change is not None and change[2] == " DACH":
        expected_territories[6] = "DACH"
    if change is not None and change[2] == " ":
        expected_territories[7] = {"R001": "Nordics", "R002": "DACH"}[rows[7][1]]
    assert written["rep_id"].tolist() == expected_reps
    assert written["territory"].tolist() == expected_territories
    assert written["order_id"].tolist() == [row[2] for row in rows]


def test_the_overview_of_a_spilled_import_is_that_of_the_rows_written(reps_store, spilled):
    rows = _rows()
    rows[2][4] = "not a number"  # refused (valid rows only)
    rows[9] = list(rows[8])  # the same sale listed twice: kept once
    rows[11][0] = "2024-12-31"  # the first date
    rows[12][0] = "2025-04-30"  # the last
    result = actuals(reps_store, _text(rows), valid_only=True)
    kept = [row for i, row in enumerate(rows) if i not in (2, 9)]
    assert (result.inserted, result.rejected) == (len(kept), 1)
    overview = result.overview
    assert overview.rows == len(kept)
    assert (overview.first_date, overview.last_date) == (dt.date(2024, 12, 31), dt.date(2025, 4, 30))
    assert overview.totals["revenue"] == pytest.approx(sum(float(row[4]) for row in kept))
    assert overview.reps == ["R001", "R002"]
    written = _written(reps_store)
    assert len(written) == overview.rows
    assert float(written["revenue"].sum()) == pytest.approx(overview.totals["revenue"])
    assert float(written["profit"].fillna(0).sum()) == pytest.approx(overview.totals["profit"])


@pytest.mark.parametrize("count", [_ROWS, 5], ids=["large", "small"])
def test_the_overview_read_with_the_count_of_suspect_rows_is_that_of_the_rows_written(reps_store, spilled, count):
    # without lines left out, a large spilled parse's overview is read in the scan that counts its
    # suspect rows; a small file's suspect rows (here every row: day-first dates, amounts with a
    # thousands separator) take their values from the full rules after that scan, so its overview
    # is read from the rows as written
    rows = _rows()[:count]
    for i, row in enumerate(rows):
        day, month = 13 + i % 15, 3 + i % 2  # (a day past 12: the file tells its order)
        row[0] = f"{day:02d}/{month:02d}/2025"
        row[4] = f'"1,{i % 900:03d}.50"'
    result = actuals(reps_store, _text(rows))
    assert (result.inserted, result.rejected) == (count, 0)
    overview, written = result.overview, _written(reps_store)
    assert overview.rows == count == len(written)
    assert (overview.first_date, overview.last_date) == (written["sale_date"].min().date(), written["sale_date"].max().date())
    assert overview.totals["revenue"] == pytest.approx(sum(1000 + i % 900 + 0.5 for i in range(count)))
    assert float(written["revenue"].sum()) == pytest.approx(overview.totals["revenue"])
    assert overview.reps == sorted({row[1] for row in rows})
    # (whether the overview was read apart: only where the early read may be wrong)
    apart = [sql for sql in spilled.statements() if sql.lstrip().startswith("SELECT count(*), min(sale_date)")]
    assert len(apart) == (count <= imports.parser._SMALL_FILE_ROWS)


def test_the_overview_of_a_spilled_import_leaving_out_a_repeated_sale_counts_it_once(reps_store, spilled):
    # not valid-only: the same sale listed twice is kept once, so the overview read with the count
    # of suspect rows (which sees both) is read again from the rows kept
    rows = _rows()
    rows[9] = list(rows[8])
    result = actuals(reps_store, _text(rows))
    assert (result.inserted, result.rejected) == (len(rows) - 1, 0)
    written = _written(reps_store)
    assert result.overview.rows == len(written) == len(rows) - 1
    assert result.overview.totals["revenue"] == pytest.approx(float(written["revenue"].sum()))


def test_the_reps_test_asks_every_condition():
    # the conditions one by one, on the cells as given (an empty, not null, cell comes from a
    # workbook or a stand-in: a CSV's empty cell is null)
    connection = duckdb.connect()
    connection.execute("CREATE TABLE file_reps AS SELECT * FROM (VALUES ('R001', 'R001'), ('R002', 'R002')) t(rep_text, rep_id)")

    def asked(territories, *, padded=False, mapped=True, kind=None):
        cells = pa.table({"c0": pa.chunked_array([pa.array(territories, type=kind or pa.string())]), "line": list(range(len(territories)))})
        parser = SimpleNamespace(raw=SimpleNamespace(cells=cells, padded=padded), mapping={"territory": 0} if mapped else {},
                                 has=lambda name: mapped and name == "territory")
        return _reps_as_written(parser, connection)

    assert asked(["Nordics", "DACH"])
    assert not asked(["Nordics", "DACH"], padded=True)
    assert not asked(["Nordics", "DACH"], mapped=False)
    assert not asked(["Nordics", None])
    assert not asked(["Nordics", ""])
    assert not asked(["Nordics", "DACH"], kind=pa.large_string())
    connection.execute("INSERT INTO file_reps VALUES ('ava@example.com', 'R001')")
    assert not asked(["Nordics", "DACH"])

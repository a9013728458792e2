"""What an actuals import reads off its parsed rows besides the rows themselves: the date and amount
fields a small file's suspect rows need the full rules for, and the overview of the rows written."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesplan.imports.parser import _Parser
from salesplan.storage import WorkspaceTable


def _unread_columns(parser: _Parser, keyed: pa.Table, comma: bool, order: str) -> set[str]:
    """The date and amount fields a suspect row of a small file's fetched ``keyed`` rows has a
    cell of that the usual cells' rules did not read (a text, and NULL there). Only those need the
    full rules: a cell they read is read the same by the full rules, and an empty one is NULL by
    both. An amount with a decimal comma, or a date of a stated pattern, has no usual rule."""
    suspect = keyed.filter(keyed["suspect"])
    lines = suspect["line"].to_pylist()
    cells = parser.raw.cells
    picked = cells.filter(pc.is_in(cells["line"], value_set=pa.array(lines, type=cells["line"].type)))
    full = set()
    for name, column in (("date", "sale_date"), ("revenue", "revenue"), ("cost", "cost"), ("profit", "profit_given")):
        if not parser.has(name):
            continue
        if (comma and name != "date") or (order.startswith("%") and name == "date"):
            full.add(name)
            continue
        # a cell is a text unless empty, once its spaces are trimmed when src trims (at least
        # those): counting one too many only plans the full rules for nothing
        texts = dict(zip(picked["line"].to_pylist(), picked[f"c{parser.mapping[name]}"].to_pylist()))
        trimmed = {line: (text.strip(" ") if parser.raw.padded else text) for line, text in texts.items() if text is not None}
        if any(value is None and trimmed.get(line) for line, value in zip(lines, suspect[column].to_pylist())):
            full.add(name)
    return full


def _overview_of(
    connection: duckdb.DuckDBPyConnection, rows: pa.Table | ds.Dataset | WorkspaceTable, table: str | None, leaves_out: bool,
) -> tuple:
    """(count, first and last date, revenue, profit, the reps in order) of the rows written.
    Rows in a Parquet file (a dataset) or a workspace are read from ``keyed`` without the left-out lines, whose
    rows they are (not from the file again: ~1-1.6 CPU-s less at 10M rows). Rows held as
    Arrow: all but the sums are read off them (a statement costs ~1-2 ms to plan, and DuckDB's ``list(DISTINCT rep_id)`` of a million rows ~0.035 CPU-s, Arrow's ``unique`` ~0.01),
    and the sums keep DuckDB's (decimal, then DOUBLE), of ``table`` when given (the parser's table
    they were taken from: a small file's ``keyed``, without the ``left_out`` lines when
    ``leaves_out``), else of the rows."""
    if not isinstance(rows, pa.Table):
        kept = "WHERE line NOT IN (SELECT line FROM left_out)" if leaves_out else ""
        return connection.execute(f"SELECT {_OVERVIEW} FROM keyed {kept}").fetchall()[0]
    if table is None:
        connection.register("written_rows", rows)
    kept = "WHERE line NOT IN (SELECT line FROM left_out)" if leaves_out and table else ""
    revenue, profit = connection.execute(
        f"SELECT coalesce(sum(revenue), 0)::DOUBLE, coalesce(sum(profit), 0)::DOUBLE FROM {table or 'written_rows'} {kept}"
    ).fetchall()[0]
    if table is None:
        connection.unregister("written_rows")
    dates = pc.min_max(rows["sale_date"]).as_py()
    # as DuckDB's list(DISTINCT ... ORDER BY ...): texts in byte (= code point) order, NULL last
    named = set(pc.unique(rows["rep_id"]).to_pylist())
    reps = sorted(name for name in named if name is not None) + ([None] if None in named else [])
    return rows.num_rows, dates["min"], dates["max"], revenue, profit, reps or None


# the overview of rows of ``keyed`` (see _overview_of)
_OVERVIEW = (
    "count(*), min(sale_date), max(sale_date), coalesce(sum(revenue), 0)::DOUBLE, coalesce(sum(profit), 0)::DOUBLE, "
    "list(DISTINCT rep_id ORDER BY rep_id)"
)

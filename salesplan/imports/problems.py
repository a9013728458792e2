"""The problems an import collects and the rows it refuses: listed from the parse's DuckDB
(:class:`salesplan.imports.parser._Parser`), and the refused rows as the user's own columns; the
keys an actuals file lists more than once."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesplan.arrowbytes import repeated
from salesplan.errors import BadInput, Problem
from salesplan.imports.fields import MAX_PROBLEMS_LISTED

if TYPE_CHECKING:
    from salesplan.imports.parser import _Parser


def _collect(parser: _Parser, valid_only: bool) -> tuple[list[Problem], set[int]]:
    """The problems to list (all of them up to 10x MAX_PROBLEMS_LISTED, else the first
    MAX_PROBLEMS_LISTED) and the set of bad lines; raises BadInput unless valid_only.

    The problems stay in the parse's DuckDB (the parser database, memory-capped and spilling, or the store's workspace): a file where every one
    of millions of rows is wrong never turns into millions of Python objects.
    """
    union = parser.problem_union()
    if union is None:
        return [], set()
    connection = parser.connection
    # a small file's problems are listed straight from the checks: when they all fit in the
    # list, its lines are the bad lines (no table of problems, no second query); a large file's
    # are kept in a table, read twice, rather than checked twice
    small = parser.raw.cells.num_rows <= _SMALL_FILE_ROWS
    # a valid-only import reads the problems again for its rejected rows (_rejected_records): a
    # table of them, so that their query is planned once (~0.03 s for actuals)
    keep = not small or valid_only
    source = "problem_rows" if keep else f"({union})"
    if keep:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE problem_rows AS {union}")
        parser.problems_table = "problem_rows"
    # ordered down to the reason: two problems of one cell came out in either order from run to run
    shown = connection.execute(
        f"SELECT line, column_name, reason FROM {source} ORDER BY line, column_name, reason LIMIT ?",
        [MAX_PROBLEMS_LISTED * 10 + 1],
    ).fetchall()
    listed_all = len(shown) <= MAX_PROBLEMS_LISTED * 10
    if not listed_all:
        shown = shown[:MAX_PROBLEMS_LISTED]
    problems = [
        Problem(parser.raw.file, int(line), column if isinstance(column, str) else None, reason)
        for line, column, reason in shown
    ]
    if problems and not valid_only:
        raise BadInput(problems)
    if small and listed_all:
        return problems, {int(line) for line, _, _ in shown}
    bad_lines = {int(row[0]) for row in connection.execute(f"SELECT DISTINCT line FROM {source}").fetchall()}
    return problems, bad_lines


# files of up to this many records skip work that pays off on large files only (see _collect and
# _Parser.date_order)
_SMALL_FILE_ROWS = 10_000


def _rejected_records(parser: _Parser, bad_lines: set[int]) -> pd.DataFrame:
    """(line, record, problems) of the refused lines; ``record`` is a JSON object of every column
    of the file, in the file's order, so the rows can be handed back as the user's own columns
    (:func:`rejected_table`)."""
    if not bad_lines:
        return pd.DataFrame({"line": pd.Series([], dtype="int64"), "record": [], "problems": []})
    parser.connection.execute("CREATE OR REPLACE TEMP TABLE bad_lines AS SELECT unnest(?::BIGINT[]) AS line", [sorted(bad_lines)])
    source = parser.problems_table or f"({parser.problem_union()})"
    frame = parser.connection.execute(
        f"""
        SELECT p.line, string_agg(coalesce(p.column_name || ': ', '') || p.reason, '; ' ORDER BY p.column_name, p.reason) AS problems
        FROM {source} p WHERE p.line IN (SELECT line FROM bad_lines)
        GROUP BY p.line ORDER BY p.line
        """
    ).df()
    cells = parser.raw.cells
    picked = cells.filter(pc.is_in(cells["line"], value_set=pa.array(sorted(bad_lines), type=cells["line"].type)))
    names = _unique_names(parser.raw.header)
    columns = [f"c{position}" for position in range(len(names)) if f"c{position}" in cells.column_names]
    by_line = {
        int(row["line"]): json.dumps({names[int(c[1:])]: row[c] for c in columns}, ensure_ascii=False)
        for row in picked.select([*columns, "line"]).to_pylist()
    }
    frame["record"] = [by_line.get(int(line), "{}") for line in frame["line"]]
    return frame[["line", "record", "problems"]]


def _unique_names(header: list[str]) -> list[str]:
    """The header with empty and repeated names made distinct ("column 3", "Name (2)")."""
    seen: dict[str, int] = {}
    out = []
    for position, name in enumerate(header):
        name = str(name).strip() or f"column {position + 1}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def rejected_table(rejected: pd.DataFrame) -> pd.DataFrame:
    """The rows a valid-only import left out (``Store.rejected_rows``) as the file's own columns,
    in its order, then ``line`` and ``problems``: a download the user fixes and uploads again.
    Raises KeyError when the frame lacks the record, line or problems column."""
    records = [json.loads(text) if isinstance(text, str) and text else {} for text in rejected["record"]]
    columns: list[str] = []
    for record in records:
        columns += [name for name in record if name not in columns]
    table = pd.DataFrame([[record.get(name) for name in columns] for record in records], columns=columns, dtype=object)
    for extra in ("line", "problems"):
        name = extra if extra not in columns else f"{extra} (salesplan)"
        table[name] = rejected[extra].to_numpy()
    return table


def register_frame(connection, name: str, frame: pd.DataFrame) -> None:
    """Register a store read (a DataFrame) under ``name`` as an Arrow table: DuckDB reads Arrow
    directly, where a DataFrame is scanned through pandas (~4 ms more per registration, a
    fixed cost of every import)."""
    connection.register(name, pa.Table.from_pandas(frame, preserve_index=False))


# ---------------------------------------------------------------- keys listed more than once (actuals)
def _keys_repeat(keyed: pa.Table) -> bool:
    """Whether a small file's fetched ``keyed`` rows list a key more than once."""
    keys = keyed["row_key"].to_pylist()
    return len(set(keys)) < len(keys)


def _hashes_repeat(connection: duckdb.DuckDBPyConnection, rows: int) -> bool:
    """Whether two of the ``rows`` rows of a large file's ``keyed`` have keys of one 64-bit hash,
    made available as ``repeated_hashes`` (h: each such hash once). The keys' hashes are read a
    batch at a time into one array and looked at with numpy (:func:`salesplan.arrowbytes.repeated`: at 1M keys ~0.04
    CPU-s with the fetch, where DuckDB's aggregate of a million groups took ~0.15; at 10M, kept in
    the parser's DuckDB, its aggregate spilled). The array is the only copy: 8 bytes per row (a
    whole Arrow result beside it was as much again, fresh memory that this machine hands out
    slowly). Raises AssertionError when ``keyed`` does not hold ``rows`` rows."""
    hashes = np.empty(rows, dtype=np.uint64)
    filled = 0
    for batch in connection.sql("SELECT hash(row_key) AS h FROM keyed").to_arrow_reader(_HASH_BATCH_ROWS):
        values = batch.column(0).to_numpy()  # (a hash is never null: no copy)
        if filled + len(values) > rows:
            raise AssertionError(f"keyed holds more than {rows} rows")
        hashes[filled:filled + len(values)] = values
        filled += len(values)
    if filled != rows:
        raise AssertionError(f"keyed holds {filled} rows, not {rows}")
    found = repeated(hashes, in_place=True)
    if len(found):
        connection.register("repeated_hashes", pa.table({"h": pa.array(found, type=pa.uint64())}))
    return len(found) > 0


# rows per batch of the hashes read by :func:`_hashes_repeat` (1 MB each)
_HASH_BATCH_ROWS = 131_072

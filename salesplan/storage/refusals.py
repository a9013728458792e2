"""Rows of an actuals batch the store refuses inside its writing transaction, whatever the caller
checked before (the import refuses first, on their own lines, the rows it can tell from the file;
these hold against a race, against any other caller, and for what only the ledger shows). Each
raises BadInput naming the lines; nothing is written."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from salesplan.arrowbytes import cell_bytes, repeated
from salesplan.errors import BadInput, Problem
from salesplan.storage.backends import Cursor


# whether a typed row ``{t}`` can take the key of a sale of another order
# or line (refuse_key_collisions): a row of the import's order keys (``o|...``) without a line,
# with a line starting with ``#`` or a ``|`` in its order id or line; NULL counts as false. The
# write computes it in a statement that reads its rows anyway (the comparison, or the statement
# that counts a small batch's statuses): a scan of its own cost ~0.08 CPU-s at 1M rows
COLLISION_POSSIBLE = (
    "({t}.row_key LIKE 'o|%' AND ({t}.order_line IS NULL OR {t}.order_line LIKE '#%' OR {t}.order_line LIKE '%|%' "
    "OR {t}.order_id LIKE '%|%'))"
)


def collision_impossible(rows: pa.Table) -> bool:
    """True when no row of ``rows`` (the batch in memory, before typing) can be one that
    :data:`COLLISION_POSSIBLE` flags: every row has an order line, none starting with ``#``, and
    no order id or line holds ``|`` (looked for in the Arrow buffers of the texts, ~7 ms at 1M rows
    against ~0.05-0.07 CPU-s for the four ``LIKE``s per row in the comparison). False means only
    "maybe" (a null's bytes, a text type other than string, are looked at as if they were a value),
    and the flag is then computed row by row as before."""
    names = rows.schema.names
    if "order_line" not in names or "order_id" not in names:
        return False
    line, order = rows["order_line"], rows["order_id"]
    return line.null_count == 0 and not any(
        _any_text_byte(column, byte, first_only) for column, byte, first_only in
        ((line, b"#", True), (line, b"|", False), (order, b"|", False)))


def _any_text_byte(column: pa.ChunkedArray, byte: bytes, first_only: bool) -> bool:
    """Whether a text of ``column`` holds ``byte`` (``first_only``: starts with it); True also
    when the column's type is not Arrow's string or large string (not looked into)."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return True
    code = byte[0]
    for chunk in column.chunks:
        cells = cell_bytes(chunk)
        if cells is None:
            continue  # an empty chunk (a producer may leave an empty array's buffers out)
        offsets, data = cells
        if first_only:
            starts = offsets[:-1][offsets[1:] > offsets[:-1]]
            if (data[starts] == code).any():
                return True
        elif (data[offsets[0]:offsets[-1]] == code).any():
            return True
    return False


def refuse_key_collisions(cursor: Cursor, typed: str, file_name: str | None, possible: bool) -> None:
    """No row of the typed rows ``typed`` may take the key of a current sale of another order or
    line: an import's key is made of the order id and line (``o|A|1``), so order ``A|1`` line 2
    and order ``A`` line ``1|2`` come out as one key, as do order A without a line (its first row
    is ``o|A|#1``) and order A line ``#1``. Within one file the import refuses such a pair; across
    files the later row would replace the earlier sale as an update. Only a batch with a row whose
    order id or line holds ``|``, whose line starts with ``#`` or that has no line can collide
    (``possible``: whether one of its rows is such, :data:`COLLISION_POSSIBLE`, told by the
    caller): the usual file is not compared with the ledger again. Raises BadInput naming each
    such line and both sales (nothing written: the caller's transaction rolls back)."""
    if not possible:
        return
    # a collision pairs a row without a line with a sale whose line starts with '#' (either way
    # round), or has a '|' on both sides: the rows without a line (a whole file of them, often)
    # are joined only with the few sales of such lines, not with the whole ledger
    other = "(a.order_id IS DISTINCT FROM s.order_id OR a.order_line IS DISTINCT FROM s.order_line)"
    pick = "SELECT s.line, s.order_id, s.order_line, a.order_id AS earlier_id, a.order_line AS earlier_line"
    rows = cursor.execute(
        f"SELECT * FROM ({pick} FROM {typed} s JOIN actuals a ON a.row_key = s.row_key "
        "WHERE s.row_key LIKE 'o|%' AND (s.order_line LIKE '#%' OR s.order_line LIKE '%|%' OR s.order_id LIKE '%|%') "
        f"AND {other} UNION ALL {pick} FROM {typed} s JOIN (SELECT row_key, order_id, order_line FROM actuals "
        "WHERE order_line LIKE '#%') a ON a.row_key = s.row_key "
        f"WHERE s.row_key LIKE 'o|%' AND s.order_line IS NULL AND {other}) c ORDER BY line LIMIT 100"
    ).fetchall()
    _refuse(file_name, "order_id", [
        (line, f"{_sale(order_id, order_line)} comes out as the same key as {_sale(earlier_id, earlier_line)}, "
               "already recorded: change the order id or the line of one of them")
        for line, order_id, order_line, earlier_id, earlier_line in rows
    ])


def _sale(order_id: str | None, order_line: str | None) -> str:
    return f"order {order_id}" + (f" line {order_line}" if order_line else " (no line)")


def _refuse(file_name: str | None, column: str, lines: list[tuple[int | None, str]]) -> None:
    """BadInput with one problem per (line, reason) of ``lines``, if there is any."""
    if lines:
        raise BadInput([Problem(file_name or "upload", None if line is None else int(line), column, reason)
                        for line, reason in lines])


def refuse_foreign_keys(cursor: Cursor, typed: str, scope: set[str], file_name: str | None) -> None:
    """Inside the writing transaction: no row of the typed rows ``typed`` may be a sale of a rep outside ``scope``,
    new or replacing one (the import refuses such rows first; a direct caller meets this check).
    Raises BadInput naming the lines (nothing written: the caller's transaction rolls back)."""
    rows = cursor.execute(
        f"SELECT line FROM {typed} WHERE rep_id IS NULL OR rep_id NOT IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY line LIMIT 100",
        [sorted(scope)],
    ).fetchall()
    _refuse(file_name, "rep", [(line, "not a rep you may upload for") for (line,) in rows])
    rows = cursor.execute(
        f"SELECT s.line, s.order_id, s.order_line FROM {typed} s JOIN actuals a USING (row_key) "
        "WHERE a.rep_id NOT IN (SELECT unnest(?::VARCHAR[])) ORDER BY s.line LIMIT 100",
        [sorted(scope)],
    ).fetchall()
    _refuse(file_name, "order_id", [
        (line, f"order {order_id}{f' line {order_line}' if order_line else ''} is already recorded for a rep "
               "outside your scope: you may not change it (ask their manager or an admin)")
        for line, order_id, order_line in rows
    ])


# a row key's 64-bit hash on DuckDB (refuse_repeated_keys)
KEY_HASH = "hash(row_key)"


def refuse_repeated_keys(cursor: Cursor, rows: int, file_name: str | None, keys: Any = None) -> None:
    """BadInput unless the ``rows`` rows have as many distinct row keys: ``keys`` when counted, else
    those of ``incoming_actuals`` (none NULL). Two rows of one key would both become current (the
    import removes such repeats before it writes; this holds against any other caller). Without
    ``keys`` (DuckDB's view of a large batch in memory; every other write counts its keys in a
    statement it runs anyway) distinct hashes prove distinct keys: the keys' 64-bit hashes are
    fetched as an Arrow column and sorted with numpy (at 1M keys ~0.045 CPU-s; through a pandas
    frame ~0.07-0.2, DuckDB's count of distinct hashes ~0.17); only when two hashes meet (equal
    keys, a chance or crafted collision) or a key is NULL are the texts counted."""
    if keys is None:
        if cursor.dialect == "duckdb":
            hashes = cursor.arrow(f"SELECT {KEY_HASH} AS h FROM incoming_actuals WHERE row_key IS NOT NULL")["h"]
            values = hashes.to_numpy()  # (a copy of its own, sorted in place, when the column has chunks)
            if len(values) == rows and not len(repeated(values, in_place=values.flags.writeable)):
                return
        keys = cursor.execute("SELECT count(DISTINCT row_key) FROM incoming_actuals").fetchall()[0][0]
    if int(keys) != rows:
        raise BadInput.single(file_name or "upload", "the batch holds two or more rows with one row_key: "
                              "each key may appear once", column="row_key")

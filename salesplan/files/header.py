"""Finding the header row of an uploaded table and matching header names."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from salesplan.arrowbytes import cell_bytes
from salesplan.errors import BadInput
from salesplan.files.limits import HEADER_SEARCH_RECORDS, RawTable


def normalise_header(text: str) -> str:
    """A header as it is matched: lower case, without spaces, underscores, hyphens, dots and the like."""
    return re.sub(r"[\s_\-.:/#()]+", "", str(text).replace("\ufeff", "").lower())


# --------------------------------------------------------------------------- header
def _locate_header(table: pa.Table, file_name: str, sha256: str, looks_like_header, *, encoding: str, delimiter: str) -> RawTable:
    """Find the header among the first records and return the records below it.

    ``looks_like_header(cells)`` returns 0 (not a header), 1 (names some fields) or 2 (names every
    required field; True counts as 1). The first complete header wins, else the first that names
    some fields: a group row of merged Excel cells ("Order" | "Sales") above the real header names
    fields too, but not all of them. Copies of the header further down (a second export pasted
    below the first) are not records: they are skipped and their lines listed.
    """
    # columns are taken by position, never looked up by name: a lone cell at XFD makes a table of
    # 16,385 columns, and each lookup by name walks them all (a select of every column by name
    # took seconds)
    names = table.column_names  # a new list at every call
    positions = [index for index, name in enumerate(names) if name != "line"]
    data_columns = [names[index] for index in positions]
    head_table = table.slice(0, HEADER_SEARCH_RECORDS)
    head_lines = [int(line) for line in head_table.column("line").to_pylist()]
    # the first records' cells, trimmed, "" when empty: read column by column, and only the columns
    # holding anything there (not a dictionary per record of every column)
    head = [[""] * len(positions) for _ in head_lines]
    for slot, index in enumerate(positions):
        column = head_table.column(index)
        if column.null_count == len(column):
            continue
        for record, value in zip(head, column.to_pylist()):
            record[slot] = (value or "").strip()
    header_index = None
    for index, cells in enumerate(head):
        score = int(looks_like_header(cells))
        if score >= 2:
            header_index = index
            break
        if score >= 1 and header_index is None:
            header_index = index
    if header_index is None:
        first = head[0] if head else []
        raise BadInput.single(
            file_name,
            "no header row found in the first lines; found "
            + ", ".join(repr(cell) for cell in first if cell)
            + " — see the README for the expected columns",
            line=head_lines[0] if head else 1,
        )
    header = head[header_index]
    # drop trailing columns that have neither a header nor any value (trailing delimiters)
    keep = len(header)
    body = table.slice(header_index + 1)
    while keep > 0 and not header[keep - 1]:
        column = body.column(positions[keep - 1])
        if column.null_count == len(column):
            keep -= 1
        else:
            break
    kept = positions[:keep] + [names.index("line")]
    body, repeated = _without_header_copies(body, data_columns[:keep], header[:keep])
    return RawTable(
        file=file_name,
        sha256=sha256,
        header_line=head_lines[header_index],
        header=header[:keep],
        cells=body.select(kept),
        title_lines=head_lines[:header_index],
        repeated_header_lines=repeated,
        encoding=encoding,
        delimiter=delimiter,
    )


def _without_header_copies(body: pa.Table, columns: list[str], header: list[str]) -> tuple[pa.Table, list[int]]:
    """The records that are not a copy of the header (compared trimmed and case-insensitively,
    on whole columns), and the lines of the copies.

    A copy's cell, trimmed and in lower case, is its header name, so a cell of nothing but ASCII
    that neither starts nor ends with a character trimming removes has the name's length in bytes.
    Only the records whose every named cell may be a copy that way (:func:`_may_be_name`, read from
    the cells' lengths and end bytes) are compared; most files have none. A small file is compared
    as it was before (a search of the first named column for the first name, then every column)."""
    import pyarrow.compute as pc

    named = [(column, name.lower()) for column, name in zip(columns, header) if name]
    if not named or body.num_rows == 0:
        return body, []
    if body.num_rows <= _COMPARED_WHOLE:
        # a small file's columns are compared whole, once its first named column holds the first
        # name (numpy's candidates and taking their cells cost more than they save there)
        column, name = named[0]
        if not pc.any(pc.match_substring(body.column(column), name, ignore_case=True)).as_py():
            return body, []
        same = _same_as(body, named)
        if not pc.any(same).as_py():
            return body, []
        lines = body.filter(same).column("line").to_pylist()
        return body.filter(pc.invert(same)), [int(line) for line in lines]
    candidates: np.ndarray | None = None
    for column, name in named:
        maybe = _may_be_name(body.column(column), name)
        candidates = maybe if candidates is None else candidates & maybe
        if not candidates.any():
            return body, []
    assert candidates is not None
    rows = np.flatnonzero(candidates)
    taken = pa.array(rows)
    same = _same_as(pa.table({column: body.column(column).take(taken) for column, _ in named}), named)
    copies = rows[np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)]
    if len(copies) == 0:
        return body, []
    keep = np.ones(body.num_rows, dtype=bool)
    keep[copies] = False
    lines = body.column("line").take(pa.array(copies)).to_pylist()
    return body.filter(pa.array(keep)), [int(line) for line in lines]


_COMPARED_WHOLE = 4096  # records below the header up to which a file's named columns are compared whole


def _same_as(cells: pa.Table, named: list[tuple[str, str]]):
    """For each record, whether every named column's cell, trimmed and lowered, is its name."""
    import pyarrow.compute as pc

    same = None
    for column, name in named:
        equal = pc.fill_null(pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(cells.column(column))), name), False)
        same = equal if same is None else pc.and_(same, equal)
    return same


# the ASCII bytes Arrow's ``utf8_trim_whitespace`` removes from a cell's ends: tab to carriage
# return, the separators 0x1C-0x1F and the space (its other spaces are characters beyond ASCII)
_TRIMMABLE = np.zeros(256, dtype=bool)
_TRIMMABLE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def _edges(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(byte length, first byte, last byte) of each cell (the bytes of an empty cell mean nothing)."""
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    if len(data) == 0:
        zeros = np.zeros(len(lengths), dtype=np.uint8)
        return lengths, zeros, zeros
    # an offset is at most the data's length, so the byte before an end is inside the data
    return lengths, data.take(np.minimum(starts, len(data) - 1)), data.take(np.maximum(ends - 1, 0))


def _may_be_name(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """For each cell, whether it may be ``name`` once trimmed and lowered (Arrow's
    ``utf8_trim_whitespace`` and ``utf8_lower``). False for a null cell, and for a cell of nothing
    but ASCII that starts and ends with a byte trimming keeps (so trimming leaves it as it is) and
    has not the name's length in bytes (ASCII lowers byte for byte)."""
    import pyarrow.compute as pc

    size = len(name.encode("utf-8"))
    parts = []
    for chunk in column.chunks:
        cells = cell_bytes(chunk)
        if cells is None:
            parts.append(np.ones(len(chunk), dtype=bool))  # another type: compared cell by cell
            continue
        offsets, data = cells
        lengths, first, last = _edges(offsets, data)
        maybe = (lengths == size) | ((lengths > 0) & (_TRIMMABLE.take(first) | _TRIMMABLE.take(last)))
        if offsets[-1] > offsets[0] and int(data[offsets[0]:offsets[-1]].max()) >= 128:
            maybe |= ~np.asarray(pc.fill_null(pc.string_is_ascii(chunk), True).to_numpy(zero_copy_only=False), dtype=bool)
        if chunk.null_count:
            maybe &= np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        parts.append(maybe)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

"""Finding the header row of an uploaded table and matching header names."""

from __future__ import annotations

import re

import pyarrow as pa

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
    on whole columns), and the lines of the copies."""
    import pyarrow.compute as pc

    named = [(column, name.lower()) for column, name in zip(columns, header) if name]
    if not named or body.num_rows == 0:
        return body, []
    # a copy holds the first name in its column: look for it there before comparing every column
    column, name = named[0]
    if not pc.any(pc.match_substring(body.column(column), name, ignore_case=True)).as_py():
        return body, []
    same = None
    for column, name in named:
        equal = pc.fill_null(pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(body.column(column))), name), False)
        same = equal if same is None else pc.and_(same, equal)
    if not pc.any(same).as_py():
        return body, []
    lines = body.filter(same).column("line").to_pylist()
    return body.filter(pc.invert(same)), [int(line) for line in lines]

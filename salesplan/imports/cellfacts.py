"""What a file's text cells are known to hold, read off their Arrow arrays, so that the parse can
leave out work whose answer is already known (each saves a scan of a million cells in DuckDB):

- :func:`comma_free`: no cell of the amount columns holds a comma (then no amount can be written
  with a decimal comma, and the probe of :meth:`_Parser.decimal_comma` has nothing to find);
- :func:`iso_dates_only`: every cell of a date column is shaped like YYYY-MM-DD (then no date has
  the year last, and :meth:`_Parser.date_order` has nothing to decide; nor is the shape tested again
  cell by cell);
- :func:`plain_numbers_only`: every cell of an amount column is a plain number (then the regular
  expression that tests it is not run for every cell);
- :func:`passed_cells` / :func:`with_passed`: the texts the parse hands on as they are (an order
  id, a customer, ...) are taken from the cells themselves instead of being fetched from DuckDB
  as a copy (at 1M rows, four such columns cost ~0.15 CPU-s to fetch; up to six are taken).

Each answers only "known" or "not known": a cell it cannot vouch for (a padded cell, an unusual
buffer) leaves the full work to be done, never a different result.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _string_chunks(column: pa.ChunkedArray) -> list[tuple[np.ndarray, np.ndarray, pa.Array]] | None:
    """(offsets, data bytes, chunk) of each chunk of a string column holding any cell, without a
    copy; None when a chunk is of another type (the facts are then not known)."""
    out = []
    for chunk in column.chunks:
        if len(chunk) == 0 or chunk.null_count == len(chunk):
            continue
        if not pa.types.is_string(chunk.type):
            return None
        buffers = chunk.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)
        data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, dtype=np.uint8)
        out.append((offsets, data, chunk))
    return out


def comma_free(columns: list[pa.ChunkedArray]) -> bool:
    """Whether no cell of ``columns`` holds a comma (False: some may). The bytes of every cell are
    looked at (those of null cells too: a comma there only answers False)."""
    for column in columns:
        chunks = _string_chunks(column)
        if chunks is None:
            return False
        for offsets, data, _ in chunks:
            if np.any(data[offsets[0]:offsets[-1]] == ord(",")):
                return False
    return True


def iso_dates_only(column: pa.ChunkedArray) -> bool:
    """Whether every cell of ``column`` that is neither null nor empty is ten ASCII characters with
    a '-' as its 5th and 8th (the shape ``LIKE '____-__-__'`` of :func:`_iso_shaped`),
    its cells read as they are (untrimmed: the caller asks only when no cell is padded). Such a
    text cannot be a date with the year last (that has a separator among its first three
    characters, and ten characters at most only without a time: ``d{1,2}[-/.]d{1,2}[-/.]d{2,4}``)."""
    chunks = _string_chunks(column)
    if chunks is None:
        return False
    for offsets, data, chunk in chunks:
        starts, lengths = offsets[:-1], np.diff(offsets)
        cells = lengths > 0
        if chunk.null_count:
            cells &= np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if not np.all(lengths[cells] == 10):
            return False
        firsts = starts[cells]
        if len(firsts) == 0:
            continue
        if not (np.all(data[firsts + 4] == ord("-")) and np.all(data[firsts + 7] == ord("-"))):
            return False
        # ten bytes are ten characters only in ASCII (the bytes of null cells count too: conservative)
        if int(data[offsets[0]:offsets[-1]].max()) >= 128:
            return False
    return True


def plain_numbers_only(column: pa.ChunkedArray) -> bool:
    """Whether every cell of ``column`` that is neither null nor empty is known to be a plain number,
    as :func:`amountsql._plain_number` tests it (``-?[0-9]+(\\.[0-9]+)?``, untrimmed: the caller asks
    only when no cell is padded). Read off the bytes in a few whole-column passes (each a comparison
    of every byte, no Python loop over cells):
    nothing but digits, '-' and '.'; every '-' first in its cell and before a digit; every cell
    ending with a digit; and every '.' the same number of places before its cell's end (the usual
    export's two decimals, or another count of 1-4 the same throughout each chunk), so one per cell
    at most, between digits. False (not known; the regular expression then decides) for any other column, also for
    one of plain numbers whose count of decimals varies."""
    chunks = _string_chunks(column)
    if chunks is None:
        return False
    for offsets, data, chunk in chunks:
        body = data[int(offsets[0]):int(offsets[-1])]
        if len(body) == 0:
            continue
        # (the bytes of null cells count in the bytes' tests: conservative)
        if int(body.min()) < ord("-") or int(body.max()) > ord("9"):
            return False
        starts, ends = offsets[:-1], offsets[1:]
        cells = ends > starts
        if chunk.null_count:
            cells &= np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        starts, ends = starts[cells], ends[cells]
        firsts = data[starts]
        if not np.all(_DIGITS.take(data[ends - 1])):
            return False
        signed = starts[firsts == ord("-")]
        # a digit follows every '-' that starts a cell
        if not np.all(_DIGITS.take(data[signed + 1])):
            return False
        # every '-' starts its cell, every '.' is the counted one of its cell (the same number of
        # places before its end, after its first byte: a '.' first in its cell never is), and no
        # byte is a '/': the bytes below '0' (all '-', '.' or '/' here) are as many as the cells
        # starting with '-' and the cells with a counted '.' together. One pass: each of the three
        # counts is at least its part (distinct bytes), so the sum is reached only when each is
        nondigits = np.count_nonzero(body < ord("0"))
        if nondigits != len(signed) and not any(
            _dots_at(data, starts, ends, places) == nondigits - len(signed) for places in (2, 1, 3, 4)
        ):
            return False
    return True


def _dots_at(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, places: int) -> int:
    """How many cells have a '.' ``places`` bytes before their end, after their first byte."""
    long = ends - starts > places + 1
    return int(np.count_nonzero(data[ends[long] - places - 1] == ord(".")))


_DIGITS = np.zeros(256, dtype=bool)
_DIGITS[ord("0"):ord("9") + 1] = True


def _iso_shaped(text: str) -> str:
    """SQL: whether a text has the shape of YYYY-MM-DD (ten characters, the 5th and 8th a '-'): one LIKE, the answer
    of ``length(t) = 10 AND substr(t, 5, 1) = '-' AND substr(t, 8, 1) = '-'`` for every text (both count code
    points; tests/core/test_parse_shapes.py) at ~0.03 CPU-s per million cells instead of ~0.06."""
    return f"{text} LIKE '____-__-__'"


def passed_cells(cells: pa.Table, fields: dict[str, int], padded: bool) -> dict[str, pa.ChunkedArray]:
    """Which of ``fields`` (a column of the parse -> the position of its cells) the parse may take
    from the cells as they are, and those cells: the parse's column is ``nullif(cell, '')`` (cells
    untrimmed, as ``src`` reads them when no cell is ``padded``), so a string column without an
    empty cell is that column itself (a null cell is NULL both ways)."""
    if padded:
        return {}
    passed = {}
    for name, position in fields.items():
        column = cells.column(f"c{position}")
        if column.type != pa.string():
            continue
        if column.null_count < len(column) and has_empty_cell(column):
            continue  # an empty cell is NULL in the parse: fetched from DuckDB instead
        passed[name] = column
    return passed


def has_empty_cell(column: pa.ChunkedArray) -> bool:
    """Whether a string column has an empty cell (not a null one), read off its offsets a block at a
    time: Arrow's ``binary_length`` makes an array of a million lengths per column, and fresh pages
    cost this VM more than the test itself (~0.085 s for six columns at 1M rows, against ~0.006)."""
    for chunk in column.chunks:
        if len(chunk) == 0:
            continue  # (an empty chunk's offsets buffer may be missing)
        if chunk.null_count:
            # a null cell's offsets meet too: such a chunk is asked of Arrow (nulls are not empty)
            if pc.any(pc.equal(pc.binary_length(chunk), 0)).as_py():
                return True
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)
        for start in range(0, len(chunk), _BLOCK):
            end = min(start + _BLOCK, len(chunk))
            if np.any(offsets[start + 1:end + 1] == offsets[start:end]):
                return True
    return False


# cells per block of :func:`has_empty_cell` (its temporary arrays stay small enough to reuse memory)
_BLOCK = 16_384


def with_passed(fetched: pa.Table, cells: pa.Table, columns: dict[str, pa.ChunkedArray], names: list[str]) -> pa.Table:
    """The fetched rows of the parse (one per record of ``cells``, with its ``line``, in any order:
    DuckDB's parallel join does not keep the records' order) with the ``columns`` taken from the
    cells (each as long as ``cells``, in its order) put in, taken in the rows' order (matched by
    their line), all in the order of ``names``. Raises AssertionError when the rows are not one per
    record (a parse that lost or added a row: never expected, never written)."""
    if fetched.num_rows != cells.num_rows:
        raise AssertionError(f"the parse gave {fetched.num_rows} rows for {cells.num_rows} records")
    if columns and fetched.num_rows:
        lines = fetched.column("line")
        positions = _positions(lines, cells.column("line"))
        # chunked as the fetched rows (slices, no copy): the rows' batches are not cut in two where the cells' chunks end
        sizes = [len(chunk) for chunk in lines.chunks]
        columns = {name: _sliced(column, sizes) if positions is None else _taken(column, positions) for name, column in columns.items()}
    return pa.table({name: columns[name] if name in columns else fetched.column(name) for name in names})


def _sliced(column: pa.ChunkedArray, sizes: list[int]) -> pa.ChunkedArray:
    """``column`` cut into chunks of ``sizes`` (each of one or more chunks where its own end inside one)."""
    chunks, start = [], 0
    for size in sizes:
        chunks.extend(column.slice(start, size).chunks)
        start += size
    return pa.chunked_array(chunks, type=column.type)


def _taken(column: pa.ChunkedArray, positions: pa.ChunkedArray) -> pa.ChunkedArray:
    """The cells of ``column`` at ``positions``, a chunk of them at a time out of the column as one
    array (Arrow's take of a chunked column joins its chunks anew for every chunk of positions)."""
    values = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return pa.chunked_array([values.take(chunk) for chunk in positions.chunks], type=column.type)


def _positions(lines: pa.ChunkedArray, record_lines: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The position in ``record_lines`` (the records' lines, each once) of each of ``lines`` (None:
    they are the same). Records numbered in order, as every reader numbers them, are found by
    their line's distance from the first (one after another) or a binary search, any others by a
    hash of the lines."""
    if pc.all(pc.equal(lines, record_lines)).as_py():
        return None
    ordered = np.asarray(record_lines.to_numpy())
    steps = np.diff(ordered)
    if np.all(steps == 1):
        return pc.subtract(lines, pa.scalar(int(ordered[0]), pa.int64()))
    if np.all(steps > 0):
        return pa.chunked_array([pa.array(np.searchsorted(ordered, chunk.to_numpy())) for chunk in lines.chunks])
    positions = pc.index_in(lines, value_set=pa.array(ordered))
    if not isinstance(positions, pa.ChunkedArray):
        positions = pa.chunked_array([positions])
    if positions.null_count:
        raise AssertionError("the parse gave a row of a line that is no record's")
    return positions

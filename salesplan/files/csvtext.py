"""CSV decoding, delimiter sniffing and record boundaries (with numpy), parsed by DuckDB."""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from salesplan.errors import BadInput
from salesplan.files.header import _locate_header
from salesplan.files.limits import (
    DELIMITERS,
    HEADER_SEARCH_RECORDS,
    MAX_COLUMNS,
    SNIFF_CHARACTERS,
    RawTable,
    UploadLimits,
    _first_line,
    quiet_connection,
    too_large_for_memory,
)

_EMPTY = re.compile(rb"[ \t\r\n\x00\xef\xbb\xbf\xff\xfe]*")

# files people upload by mistake, recognised by their first bytes
_FOREIGN_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


# --------------------------------------------------------------------------- decoding
def _decode(data: bytes, file_name: str) -> tuple[bytes, str, str]:
    """The file as UTF-8 bytes without a BOM, its first characters (to sniff), and its encoding.

    The decoded text is not kept: for a UTF-8 file the upload's own bytes are returned, so a
    large file is held once or twice, not three times.
    """
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        encoding = "utf-16-le"  # UTF-16 without a BOM, as some exporters write it
    elif len(data) >= 4 and data[0] == 0 and data[2] == 0 and data[1] != 0:
        encoding = "utf-16-be"
    else:
        encoding = "utf-8"
    if encoding == "utf-8" and b"\x00" in data[:65536]:
        raise BadInput.single(file_name, "this is a binary file, not a CSV text file or an .xlsx workbook")
    if encoding == "utf-8" and data.isascii():
        # the usual export: ASCII is UTF-8 as it is, so the file is not decoded whole (a copy of
        # it as text) just to be checked; a NUL anywhere is still refused
        if b"\x00" in data:
            raise BadInput.single(file_name, "this is a binary file, not a CSV text file or an .xlsx workbook")
        return data, data[:SNIFF_CHARACTERS].decode("ascii"), encoding
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        if encoding != "utf-8":
            if error.reason == "truncated data" and error.start >= len(data) - 4:
                raise BadInput.single(file_name, f"the file ({encoding}) ends in the middle of a character: it looks truncated") from error
            raise BadInput.single(file_name, f"the file says it is {encoding} but is not: {error.reason}") from error
        if error.reason == "unexpected end of data" and error.start >= len(data) - 4:
            raise BadInput.single(file_name, "the file ends in the middle of a character: it looks truncated") from error
        try:
            text = data.decode("cp1252")
            encoding = "cp1252"
        except UnicodeDecodeError as cp_error:
            raise BadInput.single(
                file_name, "the file is neither UTF-8, UTF-16 nor Windows-1252 text (is it binary?)"
            ) from cp_error
    if "\x00" in text:
        raise BadInput.single(file_name, "this is a binary file, not a CSV text file or an .xlsx workbook")
    text = text.removeprefix("\ufeff")
    sample = text[:SNIFF_CHARACTERS]
    if encoding == "utf-8":
        del text
        return data, sample, encoding
    raw = text.encode("utf-8")
    del text
    return raw, sample, encoding


# --------------------------------------------------------------------------- CSV
def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first records most consistently into more than one field.

    Records are read with the csv module, so a quoted delimiter or newline inside a cell counts for
    nothing; consistency is measured against the most common field count (title rows above the
    header and a record cut off at the end of the sample do not decide).
    """
    best, best_score = ",", -1.0
    for delimiter in DELIMITERS:
        try:
            records = []
            for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if any(cell.strip() for cell in record):
                    records.append(record)
                if len(records) >= HEADER_SEARCH_RECORDS:
                    break
        except csv.Error:
            continue
        counts = [len(record) for record in records]
        if not counts or max(counts) < 2:
            continue
        common = max(set(counts), key=lambda count: (counts.count(count), count))
        if common < 2:
            continue
        consistent = counts.count(common) / len(counts)
        score = consistent * 10 + min(common, 50) / 50
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _outside_quotes(positions: np.ndarray, quote_positions: np.ndarray) -> np.ndarray:
    """For each byte position, whether an even number of quote characters precedes it."""
    if len(quote_positions) == 0:
        return np.ones(len(positions), dtype=bool)
    return (np.searchsorted(quote_positions, positions) % 2) == 0


def _records(buffer: np.ndarray, respect_quotes: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start offset, end offset, start line, blank?) of every record of the bytes.

    With ``respect_quotes`` a newline ends a record only where the count of quote characters
    before it is even (RFC 4180), so a quoted newline stays inside its record; without, every
    newline ends one (for files with a stray quote inside an unquoted field). Quotes are sparse,
    so parity is found by binary search over their positions, not a scan of every byte.
    """
    newline_positions = np.flatnonzero(buffer == 10)
    if respect_quotes and len(newline_positions):
        quote_positions = np.flatnonzero(buffer == 34)
        record_ends = newline_positions[_outside_quotes(newline_positions, quote_positions)]
    else:
        record_ends = newline_positions
    starts = np.concatenate(([0], record_ends + 1)).astype(np.int64)
    ends = np.concatenate((record_ends, [len(buffer)])).astype(np.int64)
    # physical line number of each record start = 1 + newlines before it
    start_lines = 1 + np.searchsorted(newline_positions, starts, side="left")
    # blank: nothing but \r / spaces / tabs between start and end. Each segment [start, next
    # start) holds the record plus its newline (not space-like), so a record is blank exactly
    # when its count of space-like bytes equals its length.
    lengths = ends - starts
    blank = lengths == 0
    # only a record that starts with a space-like byte can be blank: check just those
    first_bytes = buffer[np.minimum(starts, max(len(buffer) - 1, 0))] if len(buffer) else np.zeros(0, np.uint8)
    candidates = np.flatnonzero(~blank & ((first_bytes == 32) | (first_bytes == 13) | (first_bytes == 9)))
    if len(candidates):
        space_like = ((buffer == 32) | (buffer == 13) | (buffer == 9)).astype(np.int32)
        cumulative = np.concatenate(([0], np.cumsum(space_like, dtype=np.int64)))
        blank[candidates] = (cumulative[ends[candidates]] - cumulative[starts[candidates]]) == lengths[candidates]
    return starts, ends, start_lines, blank


def _without_blank_records(raw: bytes, respect_quotes: bool) -> tuple[bytes, np.ndarray]:
    """The bytes with every blank record (and its newline) removed, and the start line of every
    record left. DuckDB's reader skips empty lines but keeps whitespace-only ones, so the blank
    records are taken out here: then its rows and these line numbers correspond one to one."""
    buffer = np.frombuffer(raw, dtype=np.uint8)
    starts, ends, start_lines, blank = _records(buffer, respect_quotes)
    if len(starts) and starts[-1] >= len(buffer):
        # the "record" after a final newline is no record: nothing to remove for it
        blank[-1] = False
        kept_lines = start_lines[:-1][~blank[:-1]]
    else:
        kept_lines = start_lines[~blank]
    if not blank.any():
        return raw, kept_lines
    # join the bytes between blank records; blank records are few, so this loops over them only
    pieces, previous = [], 0
    for start, end in zip(starts[blank].tolist(), ends[blank].tolist()):
        pieces.append(raw[previous:start])
        previous = end + 1
    pieces.append(raw[previous:])
    return b"".join(pieces), kept_lines


def _read_csv_text(
    raw: bytes, sample: str, encoding: str, file_name: str, sha256: str, looks_like_header, limits: UploadLimits,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> RawTable:
    first_lines = [line for line in sample.splitlines()[: HEADER_SEARCH_RECORDS * 2] if line.strip()][:HEADER_SEARCH_RECORDS]
    if not first_lines:
        raise BadInput.single(file_name, "the file is empty")
    delimiter = _sniff_delimiter(sample)

    table = _read_plain_lines(raw, first_lines, delimiter, file_name, limits, connection)
    record_lines = np.zeros(0, dtype=np.int64)
    if table is not None:
        record_lines = np.arange(1, table.num_rows + 1, dtype=np.int64)
    for respect_quotes in (True, False) if table is None else ():
        kept, record_lines = _without_blank_records(raw, respect_quotes)
        width, widest = _max_width(first_lines, delimiter, kept, delimiter.encode(), respect_quotes)
        if width > min(MAX_COLUMNS, limits.csv_fields):
            line = int(record_lines[widest]) if widest < len(record_lines) else 1
            raise BadInput.single(
                file_name,
                f"{width:,} fields, more than the {limits.csv_fields:,} columns an upload may have: "
                "this is not a table export, or remove the columns salesplan does not read",
                line=line,
            )
        records = len(record_lines)
        if records * width > limits.csv_cells:
            raise BadInput.single(
                file_name,
                f"the file has {records:,} records of up to {width:,} fields, more than the {limits.csv_cells:,} "
                "cells an upload may hold: remove unused columns or split the file",
            )
        table = _duckdb_read(kept, width, delimiter, file_name, limits.memory_mb, connection)
        if table.num_rows == len(record_lines):
            break
    else:
        # neither numbering matches the reader's records: number them from the first line
        assert table is not None  # the loop above ran at least once
        record_lines = np.arange(1, table.num_rows + 1)
    table = table.append_column("line", pa.array(record_lines, type=pa.int64()))
    table = _drop_blank_rows(table)
    if table.num_rows == 0:
        raise BadInput.single(file_name, "the file is empty")
    located = _locate_header(table, file_name, sha256, looks_like_header, encoding=encoding, delimiter=delimiter)
    located.padded = _padded_cells(raw, delimiter)
    return located


def _padded_cells(raw: bytes, delimiter: str) -> bool:
    """Whether a cell of the file may start or end with a character DuckDB's ``trim`` removes
    (the space and the other Unicode space separators, such as the no-break space): False only
    when no such character stands next to a delimiter, a line end or an end of the file, and no
    cell is quoted (a quoted cell may hold spaces inside its quotes). The parser trims every cell
    only when this is True (trimming a million rows of cells costs more than this look).
    """
    if not raw or b'"' in raw:
        return bool(raw)
    ascii_only = raw.isascii()
    if ascii_only and b" " not in raw:
        return False
    buffer = np.frombuffer(raw, dtype=np.uint8)
    delimiter_byte = ord(delimiter)
    # the space, and every byte of a character beyond ASCII (the other space separators are
    # such characters): found chunk by chunk (a mask of the whole file would be one more copy of
    # it), then only their neighbours are looked at. Numpy, not a search of the bytes for " ,"
    # and the like (each such search reads the whole file slowly)
    for start in range(0, len(buffer), _PADDING_CHUNK):
        chunk = buffer[start:start + _PADDING_CHUNK]
        spacey = chunk == 32 if ascii_only else (chunk == 32) | (chunk >= 128)
        positions = np.flatnonzero(spacey) + start
        if len(positions) == 0:
            continue
        if positions[0] == 0 or positions[-1] == len(buffer) - 1:
            return True
        for neighbours in (buffer[positions - 1], buffer[positions + 1]):
            if np.any((neighbours == delimiter_byte) | (neighbours == 10) | (neighbours == 13)):
                return True
    return False


_PADDING_CHUNK = 8 * 1_048_576


def _read_plain_lines(
    raw: bytes, first_lines: list[str], delimiter: str, file_name: str, limits: UploadLimits,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pa.Table | None:
    """The usual export, read without numbering its bytes: when the file holds no quote
    character and no blank line, every line is one record (its number is its position), so the
    records are read straight away. The width is taken from the first lines plus one sentinel
    column: a record with more fields fills the sentinel. None (nothing decided) for any other
    file, or when the reader's records do not match the lines one to one."""
    if b'"' in raw:
        return None
    # the body is the bytes without a final newline, searched in place (a slice would copy the file)
    body_end = len(raw) - 1 if raw.endswith(b"\n") else len(raw)
    if _BLANK_LINE.search(raw, 0, body_end) or _BLANK_FIRST_LINE.match(raw, 0, body_end):
        return None
    records = raw.count(b"\n", 0, body_end) + 1
    width = max((len(line.split(delimiter)) for line in first_lines), default=1)
    if width >= min(MAX_COLUMNS, limits.csv_fields) or records * (width + 1) > limits.csv_cells:
        return None  # the general path measures the file and refuses it with its figures
    # no quote anywhere: every newline ends a record, so DuckDB may split the file between its
    # threads (the rows still come back in the file's order)
    table = _duckdb_read(raw, width + 1, delimiter, file_name, limits.memory_mb, connection, parallel=True)
    sentinel = f"c{width}"
    if table.num_rows != records or table.column(sentinel).null_count != table.num_rows:
        return None
    return table.drop_columns([sentinel])


# a line of nothing but spaces, tabs or a carriage return (the reader would keep it as a record)
_BLANK_LINE = re.compile(rb"\n[ \t\r]*(?:\n|\Z)")
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r]*(?:\n|\Z)")


def _duckdb_read(
    raw: bytes, width: int, delimiter: str, file_name: str, memory_mb: int,
    connection: duckdb.DuckDBPyConnection | None = None, *, parallel: bool = False,
) -> pa.Table:
    """Every record of ``raw`` as ``width`` text columns c0..c{width-1}, read by DuckDB, in the
    file's order. ``parallel`` only for bytes without a quote character (a quoted newline would
    make a split between threads ambiguous).

    ``connection`` is the import's private connection (:func:`quiet_connection`), kept open for
    its parser. Without it a connection of its own is made and closed.
    Raises BadInput when the reader fails or the file does not fit in ``memory_mb``."""
    columns = {f"c{i}": "VARCHAR" for i in range(width)}
    owned = connection is None
    with tempfile.TemporaryDirectory(prefix="salesplan-") as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(raw)
        if connection is None:
            connection = quiet_connection(memory_mb)
        try:
            return connection.sql(
                "SELECT * FROM read_csv($path, auto_detect = false, header = false, columns = $columns, delim = $delim, "
                "quote = '\"', escape = '\"', null_padding = true, strict_mode = false, "
                f"parallel = {'true' if parallel else 'false'}, all_varchar = true)",
                params={"path": str(path), "columns": columns, "delim": delimiter},
            ).to_arrow_table()
        except duckdb.OutOfMemoryException as error:
            raise too_large_for_memory(file_name, memory_mb) from error
        except duckdb.Error as error:
            raise BadInput.single(file_name, f"the file cannot be read as CSV: {_first_line(error)}") from error
        finally:
            if owned:
                connection.close()


def _drop_blank_rows(table: pa.Table) -> pa.Table:
    """Rows whose every cell is empty or blank (``,,,`` lines under an export) are not records."""
    import pyarrow.compute as pc

    names = [name for name in table.column_names if name != "line"]
    if not names or table.num_rows == 0:
        return table
    # only a record whose first cell is empty or blank can be blank: most files have none
    first = table.column(names[0])
    maybe = pc.or_kleene(pc.is_null(first), pc.or_(pc.equal(first, ""), pc.utf8_is_space(first)))
    if not pc.any(maybe).as_py():
        return table
    blank = None
    for name in table.column_names:
        if name == "line":
            continue
        column = table.column(name)
        empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), True)
        blank = empty if blank is None else pc.and_(blank, empty)
    return table if blank is None else table.filter(pc.invert(blank))


def _max_width(
    first_lines: list[str], delimiter: str, raw: bytes, delimiter_byte: bytes, respect_quotes: bool = True,
) -> tuple[int, int]:
    """An upper bound of the number of fields of any record (its delimiters, outside quotes when
    ``respect_quotes``, plus one), and the position of the first record with that many."""
    buffer = np.frombuffer(raw, dtype=np.uint8)
    delimiter_positions = np.flatnonzero(buffer == delimiter_byte[0])
    if len(delimiter_positions) == 0:
        return max(1, max((len(next(csv.reader([line], delimiter=delimiter), [])) for line in first_lines), default=1)), 0
    newline_positions = np.flatnonzero(buffer == 10)
    if respect_quotes:
        quote_positions = np.flatnonzero(buffer == 34)
        delimiter_positions = delimiter_positions[_outside_quotes(delimiter_positions, quote_positions)]
        newline_positions = newline_positions[_outside_quotes(newline_positions, quote_positions)]
    if len(delimiter_positions) == 0:
        return 1, 0
    # delimiters per record = difference of the delimiter counts before consecutive record ends
    boundaries = np.concatenate(([-1], newline_positions, [len(buffer)]))
    per_record = np.diff(np.searchsorted(delimiter_positions, boundaries))
    widest = int(per_record.argmax())
    return int(per_record[widest]) + 1, widest

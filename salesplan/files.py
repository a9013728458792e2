"""Reading an uploaded file into a table of text cells, with the line number of every record.

CSV is parsed by DuckDB's reader (fast, no Python loop over rows). Record boundaries and line
numbers are found with numpy on the raw bytes: a newline ends a record when the number of quote
characters before it is even (RFC 4180 quoting), so quoted newlines keep their true line numbers.
Workbooks (.xlsx, .xlsb, .ods, .xls) are read with calamine, after their extent is checked; the
line is the spreadsheet row.

Every upload is held to :class:`UploadLimits` (file size, decompressed size of a workbook, rows,
cells, parser memory), each checked before the work it would cost: an upload is untrusted, and a
2 KB workbook or a file of millions of empty rows must get a plain refusal within seconds, not
take the server's memory (see docs/security.md).

Nothing here knows what the columns mean: that is ``imports``.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import hashlib
import io
import os
import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from salesplan.errors import BadInput

DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_RECORDS = 15
MAX_COLUMNS = 16_384  # Excel's limit: a record with more fields is not an export of a table
SNIFF_CHARACTERS = 65536  # the delimiter is decided on the first records, found in this much text
MB = 1_048_576

# Upload limits (docs/security.md). The file size itself is the ``upload_limit_mb`` setting.
MAX_ROWS = 5_000_000  # records of a CSV file or rows of a sheet: a 200 MB export of ~40-byte rows
MAX_CSV_CELLS = 60_000_000  # records x fields of a CSV file (a cell costs a few bytes in Arrow)
MAX_WORKBOOK_CELLS = 5_000_000  # cells of a sheet, counted as read (rows x their last column)
MAX_WORKBOOK_UNCOMPRESSED_MB = 512  # all parts of an .xlsx decompressed (a zip bomb is refused unread)
MAX_WORKBOOK_PART_MB = 128  # one part other than a sheet (shared strings, styles: read whole)
MAX_WORKBOOK_PARTS = 10_000  # files inside an .xlsx archive
PARSER_MEMORY_MB = 512  # DuckDB memory of the private parsing database; past it, it spills to disk


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may hold. The defaults are the module's constants; tests lower them."""

    file_bytes: int = 200 * MB
    rows: int = MAX_ROWS
    csv_cells: int = MAX_CSV_CELLS
    workbook_cells: int = MAX_WORKBOOK_CELLS
    workbook_bytes: int = MAX_WORKBOOK_UNCOMPRESSED_MB * MB
    workbook_part_bytes: int = MAX_WORKBOOK_PART_MB * MB
    workbook_parts: int = MAX_WORKBOOK_PARTS
    memory_mb: int = PARSER_MEMORY_MB

    @classmethod
    def for_upload_limit(cls, upload_limit_mb: int) -> UploadLimits:
        """The default limits with the organisation's file size limit (setting ``upload_limit_mb``)."""
        return cls(file_bytes=int(upload_limit_mb) * MB)


@dataclass
class RawTable:
    """Every record of a file as text cells, plus where each record starts in the file."""

    file: str
    sha256: str
    header_line: int  # the line the header record starts on, counting from 1
    header: list[str]
    cells: pa.Table  # columns c0..cN (strings, null for empty) and `line`
    title_lines: list[int] = field(default_factory=list)
    repeated_header_lines: list[int] = field(default_factory=list)  # copies of the header below it, skipped
    encoding: str = "utf-8"
    delimiter: str = ","


def normalise_header(text: str) -> str:
    """A header as it is matched: lower case, without spaces, underscores, hyphens, dots and the like."""
    return re.sub(r"[\s_\-.:/#()]+", "", str(text).replace("\ufeff", "").lower())


def read_source(
    source: str | os.PathLike[str] | bytes, file_name: str | None = None, *, limit_bytes: int | None = None
) -> tuple[bytes, str]:
    """The raw bytes of a path or upload, and the name to report problems under.

    A file on disk over ``limit_bytes`` is refused before it is read into memory.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), file_name or "upload"
    path = Path(source)
    name = file_name or path.name
    try:
        if limit_bytes is not None and path.is_file():
            _check_size(path.stat().st_size, name, limit_bytes)
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise BadInput.single(file_name or str(path), "file not found") from error
    except IsADirectoryError as error:
        raise BadInput.single(file_name or str(path), "is a directory, not a file") from error
    except PermissionError as error:
        raise BadInput.single(file_name or str(path), "permission denied: the file cannot be read") from error
    return data, name


def _check_size(size: int, file_name: str, limit_bytes: int) -> None:
    if size > limit_bytes:
        raise BadInput.single(
            file_name,
            f"the file is {size / 1_048_576:.1f} MB, over the upload limit of {limit_bytes / 1_048_576:.0f} MB",
        )


def read_table(
    data: bytes,
    file_name: str,
    *,
    looks_like_header,
    limit_bytes: int | None = None,
    limits: UploadLimits | None = None,
) -> RawTable:
    """Decode, split and parse a CSV or xlsx file into text cells.

    ``looks_like_header(cells) -> bool`` tells which of the first records is the header (rows
    above it, such as a report title, are skipped). ``limits`` (default: the module's limits with
    ``limit_bytes`` as the file size limit) bound what the file may hold. Raises BadInput for an
    empty, binary, truncated, oversized or header-less file, and for one over any limit (checked
    before the parse that the limit protects).
    """
    if limits is None:
        limits = UploadLimits() if limit_bytes is None else UploadLimits(file_bytes=limit_bytes)
    _check_size(len(data), file_name, limits.file_bytes)
    if _EMPTY.fullmatch(data):  # a match, not data.strip(): no copy of a large upload
        raise BadInput.single(file_name, "the file is empty")
    is_zip = data[:4] == b"PK\x03\x04"
    is_xls = data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file: Excel 97-2003
    if not (is_zip or is_xls):
        _check_lines(data.count(b"\n") + 1, file_name, limits)
    sha256 = hashlib.sha256(data).hexdigest()
    if is_zip or is_xls:
        return _read_workbook(data, file_name, sha256, looks_like_header, limits)
    for signature, what in _FOREIGN_SIGNATURES:
        if data.startswith(signature):
            raise BadInput.single(file_name, f"this is {what}, not a CSV file or an .xlsx workbook")
    raw, sample, encoding = _decode(data, file_name)
    return _read_csv_text(raw, sample, encoding, file_name, sha256, looks_like_header, limits)


def _check_lines(lines: int, file_name: str, limits: UploadLimits) -> None:
    # counted on the raw bytes before anything is decoded or split: a file of millions of tiny
    # rows costs more to split and check than its size suggests (line numbers, cells, problems)
    if lines > limits.rows + HEADER_SEARCH_RECORDS:
        raise BadInput.single(
            file_name,
            f"the file has {lines:,} lines, more than an upload may hold ({limits.rows:,} rows): "
            "split it into several files",
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
    raw: bytes, sample: str, encoding: str, file_name: str, sha256: str, looks_like_header, limits: UploadLimits
) -> RawTable:
    first_lines = [line for line in sample.splitlines()[: HEADER_SEARCH_RECORDS * 2] if line.strip()][:HEADER_SEARCH_RECORDS]
    if not first_lines:
        raise BadInput.single(file_name, "the file is empty")
    delimiter = _sniff_delimiter(sample)

    table = None
    record_lines = np.zeros(0, dtype=np.int64)
    for respect_quotes in (True, False):
        kept, record_lines = _without_blank_records(raw, respect_quotes)
        width = _max_width(first_lines, delimiter, kept, delimiter.encode(), respect_quotes)
        if width > MAX_COLUMNS:
            raise BadInput.single(
                file_name,
                f"a record of the file has {width:,} fields, more than a spreadsheet can hold ({MAX_COLUMNS:,}): "
                "this is not a table export",
            )
        records = len(record_lines)
        if records * width > limits.csv_cells:
            raise BadInput.single(
                file_name,
                f"the file has {records:,} records of up to {width:,} fields, more than the {limits.csv_cells:,} "
                "cells an upload may hold: remove unused columns or split the file",
            )
        table = _duckdb_read(kept, width, delimiter, file_name, limits.memory_mb)
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
    return _locate_header(table, file_name, sha256, looks_like_header, encoding=encoding, delimiter=delimiter)


def _duckdb_read(raw: bytes, width: int, delimiter: str, file_name: str, memory_mb: int) -> pa.Table:
    columns = {f"c{i}": "VARCHAR" for i in range(width)}
    with tempfile.TemporaryDirectory(prefix="salesplan-") as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(raw)
        connection = quiet_connection(memory_mb)
        try:
            return connection.sql(
                "SELECT * FROM read_csv($path, auto_detect = false, header = false, columns = $columns, delim = $delim, "
                "quote = '\"', escape = '\"', null_padding = true, strict_mode = false, parallel = false, "
                "all_varchar = true)",
                params={"path": str(path), "columns": columns, "delim": delimiter},
            ).to_arrow_table()
        except duckdb.OutOfMemoryException as error:
            raise too_large_for_memory(file_name, memory_mb) from error
        except duckdb.Error as error:
            raise BadInput.single(file_name, f"the file cannot be read as CSV: {_first_line(error)}") from error
        finally:
            connection.close()


def _drop_blank_rows(table: pa.Table) -> pa.Table:
    """Rows whose every cell is empty or blank (``,,,`` lines under an export) are not records."""
    import pyarrow.compute as pc

    blank = None
    for name in table.column_names:
        if name == "line":
            continue
        column = table.column(name)
        empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), True)
        blank = empty if blank is None else pc.and_(blank, empty)
    return table if blank is None else table.filter(pc.invert(blank))


def _max_width(first_lines: list[str], delimiter: str, raw: bytes, delimiter_byte: bytes, respect_quotes: bool = True) -> int:
    """An upper bound of the number of fields of any record: its delimiters (outside quotes,
    when ``respect_quotes``) plus one."""
    buffer = np.frombuffer(raw, dtype=np.uint8)
    delimiter_positions = np.flatnonzero(buffer == delimiter_byte[0])
    if len(delimiter_positions) == 0:
        return max(1, max((len(next(csv.reader([line], delimiter=delimiter), [])) for line in first_lines), default=1))
    newline_positions = np.flatnonzero(buffer == 10)
    if respect_quotes:
        quote_positions = np.flatnonzero(buffer == 34)
        delimiter_positions = delimiter_positions[_outside_quotes(delimiter_positions, quote_positions)]
        newline_positions = newline_positions[_outside_quotes(newline_positions, quote_positions)]
    if len(delimiter_positions) == 0:
        return 1
    # delimiters per record = difference of the delimiter counts before consecutive record ends
    boundaries = np.concatenate(([-1], newline_positions, [len(buffer)]))
    before = np.searchsorted(delimiter_positions, boundaries)
    return int(np.diff(before).max()) + 1


def quiet_connection(memory_mb: int = PARSER_MEMORY_MB) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for parsing, without the terminal progress bar, holding at most
    ``memory_mb`` in memory: past that it spills to a private folder, and where it cannot, it
    raises duckdb.OutOfMemoryException (callers turn it into BadInput with
    :func:`too_large_for_memory`)."""
    connection = duckdb.connect(config={"memory_limit": f"{int(memory_mb)}MB", "temp_directory": _spill_folder()})
    connection.execute("SET enable_progress_bar = false")
    return connection


def too_large_for_memory(file_name: str, memory_mb: int) -> BadInput:
    """The refusal of a file whose checks do not fit in the parser's memory."""
    return BadInput.single(
        file_name,
        f"the file is too large to check within the {memory_mb:,} MB the server allows an upload: split it into smaller files",
    )


_spill_lock = threading.Lock()
_spill: list[str] = []


def _spill_folder() -> str:
    # one folder per process, made by mkdtemp (mode 0700, a fresh name): a shared fixed name in
    # /tmp could be pre-created or linked elsewhere by another user of the machine
    with _spill_lock:
        if not _spill or not os.path.isdir(_spill[0]):
            _spill[:] = [tempfile.mkdtemp(prefix="salesplan-spill-")]
            atexit.register(shutil.rmtree, _spill[0], True)
        return _spill[0]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# --------------------------------------------------------------------------- Excel
def _read_workbook(data: bytes, file_name: str, sha256: str, looks_like_header, limits: UploadLimits) -> RawTable:
    """A workbook's first sheet as text cells: .xlsx, .xlsb and .ods (zip archives) and .xls.

    Sheets are read by calamine (Rust), which builds the sheet's whole used range in memory:
    before that, an .xlsx sheet's real extent is measured on its XML (:func:`_xlsx_extent`) and a
    sheet whose range would pass the cell limit, or that holds formulas (calamine reads their
    cached values; salesplan reads a formula as its text, never as a value), is streamed by
    openpyxl instead, which skips blank rows and counts the cells it reads. The other formats
    cannot be measured before they are read, so calamine reads them in a child process whose
    address space is capped at the parser's memory limit.
    """
    fmt = "xls"
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            parts = archive.infolist()
        except Exception as error:  # BadZipFile, and NotImplementedError, ValueError... for damaged headers
            raise BadInput.single(file_name, "the workbook is damaged or truncated (not a readable .xlsx)") from error
        names = {part.filename for part in parts}
        if "xl/workbook.xml" in names:
            fmt = "xlsx"
        elif "xl/workbook.bin" in names:
            fmt = "xlsb"
        elif "content.xml" in names and b"opendocument.spreadsheet" in data[:200]:
            fmt = "ods"
        else:
            raise BadInput.single(file_name, "this is a zip archive, not a CSV file or an Excel or OpenDocument workbook")
        _check_archive(parts, file_name, limits)
        if fmt == "xlsx":
            extent = _xlsx_extent(archive, file_name)
            if extent is None or extent > limits.workbook_cells:
                return _read_xlsx_streamed(data, file_name, sha256, looks_like_header, limits)
    if fmt == "xlsx":
        lines, records, width = _calamine_records(data, file_name, limits)
    else:
        lines, records, width = _calamine_records_capped(data, file_name, limits)
    return _workbook_table(lines, records, width, file_name, sha256, looks_like_header, fmt)


def _workbook_table(lines, records, width, file_name, sha256, looks_like_header, fmt: str) -> RawTable:
    if not records:
        raise BadInput.single(file_name, "the workbook's first sheet is empty")
    columns = {
        f"c{i}": pa.array([record[i] if i < len(record) else None for record in records], type=pa.string())
        for i in range(width)
    }
    del records
    table = pa.table({**columns, "line": pa.array(lines, type=pa.int64())})
    return _locate_header(table, file_name, sha256, looks_like_header, encoding=fmt, delimiter="")


_ROW_NUMBER = re.compile(rb'<row r="(\d+)"')
_UNREFERENCED = re.compile(rb'<f[ >/]|<c(?! r=")[ >/]|<row(?! r=")[ >/]')
_UNMEASURABLE = re.compile(rb'<f[ >/]|<c(?! r=")[ >/]|<row(?! r=")[ >/]|<c r="[A-Z]{2}')
_CELL_COLUMN = re.compile(rb'<c r="([A-Z])[0-9]')
_CELL_COLUMN_WIDE = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')


def _xlsx_extent(archive: zipfile.ZipFile, file_name: str) -> int | None:
    """Rows x columns of the first sheet's used range, measured on its XML as it is inflated (in
    chunks, nothing kept), or None when the sheet cannot be measured that way or holds formulas.

    The ``<dimension>`` a file declares may lie; the cells' own references cannot (calamine
    places a cell by them). A cell or row without a reference, or references in another
    attribute order, make the sheet unmeasurable: it is then streamed by openpyxl.
    """
    sheet = _first_sheet_part(archive)
    if sheet is None:
        return None
    max_row = 0
    letters = b""
    wide = False
    carry = b""
    try:
        with archive.open(sheet) as stream:
            while True:
                chunk = stream.read(16 * MB)
                buffer = carry + chunk
                if chunk:
                    # every tag that starts before the last '<' also ends before it ('<' in text is escaped)
                    cut = buffer.rfind(b"<")
                    if cut <= 0:
                        carry = buffer
                        continue
                    part, carry = buffer[:cut], buffer[cut:]
                else:
                    part, carry = buffer, b""
                # one pass for everything that makes the sheet unmeasurable here: a formula, a cell
                # or row without a leading reference; and for a column past Z (a wide sheet)
                found = _UNMEASURABLE.search(part)
                if found is not None:
                    if not found.group(0).startswith(b'<c r="') or _UNREFERENCED.search(part, found.end()):
                        return None
                    wide = True
                numbers = _ROW_NUMBER.findall(part)
                if numbers:
                    max_row = max(max_row, max(int(number) for number in numbers))
                columns = _CELL_COLUMN_WIDE.findall(part) if wide else _CELL_COLUMN.findall(part)
                if columns:
                    letters = max(letters, max(columns, key=lambda x: (len(x), x)), key=lambda x: (len(x), x))
                if not chunk:
                    break
    except Exception:  # noqa: BLE001 - a damaged part: the streamed reader gives the message
        return None
    return max_row * _column_number(letters)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (letter - 64)
    return max(number, 1)


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The archive path of the workbook's first sheet, from the workbook and its relationships."""
    try:
        workbook = archive.read("xl/workbook.xml")
        relations = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return None
    sheet = re.search(rb"<(?:\w+:)?sheet\b[^>]*?\br:id=\"([^\"]+)\"", workbook)
    if sheet is None:
        return None
    for relation in re.finditer(rb"<Relationship\b[^>]*>", relations):
        tag = relation.group(0)
        if re.search(rb'\bId="' + re.escape(sheet.group(1)) + rb'"', tag):
            target = re.search(rb'\bTarget="([^"]+)"', tag)
            if target is None:
                return None
            path = target.group(1).decode("utf-8", "replace")
            path = path.lstrip("/") if path.startswith("/") else "xl/" + path
            return path if path in archive.namelist() else None
    return None


def _calamine_records(data: bytes, file_name: str, limits: UploadLimits) -> tuple[list[int], list[list[str | None]], int]:
    """(row numbers, cells as text, widest record) of the first sheet's non-blank rows, by calamine."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not book.sheet_names:
            raise BadInput.single(file_name, "the workbook has no sheet")
        sheet = book.get_sheet_by_index(0)
        first_row = sheet.start[0] + 1 if sheet.start else 1
        if sheet.height > limits.rows + HEADER_SEARCH_RECORDS:
            raise BadInput.single(
                file_name, f"the first sheet has {sheet.height:,} rows, more than an upload may hold ({limits.rows:,} rows)",
            )
        if sheet.height * sheet.width > limits.workbook_cells:
            raise BadInput.single(
                file_name,
                f"the first sheet holds more than the {limits.workbook_cells:,} cells an upload may "
                f"({sheet.height:,} rows x {sheet.width:,} columns): remove unused rows and columns, or save it as CSV",
            )
        rows = sheet.to_python(skip_empty_area=False)
    except BadInput:
        raise
    except Exception as error:  # calamine raises its own types for damaged workbooks
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    lines: list[int] = []
    records: list[list[str | None]] = []
    width = 0
    for number, row in enumerate(rows, start=first_row):
        width = max(width, _keep_row(number, row, lines, records))
    return lines, records, width


def _keep_row(number: int, row, lines: list[int], records: list[list[str | None]]) -> int:
    """Append a sheet row's cells as text (without trailing empty ones) unless it is blank; its width."""
    cells = [_excel_cell_text(value) for value in row]
    while cells and cells[-1] is None:
        cells.pop()
    if cells:
        lines.append(number)
        records.append(cells)
    return len(cells)


def _calamine_records_capped(data: bytes, file_name: str, limits: UploadLimits) -> tuple[list[int], list[list[str | None]], int]:
    """:func:`_calamine_records` in a child process whose address space may grow by at most the
    parser's memory limit, for formats whose extent cannot be measured before they are read: a
    crafted file makes the child fail, never the server."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_capped_child, args=(sender, data, file_name, limits), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(120):
            raise BadInput.single(file_name, "the workbook could not be read within 2 minutes: save it as CSV")
        outcome = receiver.recv()
    except EOFError:
        outcome = None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if isinstance(outcome, list):  # the child's problems (an exception does not pickle whole)
        raise BadInput(outcome)
    if not isinstance(outcome, tuple):
        raise too_large_for_memory(file_name, limits.memory_mb)
    return outcome


def _capped_child(sender, data: bytes, file_name: str, limits: UploadLimits) -> None:  # pragma: no cover - in a child
    import resource

    try:
        with open("/proc/self/status") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        cap = size_kb * 1024 + limits.memory_mb * MB
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (OSError, ValueError, StopIteration):
        pass
    try:
        sender.send(_calamine_records(data, file_name, limits))
    except BadInput as error:
        sender.send(list(error.problems))
    except BaseException:  # noqa: BLE001 - out of memory in the child: the parent refuses the file
        sender.send(None)
    finally:
        sender.close()
        os._exit(0)


def _read_xlsx_streamed(data: bytes, file_name: str, sha256: str, looks_like_header, limits: UploadLimits) -> RawTable:
    """An .xlsx whose extent is unknown or large, or that holds formulas, streamed by openpyxl."""
    try:
        import openpyxl

        # read-only: the sheet is streamed, never loaded whole; data_only=False: a formula is read
        # as its text, never as a value
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as error:  # openpyxl raises many types for damaged workbooks
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    try:
        if not book.worksheets:
            raise BadInput.single(file_name, "the workbook has no sheet")
        lines, records, width = _sheet_records(book.worksheets[0], file_name, limits)
    except BadInput:
        raise
    except Exception as error:
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    finally:
        book.close()
    return _workbook_table(lines, records, width, file_name, sha256, looks_like_header, "xlsx")


def _check_archive(parts: list[zipfile.ZipInfo], file_name: str, limits: UploadLimits) -> None:
    """Refuse a workbook whose parts would decompress past the limit, from the sizes the archive
    declares, before anything is decompressed. Python's zipfile never inflates a part past its
    declared size (it stops there and fails the checksum), so a lying archive gains nothing."""
    if len(parts) > limits.workbook_parts:
        raise BadInput.single(
            file_name, f"the workbook holds {len(parts):,} files, more than an .xlsx upload may ({limits.workbook_parts:,})"
        )
    total = sum(part.file_size for part in parts)
    if total > limits.workbook_bytes:
        raise BadInput.single(
            file_name,
            f"the workbook decompresses to {total / MB:,.0f} MB, more than an .xlsx upload may "
            f"({limits.workbook_bytes / MB:,.0f} MB): save it as CSV, or split it",
        )
    # shared strings and styles are read whole (sheets are streamed): each is held to a smaller size
    for part in parts:
        if part.file_size > limits.workbook_part_bytes and not part.filename.startswith("xl/worksheets/"):
            raise BadInput.single(
                file_name,
                f"the workbook's part {part.filename} decompresses to {part.file_size / MB:,.0f} MB, more than an "
                f".xlsx upload may ({limits.workbook_part_bytes / MB:,.0f} MB): save it as CSV",
            )


def _sheet_records(sheet, file_name: str, limits: UploadLimits) -> tuple[list[int], list[list[str | None]], int]:
    """(row numbers, cells as text, widest record) of the sheet's non-blank rows.

    Rows are streamed and only non-blank ones kept, so a lone cell at XFD1048576 costs one row,
    not a grid of 17 billion cells. The cells read (each row up to its last cell) are counted as
    they come, and the read stops with BadInput at the limit: the sheet's declared dimension may
    lie, the count cannot.
    """
    sheet.reset_dimensions()  # ignore the declared used range: rows are not padded to it
    lines: list[int] = []
    records: list[list[str | None]] = []
    width = 0
    read = 0
    for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > limits.rows + HEADER_SEARCH_RECORDS:
            raise BadInput.single(
                file_name, f"the first sheet has rows past row {number - 1:,}, more than an upload may hold ({limits.rows:,} rows)",
                line=number,
            )
        if len(row) > MAX_COLUMNS:
            raise BadInput.single(
                file_name, f"row {number} has {len(row):,} columns, more than a spreadsheet can hold ({MAX_COLUMNS:,})",
                line=number,
            )
        read += len(row)
        if not row:
            continue
        width = max(width, _keep_row(number, row, lines, records))
        if read > limits.workbook_cells or len(records) * width > limits.workbook_cells:
            raise BadInput.single(
                file_name,
                f"the first sheet holds more than the {limits.workbook_cells:,} cells an .xlsx upload may "
                f"(up to row {number:,}, column {width:,}): remove unused rows and columns, or save it as CSV",
                line=number,
            )
    return lines, records, width


def _excel_cell_text(value: object) -> str | None:
    """Excel cell as text, the way a person reads it: dates ISO, whole numbers without '.0'.

    Formulas are never evaluated: openpyxl returns a formula's text, stored as text.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") or len(text) == 10 else text.replace("T", " ")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    text = str(value)
    return text if text.strip() else None


# --------------------------------------------------------------------------- header
def _locate_header(table: pa.Table, file_name: str, sha256: str, looks_like_header, *, encoding: str, delimiter: str) -> RawTable:
    """Find the header among the first records and return the records below it.

    ``looks_like_header(cells)`` returns 0 (not a header), 1 (names some fields) or 2 (names every
    required field; True counts as 1). The first complete header wins, else the first that names
    some fields: a group row of merged Excel cells ("Order" | "Sales") above the real header names
    fields too, but not all of them. Copies of the header further down (a second export pasted
    below the first) are not records: they are skipped and their lines listed.
    """
    data_columns = [name for name in table.column_names if name != "line"]
    head = table.slice(0, HEADER_SEARCH_RECORDS).to_pylist()
    header_index = None
    for index, record in enumerate(head):
        cells = [(record[name] or "").strip() for name in data_columns]
        score = int(looks_like_header(cells))
        if score >= 2:
            header_index = index
            break
        if score >= 1 and header_index is None:
            header_index = index
    if header_index is None:
        first = [(head[0][name] or "").strip() for name in data_columns] if head else []
        raise BadInput.single(
            file_name,
            "no header row found in the first lines; found "
            + ", ".join(repr(cell) for cell in first if cell)
            + " — see the README for the expected columns",
            line=int(head[0]["line"]) if head else 1,
        )
    header_record = head[header_index]
    header = [(header_record[name] or "").strip() for name in data_columns]
    # drop trailing columns that have neither a header nor any value (trailing delimiters)
    keep = len(header)
    body = table.slice(header_index + 1)
    while keep > 0 and not header[keep - 1]:
        column = body.column(data_columns[keep - 1])
        if column.null_count == len(column):
            keep -= 1
        else:
            break
    kept = data_columns[:keep] + ["line"]
    body, repeated = _without_header_copies(body, data_columns[:keep], header[:keep])
    return RawTable(
        file=file_name,
        sha256=sha256,
        header_line=int(header_record["line"]),
        header=header[:keep],
        cells=body.select(kept),
        title_lines=[int(record["line"]) for record in head[:header_index]],
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
    same = None
    for column, name in named:
        equal = pc.fill_null(pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(body.column(column))), name), False)
        same = equal if same is None else pc.and_(same, equal)
    if not pc.any(same).as_py():
        return body, []
    lines = body.filter(same).column("line").to_pylist()
    return body.filter(pc.invert(same)), [int(line) for line in lines]

"""Reading an uploaded file into a table of text cells, with the line number of every record.

CSV is parsed by DuckDB's reader (fast, no Python loop over rows). Record boundaries and line
numbers are found with numpy on the raw bytes: a newline ends a record when the number of quote
characters before it is even (RFC 4180 quoting), so quoted newlines keep their true line numbers.
Excel workbooks are read with pandas/openpyxl (first sheet); the line is the spreadsheet row.

Nothing here knows what the columns mean: that is ``imports``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from salesplan.errors import BadInput

DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_RECORDS = 15
MAX_COLUMNS = 16_384  # Excel's limit: a record with more fields is not an export of a table
SNIFF_CHARACTERS = 65536  # the delimiter is decided on the first records, found in this much text


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
    limit_bytes: int,
) -> RawTable:
    """Decode, split and parse a CSV or xlsx file into text cells.

    ``looks_like_header(cells) -> bool`` tells which of the first records is the header (rows
    above it, such as a report title, are skipped). Raises BadInput for an empty, binary,
    truncated, oversized or header-less file.
    """
    _check_size(len(data), file_name, limit_bytes)
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise BadInput.single(file_name, "the file is empty")
    sha256 = hashlib.sha256(data).hexdigest()
    if data[:4] == b"PK\x03\x04":
        return _read_workbook(data, file_name, sha256, looks_like_header)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise BadInput.single(file_name, "this is an old Excel .xls workbook: save it as .xlsx or CSV and upload again")
    for signature, what in _FOREIGN_SIGNATURES:
        if data.startswith(signature):
            raise BadInput.single(file_name, f"this is {what}, not a CSV file or an .xlsx workbook")
    text, encoding = _decode(data, file_name)
    return _read_csv_text(text, encoding, file_name, sha256, looks_like_header)


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
def _decode(data: bytes, file_name: str) -> tuple[str, str]:
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
    return text, encoding


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


def _read_csv_text(text: str, encoding: str, file_name: str, sha256: str, looks_like_header) -> RawTable:
    if text.startswith("\ufeff"):
        text = text[1:]
    raw = text.encode("utf-8")
    sample = text[:SNIFF_CHARACTERS]
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
        table = _duckdb_read(kept, width, delimiter, file_name)
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


def _duckdb_read(raw: bytes, width: int, delimiter: str, file_name: str) -> pa.Table:
    columns = {f"c{i}": "VARCHAR" for i in range(width)}
    with tempfile.TemporaryDirectory(prefix="salesplan-") as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(raw)
        connection = quiet_connection()
        try:
            return connection.sql(
                "SELECT * FROM read_csv($path, auto_detect = false, header = false, columns = $columns, delim = $delim, "
                "quote = '\"', escape = '\"', null_padding = true, strict_mode = false, parallel = false, "
                "all_varchar = true)",
                params={"path": str(path), "columns": columns, "delim": delimiter},
            ).to_arrow_table()
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


def quiet_connection() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for parsing, without the terminal progress bar."""
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    # an in-memory database cannot spill unless it has a temp folder: give it one, so a very large
    # upload slows down instead of exhausting the machine's memory
    spill = Path(tempfile.gettempdir()) / "salesplan-spill"
    spill.mkdir(exist_ok=True)
    connection.execute(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    return connection


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# --------------------------------------------------------------------------- Excel
def _read_workbook(data: bytes, file_name: str, sha256: str, looks_like_header) -> RawTable:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except Exception as error:  # BadZipFile, and NotImplementedError, ValueError... for damaged headers
        raise BadInput.single(file_name, "the workbook is damaged or truncated (not a readable .xlsx)") from error
    if "xl/workbook.xml" not in names:
        raise BadInput.single(file_name, "this is a zip archive, not a CSV file or an .xlsx workbook")
    try:
        frame = pd.read_excel(
            io.BytesIO(data), sheet_name=0, header=None, dtype=object, engine="openpyxl",
            engine_kwargs={"data_only": False},  # a formula is read as its text, never as a value
        )
    except Exception as error:  # openpyxl raises many types for damaged workbooks
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    lines = np.arange(1, len(frame) + 1, dtype=np.int64)
    frame = frame.map(_excel_cell_text) if len(frame) else frame
    not_blank = frame.notna().any(axis=1).to_numpy() if len(frame.columns) else np.zeros(len(frame), dtype=bool)
    frame = frame[not_blank]
    lines = lines[not_blank]
    if frame.empty:
        raise BadInput.single(file_name, "the workbook's first sheet is empty")
    frame.columns = [f"c{i}" for i in range(len(frame.columns))]
    table = pa.Table.from_pandas(frame.astype(object), preserve_index=False)
    table = pa.table({name: table[name].cast(pa.string()) for name in table.column_names})
    table = table.append_column("line", pa.array(lines, type=pa.int64()))
    return _locate_header(table, file_name, sha256, looks_like_header, encoding="xlsx", delimiter="")


def _excel_cell_text(value: object) -> str | None:
    """Excel cell as text, the way a person reads it: dates ISO, whole numbers without '.0'.

    Formulas are never evaluated: openpyxl returns a formula's text, stored as text.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
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

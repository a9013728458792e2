"""CSV files: encoding, delimiter, record boundaries and line numbers, parsed by DuckDB.

Every check runs over the upload a chunk at a time (:mod:`salesplan.files.stream`): the file's
lines, encoding, quotes, blank lines and padded cells in one pass (its hash beside it: a thread
reads and hashes a file of several chunks), then, for a file with
quotes or blank lines, its records (with numpy, a run of whole records at a time). DuckDB's
reader opens the file itself; only a file that is not UTF-8, or that holds blank records, is
first copied (as UTF-8, without them) into the read's private folder.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import tempfile
import threading
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
    _check_lines,
    _first_line,
    quiet_connection,
    too_large_for_memory,
)
from salesplan.files import stream
from salesplan.files.stream import Upload, copy_without
from salesplan.files.textscan import _Sha256, _TextScan

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
_BINARY = "this is a binary file, not a CSV text file or an .xlsx workbook"


# --------------------------------------------------------------------------- the upload's bytes
def _read_csv(
    upload: Upload, file_name: str, looks_like_header, limits: UploadLimits,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> RawTable:
    """Check, decode and read a CSV upload (not a workbook) into text cells; see ``read_table``.
    Its copies (a UTF-8 text, the records without blank ones) live in a private folder that is
    removed when the cells are read."""
    with tempfile.TemporaryDirectory(prefix="salesplan-") as folder:
        sha256, encoding, text, facts = _checked_text(upload, file_name, limits, folder)
        # ``text`` is the upload itself or its UTF-8 copy; bytes in memory go to a file now, and
        # are let go before DuckDB's reader makes the cells (the checks read the file from here on)
        text.on_disk(folder)
        del upload
        located = _read_csv_text(text, facts, encoding, file_name, sha256, looks_like_header, limits, connection, folder)
        text.check_unchanged()
        return located


def _checked_text(upload: Upload, file_name: str, limits: UploadLimits, folder: str) -> tuple[str, str, Upload, _TextScan]:
    """(SHA-256, encoding, the file's UTF-8 text, the facts of that text) of a CSV upload, in one
    pass over its bytes when they are UTF-8 (two when not: the second writes the UTF-8 copy).

    Raises BadInput, in this order, for an empty file, one over the line limit (counted on the
    raw bytes before anything is decoded or split: a file of millions of tiny rows costs more to
    split and check than its size suggests), a file of another kind, a binary file, and one that
    is not text in the encoding found."""
    head = upload.head(4 * SNIFF_CHARACTERS + 4)
    encoding = _encoding_of(head)
    unicode8 = encoding in ("utf-8", "utf-8-sig")
    offset = 3 if encoding == "utf-8-sig" else 0
    # the text's facts are gathered in the same pass when the bytes are the text (UTF-8); the
    # delimiter they need is sniffed on the first characters (a file that turns out not to be
    # UTF-8 is scanned again once decoded)
    facts = _text_scan(head[offset:], len(head) >= upload.size) if unicode8 else None
    newlines, empty, ascii_only, nul = 0, True, True, False
    decoder, error, at_end = None, None, False
    over = False
    skip = offset
    # a file of more than one chunk is hashed in a thread of its own while this one checks it
    with _Sha256(upload, threaded=upload.size > stream.CHUNK_BYTES) as digest:
        for chunk in upload.chunks():
            if not over:  # a refused file's hash is never used
                digest.update(chunk)
            # whether the chunk is nothing but ASCII: asked once, for the encoding and the padded cells
            ascii_chunk = None
            if facts is not None and not over and (ascii_only or not (facts.padded or facts.quote)):
                ascii_chunk = chunk.isascii()
            if facts is None or over:
                newlines += chunk.count(b"\n")
            else:  # the text's scan counts them (a BOM holds none)
                newlines += facts.feed(chunk[skip:] if skip else chunk, ascii_chunk if not skip else None)
                skip = max(0, skip - len(chunk))  # a BOM may span chunks of a byte or two
            if empty and not _EMPTY.fullmatch(chunk):
                empty = False
            if over or (not empty and newlines + 1 > limits.rows + HEADER_SEARCH_RECORDS):
                over = True  # refused: the rest is only counted, for the message
                digest.stop()
                continue
            if not unicode8:
                continue
            nul = nul or b"\x00" in chunk
            if ascii_only and not ascii_chunk:
                ascii_only = False
                decoder = codecs.getincrementaldecoder(encoding)()  # the bytes before were whole characters
            if decoder is not None and error is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as caught:
                    error = caught
        if decoder is not None and error is None and not over:
            try:
                decoder.decode(b"", True)
            except UnicodeDecodeError as caught:
                error, at_end = caught, True
        if empty:
            raise BadInput.single(file_name, "the file is empty")
        _check_lines(newlines + 1, file_name, limits)
        sha256 = digest.hexdigest()
    for signature, what in _FOREIGN_SIGNATURES:
        if head.startswith(signature):
            raise BadInput.single(file_name, f"this is {what}, not a CSV file or an .xlsx workbook")
    if encoding == "utf-8" and b"\x00" in head[:65536]:
        raise BadInput.single(file_name, _BINARY)
    if unicode8 and error is None:
        if nul:
            raise BadInput.single(file_name, _BINARY)
        assert facts is not None
        facts.finish()
        upload.offset = offset  # DuckDB's reader skips the BOM itself
        return sha256, encoding, upload, facts
    if encoding == "utf-8":
        assert error is not None
        if at_end and error.reason == "unexpected end of data":
            raise BadInput.single(file_name, "the file ends in the middle of a character: it looks truncated") from error
        encoding = "cp1252"
    elif error is not None:  # UTF-8 with a BOM
        raise BadInput.single(file_name, f"the file says it is {encoding} but is not: {error.reason}") from error
    text = _transcoded(upload, encoding, file_name, Path(folder) / "text.csv")
    upload.check_unchanged()  # read twice (hashed, then decoded): the same bytes both times
    upload.release()
    sample = text.head(4 * SNIFF_CHARACTERS + 4)
    facts = _text_scan(sample, len(sample) >= text.size)
    for chunk in text.chunks():
        facts.feed(chunk)
    facts.finish()
    return sha256, encoding, text, facts


def _encoding_of(head: bytes) -> str:
    """The encoding the first bytes of a file show: a BOM, the zero bytes of UTF-16, else UTF-8
    (Windows-1252 is taken when the bytes turn out not to be UTF-8)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        return "utf-16-le"  # UTF-16 without a BOM, as some exporters write it
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] != 0:
        return "utf-16-be"
    return "utf-8"


def _text_scan(head: bytes, whole: bool) -> _TextScan:
    """The scan of a UTF-8 text whose first bytes are ``head`` (``whole``: all of it): its
    delimiter is sniffed on the first characters."""
    sample = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, whole)[:SNIFF_CHARACTERS]
    return _TextScan(_sniff_delimiter(sample), sample)


def _transcoded(upload: Upload, encoding: str, file_name: str, path: Path) -> Upload:
    """The upload decoded from ``encoding`` and written as UTF-8 (without a BOM) into ``path``,
    a chunk at a time. Raises BadInput for bytes that are not text in that encoding (Windows-1252:
    not text at all) and for a NUL character."""
    decoder = codecs.getincrementaldecoder(encoding)()
    nul, started = False, False
    with open(path, "wb") as out:
        try:
            for chunk in itertools.chain(upload.chunks(), [None]):
                text = decoder.decode(b"", True) if chunk is None else decoder.decode(chunk)
                if not started and text:
                    text, started = text.removeprefix("\ufeff"), True
                nul = nul or "\x00" in text
                out.write(text.encode("utf-8"))
        except UnicodeDecodeError as error:
            if encoding == "cp1252":
                raise BadInput.single(
                    file_name, "the file is neither UTF-8, UTF-16 nor Windows-1252 text (is it binary?)"
                ) from error
            if error.reason == "truncated data":
                raise BadInput.single(file_name, f"the file ({encoding}) ends in the middle of a character: it looks truncated") from error
            raise BadInput.single(file_name, f"the file says it is {encoding} but is not: {error.reason}") from error
    if nul:
        raise BadInput.single(file_name, _BINARY)
    return Upload(file_name, path=path)


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


def _records(
    buffer: np.ndarray, respect_quotes: bool, newline_positions: np.ndarray | None = None,
    quote_positions: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start offset, end offset, start line, blank?) of every record of the bytes.

    With ``respect_quotes`` a newline ends a record only where the count of quote characters
    before it is even (RFC 4180), so a quoted newline stays inside its record; without, every
    newline ends one (for files with a stray quote inside an unquoted field). Quotes are sparse,
    so parity is found by binary search over their positions, not a scan of every byte. The
    positions of the newlines and quotes are found here unless given (a caller that needs them
    too finds them once).
    """
    if newline_positions is None:
        newline_positions = np.flatnonzero(buffer == 10)
    if respect_quotes and len(newline_positions):
        if quote_positions is None:
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



# --------------------------------------------------------------------------- records
class _Records:
    """The records of a UTF-8 text, worked out a run of whole records at a time (a run ends at a
    record's newline, so every run starts outside quotes): the start line of every record that is
    not blank, the byte ranges of the blank ones (with their newline), and the widest record (its
    fields, an upper bound: its delimiters outside quotes, plus one, and its line)."""

    def __init__(self, text: Upload, delimiter: str, respect_quotes: bool):
        self._delimiter_byte = ord(delimiter)
        self._respect_quotes = respect_quotes
        self._lines: list[np.ndarray] = []
        self.blank: list[tuple[int, int]] = []
        self.width, self.widest_line = 0, 1
        self._offset, self._newlines = 0, 0  # of the next run: its first byte, the newlines before it
        carry, carry_quotes = bytearray(), 0  # a record not ended yet, and its quote characters
        for chunk in text.chunks():
            quotes = chunk.count(b'"') if respect_quotes else 0
            end = self._last_record_end(chunk, carry_quotes, quotes)
            if end < 0:
                carry += chunk
                carry_quotes += quotes
                continue
            self._run(bytes(carry) + chunk[:end + 1] if carry else chunk[:end + 1], complete=True)
            carry = bytearray(chunk[end + 1:])
            carry_quotes = carry.count(b'"') if respect_quotes else 0
        if carry:
            self._run(bytes(carry), complete=False)
        self.lines = np.concatenate(self._lines) if self._lines else np.zeros(0, dtype=np.int64)
        self.width = max(self.width, 1)

    def _last_record_end(self, chunk: bytes, carry_quotes: int, quotes: int) -> int:
        """The position of the last newline of ``chunk`` that ends a record (-1: none): outside
        quotes when they count, i.e. after an even number of quote characters in the record."""
        if not self._respect_quotes:
            return chunk.rfind(b"\n")
        # one pass over the chunk: the quote characters before each newline, by a sorted search of
        # their positions (a look back from each newline in turn rescanned the chunk: quadratic in
        # a file whose quotes never balance again, such as an inch mark in an unquoted cell)
        buffer = np.frombuffer(chunk, dtype=np.uint8)
        newlines = np.flatnonzero(buffer == 10)
        before = np.searchsorted(np.flatnonzero(buffer == 34), newlines)
        ending = np.flatnonzero((carry_quotes + before) % 2 == 0)
        return int(newlines[ending[-1]]) if len(ending) else -1

    def _run(self, run: bytes, complete: bool) -> None:
        buffer = np.frombuffer(run, dtype=np.uint8)
        # the newlines and quotes of the run, found once for the records and their widths
        newline_positions = np.flatnonzero(buffer == 10)
        quote_positions = np.flatnonzero(buffer == 34) if self._respect_quotes else None
        starts, ends, start_lines, blank = _records(buffer, self._respect_quotes, newline_positions, quote_positions)
        if complete:  # the run ends with a record's newline: the "record" after it is the next run's
            starts, ends, start_lines, blank = starts[:-1], ends[:-1], start_lines[:-1], blank[:-1]
        delimiters = np.flatnonzero(buffer == self._delimiter_byte)
        if quote_positions is not None and len(delimiters):
            delimiters = delimiters[_outside_quotes(delimiters, quote_positions)]
        # delimiters per record = the difference of the delimiter counts before consecutive record ends
        per_record = np.diff(np.searchsorted(delimiters, np.concatenate(([-1], ends))))
        kept = ~blank
        lines = start_lines[kept] + self._newlines
        self._lines.append(lines)
        widths = per_record[kept]
        if len(widths) and int(widths.max()) + 1 > self.width:
            widest = int(widths.argmax())  # the first record of the run that wide
            self.width, self.widest_line = int(widths[widest]) + 1, int(lines[widest])
        self.blank.extend(zip((starts[blank] + self._offset).tolist(), (ends[blank] + self._offset + 1).tolist()))
        self._offset += len(run)
        self._newlines += len(newline_positions)


# --------------------------------------------------------------------------- DuckDB's reader
def _read_csv_text(
    text: Upload, facts: _TextScan, encoding: str, file_name: str, sha256: str, looks_like_header,
    limits: UploadLimits, connection: duckdb.DuckDBPyConnection | None, folder: str,
) -> RawTable:
    sample, delimiter = facts.sample, facts.delimiter
    first_lines = [line for line in sample.splitlines()[: HEADER_SEARCH_RECORDS * 2] if line.strip()][:HEADER_SEARCH_RECORDS]
    if not first_lines:
        raise BadInput.single(file_name, "the file is empty")
    table = _read_plain_lines(text, facts, first_lines, file_name, limits, connection, folder)
    # a record of the plain read is blank only when some line starts with a blank first cell
    blank_rows = table is None or facts.blank_start
    record_lines = np.zeros(0, dtype=np.int64)  # the plain read's: numbered from the first line below
    early = None if table is not None else _EarlyRead.start(text, facts, first_lines, file_name, limits, connection, folder)
    try:
        table, record_lines = _read_records(text, delimiter, file_name, limits, connection, folder, table, record_lines, early)
    finally:
        if early is not None:
            early.cancel()
    table = table.append_column("line", pa.array(record_lines, type=pa.int64()))
    if blank_rows:
        table = _drop_blank_rows(table)
    if table.num_rows == 0:
        raise BadInput.single(file_name, "the file is empty")
    located = _locate_header(table, file_name, sha256, looks_like_header, encoding=encoding, delimiter=delimiter)
    located.padded = facts.padded
    return located


class _EarlyRead:
    """DuckDB's read of a quoted file started in a thread while its records are numbered (numpy,
    on the other core): the records' path reads only once their widths are known, and DuckDB's
    serial read of a quoted file (one core) took as long again.

    Started only for a file of several chunks, with quotes and without a blank line, and within
    the limits for the width its first lines show (their records split respecting quotes: the work
    it may do is bounded by the cells limit before it starts). It reads the same file with the same
    options at that width, so it is the first reading exactly when the records need no copy (no
    blank record) and are as wide as its guess; otherwise the reading is made again. (A read of
    another width is not: with malformed quotes DuckDB's split of a record depends on the number
    of columns.) Any error of it is dropped (the reading it stands for is then made, and raises
    its own)."""

    def __init__(self, path: Path, width: int, delimiter: str, file_name: str, memory_mb: int,
                 connection: duckdb.DuckDBPyConnection | None):
        self._owned = connection is None
        self._connection = quiet_connection(memory_mb) if connection is None else connection
        self._table: pa.Table | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, args=(path, width, delimiter, file_name, memory_mb), name="salesplan-csv-read", daemon=True)
        self._thread.start()

    @classmethod
    def start(
        cls, text: Upload, facts: _TextScan, first_lines: list[str], file_name: str, limits: UploadLimits,
        connection: duckdb.DuckDBPyConnection | None, folder: str,
    ) -> _EarlyRead | None:
        if not facts.quote or facts.blank_line or text.size <= stream.CHUNK_BYTES:
            return None
        try:
            width = max((len(record) for record in csv.reader(io.StringIO("\n".join(first_lines)), delimiter=facts.delimiter)),
                        default=1)
        except csv.Error:
            return None
        if width > min(MAX_COLUMNS, limits.csv_fields) or facts.records * width > limits.csv_cells:
            return None
        return cls(text.on_disk(folder), width, facts.delimiter, file_name, limits.memory_mb, connection)

    def _run(self, path: Path, width: int, delimiter: str, file_name: str, memory_mb: int) -> None:
        try:
            self._table = _duckdb_read(path, width, delimiter, file_name, memory_mb, self._connection)
        except Exception:  # noqa: BLE001 - the reading it stands for is made again and raises its own
            self._table = None

    def table(self) -> pa.Table | None:
        """The table read (None: the read failed), once the thread is done."""
        self._finish(interrupt=False)
        table, self._table = self._table, None
        return table

    def cancel(self) -> None:
        """Stop the read if it still runs (the records were refused) and let its table go."""
        self._finish(interrupt=True)
        self._table = None

    def _finish(self, *, interrupt: bool) -> None:
        if self._thread is None:
            return
        if interrupt and self._thread.is_alive():
            self._connection.interrupt()
        self._thread.join()
        self._thread = None
        if self._owned:
            self._connection.close()


def _read_records(
    text: Upload, delimiter: str, file_name: str, limits: UploadLimits, connection: duckdb.DuckDBPyConnection | None,
    folder: str, table: pa.Table | None, record_lines: np.ndarray, early: _EarlyRead | None,
) -> tuple[pa.Table, np.ndarray]:
    """The cells and the line of each record of a file the plain read did not read (``table`` None;
    else both are returned as they are): its records numbered respecting quotes, else line by line,
    each time checked against the limits and read by DuckDB."""
    for respect_quotes in (True, False) if table is None else ():
        records = _Records(text, delimiter, respect_quotes)
        record_lines, width = records.lines, records.width
        if width > min(MAX_COLUMNS, limits.csv_fields):
            raise BadInput.single(
                file_name,
                f"{width:,} fields, more than the {limits.csv_fields:,} columns an upload may have: "
                "this is not a table export, or remove the columns salesplan does not read",
                line=records.widest_line,
            )
        if len(record_lines) * width > limits.csv_cells:
            raise BadInput.single(
                file_name,
                f"the file has {len(record_lines):,} records of up to {width:,} fields, more than the {limits.csv_cells:,} "
                "cells an upload may hold: remove unused columns or split the file",
            )
        if records.blank:
            # DuckDB's reader skips empty lines but keeps whitespace-only ones, so the blank records
            # are taken out of a copy: then its rows and these line numbers correspond one to one
            path = Path(folder) / "records.csv"
            copy_without(text, path, records.blank)
        else:
            path = text.on_disk(folder)
        guess = early.table() if early is not None else None
        early = None  # the early read stands for the first reading only
        if guess is not None and not records.blank and width == guess.num_columns:
            table = guess  # the same read of the same file at the same width
        else:
            guess = None  # not held beside the read that replaces it
            table = _duckdb_read(path, width, delimiter, file_name, limits.memory_mb, connection)
        del guess
        if table.num_rows == len(record_lines):
            break
    else:
        # neither numbering matches the reader's records: number them from the first line
        assert table is not None  # the loop above ran at least once
        record_lines = np.arange(1, table.num_rows + 1)
    assert table is not None
    return table, record_lines


def _read_plain_lines(
    text: Upload, facts: _TextScan, first_lines: list[str], file_name: str, limits: UploadLimits,
    connection: duckdb.DuckDBPyConnection | None, folder: str,
) -> pa.Table | None:
    """The usual export, read without numbering its bytes: when the file holds no quote
    character and no blank line, every line is one record (its number is its position), so the
    records are read straight away. The width is taken from the first lines plus one sentinel
    column: a record with more fields fills the sentinel. None (nothing decided) for any other
    file, or when the reader's records do not match the lines one to one."""
    if facts.quote or facts.blank_line:
        return None
    records = facts.records
    width = max((len(line.split(facts.delimiter)) for line in first_lines), default=1)
    if width >= min(MAX_COLUMNS, limits.csv_fields) or records * (width + 1) > limits.csv_cells:
        return None  # the general path measures the file and refuses it with its figures
    # no quote anywhere: every newline ends a record, so DuckDB may split the file between its
    # threads (the rows still come back in the file's order)
    table = _duckdb_read(text.on_disk(folder), width + 1, facts.delimiter, file_name, limits.memory_mb, connection,
                         parallel=True)
    sentinel = f"c{width}"
    if table.num_rows != records or table.column(sentinel).null_count != table.num_rows:
        return None
    return table.drop_columns([sentinel])


def _duckdb_read(
    path: Path, width: int, delimiter: str, file_name: str, memory_mb: int,
    connection: duckdb.DuckDBPyConnection | None = None, *, parallel: bool = False,
) -> pa.Table:
    """Every record of the file at ``path`` as ``width`` text columns c0..c{width-1}, read by
    DuckDB, in the file's order. ``parallel`` only for a file without a quote character (a
    quoted newline would make a split between threads ambiguous).

    ``connection`` is the import's private connection (:func:`quiet_connection`), kept open for
    its parser. Without it a connection of its own is made and closed.
    Raises BadInput when the reader fails or the file does not fit in ``memory_mb``."""
    columns = {f"c{i}": "VARCHAR" for i in range(width)}
    owned = connection is None
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

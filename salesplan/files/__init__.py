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

import hashlib
import os

import duckdb

from salesplan.files.csvtext import (
    _EMPTY,
    _FOREIGN_SIGNATURES,
    _drop_blank_rows,
    _duckdb_read,
    _outside_quotes,
    _read_csv,
    _read_csv_text,
    _records,
    _sniff_delimiter,
)
from salesplan.files.header import (
    _locate_header,
    _without_header_copies,
    normalise_header,
)
from salesplan.files.limits import (
    DELIMITERS,
    HEADER_SEARCH_RECORDS,
    MAX_COLUMNS,
    MAX_CSV_CELLS,
    MAX_ROWS,
    MAX_WORKBOOK_CELLS,
    MAX_WORKBOOK_PART_MB,
    MAX_WORKBOOK_PARTS,
    MAX_WORKBOOK_UNCOMPRESSED_MB,
    MB,
    PARSER_MEMORY_MB,
    SNIFF_CHARACTERS,
    RawTable,
    UploadLimits,
    _check_lines,
    _check_size,
    _first_line,
    _spill,
    _spill_folder,
    _spill_lock,
    parsing_session,
    quiet_connection,
    too_large_for_memory,
)
from salesplan.files.stream import CHUNK_BYTES, Upload, open_upload
from salesplan.files.workbook import (
    _calamine_records,
    _calamine_records_capped,
    _capped_child,
    _check_archive,
    _excel_cell_text,
    _first_sheet_part,
    _keep_row,
    _read_workbook,
    _read_xlsx_streamed,
    _sheet_records,
    _workbook_table,
    _xlsx_extent,
)

__all__ = [
    "DELIMITERS",
    "HEADER_SEARCH_RECORDS",
    "MAX_COLUMNS",
    "SNIFF_CHARACTERS",
    "MB",
    "MAX_ROWS",
    "MAX_CSV_CELLS",
    "MAX_WORKBOOK_CELLS",
    "MAX_WORKBOOK_UNCOMPRESSED_MB",
    "MAX_WORKBOOK_PART_MB",
    "MAX_WORKBOOK_PARTS",
    "PARSER_MEMORY_MB",
    "UploadLimits",
    "RawTable",
    "_check_size",
    "_check_lines",
    "quiet_connection",
    "parsing_session",
    "too_large_for_memory",
    "_spill_lock",
    "_spill",
    "_spill_folder",
    "_first_line",
    "normalise_header",
    "_locate_header",
    "_without_header_copies",
    "_EMPTY",
    "_FOREIGN_SIGNATURES",
    "_sniff_delimiter",
    "_outside_quotes",
    "_records",
    "_read_csv",
    "_read_csv_text",
    "_duckdb_read",
    "_drop_blank_rows",
    "CHUNK_BYTES",
    "Upload",
    "open_upload",
    "_read_workbook",
    "_workbook_table",
    "_xlsx_extent",
    "_first_sheet_part",
    "_calamine_records",
    "_keep_row",
    "_calamine_records_capped",
    "_capped_child",
    "_read_xlsx_streamed",
    "_check_archive",
    "_sheet_records",
    "_excel_cell_text",
    "read_source",
    "read_table",
]


def read_source(
    source: str | os.PathLike[str] | bytes, file_name: str | None = None, *, limit_bytes: int | None = None
) -> tuple[bytes, str]:
    """The raw bytes of a path or upload, and the name to report problems under (for callers that
    need the bytes; an import reads a path a chunk at a time: :func:`open_upload`).

    A file on disk over ``limit_bytes`` is refused before it is read into memory. Raises BadInput
    for a missing, unreadable or oversized file or a directory.
    """
    upload = open_upload(source, file_name, limit_bytes=limit_bytes)
    return upload.read_all(), upload.name


def read_table(
    data: bytes | Upload,
    file_name: str,
    *,
    looks_like_header,
    limit_bytes: int | None = None,
    limits: UploadLimits | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> RawTable:
    """Decode, split and parse a CSV or xlsx file into text cells.

    ``data`` is the file's bytes or an :class:`Upload` (a file on disk is then read a chunk at a
    time and never whole: only a workbook is read into memory; the bytes of an Upload are let go
    once DuckDB's reader has them in a file). ``looks_like_header(cells) -> bool`` tells which of
    the first records is the header (rows above it, such as a report title, are skipped).
    ``limits`` (default: the module's limits with ``limit_bytes`` as the file size limit) bound
    what the file may hold. Raises BadInput for an empty, binary, truncated, oversized or
    header-less file, for one over any limit (checked before the parse that the limit protects),
    and for a file on disk that changed while it was read.

    ``connection`` (a :func:`quiet_connection`) is the import's private connection: the CSV
    reader uses it instead of making one of its own, and it is left open for the caller (its parser).
    """
    if limits is None:
        limits = UploadLimits() if limit_bytes is None else UploadLimits(file_bytes=limit_bytes)
    upload = data if isinstance(data, Upload) else Upload(file_name, data=data)
    del data  # the Upload lets the bytes go once they are in a file
    _check_size(upload.size, file_name, limits.file_bytes)
    head = upload.head(8)
    is_zip = head[:4] == b"PK\x03\x04"
    is_xls = head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file: Excel 97-2003
    if is_zip or is_xls:
        workbook = upload.read_all()
        upload.check_unchanged()
        upload.release()  # held here until the sheet is read, not for the rest of the import
        return _read_workbook(workbook, file_name, hashlib.sha256(workbook).hexdigest(), looks_like_header, limits)
    return _read_csv(upload, file_name, looks_like_header, limits, connection)

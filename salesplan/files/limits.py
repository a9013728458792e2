"""Upload limits, the table an upload is read into, and the process's parsing DuckDB."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

import duckdb
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
MAX_CSV_FIELDS = 2_000  # fields of one CSV record: DuckDB's reader costs ~0.2 ms of CPU per column bound,
# so a 16 KB line of 10,000 delimiters cost ~2 s to read before it was refused; a CRM export that
# carries every property of a deal has a few hundred
MAX_WORKBOOK_CELLS = 5_000_000  # cells of a sheet, counted as read (rows x their last column)
MAX_WORKBOOK_UNCOMPRESSED_MB = 512  # all parts of an .xlsx decompressed (a zip bomb is refused unread)
MAX_WORKBOOK_PART_MB = 128  # one part other than a sheet (shared strings, styles: read whole)
MAX_WORKBOOK_PARTS = 10_000  # files inside an .xlsx archive
DEFAULT_UPLOAD_MB = 200  # the upload_limit_mb setting's default: MAX_ROWS and MAX_CSV_CELLS are sized for it
PARSER_MEMORY_MB = 512  # DuckDB memory of the process's parsing database (all uploads parsed at once); past it, it spills to disk


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may hold. The defaults are the module's constants; tests lower them."""

    file_bytes: int = DEFAULT_UPLOAD_MB * MB
    rows: int = MAX_ROWS
    csv_cells: int = MAX_CSV_CELLS
    csv_fields: int = MAX_CSV_FIELDS
    workbook_cells: int = MAX_WORKBOOK_CELLS
    workbook_bytes: int = MAX_WORKBOOK_UNCOMPRESSED_MB * MB
    workbook_part_bytes: int = MAX_WORKBOOK_PART_MB * MB
    workbook_parts: int = MAX_WORKBOOK_PARTS
    memory_mb: int = PARSER_MEMORY_MB

    @classmethod
    def for_upload_limit(cls, upload_limit_mb: int) -> UploadLimits:
        """The default limits with the organisation's file size limit (setting ``upload_limit_mb``).

        An organisation that raises the file size above the default 200 MB raises the CSV rows and
        cells limits in proportion (the defaults are those of a 200 MB file): an admin who allows a
        1 GB export allows its rows too. Below 200 MB they stay at the defaults (a small file
        cannot reach them). The parser's memory stays capped (it spills to disk)."""
        megabytes = int(upload_limit_mb)
        scale = max(1.0, megabytes / DEFAULT_UPLOAD_MB)
        return cls(file_bytes=megabytes * MB, rows=int(MAX_ROWS * scale), csv_cells=int(MAX_CSV_CELLS * scale))


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
    # the decimal separator the user stated ("point" or "comma"); None: recognised from the amounts
    decimal: str | None = None
    # False when no cell can start or end with a space (the CSV reader saw none next to a
    # delimiter or line end): the parser then skips trimming every cell
    padded: bool = True
    # the import's private connection (:func:`quiet_connection`), made by the caller, used by the
    # reader and handed to the parser (which closes it); None: the parser makes its own
    connection: duckdb.DuckDBPyConnection | None = field(default=None, repr=False, compare=False)


def _check_size(size: int, file_name: str, limit_bytes: int) -> None:
    if size > limit_bytes:
        raise BadInput.single(
            file_name,
            f"the file is {size / 1_048_576:.1f} MB, over the upload limit of {limit_bytes / 1_048_576:.0f} MB",
        )


def _check_lines(lines: int, file_name: str, limits: UploadLimits) -> None:
    # counted on the raw bytes before anything is decoded or split: a file of millions of tiny
    # rows costs more to split and check than its size suggests (line numbers, cells, problems)
    if lines > limits.rows + HEADER_SEARCH_RECORDS:
        raise BadInput.single(
            file_name,
            f"the file has {lines:,} lines, more than an upload may hold ({limits.rows:,} rows): "
            "split it into several files",
        )


def quiet_connection(memory_mb: int = PARSER_MEMORY_MB) -> duckdb.DuckDBPyConnection:
    """A private connection for parsing one upload, without the terminal progress bar: a cursor
    of this process's parser database (:func:`parser_database`), whose temporary tables and
    registered Arrow tables no other connection sees. Close it when done (its temporary tables go
    with it). The parser database holds at most ``memory_mb`` in memory for all the uploads the
    process parses at once: past that it spills to a private folder, and where it cannot, it
    raises duckdb.OutOfMemoryException (callers turn it into BadInput with
    :func:`too_large_for_memory`). Raises duckdb.Error when DuckDB cannot start."""
    database = parser_database(memory_mb)
    with _parser_lock:  # a connection is never used by two threads at once, even to make a cursor
        connection = database.cursor()
    connection.execute("SET enable_progress_bar = false")
    return connection


def parser_database(memory_mb: int = PARSER_MEMORY_MB) -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB for parsing uploads with the memory limit ``memory_mb``,
    created on first use and kept (creating a DuckDB database costs ~35 ms of CPU, a cursor on it
    almost nothing: docs/decisions.md). Use it only through :func:`quiet_connection`. A child
    process made by fork gets a new one (DuckDB's threads do not survive a fork). Raises
    duckdb.Error when DuckDB cannot start."""
    # the spill folder is part of the key: a long-running server whose folder was removed (a
    # cleaner of /tmp) gets a new folder and a new database, since a database keeps the folder it
    # was made with and could never spill again
    folder = _spill_folder()
    key = (os.getpid(), int(memory_mb), folder)
    with _parser_lock:
        database = _parser_databases.get(key)
        if database is None:
            for old in [k for k in _parser_databases if k[:2] == key[:2]]:
                del _parser_databases[old]  # freed when its last import's connection closes
            database = duckdb.connect(":memory:", config={
                "memory_limit": f"{int(memory_mb)}MB", "temp_directory": folder, **_ARROW_OUTPUT,
            })
            _parser_databases[key] = database
        return database


# the parser's Arrow results give a DECIMAL(18,4) (the amounts of actuals) as Arrow's decimal64,
# DuckDB's own 8 bytes, instead of the default decimal128: at 1M rows the fetch of the parse's
# DECIMAL(18,4) amounts (revenue, cost, the profit given) touches ~13 MB less (49 -> 36 MB), and the
# store reads revenue and cost without narrowing them again (the profit column it is handed,
# coalesce(profit given, revenue - cost), is always a DECIMAL(19,4) and stays decimal128)
# (docs/decisions.md, issue 17 session 14). The setting is the database's (DuckDB holds it for all its connections); of what the
# parser fetches it changes only the decimals: a DECIMAL of width 9 or less comes as decimal32, read
# only through ``.df()``, which is not Arrow's; a BLOB would come as binary_view (never fetched)
_ARROW_OUTPUT = {"arrow_output_version": "1.5"}


def parsing_session(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """``connection`` (one lent by the store for an import to parse in: its own, not shared) set to
    give its Arrow results as the parser database's connections do (``_ARROW_OUTPUT``, for this
    connection only: the store's other connections keep DuckDB's default), and returned. Raises
    duckdb.Error when DuckDB refuses the setting."""
    for name, value in _ARROW_OUTPUT.items():
        connection.execute(f"SET SESSION {name} = '{value}'")
    return connection


_parser_lock = threading.Lock()
_parser_databases: dict[tuple[int, int, str], duckdb.DuckDBPyConnection] = {}


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

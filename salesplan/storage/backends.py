"""Database backends: what differs between the embedded DuckDB file and a PostgreSQL server.

The store's SQL is written once, in the subset both databases understand (``?`` placeholders,
``DOUBLE PRECISION``, ``DISTINCT ON``, ``INSERT ... ON CONFLICT``, ``information_schema``). A backend
hands out :class:`Cursor` adapters that run that SQL and offer the few operations that must be done
differently: staging a DataFrame or Arrow table as a temporary relation, temporary tables, frames
through Arrow, write locks, retryable errors, and backup/restore of one table as Parquet.

A DuckDB file is held only while operations run, so a command-line import, backup or user command
can run while the dashboard serves (salesplan.storage.duckfile). A process that finds the file held
by another waits for at most :data:`DEFAULT_LOCK_WAIT_SECONDS` (30 s; ``$SALESPLAN_LOCK_WAIT``
overrides it), then raises DatabaseLocked.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from salesplan.errors import BadInput, SalesplanError
from salesplan.storage.duckfile import FileHold, files_cursor, hold_for, limited_memory, shared_limited_memory
from salesplan.storage.workspace import ImportWorkspace, WorkspaceTable

SERVER_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_LOCK_WAIT_SECONDS = 30.0


def lock_wait_seconds() -> float:
    """How long a process waits for a DuckDB file held by another process (``$SALESPLAN_LOCK_WAIT``)."""
    try:
        return max(0.0, float(os.environ.get("SALESPLAN_LOCK_WAIT", DEFAULT_LOCK_WAIT_SECONDS)))
    except ValueError:
        return DEFAULT_LOCK_WAIT_SECONDS


def is_server_url(target: str | os.PathLike[str]) -> bool:
    """Whether the database target names a PostgreSQL server rather than a DuckDB file."""
    # URL schemes are case-insensitive: POSTGRESQL://... must not become a DuckDB file name
    return str(target).strip().lower().startswith(SERVER_SCHEMES)


_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


def _passwords(url: str) -> set[str]:
    """The password of a database URL as written and percent-decoded (in the user part or as
    ``?password=``), or nothing when the URL cannot be parsed."""
    try:
        parts = urlsplit(url)
        found = {parts.password} if parts.password else set()
        found |= {value for key, value in parse_qsl(parts.query, keep_blank_values=False) if key.lower() == "password"}
        found |= {match.group(0).split("=", 1)[1] for match in re.finditer(r"password=[^&]+", parts.query, re.IGNORECASE)}
    except ValueError:
        return set()
    return {text for password in found for text in (password, unquote(password)) if text}


def redact(url: str) -> str:
    """The URL without its password (in the user part or as ``?password=``), for messages and
    ``Store.path``. A URL that cannot be parsed is shown as its scheme only. Raises nothing."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split("://", 1)[0] + "://***"
    netloc = parts.netloc
    if password is not None and "@" in netloc:
        user_info, host = netloc.rsplit("@", 1)
        netloc = f"{user_info.split(':', 1)[0]}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query=_QUERY_PASSWORD.sub(r"\1***", parts.query)))


def scrub(message: str, url: str) -> str:
    """A driver's message with the URL's password (as written and decoded) replaced by ***: some
    drivers quote the connection string or a part of it in their errors. Raises nothing."""
    for password in sorted(_passwords(url), key=len, reverse=True):
        message = message.replace(password, "***")
    return message


class Cursor(Protocol):
    """One connection held for one operation (a read or a transaction), never shared by threads."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        """Run one statement (``?`` placeholders); driver errors pass through to the store."""

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows of the last statement."""

    def df(self) -> pd.DataFrame:
        """The rows of the last statement as a DataFrame, with the same dtypes on every backend."""

    @property
    def description(self) -> Any:
        """Column descriptions of the last statement (``d[0]`` is the name)."""

    def frame(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run a query and return its rows as a DataFrame built through Arrow (less peak memory)."""

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query and return its rows as an Arrow table (what :meth:`frame` converts; a column
        of numbers goes to numpy without a pandas frame's copy); driver errors pass through to the
        store, as :meth:`execute`'s do."""

    def batches(self, sql: str, rows: int) -> Generator[pa.RecordBatch, None, None]:
        """Run a query and yield its rows as Arrow record batches of at most ``rows`` rows: as
        DuckDB gives them (the rest of the result is let go when the iteration ends or is
        closed), whole and then split on PostgreSQL. Driver errors pass through to the store, as
        :meth:`execute`'s do, those raised while the batches are read included."""

    def stage(self, name: str, data: pd.DataFrame | pa.Table | ds.Dataset | WorkspaceTable) -> None:
        """Make ``data`` readable as the relation ``name`` until :meth:`unstage` or the end of
        the transaction (bulk path: a registered view on DuckDB, a temp table filled by COPY on
        PostgreSQL). A dataset of Parquet files (a large import's rows) is read as it is scanned,
        never whole in memory, and may be scanned several times; so is a workspace's table
        (DuckDB only: it is in the same instance). Raises TypeError for a workspace's table on
        another backend."""

    def unstage(self, name: str) -> None:
        """Forget a relation made by :meth:`stage`."""

    def temp_table(self, name: str, select: str, params: Sequence[Any] | None = None) -> None:
        """(Re)create the temporary table ``name`` from a SELECT, for this transaction."""

    def table_names(self) -> list[str]:
        """The store's own tables (no temporary ones), sorted."""


class Backend(Protocol):
    """A database the store can run on."""

    dialect: str
    path: str  # what messages show: the file, or the URL without its password
    write_lock: Any  # orders this process's writers (threads) before they reach the database

    def cursor(self) -> Any:
        """A context manager yielding a :class:`Cursor`; raises DatabaseLocked or SalesplanError
        when the database cannot be reached."""

    def close(self) -> None: ...

    def limited_memory(self, megabytes: int | None) -> AbstractContextManager[None]:
        """While open, the database's work for this process holds at most ``megabytes`` more in
        this process's memory and spills the rest to disk (None: no limit). Only an embedded
        DuckDB file runs in the process; a server's memory is its own."""

    def import_workspace(self, memory_mb: int) -> AbstractContextManager[ImportWorkspace | None]:
        """A context manager yielding a workspace in the database's own DuckDB for an import to
        parse a file in (salesplan.storage.workspace), a large parse kept there holding at most
        ``memory_mb``; None where the database is not an embedded DuckDB. Raises SalesplanError
        when DuckDB cannot make it or let it go (an error of the work inside is raised as it is)."""

    def begin_sql(self, snapshot: bool) -> str:
        """The statement that opens a transaction (``snapshot``: one consistent read-only view)."""

    def lock_writes(self, cursor: Cursor) -> None:
        """Serialise writers across processes for the rest of the transaction."""

    def is_retryable(self, error: BaseException) -> bool:
        """Whether a failed transaction may simply be run again (conflict, deadlock)."""

    def translate(self, error: BaseException, action: str) -> SalesplanError | None:
        """The project's error for a driver error, or None to let it pass."""

    def translate_read(self, error: BaseException) -> SalesplanError | None:
        """The project's error for a driver error of a read that says the database is busy (a
        DatabaseBusy), or None to let it pass."""

    def migration_sql(self, version: int, sql: str) -> str:
        """The SQL of a migration for this backend (same versions on every backend)."""

    def sequences(self, cursor: Cursor) -> dict[str, int | None]:
        """Each sequence's last value handed out (None: never used)."""

    def set_sequence(self, cursor: Cursor, name: str, value: int) -> None:
        """Make the sequence hand out ``value + 1`` next."""

    def backup_table(self, cursor: Cursor, name: str, path: Path) -> None:
        """Write one table as a Parquet file."""

    def restore_table(self, cursor: Cursor, name: str, path: Path) -> None:
        """Append the rows of a Parquet file written by any backend to one (emptied) table."""


# duckdb_tables() rather than information_schema.tables (a view over every catalog object):
# ~1.4 ms instead of ~3.8; this file's own tables only (the process's database may have others
# attached), no temporary ones
_TABLE_NAMES = (
    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
    "AND schema_name = current_schema() AND NOT temporary ORDER BY table_name"
)


# DuckDB's errors by the start of their message, as Arrow's reader reports them (DuckCursor.batches)
_READ_ERRORS: tuple[tuple[str, type[duckdb.Error]], ...] = (
    ("Out of Memory Error:", duckdb.OutOfMemoryException),
    ("Conversion Error:", duckdb.ConversionException),
    ("Out of Range Error:", duckdb.OutOfRangeException),
    ("Constraint Error:", duckdb.ConstraintException),
    ("Invalid Input Error:", duckdb.InvalidInputException),
)


class DuckCursor:
    """A DuckDB connection behind the shared cursor interface (and everything DuckDB's own has)."""

    dialect = "duckdb"

    def __init__(self, native: duckdb.DuckDBPyConnection):
        self.native = native
        self._views: set[str] = set()  # relations staged as views (Parquet files, a workspace's tables)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> DuckCursor:
        self.native.execute(sql, params)
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.native.fetchall()

    def df(self) -> pd.DataFrame:
        return self.native.df()

    @property
    def description(self) -> Any:
        return self.native.description

    def frame(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.arrow(sql, params).to_pandas()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.native.sql(sql, params=params or None).to_arrow_table()

    def batches(self, sql: str, rows: int) -> Generator[pa.RecordBatch, None, None]:
        reader = self.native.sql(sql).to_arrow_reader(rows)
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowException, OSError) as error:
                    # DuckDB's error as Arrow reports it while reading ("Out of Memory Error: ..."):
                    # the driver's own class again, so that the store translates it
                    kind = next((kind for prefix, kind in _READ_ERRORS if str(error).startswith(prefix)), duckdb.Error)
                    raise kind(str(error)) from error
                yield batch
        finally:
            reader.close()  # (the connection runs nothing else while a result is open)

    def stage(self, name: str, data: pd.DataFrame | pa.Table | ds.Dataset | WorkspaceTable) -> None:
        if isinstance(data, WorkspaceTable):
            # an import's rows where its workspace left them, in this same DuckDB instance
            self.native.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM {data.relation}')
            self._views.add(name)
            return
        files = _parquet_files(data)
        if files is None:
            self.native.register(name, data)
            return
        # DuckDB's own Parquet reader: an Arrow scan of a dataset is planned as ~1 row (it cannot
        # count it), so a join made the dataset's millions of rows its hash table
        paths = ", ".join("'" + sql_path(Path(file)) + "'" for file in files)
        self.native.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM read_parquet([{paths}])')
        self._views.add(name)

    def unstage(self, name: str) -> None:
        if name in self._views:
            self._views.discard(name)
            self.native.execute(f'DROP VIEW IF EXISTS "{name}"')
        else:
            self.native.unregister(name)

    def temp_table(self, name: str, select: str, params: Sequence[Any] | None = None) -> None:
        self.native.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}", params)

    def table_names(self) -> list[str]:
        return [row[0] for row in self.native.execute(_TABLE_NAMES).fetchall()]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.native, name)


def _parquet_files(data: object) -> list[str] | None:
    """The files of a dataset of Parquet files (a large import's rows), else None."""
    if isinstance(data, ds.FileSystemDataset) and isinstance(data.format, ds.ParquetFileFormat):
        return list(data.files)
    return None


def _is_conflict(error: BaseException) -> bool:
    return isinstance(error, duckdb.TransactionException) or (
        isinstance(error, duckdb.Error) and "conflict" in str(error).lower()
    )


def sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


class DuckDBBackend:
    """An embedded DuckDB file, held only while operations run (salesplan.storage.duckfile);
    ``:memory:`` keeps one connection."""

    dialect = "duckdb"

    def __init__(self, path: str):
        self.path = path
        self._memory: duckdb.DuckDBPyConnection | None = None
        self._hold: FileHold | None = None
        if path == ":memory:":
            self._memory = duckdb.connect(":memory:")
            self.write_lock: Any = threading.RLock()
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._hold = hold_for(path, lock_wait_seconds)
            self.write_lock = self._hold.write_lock

    @contextmanager
    def cursor(self) -> Iterator[DuckCursor]:
        if self._memory is not None:
            native = self._memory.cursor()
            try:
                native.execute("SET enable_progress_bar = false")
                yield DuckCursor(native)
            finally:
                native.close()
            return
        assert self._hold is not None
        native = self._hold.acquire()  # pointed at the file, without the progress bar
        try:
            yield DuckCursor(native)
        finally:
            self._hold.release(native)

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()
        elif self._hold is not None:
            self._hold.close()

    def limited_memory(self, megabytes: int | None) -> AbstractContextManager[None]:
        # ``:memory:`` (tests) has no spill folder of its own: it is left unlimited
        if megabytes is None or self._hold is None:
            return nullcontext()
        return limited_memory(megabytes)

    @contextmanager
    def import_workspace(self, memory_mb: int) -> Iterator[ImportWorkspace | None]:
        try:
            if self._memory is not None:  # (``:memory:``, tests: no spill folder, left unlimited)
                memory_database = self._memory
                workspace = ImportWorkspace(memory_database.cursor, nullcontext)
            else:
                path = self.path
                workspace = ImportWorkspace(lambda: files_cursor(path), lambda: shared_limited_memory("parse", memory_mb))
        except duckdb.Error as error:  # (the driver's error, translated at the store's boundary)
            raise SalesplanError(f"Cannot make a workspace for the import in {self.path}: {error}") from error
        try:
            yield workspace
        except BaseException:
            # the import's own error is what its caller sees, even when letting the workspace go fails
            with suppress(duckdb.Error):
                workspace.close()
            raise
        try:
            workspace.close()
        except duckdb.Error as error:  # (translated at the store's boundary, as above)
            raise SalesplanError(f"Cannot let the import's workspace go in {self.path}: {error}") from error

    def begin_sql(self, snapshot: bool) -> str:
        return "BEGIN TRANSACTION"  # every DuckDB transaction reads one snapshot

    def lock_writes(self, cursor: Cursor) -> None:
        # one process holds the file at a time and the store's write lock orders its threads
        return None

    def is_retryable(self, error: BaseException) -> bool:
        return _is_conflict(error)

    def translate(self, error: BaseException, action: str) -> SalesplanError | None:
        if isinstance(error, duckdb.ConstraintException):
            return BadInput.single(action, f"refused by the database: {error}")
        if isinstance(error, duckdb.OutOfMemoryException):
            # a write that did not fit in the memory a large import's write limits this process to,
            # even spilling to disk: that import's own, or another write running beside it
            return BadInput.single(
                action, "the write did not fit in the memory allowed while a large upload is written, even "
                "spilling to disk (nothing was written): try again once no large upload is running, split a "
                "large file into smaller ones, or free disk space next to the database",
            )
        if isinstance(error, (duckdb.ConversionException, duckdb.OutOfRangeException)):
            # a value the column cannot hold (the store checks first; this is the last guard)
            return BadInput.single(action, f"a value the database cannot hold: {error}")
        return None

    def translate_read(self, error: BaseException) -> SalesplanError | None:
        if isinstance(error, duckdb.OutOfMemoryException):
            from salesplan.storage.base import DatabaseBusy  # base.py builds on this module

            # the memory limit belongs to the whole files database (duckfile.limited_memory): while
            # a large upload's write holds it, a read that cannot spill enough fails the same way
            return DatabaseBusy(
                f"The database {self.path} is busy writing a large upload, and this read did not fit in the "
                "memory left beside it: try again in a moment."
            )
        return None

    def migration_sql(self, version: int, sql: str) -> str:
        return sql

    def sequences(self, cursor: Cursor) -> dict[str, int | None]:
        # the process's database may have other files attached: this file's sequences only
        rows = cursor.execute(
            "SELECT sequence_name, last_value FROM duckdb_sequences() WHERE database_name = current_database()"
        ).fetchall()
        return {name: None if value is None else int(value) for name, value in rows}

    def set_sequence(self, cursor: Cursor, name: str, value: int) -> None:
        cursor.execute(f"CREATE OR REPLACE SEQUENCE {name} START {int(value) + 1}")

    def backup_table(self, cursor: Cursor, name: str, path: Path) -> None:
        cursor.execute(f"COPY (SELECT * FROM \"{name}\") TO '{sql_path(path)}' (FORMAT parquet)")

    def restore_table(self, cursor: Cursor, name: str, path: Path) -> None:
        # by name, as PostgreSQL's COPY names the file's columns: a backup taken before a column
        # was added (actual_versions.is_current, migration 80) fills it with its default
        cursor.execute(f"INSERT INTO \"{name}\" BY NAME SELECT * FROM read_parquet('{sql_path(path)}')")


def open_backend(target: str) -> Backend:
    """The backend for a file path, ``:memory:`` or a ``postgresql://`` URL.

    Raises SalesplanError when the target cannot be used.
    """
    if is_server_url(target):
        from salesplan.storage.postgres import PostgresBackend

        return PostgresBackend(target)
    return DuckDBBackend(target)

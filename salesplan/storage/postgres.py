"""The PostgreSQL backend (psycopg 3): the store's shared SQL on a server database.

* ``?`` placeholders become psycopg's ``%s`` (literal ``%`` doubled); numpy and pandas scalars are
  passed as plain Python values.
* Bulk rows (actuals, targets, their versions, restores) travel by ``COPY ... FROM STDIN`` in CSV
  written by Arrow, into a temporary staging table; never row by row. They are converted and
  written a batch at a time, and a file given as a dataset (a large import's rows) is read a
  batch at a time: never a second whole copy in memory.
* Writers are serialised across processes by a transaction-scoped advisory lock, so two uploads
  of overlapping files diff against each other's committed rows and nothing is counted twice;
  readers are never blocked (MVCC). Serialization failures and deadlocks are retried.
* Frames are built through Arrow and DuckDB's converter, so a query returns the same dtypes here
  as on the DuckDB backend.
* Connections are pooled per process (a few idle ones kept), one per operation.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from salesplan.errors import BadInput, SalesplanError
from salesplan.storage.backends import Cursor, redact, scrub
from salesplan.storage.workspace import ImportWorkspace, WorkspaceTable

WRITE_LOCK_KEY = 7_246_153_001  # the advisory lock "the store is writing" (advisory locks are per database)
MAX_IDLE_CONNECTIONS = 4
CSV_CHUNK_ROWS = 65_536

# migrations of DuckDB's storage only (salesplan/migrations_ledger.py): the columns' compression (83, 84)
DUCKDB_ONLY = frozenset({83, 84})
# Indexes the embedded DuckDB does better without (see migrations.py) but a server needs for
# small uploads and undo against a big ledger; same migration versions on both backends.
EXTRA_DDL = {
    1: """
        CREATE INDEX actuals_row_key ON actuals (row_key);
        CREATE INDEX actual_versions_row_key ON actual_versions (row_key);
        CREATE INDEX actual_versions_batch ON actual_versions (batch_id);
        CREATE INDEX target_versions_batch ON target_versions (batch_id);
        CREATE INDEX targets_cell ON targets (owner_type, owner_id, metric, month);
    """,
    6: """
        CREATE INDEX actual_batch_holds_source ON actual_batch_holds (source_batch_id);
        CREATE INDEX actual_key_holds_batch ON actual_key_holds (batch_id);
        CREATE INDEX actual_key_holds_row_key ON actual_key_holds (row_key);
    """,
    # the current ledger (the view ``actuals``): its row_key lookups (imports, undo) read this
    80: """
        CREATE INDEX actual_versions_current ON actual_versions (row_key) WHERE is_current;
    """,
    # the versions without keys, which every import looks for (ledger.py): none, usually
    82: """
        CREATE INDEX actual_versions_unkeyed ON actual_versions (batch_id) WHERE rep_key IS NULL OR territory_key IS NULL;
    """,
}

_OID_TYPES = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 700: pa.float32(),
    701: pa.float64(), 1700: pa.float64(), 1082: pa.date32(), 1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
_frames_lock = threading.Lock()
_frames: duckdb.DuckDBPyConnection | None = None


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders outside quotes become ``%s``; every literal ``%`` becomes ``%%``."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if char == "%":
            out.append("%%")
        elif quote:
            out.append(char)
            if char == quote:
                quote = ""
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        else:
            out.append("%s" if char == "?" else char)
    return "".join(out)


def _plain(value: Any) -> Any:
    """A parameter as psycopg adapts it (DuckDB accepts numpy and pandas scalars; psycopg not)."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arrow_table(description: Sequence[Any], rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows)) if rows else [() for _ in description]
    arrays = []
    for column, values in zip(description, columns, strict=True):
        kind = _OID_TYPES.get(column.type_code, pa.string())
        if column.type_code == 1700:
            values = tuple(None if v is None else float(v) for v in values)
        elif kind == pa.string():
            # text, and types without an Arrow counterpart (uuid, json, intervals) as their text
            values = tuple(v if v is None or isinstance(v, str) else str(v) for v in values)
        arrays.append(pa.array(values, type=kind))
    return pa.Table.from_arrays(arrays, names=[column.name for column in description])


def _duckdb_frame(table: pa.Table) -> pd.DataFrame:
    """The frame DuckDB's ``.df()`` would give for these columns (same dtypes on both backends)."""
    global _frames
    with _frames_lock:
        if _frames is None:
            _frames = duckdb.connect(":memory:")
        converter = _frames.cursor()
    try:
        return converter.from_arrow(table).df()
    finally:
        converter.close()


def _pg_type(kind: pa.DataType) -> str:
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE PRECISION"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_date(kind):
        return "DATE"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    if pa.types.is_decimal(kind):
        return f"NUMERIC({kind.precision},{kind.scale})"
    return "VARCHAR"


def _as_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    """A frame as an Arrow table (columns Arrow cannot type become text); a table as it is."""
    if isinstance(data, pd.DataFrame):
        arrays = []
        for name in data.columns:
            try:
                arrays.append(pa.array(data[name], from_pandas=True))
            except (pa.ArrowException, TypeError, ValueError):
                arrays.append(pa.array(data[name].map(lambda v: None if pd.isna(v) else str(v)), type=pa.string()))
        data = pa.Table.from_arrays(arrays, names=[str(name) for name in data.columns])
    return data


def _copy_type(kind: pa.DataType) -> pa.DataType:
    """The Arrow type a column is written to COPY in: dictionaries as their values, timestamps in
    microseconds, nulls and other string layouts as plain strings."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us")
    if pa.types.is_null(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    return kind


def _batches(data: pd.DataFrame | pa.Table | ds.Dataset) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The columns COPY takes and the rows as batches of at most CSV_CHUNK_ROWS, each converted as
    it comes: a dictionary-encoded column is decoded one batch at a time, and a dataset (a file of
    millions of rows) is read one batch at a time, never whole in memory."""
    if isinstance(data, ds.Dataset):
        source_schema = data.schema
        # one batch at a time, read on this thread (pyarrow's default reads 16 ahead on a pool)
        batches: Iterator[pa.RecordBatch] = iter(data.to_batches(
            batch_size=CSV_CHUNK_ROWS, batch_readahead=0, fragment_readahead=1, use_threads=False,
        ))
    else:
        table = _as_arrow(data)
        source_schema = table.schema
        batches = iter(table.to_batches(max_chunksize=CSV_CHUNK_ROWS))
    schema = pa.schema([(field.name, _copy_type(field.type)) for field in source_schema])

    def converted() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield pa.RecordBatch.from_arrays(
                [column if column.type == field.type else column.cast(field.type)
                 for column, field in zip(batch.columns, schema, strict=True)],
                schema=schema,
            )

    return schema, converted()


def _copy_in(cursor: psycopg.Cursor[Any], name: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
    """Append Arrow batches to ``name`` through COPY in CSV (Arrow writes each batch)."""
    names = ", ".join(f'"{column}"' for column in schema.names)
    options = pacsv.WriteOptions(include_header=False)
    with cursor.copy(f'COPY "{name}" ({names}) FROM STDIN (FORMAT csv)') as copy:
        for batch in batches:
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getvalue())


def _copy_out(cursor: psycopg.Cursor[Any], statement: str, params: list[Any] | None, schema: pa.Schema) -> pa.Table:
    """The rows of ``COPY (...) TO STDOUT (FORMAT csv)`` parsed by Arrow into ``schema``."""
    buffer = io.BytesIO()
    with cursor.copy(statement, params) as copy:
        for data in copy:
            buffer.write(data)
    if buffer.tell() == 0:
        return schema.empty_table()
    buffer.seek(0)
    return pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=schema.names),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=schema, true_values=["t"], false_values=["f"],
            strings_can_be_null=True, quoted_strings_can_be_null=False,
        ),
    ).cast(schema)


class PgCursor:
    """A PostgreSQL connection behind the shared cursor interface."""

    dialect = "postgres"

    def __init__(self, connection: psycopg.Connection[Any]):
        self.connection = connection
        self.native = connection.cursor()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        if params is None:
            self.native.execute(sql.encode())  # bytes: no placeholder parsing, several statements allowed
        else:
            self.native.execute(to_pyformat(sql), [_plain(value) for value in params])
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.native.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.native.fetchone()

    @property
    def description(self) -> Any:
        return self.native.description

    def _arrow(self) -> pa.Table:
        return _arrow_table(self.native.description or [], self.native.fetchall())

    def df(self) -> pd.DataFrame:
        return _duckdb_frame(self._arrow())

    def frame(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return self.arrow(sql, params).to_pandas()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        # big reads (the engine's daily actuals) travel as COPY text parsed by Arrow, not as
        # Python tuples: the column types come from the same query with LIMIT 0
        values = None if params is None else [_plain(value) for value in params]
        query = to_pyformat(sql) if values is not None else sql
        self.native.execute(f"SELECT * FROM ({query}) AS q LIMIT 0", values)
        schema = pa.schema([(column.name, _OID_TYPES.get(column.type_code, pa.string()))
                            for column in self.native.description or []])
        return _copy_out(self.native, f"COPY ({query}) TO STDOUT (FORMAT csv)", values, schema)

    def batches(self, sql: str, rows: int) -> Generator[pa.RecordBatch, None, None]:
        yield from self.arrow(sql).to_batches(max_chunksize=rows)

    def stage(self, name: str, data: pd.DataFrame | pa.Table | ds.Dataset | WorkspaceTable) -> None:
        if isinstance(data, WorkspaceTable):  # (a server lends no workspace: see import_workspace)
            raise TypeError("a workspace's table is read by the embedded DuckDB that holds it, not by PostgreSQL")
        schema, batches = _batches(data)
        columns = ", ".join(f'"{field.name}" {_pg_type(field.type)}' for field in schema)
        self.native.execute(f'DROP TABLE IF EXISTS "{name}"'.encode())
        self.native.execute(f'CREATE TEMP TABLE "{name}" ({columns}) ON COMMIT DROP'.encode())
        _copy_in(self.native, name, schema, batches)
        # temp tables have no statistics: without them the planner may nest-loop a big join
        self.native.execute(f'ANALYZE "{name}"'.encode())

    def unstage(self, name: str) -> None:
        self.native.execute(f'DROP TABLE IF EXISTS "{name}"'.encode())

    def temp_table(self, name: str, select: str, params: Sequence[Any] | None = None) -> None:
        self.native.execute(f'DROP TABLE IF EXISTS "{name}"'.encode())
        self.execute(f'CREATE TEMP TABLE "{name}" ON COMMIT DROP AS {select}', params)
        self.native.execute(f'ANALYZE "{name}"'.encode())

    def table_names(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        return [row[0] for row in rows]


def _arrow_column_type(data_type: str, precision: int | None, scale: int | None) -> pa.DataType:
    """The Arrow type DuckDB's Parquet writer uses for a column of this declared type."""
    return {
        "bigint": pa.int64(), "integer": pa.int32(), "smallint": pa.int16(), "boolean": pa.bool_(),
        "date": pa.date32(), "timestamp without time zone": pa.timestamp("us"),
        "double precision": pa.float64(), "real": pa.float32(),
    }.get(data_type) or (
        pa.decimal128(precision or 38, scale or 0) if data_type == "numeric" else pa.string()
    )


class PostgresBackend:
    """A PostgreSQL database named by a ``postgresql://`` URL."""

    dialect = "postgres"

    def __init__(self, url: str):
        self.url = url
        self.path = redact(url)
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        # threads queue here instead of each holding a connection while waiting for the advisory lock
        self.write_lock = threading.RLock()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            # statements are not prepared: staging tables are dropped and created again all the time
            return psycopg.connect(self.url, autocommit=True, prepare_threshold=None, connect_timeout=10)
        except psycopg.Error as error:
            raise SalesplanError(f"Cannot reach the database {self.path}: {scrub(str(error), self.url)}") from error

    @contextmanager
    def cursor(self) -> Iterator[PgCursor]:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None or connection.closed:
            connection = self._connect()
        try:
            yield PgCursor(connection)
        finally:
            reusable = not connection.closed and connection.info.transaction_status == TransactionStatus.IDLE
            with self._lock:
                if reusable and len(self._idle) < MAX_IDLE_CONNECTIONS:
                    self._idle.append(connection)
                    connection = None
            if connection is not None:
                connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def limited_memory(self, megabytes: int | None) -> AbstractContextManager[None]:
        return nullcontext()  # the server's memory is its own configuration

    def import_workspace(self, memory_mb: int) -> AbstractContextManager[ImportWorkspace | None]:
        # an import parses in its own private DuckDB and hands the rows over as Arrow or Parquet:
        # the server's database is in another process
        return nullcontext(None)

    def begin_sql(self, snapshot: bool) -> str:
        return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if snapshot else "BEGIN"

    def lock_writes(self, cursor: Cursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY])

    def is_retryable(self, error: BaseException) -> bool:
        return isinstance(error, (pg_errors.SerializationFailure, pg_errors.DeadlockDetected))

    def translate(self, error: BaseException, action: str) -> SalesplanError | None:
        if isinstance(error, pg_errors.IntegrityError):
            return BadInput.single(action, f"refused by the database: {scrub(str(error), self.url)}")
        if isinstance(error, psycopg.DataError):
            # a value the column cannot hold (the store checks first; this is the last guard)
            return BadInput.single(action, f"a value the database cannot hold: {error}")
        if isinstance(error, psycopg.OperationalError):
            return SalesplanError(
                f"The database {self.path} failed during {action or 'an operation'}: {scrub(str(error), self.url)}"
            )
        return None

    def translate_read(self, error: BaseException) -> SalesplanError | None:
        return None  # the server's memory is its own: no upload's write limits a read here

    def migration_sql(self, version: int, sql: str) -> str:
        if version in DUCKDB_ONLY:
            return "SELECT 1"  # recorded as applied: nothing of it concerns PostgreSQL
        return sql + EXTRA_DDL.get(version, "")

    def sequences(self, cursor: Cursor) -> dict[str, int | None]:
        rows = cursor.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()"
        ).fetchall()
        return {name: None if value is None else int(value) for name, value in rows}

    def set_sequence(self, cursor: Cursor, name: str, value: int) -> None:
        cursor.execute("SELECT setval(?, ?)", [name, int(value)])

    def backup_table(self, cursor: Cursor, name: str, path: Path) -> None:
        columns = cursor.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        schema = pa.schema([(column, _arrow_column_type(kind, p, s)) for column, kind, p, s in columns])
        assert isinstance(cursor, PgCursor)
        # a query, not the bare name: COPY reads no view (the current ledger ``actuals`` is one)
        pq.write_table(_copy_out(cursor.native, f'COPY (SELECT * FROM "{name}") TO STDOUT (FORMAT csv)', None, schema), path)

    def restore_table(self, cursor: Cursor, name: str, path: Path) -> None:
        assert isinstance(cursor, PgCursor)
        _copy_in(cursor.native, name, *_batches(ds.dataset(path, format="parquet")))


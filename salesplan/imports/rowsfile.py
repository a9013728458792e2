"""The rows file of a large import: the parsed rows written to a Parquet file in the parser's spill
folder, which the store reads as it writes (:func:`_write_rows_file`)."""

from __future__ import annotations

import contextlib
import os
import tempfile

import duckdb
import pyarrow.parquet as pq


# rows per batch (and Parquet row group) of the rows file (~18 MB each at the benchmark's row
# width): one batch at a time is in memory while it is written
_BATCH_ROWS = 131_072
# the texts written that repeat from row to row (a few thousand reps, territories, products,
# customers; one or two currencies and order lines): dictionary-encoded in the rows file
_REPEATED_TEXTS = ("rep_id", "territory", "order_line", "customer", "product", "currency")


def _write_rows_file(connection: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The rows of ``sql`` written batch by batch to a new Parquet file in the parser's spill folder
    (private to this process), its path returned; the caller removes it (:func:`_remove`). Plain
    Parquet: no compression or statistics, dictionaries for the repeated texts only, so writing
    costs little (DuckDB's own compressed writer ~1.5 CPU-s per million rows), while the store's
    DuckDB reads it natively (in parallel, only the columns a statement needs, knowing its row
    count for its plans, the repeated texts as dictionaries: its insert at 10.8M rows took ~24
    CPU-s from such a file, ~28 from plain texts). Raises duckdb.Error or OSError when it cannot be written (nothing is
    left behind)."""
    folder = connection.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] or None
    handle, path = tempfile.mkstemp(prefix="salesplan-rows-", suffix=".parquet", dir=folder)
    os.close(handle)
    try:
        reader = connection.sql(sql).to_arrow_reader(_BATCH_ROWS)
        repeated = [name for name in _REPEATED_TEXTS if name in reader.schema.names]
        with pq.ParquetWriter(path, reader.schema, compression="none", use_dictionary=repeated,
                              write_statistics=False) as writer:
            for batch in reader:
                writer.write_batch(batch, row_group_size=_BATCH_ROWS)
    except BaseException:
        _remove(path)
        raise
    return path


def _remove(path: str | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

"""``Cursor.batches``: a query's rows as Arrow record batches of a bounded size, and an error met
while they are read is the driver's own, of its own class, which the store translates
(salesplan/storage/backends.py; DuckDB's reader reports it as Arrow's OSError otherwise), on
every backend."""

from __future__ import annotations

import duckdb
import psycopg
import pytest


def test_batches_give_every_row_and_an_error_met_midway_is_the_drivers(org):
    duck = org.dialect == "duckdb"
    rows = 3_000_000 if duck else 300_000  # (PostgreSQL's rows travel whole first: fewer)
    numbers = f"range({rows}) r(i)" if duck else f"generate_series(0, {rows - 1}) r(i)"
    bad = rows * 5 // 6
    with org.cursor() as cursor:
        sizes = [batch.num_rows for batch in cursor.batches(f"SELECT i FROM {numbers}", 65_536)]
        assert sum(sizes) == rows and max(sizes) <= 65_536
        if duck:  # one thread: the first rows are handed over before the failing one is cast
            cursor.execute("SET threads = 1")
        failing = f"SELECT CASE WHEN i < {bad} THEN i ELSE CAST('x' || i AS INTEGER) END AS v FROM {numbers}"
        read = 0
        try:
            with pytest.raises(duckdb.ConversionException if duck else psycopg.Error, match=f"(?i)x{bad}"):
                for batch in cursor.batches(failing, 1_024):
                    read += batch.num_rows
        finally:
            if duck:
                cursor.execute("RESET threads")
        assert read < bad
        assert (read > 0) == duck  # DuckDB's met midway; PostgreSQL's before any row

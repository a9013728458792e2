"""``Cursor.batches``: a query's rows as Arrow record batches of a bounded size, and an error met
while they are read is the driver's own, which the store translates (salesplan/storage/backends.py;
DuckDB's reader reports it as Arrow's OSError otherwise), on every backend."""

from __future__ import annotations

import duckdb
import psycopg
import pytest


def test_batches_give_every_row_and_an_error_met_midway_is_the_drivers(org):
    duck = org.dialect == "duckdb"
    numbers = "range(300000) r(i)" if duck else "generate_series(0, 299999) r(i)"
    with org.cursor() as cursor:
        sizes = [batch.num_rows for batch in cursor.batches(f"SELECT i FROM {numbers}", 65_536)]
        assert sum(sizes) == 300_000 and max(sizes) <= 65_536
        # (on DuckDB the first rows arrive before the failing one is cast)
        failing = f"SELECT CASE WHEN i < 150000 THEN i ELSE CAST('x' || i AS INTEGER) END AS v FROM {numbers}"
        read = 0
        with pytest.raises(duckdb.Error if duck else psycopg.Error, match="(?i)x150000"):
            for batch in cursor.batches(failing, 1_024):
                read += batch.num_rows
        assert read < 150_000
        if duck:
            assert read > 0  # met midway, not when the query began
            assert cursor.execute("SELECT 42").fetchall() == [(42,)]  # the result was let go

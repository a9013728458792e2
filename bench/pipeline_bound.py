"""A bound, not the product: the actuals file imported and re-imported as one DuckDB pipeline in a
database of the ledger's shape (BENCHMARKS.md, "Issue 17, fourteenth session").

    python -m bench.pipeline_bound duck     DB CSV   # DuckDB's own CREATE TABLE AS read_csv
    python -m bench.pipeline_bound import   DB CSV   # read once, checks, insert of 19 columns
    python -m bench.pipeline_bound reimport DB CSV   # read once, join with the current ledger, count

CSV is a generated actuals file (``python -m bench.generate``: date, rep, order_id, line, customer,
product, territory, revenue, cost). ``--simple`` leaves out what the closer version does besides
(each row's line as its position in a temporary table the file is read into once, the reps' lookup
by a join, the territories checked, a flag of the rows to look at again) and reads the file in each
statement. Left out in both: each problem's line, column and reason, keys by occurrence,
currencies, the uploader's scope. Prints wall and CPU seconds per statement; run it under
``/usr/bin/time -v`` for the peak.
"""

from __future__ import annotations

import argparse
import os
import time

import duckdb

_COLUMNS = ("date", "rep", "order_id", "line", "customer", "product", "territory", "revenue", "cost")

_LEDGER = """CREATE TABLE IF NOT EXISTS actual_versions(batch_id BIGINT NOT NULL,
    row_key VARCHAR USING COMPRESSION zstd NOT NULL, line BIGINT, sale_date DATE NOT NULL, rep_id VARCHAR NOT NULL,
    territory VARCHAR, revenue DECIMAL(18,4) NOT NULL, "cost" DECIMAL(18,4), profit DECIMAL(18,4),
    order_id VARCHAR USING COMPRESSION Uncompressed, order_line VARCHAR, customer VARCHAR, product VARCHAR,
    currency VARCHAR, territory_from_file BOOLEAN, is_current BOOLEAN, row_hash BIGINT, rep_key INTEGER,
    territory_key INTEGER)"""


def _timed(label: str, con: duckdb.DuckDBPyConnection, sql: str) -> list:
    wall, cpu = time.perf_counter(), time.process_time()
    rows = con.execute(sql).fetchall()
    print(f"{label:28s} wall {time.perf_counter() - wall:6.2f} s  cpu {time.process_time() - cpu:6.2f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_bound")
    parser.add_argument("mode", choices=("duck", "import", "reimport"))
    parser.add_argument("db")
    parser.add_argument("csv")
    parser.add_argument("--simple", action="store_true", help="no line numbers, reps' join or territory check")
    args = parser.parse_args(argv)
    csv = args.csv.replace("'", "''")
    if args.mode == "duck":
        for suffix in ("", ".wal"):
            if os.path.exists(args.db + suffix):
                os.remove(args.db + suffix)
        con = duckdb.connect(args.db)
        con.execute("SET enable_progress_bar = false")
        _timed("duckdb load", con, f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')")
        return 0
    con = duckdb.connect(args.db)
    con.execute("SET enable_progress_bar = false; SET memory_limit = '1200MB'")
    # stand-ins for the reps and territories lists (the generated files' names and more)
    con.execute("CREATE TEMP TABLE reps AS SELECT printf('R%05d', i) AS rep_id FROM range(100000) t(i) "
                "UNION ALL SELECT printf('R%03d', i) FROM range(1000) t(i)")
    con.execute("CREATE TEMP TABLE territories AS SELECT printf('T%03d', i) AS territory FROM range(1000) t(i)")
    columns = ", ".join(f"'{name}': 'VARCHAR'" for name in _COLUMNS)
    source = (f"read_csv('{csv}', header = true, auto_detect = false, all_varchar = true, parallel = true, "
              f"columns = {{{columns}}})")
    typed = ("SELECT try_cast(date AS DATE) AS sale_date, rep AS rep_id, order_id, line AS order_line, customer, "
             "product, territory, try_cast(revenue AS DECIMAL(18,4)) AS revenue, try_cast(cost AS DECIMAL(18,4)) AS cost, "
             f"'o|' || order_id || '|' || line AS row_key FROM {source}")
    wall, cpu = time.perf_counter(), time.process_time()
    if args.simple:
        line, suspect = "NULL", "(sale_date IS NULL OR revenue IS NULL OR cost IS NULL OR rep_id IS NULL)"
    else:
        # DuckDB's CSV reader gives no line numbers and row_number() OVER () runs on one thread: a
        # temporary table keeps the file's order, its rowid is the record's position
        _timed("read into a temporary table", con, f"CREATE TEMP TABLE cells AS {typed}")
        typed = ("SELECT x.*, r.rep_id AS known_rep FROM (SELECT *, rowid + 2 AS n FROM cells) x "
                 "LEFT JOIN reps r ON r.rep_id = x.rep_id")
        line = "n"
        suspect = ("(sale_date IS NULL OR revenue IS NULL OR known_rep IS NULL "
                   "OR territory NOT IN (SELECT territory FROM territories))")
    fingerprint = "hash(rep_id, territory, customer, product) >> 1"
    if args.mode == "import":
        con.execute(_LEDGER)
        _timed("checks", con, f"SELECT count(*) FILTER (WHERE {suspect}), count(*) - count(DISTINCT hash(row_key)) "
                              f"FROM ({typed})")
        _timed("insert", con, f"INSERT INTO actual_versions SELECT 1, row_key, {line}, sale_date, rep_id, territory, "
                              "revenue, cost, revenue - cost, order_id, order_line, customer, product, 'EUR', true, "
                              f"true, {fingerprint}, NULL, NULL FROM ({typed})")
    else:
        _timed("comparison", con, f"""SELECT count(*) FILTER (WHERE a.row_key IS NULL),
            count(*) FILTER (WHERE a.revenue IS DISTINCT FROM s.revenue OR a.cost IS DISTINCT FROM s.cost
                OR a.sale_date IS DISTINCT FROM s.sale_date OR a.row_hash IS DISTINCT FROM s.fp),
            count(*) FILTER (WHERE s.suspect), count(*) - count(DISTINCT hash(s.row_key))
            FROM (SELECT *, {fingerprint} AS fp, {suspect} AS suspect FROM ({typed})) s
            LEFT JOIN (SELECT row_key, sale_date, revenue, cost, row_hash FROM actual_versions WHERE is_current) a
            ON a.row_key = s.row_key""")
    print(f"{args.mode + ' in all':28s} wall {time.perf_counter() - wall:6.2f} s  cpu {time.process_time() - cpu:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Storage benchmark: the same organisation on DuckDB and on PostgreSQL, side by side in one run.

    python -m bench.storage                  # size M (1,000 reps, ~1M actual rows), 8 uploaders
    python -m bench.storage --size S --uploaders 8 --rows 20000
    python -m bench.storage --quick          # size S, 2,000 rows per uploader (make bench-quick)

1. Import: the validated ``imports.import_file(store, "actuals", csv)`` of the generated
   organisation (bench.generate) into a store holding its reps, holidays and targets; then the
   re-import of the same file (every row unchanged).
2. Report: ``store.engine_inputs(SYSTEM)`` and ``engine.report(..., level="rep")``; the two
   backends' reports must be equal cell by cell.
3. Concurrency (PostgreSQL): N processes upload overlapping files of the same orders at once,
   each with its own Store (own connections); the ledger must then hold every order exactly once
   with the exact total, and the batches' new-row counts must add up to the number of orders.

PostgreSQL is a throwaway server started from the Debian binaries (tests/helpers/pg_server.py), with
durability off, as in the tests; a production server with fsync on is slower on writes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import AS_OF, SIZES, generate


def _base_store(target: str, folder: Path) -> None:
    from salesplan import imports
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    with Store.open(target) as store:
        store.save_settings(SYSTEM, upload_limit_mb=10_000)
        for kind in ("reps", "holidays", "targets"):
            imports.import_file(store, kind, folder / f"{kind}.csv")


def _measure(target: str, folder: Path) -> dict[str, Any]:
    from salesplan import engine, imports
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    _base_store(target, folder)
    out: dict[str, Any] = {}
    with Store.open(target) as store:
        t0 = time.perf_counter()
        result = imports.import_file(store, "actuals", folder / "actuals.csv")
        out["import"] = time.perf_counter() - t0
        out["rows"] = result.inserted
        t0 = time.perf_counter()
        again = imports.import_file(store, "actuals", folder / "actuals.csv")
        out["reimport"] = time.perf_counter() - t0
        assert again.inserted == again.updated == 0, "the re-import changed rows"
        t0 = time.perf_counter()
        inputs = store.engine_inputs(SYSTEM)
        out["read"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out["frame"] = engine.report(inputs, AS_OF, level="rep")
        out["report"] = time.perf_counter() - t0
    return out


def _orders_csv(folder: Path, n: int, start: int, rows: int) -> Path:
    path = folder / f"upload-{n}.csv"
    with open(path, "w") as handle:
        handle.write("date,rep,amount,order id,line\n")
        for k in range(start, start + rows):
            handle.write(f"2025-03-{1 + k % 28:02d},R{k % 50:05d},{k % 997}.25,ORD-{k},1\n")
    return path


def _upload(args: tuple[str, str]) -> tuple[int, int, float]:
    from salesplan import imports
    from salesplan.store import Store

    target, path = args
    with Store.open(target) as store:
        t0 = time.perf_counter()
        result = imports.import_file(store, "actuals", Path(path))
        return result.inserted, result.unchanged, time.perf_counter() - t0


def _concurrent(target: str, folder: Path, uploaders: int, rows: int) -> dict[str, Any]:
    from salesplan import imports
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    reps = "rep_id,name\n" + "".join(f"R{i:05d},Rep {i}\n" for i in range(50))
    with Store.open(target) as store:
        imports.import_file(store, "reps", reps.encode(), file_name="reps.csv")
    step = rows // 2  # each file overlaps half of the next one
    files = [str(_orders_csv(folder, n, n * step, rows)) for n in range(uploaders)]
    orders = range((uploaders - 1) * step + rows)
    expected_total = sum(k % 997 + 0.25 for k in orders)
    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(uploaders) as pool:
        results = pool.map(_upload, [(target, path) for path in files])
    wall = time.perf_counter() - t0
    with Store.open(target) as store:
        totals = store.actual_totals(SYSTEM)
    inserted = sum(r[0] for r in results)
    exact = (totals["rows"] == len(orders) and abs(totals["revenue"] - expected_total) < 1e-6
             and inserted == len(orders))
    return {"wall": wall, "rows": totals["rows"], "expected_rows": len(orders), "revenue": totals["revenue"],
            "expected_revenue": expected_total, "inserted": inserted, "exact": exact,
            "slowest": max(r[2] for r in results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="M", help="S, M, L or a number of reps (default M)")
    parser.add_argument("--uploaders", type=int, default=8, help="concurrent uploaders on PostgreSQL (default 8)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows per concurrent upload (default 20,000)")
    parser.add_argument("--quick", action="store_true", help="size S and 2,000 rows per uploader (proves it runs)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.rows = "S", min(args.rows, 2_000)

    from salesplan import engine  # noqa: F401 - fail early when the package is not importable
    from tests.helpers.pg_server import PgServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("bench.storage: PostgreSQL binaries not found (apt-get install postgresql)", file=sys.stderr)
        return 1
    reps = SIZES.get(args.size.upper()) or int(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    server = PgServer(bin_dir).start()
    try:
        t0 = time.perf_counter()
        info = generate(reps, work / "org")
        print(f"organisation: {reps} reps, {info['csv_rows']:,} actual rows "
              f"({info['actuals_mb']:.0f} MB CSV), generated in {time.perf_counter() - t0:.1f} s", flush=True)
        results = {}
        for name, target in (("DuckDB", str(work / "bench.duckdb")), ("PostgreSQL", server.create_database("bench"))):
            print(f"measuring {name} ...", flush=True)
            results[name] = _measure(target, work / "org")
        import pandas as pd

        pd.testing.assert_frame_equal(results["PostgreSQL"]["frame"], results["DuckDB"]["frame"], check_exact=True)
        print(f"\nsize {args.size.upper()} ({reps} reps, {results['DuckDB']['rows']:,} rows)")
        print(f"{'step':<28}{'DuckDB':>12}{'PostgreSQL':>14}")
        for key, label in (("import", "import actuals (s)"), ("reimport", "re-import, unchanged (s)"),
                           ("read", "engine_inputs (s)"), ("report", "engine.report, rep (s)")):
            print(f"{label:<28}{results['DuckDB'][key]:>12.2f}{results['PostgreSQL'][key]:>14.2f}")
        print("reports equal cell by cell: yes")

        target = server.create_database("concurrent")
        folder = work / "uploads"
        folder.mkdir()
        outcome = _concurrent(target, folder, args.uploaders, args.rows)
        print(f"\n{args.uploaders} concurrent uploaders on PostgreSQL, {args.rows:,} rows each, half of each "
              "file overlapping the next:")
        print(f"  wall {outcome['wall']:.2f} s (slowest upload {outcome['slowest']:.2f} s); ledger "
              f"{outcome['rows']:,} rows (expected {outcome['expected_rows']:,}), revenue {outcome['revenue']:,.2f} "
              f"(expected {outcome['expected_revenue']:,.2f}), new rows counted {outcome['inserted']:,}: "
              f"{'EXACT' if outcome['exact'] else 'WRONG'}")
        return 0 if outcome["exact"] else 1
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

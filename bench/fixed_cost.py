"""The fixed CPU cost of a small import and of opening a store (issue #18).

    python -m bench.fixed_cost [--imports 100] [--opens 50] [--profile FILE]

Builds a migrated store holding four reps, copies it, then times in CPU seconds
(``time.process_time``: the machine may be shared, wall time says little) N imports of a 3-row
actuals CSV, N imports of a 4-row reps CSV and M ``Store.open``/``close`` of the up-to-date file.
``--profile FILE`` writes a cProfile of the timed part.
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import tempfile
import time
from pathlib import Path

REPS_CSV = (
    b"rep_id,name,territory,manager\n"
    b"R000,Head,Nordics,\n"
    b"R001,One,Nordics,R000\n"
    b"R002,Two,DACH,R000\n"
    b"R003,Three,DACH,R000\n"
)


def _actuals(index: int) -> bytes:
    # a new amount each time: every import writes (as a user re-uploading a corrected export)
    return (
        "order_id,sale_date,rep_id,revenue\n"
        f"A1,2025-01-15,R001,{100 + index}.50\n"
        f"A2,2025-02-03,R002,{200 + index}\n"
        f"A3,2025-02-20,R003,{300 + index}.25\n"
    ).encode()


def run(imports_count: int, opens: int) -> dict[str, float]:
    from salesplan import imports
    from salesplan.store import Store

    folder = Path(tempfile.mkdtemp(prefix="salesplan-fixed-cost-"))
    try:
        template = folder / "template.duckdb"
        with Store.open(template) as store:
            imports.import_file(store, "reps", REPS_CSV, file_name="reps.csv")
        work = folder / "work.duckdb"
        shutil.copyfile(template, work)
        results = {}
        with Store.open(work) as store:
            imports.import_file(store, "actuals", _actuals(-1), file_name="sales.csv")  # warm-up
            start = time.process_time()
            for index in range(imports_count):
                imports.import_file(store, "actuals", _actuals(index), file_name="sales.csv")
            results["actuals import"] = (time.process_time() - start) / imports_count
            start = time.process_time()
            for _ in range(imports_count):
                imports.import_file(store, "reps", REPS_CSV, file_name="reps.csv")
            results["reps import"] = (time.process_time() - start) / imports_count
        start = time.process_time()
        for _ in range(opens):
            Store.open(work).close()
        results["Store.open+close"] = (time.process_time() - start) / opens
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=100)
    parser.add_argument("--opens", type=int, default=50)
    parser.add_argument("--profile", help="write a cProfile of the run to this file")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        results = profiler.runcall(run, args.imports, args.opens)
        profiler.dump_stats(args.profile)
    else:
        results = run(args.imports, args.opens)
    for name, seconds in results.items():
        print(f"{name:<18} {seconds * 1000:7.1f} ms CPU each")


if __name__ == "__main__":
    main()

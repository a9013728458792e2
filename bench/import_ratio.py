"""Rows 1a, 1c and 1m of ``make bench`` alone: the validated import and the re-import of the
actuals file against DuckDB's own ``CREATE TABLE AS SELECT * FROM read_csv``, at one size.

    python -m bench.import_ratio FOLDER [--size M] [--repeat 3]

FOLDER is a work folder (kept: the generated files and the base store are reused by the next
run). The steps are those of ``bench.run`` (each in a fresh process, the three interleaved per
round); printed per round and as medians: wall seconds as the table measures them, the CPU
seconds of the step's own process (all threads; steadier than wall time on a shared machine)
and the peak resident memory.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bench.run import SIZES, step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_ratio")
    parser.add_argument("folder")
    parser.add_argument("--size", default="M", choices=sorted(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(args.folder).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "steps.log"
    data = work / args.size
    base = work / f"{args.size}-base.duckdb"
    if not (data / "actuals.csv").exists():
        out = step("generate", log, folder=str(data), reps=SIZES[args.size])
        if "error" in out:
            raise SystemExit(f"generating {args.size} failed: {out['error']}")
    if not base.exists():
        out = step("base_store", log, folder=str(data), db=str(base), actions=min(200, SIZES[args.size] // 5))
        if "error" in out:
            raise SystemExit(f"building the base store failed: {out['error']}")
    csv, db = str(data / "actuals.csv"), str(work / f"{args.size}.duckdb")
    runs: dict[str, list[dict]] = {"duckdb": [], "import": [], "reimport": []}
    for round_ in range(args.repeat):
        for key, name, kwargs in (
            ("duckdb", "duckdb_csv", {"db": str(work / f"{args.size}-limit.duckdb"), "csv": csv}),
            ("import", "import", {"db": db, "csv": csv, "copy_from": str(base)}),
            ("reimport", "import", {"db": db, "csv": csv}),
        ):
            out = step(name, log, **kwargs)
            if "error" in out:
                raise SystemExit(f"{key} failed: {out['error']}")
            runs[key].append(out)
            print(f"round {round_ + 1} {key:9s} {out['seconds']:6.2f} s  CPU {out.get('cpu', float('nan')):5.2f} s  "
                  f"peak {out['peak_rss_mb']:5.0f} MB", flush=True)

    def median(key: str, field: str) -> float:
        return statistics.median(run.get(field, float("nan")) for run in runs[key])

    limit, limit_cpu = median("duckdb", "seconds"), median("duckdb", "cpu")
    for key, label in (("import", "import (1a)"), ("reimport", "re-import (1c)")):
        print(f"{args.size} {label:15s} {median(key, 'seconds'):6.2f} s = {median(key, 'seconds') / limit:.2f}x DuckDB's "
              f"{limit:.2f} s; CPU {median(key, 'cpu'):5.2f} s = {median(key, 'cpu') / limit_cpu:.2f}x its {limit_cpu:.2f} s; "
              f"peak {max(run['peak_rss_mb'] for run in runs[key]):.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where the report's read and engine spend their time, on an already imported store.

    python -m bench.profile_report FOLDER [--size L] [--prepare] [--repeat 2] [--cprofile]
                                   [--save FILE | --check FILE] [--levels] [--week]

FOLDER holds ``SIZE.duckdb`` as ``bench.run --work FOLDER --keep`` leaves it. ``--prepare`` makes it
first (generate, reps/holidays/targets, the validated actuals import: minutes at L), each step in a
process of its own as the benchmark runs them. Then, in this process: ``store.engine_inputs`` and
``engine.report`` (full year, every rep; ``--levels`` also territory, region and org; ``--week``
the weekly report), each timed ``--repeat`` times, wall and CPU seconds, and the peak memory.
``--save FILE`` keeps the reports (a pickle), ``--check FILE`` says whether today's reports are
*bit for bit* the saved ones (a stricter check than the benchmark's 1e-6 comparison, to see whether
a change of the read or the engine moved any number at all).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import pickle
import pstats
import resource
import time
from pathlib import Path
from typing import Any

from bench.steps import peak_rss_mb


def _prepare(folder: Path, size: str) -> None:
    from bench.run import SIZES, step

    log = folder / "steps.log"
    data = folder / size
    base, db = folder / f"{size}-base.duckdb", folder / f"{size}.duckdb"
    for name, kwargs in (("generate", {"folder": str(data), "reps": SIZES[size]}),
                         ("base_store", {"folder": str(data), "db": str(base), "actions": min(200, SIZES[size] // 5)}),
                         ("import", {"db": str(db), "csv": str(data / "actuals.csv"), "copy_from": str(base)})):
        t0 = time.perf_counter()
        out = step(name, log, **kwargs)
        print(f"{name}: {time.perf_counter() - t0:.1f} s {'; ' + out['error'] if 'error' in out else ''}", flush=True)
        if "error" in out:
            raise SystemExit(1)


def _cpu() -> float:
    """CPU seconds of every thread of this process so far (user + system): DuckDB reads on
    threads of its own, and on a shared machine CPU seconds are steadier than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn: Any) -> tuple[float, float, Any]:
    t0, c0 = time.perf_counter(), _cpu()
    value = fn()
    return time.perf_counter() - t0, _cpu() - c0, value


def _same(a: Any, b: Any) -> list[str]:
    """How two report frames differ: nothing when bit for bit equal (NaN equals NaN); else each
    differing column, with the largest relative difference for float columns."""
    import numpy as np
    import pandas as pd

    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return ["<shape or columns>"]
    out = []
    for c in a.columns:
        x, y = pd.Series(a[c]).reset_index(drop=True), pd.Series(b[c]).reset_index(drop=True)
        if x.equals(y):
            continue
        if x.dtype == float and y.dtype == float:
            xv, yv = x.to_numpy(), y.to_numpy()
            same_nan = np.isnan(xv) == np.isnan(yv)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.abs(xv - yv) / np.maximum(np.abs(yv), 1e-6)
            worst = float(np.nanmax(rel)) if np.isfinite(rel).any() else 0.0
            out.append(f"{c} (max rel diff {worst:.1e}{'' if same_nan.all() else ', EMPTY CELLS DIFFER'})")
        else:
            out.append(f"{c} ({int((x.astype(object) != y.astype(object)).sum())} cells)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--size", default="L")
    parser.add_argument("--prepare", action="store_true", help="generate and import the store first")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cprofile", action="store_true", help="print a cProfile summary of one read + report")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative or tottime")
    parser.add_argument("--levels", action="store_true", help="also the territory, region and org reports")
    parser.add_argument("--week", action="store_true", help="also the weekly report of every rep")
    parser.add_argument("--save", default=None, help="pickle the reports here")
    parser.add_argument("--check", default=None, help="compare the reports with a --save pickle, bit for bit")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if args.prepare:
        folder.mkdir(parents=True, exist_ok=True)
        _prepare(folder, args.size)

    from bench.generate import AS_OF
    from salesplan import engine
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    runs: list[tuple[str, dict[str, Any]]] = [("rep", {"level": "rep"})]
    if args.levels:
        runs += [(level, {"level": level}) for level in ("territory", "region", "org")]
    if args.week:
        runs.append(("rep-week", {"level": "rep", "period": "week"}))
    reports: dict[str, Any] = {}
    with Store.open(str(folder / f"{args.size}.duckdb"), migrate=False) as store:
        for _ in range(args.repeat):
            wall, cpu, inputs = _timed(lambda: store.engine_inputs(SYSTEM))
            print(f"engine_inputs: {wall:.3f} s (cpu {cpu:.3f} s), {len(inputs.daily_actuals):,} daily rows", flush=True)
        for name, kwargs in runs:
            for _ in range(args.repeat):
                # a new inputs object each run: the engine keeps its matrices per object
                fresh = dataclasses.replace(inputs)
                wall, cpu, frame = _timed(lambda: engine.report(fresh, AS_OF, **kwargs))
                print(f"engine.report {name}: {wall:.3f} s (cpu {cpu:.3f} s), {len(frame):,} rows", flush=True)
            reports[name] = frame
        if args.cprofile:
            profile = cProfile.Profile()
            profile.enable()
            engine.report(store.engine_inputs(SYSTEM), AS_OF, level="rep")
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(35)
            print(out.getvalue())
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    if args.save:
        Path(args.save).write_bytes(pickle.dumps(reports))
    if args.check:
        saved = pickle.loads(Path(args.check).read_bytes())
        for name, frame in reports.items():
            if name in saved:
                diff = _same(frame, saved[name])
                print(f"{name}: {'bit for bit the saved report' if not diff else 'differs: ' + '; '.join(diff)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

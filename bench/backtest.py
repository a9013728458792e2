"""Benchmark of the warnings' track record: ``salesplan.backtest.backtest`` on generated data.

    python -m bench.backtest                  # 1,000 reps x 3 years (goal: < 30 s)
    python -m bench.backtest --reps 200 --seed 4 --json out.json
    python -m bench.backtest --quick          # 100 reps x 3 years (make bench-quick: proves it runs)

The organisation (:func:`salesplan.engine.synthetic.seasonal_inputs`) has a shared seasonality with
each rep's own twist, growth that differs by rep and by year, and lumpy orders; targets are last
year's actuals of the month x 0.95-1.25. The two complete past years with targets are replayed
every Sunday. Printed: the time, too_late precision (with and without the chance rule), the share
of misses flagged off_track/too_late at least 8 weeks ahead (recall) and the median lead, the miss
rate per status, the calibration table of chance_to_reach, and each goal met or not:
too_late precision >= 0.95, mean calibration gap <= 0.10 over five bins, < 30 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from salesplan.backtest import backtest
from salesplan.engine.synthetic import seasonal_inputs
from salesplan.report import render

GOALS = {"too_late_precision": 0.95, "calibration_gap": 0.10, "seconds": 30.0}


def run(reps: int, years: int, seed: int) -> dict:
    t0 = time.perf_counter()
    inputs = seasonal_inputs(n_reps=reps, years=years, seed=seed)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = backtest(inputs)
    seconds = time.perf_counter() - t0
    return {"reps": reps, "years": years, "seed": seed, "daily_rows": len(inputs.daily_actuals),
            "build_seconds": built, "seconds": seconds, "summary": result.summary,
            "by_status": result.by_status, "calibration": result.calibration}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=None, help="reps (default 1,000; --quick: 100)")
    parser.add_argument("--quick", action="store_true", help="100 reps: proves the backtest runs, its numbers are rough")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    args.reps = args.reps or (100 if args.quick else 1000)
    res = run(args.reps, args.years, args.seed)
    s = res["summary"]
    print(f"backtest of {args.reps:,} reps x {args.years} years ({res['daily_rows']:,} daily rows, "
          f"built in {res['build_seconds']:.1f} s): {res['seconds']:.1f} s for {s['checks']:,} weekly checks")
    print(f"too_late precision     {s['too_late_precision']:.3f} over {s['too_late_checks']:,} checks "
          f"(without the chance rule {s['too_late_precision_without_chance']:.3f})")
    print(f"recall (misses flagged off_track/too_late >= 8 weeks ahead) {s['flagged_in_time']:.3f}, "
          f"median lead {s['median_lead_weeks']:.1f} weeks; on_track that missed {s['on_track_miss_rate']:.3f}")
    print(f"calibration gap        {s['calibration_gap']:.3f} (mean |predicted - observed| over five bins)")
    print()
    print(render(res["by_status"], "table"))
    print(render(res["calibration"], "table"))
    ok = {
        "too_late precision >= 0.95": s["too_late_precision"] >= GOALS["too_late_precision"],
        "calibration gap <= 0.10": s["calibration_gap"] <= GOALS["calibration_gap"],
        "backtest < 30 s": res["seconds"] < GOALS["seconds"],
    }
    for goal, met in ok.items():
        print(f"{'met ' if met else 'MISSED'}  {goal}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({k: (v.to_dict("records") if hasattr(v, "to_dict") else v) for k, v in res.items()}, fh,
                      indent=1, default=str)
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

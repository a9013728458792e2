"""Synthetic organisations for the benchmarks and the calibration tests."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time
import math

import numpy as np
import pandas as pd

from salesplan.inputs import EngineInputs
from salesplan.settings import Settings

from salesplan.engine.api import report, watchlist

# --------------------------------------------------------------------------- benchmark
def synthetic_inputs(n_reps: int = 1000, years: int = 3, last_fy: int = 2025, seed: int = 7,
                     n_territories: int = 40, n_regions: int = 5) -> EngineInputs:
    """A synthetic organisation: ``n_reps`` reps selling on most working days (and some Saturdays)
    over ``years`` fiscal years (about 1M daily rows for 1,000 reps and 3 years), monthly
    targets, org and territory holidays."""
    rng = np.random.default_rng(seed)
    settings = Settings()
    terrs = [f"T{i:02d}" for i in range(n_territories)]
    regions = [f"R{i}" for i in range(n_regions)]
    rep_ids = [f"r{i:04d}" for i in range(n_reps)]
    rep_terr = rng.integers(0, n_territories, n_reps)
    start = np.datetime64(f"{last_fy - years + 1}-01-01")
    end = np.datetime64(f"{last_fy}-12-31")
    reps = pd.DataFrame({
        "rep_id": rep_ids, "name": [f"Rep {i}" for i in range(n_reps)], "email": None,
        "territory": [terrs[t] for t in rep_terr], "region": None, "manager": None,
        "start_date": pd.NaT, "end_date": pd.NaT,
    })
    territories = pd.DataFrame({"territory": terrs, "region": [regions[i % n_regions] for i in range(n_territories)]})
    hol_dates: list[str] = []
    hol_terr: list[str | None] = []
    for y in range(last_fy - years + 1, last_fy + 1):
        for md in ("01-01", "05-01", "12-25", "12-26"):
            hol_dates.append(f"{y}-{md}")
            hol_terr.append(None)
        for t in terrs:
            hol_dates.append(str(start + np.timedelta64(int(rng.integers(0, 365)) + 365 * (y - last_fy + years - 1), "D")))
            hol_terr.append(t)
    holidays = pd.DataFrame({"date": pd.to_datetime(hol_dates), "name": "holiday", "territory": hol_terr})
    days = np.arange(start, end + np.timedelta64(1, "D"))
    weekday = (days.astype(np.int64) - 4) % 7  # 1970-01-01 was a Thursday (3) -> Mon=0
    sale_days = days[(weekday < 5) | (weekday == 5)]
    is_sat = ((sale_days.astype(np.int64) - 4) % 7) == 5
    # each rep sells on ~95 % of weekdays and ~10 % of Saturdays
    prob = np.where(is_sat, 0.10, 0.95)
    mask = rng.random((n_reps, len(sale_days))) < prob[None, :]
    ri, di = np.nonzero(mask)
    terr_of_row = rep_terr[ri]
    # ~30 % of the rep-days also hold a sale booked to another territory (a separate daily row)
    extra = rng.random(len(ri)) < 0.30
    ri = np.concatenate([ri, ri[extra]])
    di = np.concatenate([di, di[extra]])
    terr_of_row = np.concatenate([terr_of_row, (terr_of_row[extra] + 1) % n_territories])
    base = rng.uniform(300, 1500, n_reps)
    revenue = base[ri] * rng.lognormal(0.0, 0.5, len(ri))
    revenue[rng.random(len(ri)) < 0.01] *= -0.5  # a few returns
    daily = pd.DataFrame({
        "date": sale_days[di].astype("datetime64[ns]"),
        "rep_id": np.array(rep_ids, dtype=object)[ri],  # plain strings, as the store hands them over
        "territory": np.array(terrs, dtype=object)[terr_of_row],
        "revenue": revenue,
        "profit": revenue * 0.3,
    })
    months = pd.date_range(f"{last_fy - years + 1}-01-01", f"{last_fy}-12-01", freq="MS")
    targets = pd.DataFrame({
        "owner_type": "rep",
        "owner_id": np.repeat(rep_ids, len(months)),
        "metric": "revenue",
        "month": np.tile(months.to_numpy(), n_reps),
        "amount": np.repeat(base * 21 * 1.1, len(months)),
    })
    open_actions = pd.DataFrame({"rep_id": rep_ids, "fy": last_fy, "open_impact": rng.uniform(0, 20000, n_reps)})
    return EngineInputs(settings, reps, territories, holidays, targets, daily, open_actions)


SEASON = np.array([0.80, 0.85, 1.00, 0.95, 1.00, 1.05, 0.85, 0.80, 1.05, 1.10, 1.15, 1.40])


def seasonal_inputs(n_reps: int = 1000, years: int = 3, last_fy: int = 2025, seed: int = 11,
                    n_territories: int = 20, n_regions: int = 4) -> EngineInputs:
    """An organisation whose sales have what real ones have, to test the chance and the backtest:
    a shared seasonality (a strong fourth quarter, a summer dip) with each rep's own twist, growth
    that differs by rep and by year, and lumpy orders (most days small orders, some days a large
    deal worth weeks of sales). Targets from the second year on are the rep's actuals of the same
    month a year before × a factor drawn per rep and year between 0.95 and 1.25 (how many
    organisations set them). Fiscal year = calendar year, Mon-Fri, org holidays."""
    rng = np.random.default_rng(seed)
    first = last_fy - years + 1
    terrs = [f"T{i:02d}" for i in range(n_territories)]
    rep_ids = [f"r{i:04d}" for i in range(n_reps)]
    rep_terr = rng.integers(0, n_territories, n_reps)
    reps = pd.DataFrame({
        "rep_id": rep_ids, "name": [f"Rep {i}" for i in range(n_reps)], "email": None,
        "territory": [terrs[t] for t in rep_terr], "region": None, "manager": None,
        "start_date": pd.NaT, "end_date": pd.NaT,
    })
    territories = pd.DataFrame({"territory": terrs, "region": [f"R{i % n_regions}" for i in range(n_territories)]})
    hol = [f"{y}-{md}" for y in range(first, last_fy + 1) for md in ("01-01", "05-01", "12-25", "12-26")]
    holidays = pd.DataFrame({"date": pd.to_datetime(hol), "name": "holiday", "territory": None})
    days = np.arange(np.datetime64(f"{first}-01-01"), np.datetime64(f"{last_fy}-12-31") + np.timedelta64(1, "D"))
    work = np.is_busday(days, holidays=np.array(hol, dtype="datetime64[D]"))
    days = days[work]
    nd = len(days)
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970 - first
    t_years = (days - days[0]).astype(np.int64) / 365.25
    base = rng.lognormal(np.log(800), 0.5, n_reps)
    trend = rng.normal(0.06, 0.12, n_reps)  # the rep's own growth per year ...
    shock = rng.normal(0.0, 0.08, (n_reps, years))  # ... and each year's surprise
    twist = rng.normal(0.0, 0.08, (n_reps, 12))
    level = np.exp(trend[:, None] * t_years[None, :] + np.cumsum(shock, axis=1)[:, year]) \
        * (SEASON[month][None, :] + twist[:, month]) * base[:, None]
    small = level * rng.gamma(2.0, 0.5, (n_reps, nd)) * (rng.random((n_reps, nd)) < 0.8) / 0.8 * 0.7
    lumpy = rng.random((n_reps, nd)) < 0.012  # about three large deals a year ...
    big = np.where(lumpy, level * rng.lognormal(np.log(20.0), 0.5, (n_reps, nd)), 0.0)  # ... ~ 30 % of sales
    revenue = small + big
    ri, di = np.nonzero(revenue != 0)
    daily = pd.DataFrame({
        "date": days[di].astype("datetime64[ns]"),
        "rep_id": np.array(rep_ids, dtype=object)[ri],
        "territory": np.array(terrs, dtype=object)[rep_terr[ri]],
        "revenue": revenue[ri, di],
        "profit": revenue[ri, di] * 0.3,
    })
    # monthly actuals per rep -> next year's targets
    ym = year * 12 + month
    monthly = np.zeros((n_reps, years * 12))
    np.add.at(monthly.T, ym, revenue.T)
    factor = rng.uniform(0.95, 1.25, (n_reps, years))
    rows_owner, rows_month, rows_amount = [], [], []
    for y in range(1, years):
        amounts = monthly[:, (y - 1) * 12:y * 12] * factor[:, [y]]
        rows_owner.append(np.repeat(np.arange(n_reps), 12))
        rows_month.append(np.tile(pd.date_range(f"{first + y}-01-01", periods=12, freq="MS").to_numpy(), n_reps))
        rows_amount.append(amounts.ravel())
    targets = pd.DataFrame({
        "owner_type": "rep",
        "owner_id": np.array(rep_ids, dtype=object)[np.concatenate(rows_owner)] if rows_owner else [],
        "metric": "revenue",
        "month": np.concatenate(rows_month) if rows_month else [],
        "amount": np.concatenate(rows_amount) if rows_amount else [],
    })
    open_actions = pd.DataFrame({"rep_id": pd.Series(dtype=object), "fy": pd.Series(dtype=np.int64),
                                 "open_impact": pd.Series(dtype=float)})
    return EngineInputs(Settings(), reps, territories, holidays, targets, daily, open_actions)


def bench(n_reps: int = 1000, repeat: int = 3) -> dict[str, float]:
    """Time the engine on :func:`synthetic_inputs`; returns the best of ``repeat`` runs in seconds."""
    t0 = time.perf_counter()
    inputs = synthetic_inputs(n_reps)
    build = time.perf_counter() - t0
    as_of = dt.date(2025, 9, 15)
    timings = {"build_inputs": build, "daily_rows": float(len(inputs.daily_actuals))}
    cases = {
        "rep_year": lambda x: report(x, as_of),
        "rep_month": lambda x: report(x, as_of, period="month"),
        "territory_quarter": lambda x: report(x, as_of, level="territory", period="quarter"),
        "org_month": lambda x: report(x, as_of, level="org", period="month"),
        "watchlist_all_levels": lambda x: watchlist(x, as_of),
    }
    for name, fn in cases.items():
        best = math.inf
        for _ in range(repeat):
            # a new EngineInputs object (the same frames) each time: the engine keeps what it
            # builds per object (salesplan/engine/prep.py), and the bench times the building
            fresh = dataclasses.replace(inputs)
            t = time.perf_counter()
            fn(fresh)
            best = min(best, time.perf_counter() - t)
        timings[name] = best
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m salesplan.engine")
    parser.add_argument("--bench", action="store_true", help="time the engine on synthetic inputs")
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args(argv)
    if not args.bench:
        parser.print_help()
        return 2
    t = bench(args.reps)
    print(f"synthetic inputs: {args.reps} reps, {int(t.pop('daily_rows')):,} daily rows "
          f"(built in {t.pop('build_inputs'):.2f} s)")
    for name, secs in t.items():
        print(f"{name:>22}: {secs * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


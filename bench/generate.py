"""Synthetic organisations for the benchmark, written as the four import files of docs/files.md.

Everything is vectorised with numpy and written by DuckDB (``COPY ... TO``), so the L organisation
(10,000 reps, ~10 million daily rows) is generated in seconds and in well under a gigabyte.

The organisation of ``n`` reps:

* ``n // 25`` territories (at least 4) in ``territories // 8`` regions (at least 2); rep ``i`` is in
  territory ``i % territories``; the first rep of a territory manages it and reports to the head of
  its region (the first rep of the region's first territory);
* 3 % of the other reps are new hires who start during FY2025 (some inside the run-rate window);
* actuals from 2023-01-01 to the as-of date :data:`AS_OF`: each rep sells on ~95 % of the weekdays
  and ~10 % of the Saturdays; 45 % of those days also hold a sale booked to a neighbouring
  territory (a second daily row); 10 % of the orders have two lines; 1 % are returns;
* monthly revenue targets for FY2023-FY2025 with a seasonal shape and a per-rep stretch factor
  (0.85-1.25 of the rep's usual pace, so the statuses are mixed), top-down FY2025 targets for a third
  of the territories;
* org-wide holidays plus two "country" holidays a year per territory (12 countries).

About 1,000 daily rows (and ~1,100 CSV rows) per rep: S 100 reps ~ 100k, M 1,000 ~ 1M,
L 10,000 ~ 10M.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

SIZES = {"S": 100, "M": 1000, "L": 10000}
DATA_START = dt.date(2023, 1, 1)
AS_OF = dt.date(2025, 9, 30)  # a Tuesday; FY2025 (fiscal year = calendar year, Mon-Fri)
FY = 2025
SEASON = np.array([0.070, 0.075, 0.090, 0.080, 0.085, 0.085, 0.065, 0.055, 0.090, 0.095, 0.100, 0.110])
SEASON = SEASON / SEASON.sum()
N_COUNTRIES = 12


def layout(n_reps: int) -> dict[str, int]:
    n_terr = max(4, n_reps // 25)
    return {"reps": n_reps, "territories": n_terr, "regions": max(2, n_terr // 8)}


def rep_id(i: np.ndarray | int) -> np.ndarray | str:
    if isinstance(i, (int, np.integer)):
        return f"R{int(i):05d}"
    return np.char.add("R", np.char.zfill(np.asarray(i).astype(str), 5))


def _copy_csv(table: pa.Table, select: str, path: Path) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("t", table)
        con.execute(f"COPY ({select}) TO '{path}' (HEADER, DELIMITER ',')")
    finally:
        con.close()


def generate(n_reps: int, folder: str | Path, seed: int = 11) -> dict[str, object]:
    """Write reps.csv, holidays.csv, targets.csv and actuals.csv to ``folder``; return counts."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = layout(n_reps)
    n_terr, n_reg = shape["territories"], shape["regions"]
    reps = np.arange(n_reps)
    terr = reps % n_terr
    region = terr % n_reg
    is_manager = reps < n_terr
    # the head of region g is rep g (the manager of territory g, which lies in region g)
    manager = np.where(is_manager, np.where(reps < n_reg, -1, region), terr)
    start = np.datetime64("2015-01-01") + rng.integers(0, 8 * 365, n_reps).astype("timedelta64[D]")
    new_hire = ~is_manager & (rng.random(n_reps) < 0.03)
    hire_day = np.datetime64("2025-02-01") + rng.integers(0, 236, n_reps).astype("timedelta64[D]")
    start = np.where(new_hire, hire_day, start)

    # ---------------------------------------------------------------- reps
    reps_table = pa.table({
        "rep": reps.astype(np.int32), "terr": terr.astype(np.int32), "region": region.astype(np.int32),
        "manager": pa.array(np.where(manager >= 0, manager, 0).astype(np.int32), mask=manager < 0),
        "start": start.astype("datetime64[D]"),
    })
    _copy_csv(reps_table, """
        SELECT printf('R%05d', rep) AS rep_id, printf('Rep %05d', rep) AS name,
               printf('r%05d@bench.test', rep) AS email, printf('T%03d', terr) AS territory,
               printf('Region %d', region) AS region,
               CASE WHEN manager IS NULL THEN NULL ELSE printf('R%05d', manager) END AS manager,
               start AS start_date, NULL::DATE AS end_date
        FROM t ORDER BY rep""", folder / "reps.csv")

    # ---------------------------------------------------------------- holidays
    hol_date, hol_terr = [], []
    for year in (2023, 2024, 2025):
        for md in ("01-01", "05-01", "12-25", "12-26"):
            hol_date.append(np.datetime64(f"{year}-{md}"))
            hol_terr.append(-1)
        jan1 = np.datetime64(f"{year}-01-01")
        for t in range(n_terr):
            k = t % N_COUNTRIES
            for offset in (40 + 23 * k, 150 + 17 * k):
                hol_date.append(jan1 + np.timedelta64(offset, "D"))
                hol_terr.append(t)
    hol = pa.table({
        "d": np.array(hol_date, dtype="datetime64[D]"),
        "terr": pa.array(np.array(hol_terr, dtype=np.int32), mask=np.array(hol_terr) < 0),
    })
    _copy_csv(hol, """
        SELECT d AS date, CASE WHEN terr IS NULL THEN 'Org holiday' ELSE 'Country holiday' END AS name,
               CASE WHEN terr IS NULL THEN NULL ELSE printf('T%03d', terr) END AS territory
        FROM t ORDER BY d, territory NULLS FIRST""", folder / "holidays.csv")

    # ---------------------------------------------------------------- actuals
    days = np.arange(np.datetime64(DATA_START), np.datetime64(AS_OF) + 1)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Mon = 0
    days = days[weekday <= 5]
    prob = np.where(((days.astype(np.int64) + 3) % 7) == 5, 0.10, 0.95)
    base = rng.uniform(300, 1500, n_reps)
    phase = rng.integers(0, 365, n_reps)
    period = rng.uniform(90, 365, n_reps)
    parts = []
    chunk = max(1, 2_000_000 // n_reps)  # day-major chunks keep the boolean matrix small
    order_no = 0
    for lo in range(0, len(days), chunk):
        d = days[lo:lo + chunk]
        sells = (rng.random((len(d), n_reps)) < prob[lo:lo + chunk, None]) & (d[:, None] >= start[None, :])
        di, ri = np.nonzero(sells)
        # a second daily row booked to the neighbouring territory on 45 % of the selling days
        per_day = 1 + (rng.random(len(di)) < 0.45)
        idx = np.repeat(np.arange(len(di)), per_day)
        second = np.zeros(len(idx), dtype=bool)
        second[1:] = idx[1:] == idx[:-1]
        di, ri = di[idx], ri[idx]
        row_terr = np.where(second, (terr[ri] + 1) % n_terr, terr[ri])
        # good and bad stretches: a slow per-rep wave of +-30 % around the rep's usual pace
        wave = 1.0 + 0.3 * np.sin(2 * np.pi * (d[di].astype(np.int64) - phase[ri]) / period[ri])
        amount = base[ri] * wave * rng.lognormal(0.0, 0.5, len(ri))
        amount = np.where(rng.random(len(ri)) < 0.01, -0.5 * amount, amount)
        # orders -> lines: 10 % of the orders have two lines (60 % / 40 % of the amount)
        n_orders = len(ri)
        lines = 1 + (rng.random(n_orders) < 0.10)
        oi = np.repeat(np.arange(n_orders), lines)
        line = np.ones(len(oi), dtype=np.int8)
        line[1:][oi[1:] == oi[:-1]] = 2
        share = np.where(lines[oi] == 1, 1.0, np.where(line == 1, 0.6, 0.4))
        revenue = np.round(amount[oi] * share, 2)
        cost = np.round(revenue * rng.uniform(0.45, 0.75, len(oi)), 2)
        parts.append(pa.table({
            "date": d[di[oi]],
            "rep": ri[oi].astype(np.int32),
            "order_no": (order_no + oi).astype(np.int64),
            "line": line,
            "customer": ((ri[oi] * 37 + rng.integers(0, 50, len(oi))) % (20 * n_reps)).astype(np.int32),
            "product": rng.integers(0, 200, len(oi)).astype(np.int16),
            "terr": row_terr[oi].astype(np.int32),
            "revenue": revenue,
            "cost": cost,
        }))
        order_no += n_orders
    actuals = pa.concat_tables(parts)
    del parts
    _copy_csv(actuals, """
        SELECT date, printf('R%05d', rep) AS rep, printf('SO-%09d', order_no) AS order_id, line,
               printf('C%06d', customer) AS customer, printf('P%03d', product) AS product,
               printf('T%03d', terr) AS territory, revenue::DECIMAL(18,2) AS revenue, cost::DECIMAL(18,2) AS cost
        FROM t""", folder / "actuals.csv")
    con = duckdb.connect()
    con.register("t", actuals)
    daily_rows = con.sql("SELECT count(*) FROM (SELECT DISTINCT date, rep, terr FROM t)").fetchall()[0][0]
    con.close()
    csv_rows = actuals.num_rows
    del actuals

    # ---------------------------------------------------------------- targets
    # a rep's usual pace per weekday ~ base x E[lognormal] x 1.45 rows x 0.95 days; the stretch
    # factor makes some reps ahead and some behind
    usual = base * np.exp(0.125) * 1.45 * 0.95 * 21 * 12
    stretch = rng.uniform(0.85, 1.25, (3, n_reps))
    months = np.array([np.datetime64(f"{y}-{m:02d}") for y in (2023, 2024, 2025) for m in range(1, 13)], dtype="datetime64[M]")
    mi, ri = np.meshgrid(np.arange(36), reps, indexing="ij")
    mi, ri = mi.ravel(), ri.ravel()
    amount = np.round(usual[ri] * stretch[mi // 12, ri] * SEASON[mi % 12], 2)
    keep = months[mi].astype("datetime64[D]") >= start[ri].astype("datetime64[M]").astype("datetime64[D]")
    mi, ri, amount = mi[keep], ri[keep], amount[keep]
    # top-down FY2025 targets for every third territory: 5 % above the sum of its reps
    fy = mi >= 24
    tot = np.zeros((n_terr, 12))
    np.add.at(tot, (terr[ri[fy]], mi[fy] - 24), amount[fy])
    tt, tm = np.nonzero(np.zeros((n_terr, 12)) == 0)
    sel = tt % 3 == 0
    tt, tm = tt[sel], tm[sel]
    targets = pa.table({
        "owner_type": np.concatenate([np.full(len(ri), "rep"), np.full(len(tt), "territory")]),
        "owner": np.concatenate([rep_id(ri), np.char.add("T", np.char.zfill(tt.astype(str), 3))]),
        "month": np.concatenate([months[mi], np.array([np.datetime64(f"2025-{m + 1:02d}") for m in tm], dtype="datetime64[M]")]).astype("datetime64[D]"),
        "amount": np.concatenate([amount, np.round(tot[tt, tm] * 1.05, 2)]),
    })
    _copy_csv(targets, """
        SELECT owner_type, owner, 'revenue' AS metric, strftime(month, '%Y-%m') AS month,
               amount::DECIMAL(18,2) AS amount
        FROM t""", folder / "targets.csv")

    info = {
        "reps": n_reps, "territories": n_terr, "regions": n_reg, "csv_rows": int(csv_rows),
        "daily_rows": int(daily_rows), "target_rows": targets.num_rows, "holiday_rows": hol.num_rows,
        "actuals_mb": (folder / "actuals.csv").stat().st_size / 1e6, "as_of": AS_OF.isoformat(),
        "folder": str(folder),
    }
    (folder / "info.json").write_text(json.dumps(info, indent=1))
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate")
    parser.add_argument("size", help="S, M, L or a number of reps")
    parser.add_argument("folder")
    args = parser.parse_args(argv)
    n = SIZES.get(args.size.upper()) or int(args.size)
    t0 = time.perf_counter()
    info = generate(n, args.folder)
    info["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

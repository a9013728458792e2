"""``generate``: targets and actuals of every quota carrier, plans and deals, written as import files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesplan.demo.actuals import _days_to_act, _finish_actuals, _orders, _territory_targets
from salesplan.demo.common import (
    DOMAIN, SEASONALITY, WEEKMASK, _add_months, _d64, _fy_of, _fy_start, _money, _month_end, _persons, _round_to,
    _write,
)
from salesplan.demo.org import _holidays, _people
from salesplan.demo.pipeline import _pipelines
from salesplan.demo.plans import _plans

@dataclass
class DemoData:
    """What ``generate`` wrote: the four import files, the as-of ``today`` and the plans."""

    out_dir: Path
    reps_csv: Path
    targets_csv: Path
    holidays_csv: Path
    actuals_csv: Path
    today: date
    fy: int
    plans: list[dict[str, Any]]
    story: dict[str, str] = field(default_factory=dict)  # rep_id -> role in the story
    deals: dict[date, Path] = field(default_factory=dict)  # snapshot date -> open-deals file, oldest first

    @property
    def files(self) -> dict[str, Path]:
        """The import files in load order."""
        return {
            "holidays": self.holidays_csv,
            "reps": self.reps_csv,
            "targets": self.targets_csv,
            "actuals": self.actuals_csv,
        }


def generate(out_dir: Path, *, reps: int = 40, seed: int = 7, today: date | None = None) -> "DemoData":
    """Write reps.csv, targets.csv, holidays.csv and actuals.csv into ``out_dir``."""
    today = today or date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fy = _fy_of(today)
    people, territories = _people(reps, seed, fy, today)
    data_start = _fy_start(fy - 2)
    data_end = today  # actuals up to and including today
    fy_last_end = _month_end(_add_months(_fy_start(fy), 11))

    years = range(data_start.year, fy_last_end.year + 1)
    holidays = _holidays(territories, years)
    org_h = holidays.loc[holidays.territory == "", "date"].tolist()
    cals = {
        t: np.busdaycalendar(weekmask=WEEKMASK, holidays=[_d64(d) for d in org_h + holidays.loc[
            holidays.territory == t, "date"].tolist()])
        for t, _ in territories
    }
    # all holiday dates per territory (a busdaycalendar drops those on weekends)
    hol_sets = {t: np.array([_d64(d) for d in holidays.loc[holidays.territory.isin(["", t]), "date"]],
                            dtype="datetime64[D]") for t, _ in territories}

    # the 36 fiscal months
    months = [_add_months(data_start, k) for k in range(36)]
    m_start = np.array([_d64(m) for m in months])
    m_end = np.array([_d64(_month_end(m)) for m in months])
    m_fy = np.array([_fy_of(m) for m in months])
    m_fm = np.array([k % 12 for k in range(36)])  # fiscal month index 0..11
    m_label = [f"{m.year:04d}-{m.month:02d}" for m in months]
    e64 = _d64(data_end)

    carriers = people.index[people.territory != ""].tolist()
    target_rows: list[pd.DataFrame] = []
    actual_frames: list[pd.DataFrame] = []
    rep_info: dict[int, dict[str, Any]] = {}

    persons = _persons(people)
    for idx in carriers:
        p = persons[idx]
        cal = cals[p.territory]
        rng = np.random.default_rng([seed, 1000 + int(idx)])
        story = p.story
        start = p.start_date
        end = p.end_date if p.end_date is not None else date(9999, 12, 31)
        s64, x64 = _d64(start), _d64(min(end, date(2999, 12, 31)))

        # ---- targets: annual quota, grown each year, seasonal months; ramp-up and proration
        base = _round_to(rng.uniform(700_000, 1_200_000) * (0.45 if p.role == "manager" else 1.0), 10_000)
        annual = {fy - 2: base}
        annual[fy - 1] = _round_to(base * rng.uniform(1.03, 1.07), 10_000)
        annual[fy] = _round_to(annual[fy - 1] * rng.uniform(1.03, 1.07), 10_000)
        hired_in = _fy_of(start)
        if hired_in >= fy - 1:  # a hire gets a fresh (not grown) quota, 70 % in the first year
            annual = {f: base * (0.7 if f == hired_in else 1.0) for f in annual}
        wd_month = np.busday_count(m_start, m_end + 1, busdaycal=cal)
        rev_t = np.zeros(36)
        reasons = []
        start_month_idx = (start.year - data_start.year) * 12 + start.month - data_start.month
        for k in range(36):
            full = annual[int(m_fy[k])] * SEASONALITY[m_fm[k]]
            rel = k - start_month_idx
            reason = f"FY{m_fy[k]} quota, seasonal phasing"
            if m_end[k] < s64 or m_start[k] > x64:
                amt, reason = 0.0, ("before start date" if m_end[k] < s64 else "after end date")
            else:
                amt = full
                if 0 <= rel <= 2:
                    amt *= (0.4, 0.6, 0.8)[rel]
                    reason = "new hire ramp-up"
                lo, hi = max(m_start[k], s64), min(m_end[k], x64)
                share = np.busday_count(lo, hi + 1, busdaycal=cal) / max(wd_month[k], 1)
                if share < 1:
                    amt *= share
                    reason = "prorated to end date" if m_end[k] > x64 else "new hire ramp-up, prorated from start date"
            rev_t[k] = _round_to(amt, 100)
            reasons.append(reason)
        margin_plan = round(rng.uniform(0.36, 0.44), 2)
        prof_t = np.round(rev_t * margin_plan / 100) * 100
        target_rows.append(pd.DataFrame({
            "owner_type": "rep", "owner": p.rep_id, "metric": "revenue", "month": m_label,
            "amount": rev_t, "reason": reasons}))
        target_rows.append(pd.DataFrame({
            "owner_type": "rep", "owner": p.rep_id, "metric": "profit", "month": m_label,
            "amount": prof_t, "reason": [r.replace("quota", f"profit quota at {margin_plan:.0%} margin")
                                         for r in reasons]}))

        # ---- intended net revenue per month (what the rep actually sells)
        perf = {fy - 2: rng.uniform(0.92, 1.1), fy - 1: rng.uniform(0.95, 1.12)}
        margin_perf = {fy - 2: rng.uniform(0.97, 1.03), fy - 1: rng.uniform(0.97, 1.03), fy: rng.uniform(0.98, 1.03)}
        traj = np.ones(12)
        if story == "ahead":
            perf[fy] = 1.22 if p.email == f"rep2@{DOMAIN}" else rng.uniform(1.10, 1.25)
            traj = np.linspace(1.0, 1.25, 12)
        elif story == "on_track":
            perf[fy] = rng.uniform(1.01, 1.07)
        elif story == "at_risk":
            perf[fy] = rng.uniform(0.91, 0.97)
            traj = np.linspace(1.05, 0.85, 12)
        elif story == "behind":
            perf[fy] = 0.78 if p.email == f"rep1@{DOMAIN}" else rng.uniform(0.72, 0.84)
            traj = np.concatenate([[1.0, 0.95], np.linspace(0.8, 0.65, 10)])
            perf[fy - 1] = rng.uniform(1.0, 1.1)  # was fine last year: the slide is new
        elif story == "hopeless":
            perf[fy] = 0.38
            perf[fy - 1] = 0.98
            traj = np.array([0.95] + [0.3] * 11)
        elif story == "discounter":
            perf[fy] = rng.uniform(1.01, 1.05)
            margin_perf[fy] = 0.78
        else:  # new_hire, leaver
            perf[fy] = rng.uniform(1.01, 1.15)
        month_frac = np.where(m_end <= e64, 1.0, 0.0)
        cur = int(np.searchsorted(m_end, e64))  # month containing data_end
        if cur < 36 and m_start[cur] <= e64:
            month_frac[cur] = np.busday_count(m_start[cur], e64 + 1, busdaycal=cal) / max(wd_month[cur], 1)
        cur_fy = m_fy == fy
        expected_ytd = float((rev_t * month_frac)[cur_fy].sum())
        margin_m = margin_plan * np.array([margin_perf[int(f)] for f in m_fy]) * rng.lognormal(0, 0.02, 36)
        # last year finished strong; rep1 very strong (the pace needed to catch up has been done before)
        finish = np.where((m_fy == fy - 1) & (m_fm >= 9), 1.2 if p.email == f"rep1@{DOMAIN}" else 1.08, 1.0)

        def simulate(perf_cur: float, revenue_only: bool = False) -> pd.DataFrame | None:
            r2 = np.random.default_rng([seed, 5000 + int(idx)])  # same draws for every candidate pace
            perf_m = np.array([perf_cur if f == fy else perf[int(f)] for f in m_fy])
            noise = r2.lognormal(0.0, 0.08, 36)
            intended = rev_t * month_frac * perf_m * noise * finish * np.where(cur_fy, traj[m_fm], 1.0)
            if expected_ytd > 0 and intended[cur_fy].sum() > 0:  # pin year-to-date pace to the story
                intended[cur_fy] *= perf_cur * expected_ytd / intended[cur_fy].sum()
            d_lo, d_hi = max(start, data_start), min(end, data_end)
            if d_lo > d_hi:
                return None
            days = np.arange(_d64(d_lo), _d64(d_hi) + 1, dtype="datetime64[D]")
            days = days[np.is_busday(days, busdaycal=cal)]
            if not len(days):
                return None
            day_m = np.searchsorted(m_end, days)  # month index of each day
            lam = r2.uniform(0.5, 0.8) if p.role == "manager" else r2.uniform(1.2, 1.8)
            n_orders = r2.poisson(lam, size=len(days))
            # every month with something to sell gets at least one order
            per_month = np.bincount(day_m, weights=n_orders, minlength=36)
            first_day = np.searchsorted(day_m, np.arange(36))
            need = np.flatnonzero((per_month == 0) & (intended > 0) & (first_day < len(days)))
            need = need[day_m[np.minimum(first_day[need], len(days) - 1)] == need]
            n_orders[first_day[need]] += 1
            return _orders(r2, p, idx, days, n_orders, intended, margin_m, m_end, cal, hol_sets[p.territory],
                           min(end, data_end), story, fy, seed, revenue_only=revenue_only)

        frame = simulate(perf[fy])
        if p.email == f"rep1@{DOMAIN}" and frame is not None:
            # rep1 is the early-warning demo: behind plan, but with a point of no return still ahead
            # whatever ``today`` is; take the lowest pace that leaves at least 15 working days to act
            # (late in the year that takes a pace close to 1: behind with a Q4 ahead is too late)
            T_fy = float(rev_t[cur_fy].sum())
            best = (-2.0, perf[fy])
            for cand in np.round(np.arange(0.78, 0.985, 0.01), 2):
                left = _days_to_act(simulate(float(cand), revenue_only=True), cal, _fy_start(fy), data_end, fy_last_end, T_fy)
                if left is not None and np.isfinite(left) and left > best[0]:
                    best = (left, float(cand))
                if best[0] >= 15:
                    break
            frame = simulate(best[1])
        if frame is not None and len(frame):
            actual_frames.append(frame)
        rep_info[idx] = dict(T=float(rev_t[cur_fy].sum()), E=expected_ytd)

    targets = pd.concat(target_rows, ignore_index=True)
    targets = _territory_targets(targets, people, territories, fy, m_label, m_fy)
    actuals = _finish_actuals(pd.concat(actual_frames, ignore_index=True))

    # ---- plans (need year-to-date actuals)
    cur_mask = actuals["_date"] >= _d64(_fy_start(fy))
    ytd = actuals.loc[cur_mask].groupby("rep")["_rev"].sum()
    plans = _plans(people, rep_info, ytd, fy, today, seed, actuals)

    # ---- write the files
    paths = {k: out_dir / f"{k}.csv" for k in ("reps", "targets", "holidays", "actuals")}
    reps_out = people[["rep_id", "name", "email", "territory", "region", "manager", "start_date", "end_date"]].copy()
    reps_out["start_date"] = [d.isoformat() for d in reps_out["start_date"]]
    reps_out["end_date"] = [d.isoformat() if d is not None else "" for d in reps_out["end_date"]]
    _write(reps_out, paths["reps"])
    targets["amount"] = _money(targets["amount"].to_numpy())
    _write(targets, paths["targets"])
    hol_out = holidays.copy()
    hol_out["date"] = [d.isoformat() for d in hol_out["date"]]
    _write(hol_out, paths["holidays"])
    _write(actuals.drop(columns=["_date", "_rev"]), paths["actuals"])

    deal_files = {}
    for day, frame in _pipelines(people, rep_info, ytd, fy, today, seed).items():
        deal_files[day] = out_dir / f"deals-{day.isoformat()}.csv"
        _write(frame, deal_files[day])

    story = dict(zip(people["rep_id"], people["story"]))
    return DemoData(out_dir=out_dir, reps_csv=paths["reps"], targets_csv=paths["targets"],
                    holidays_csv=paths["holidays"], actuals_csv=paths["actuals"], today=today, fy=fy,
                    plans=plans, story=story, deals=deal_files)

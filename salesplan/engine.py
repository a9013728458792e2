"""The computation engine: every number of SPEC §5 for every owner at once.

Design. For one level (rep, territory, region or org) the engine builds, once:

* a daily matrix owners x calendar days [D0, D1] of the metric, and its prefix sums ``S0``
  (``S0[o, j]`` = Σ actuals of owner o on days < j), so any "Σ actuals between two days" is one
  subtraction;
* per distinct working calendar (a handful: org-wide, plus one per territory holiday set), the
  working-day index of every day (``bidx``: which run-rate bucket it falls in) and, for every
  working day i, the sum of the full window of L buckets ending at i, masked to windows starting
  on or after the bucket of the owner's first actual, and its running maximum along i. A window
  ending before bucket(e) holds only actuals <= e whatever e is, so B at any as-of date is
  max(running max up to bucket(e) - 1, the window ending at bucket(e) truncated at e).

Each period / as-of date is then a few vector operations over all owners. There is no Python loop
over days or rows; loops run only over calendars and periods (<= 12) or, for
:func:`status_history`, over the Sundays of one owner.

Run ``python -m salesplan.engine --bench`` for the timing on 1,000 synthetic reps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

import numpy as np
import pandas as pd

from salesplan.calendar import (
    ONE_DAY,
    Period,
    WorkingCalendar,
    calendar_for,
    holiday_sets,
    fiscal_months,
    fiscal_year_bounds,
    fiscal_year_of,
    month_end,
    periods,
    to_d64,
    to_date,
)
from salesplan.errors import BadInput, NotFound
from salesplan.inputs import EngineInputs
from salesplan.settings import Settings

REPORT_COLUMNS = [
    "owner_type", "owner_id", "owner_name", "metric", "period", "period_start", "period_end", "as_of",
    "target", "expected_to_date", "actual_to_date", "attainment", "pace", "gap_to_date", "remaining",
    "working_days_elapsed", "working_days_left", "required_per_working_day",
    "current_per_working_day", "acceleration", "best_per_working_day", "projection_linear",
    "projection_seasonal", "status", "point_of_no_return", "working_days_to_act", "action_coverage",
]
WATCHLIST_COLUMNS = REPORT_COLUMNS + ["recommended_action", "plan_needs_update"]
MONEY_COLUMNS = (
    "target", "expected_to_date", "actual_to_date", "gap_to_date", "remaining",
    "required_per_working_day", "current_per_working_day", "best_per_working_day",
    "projection_linear", "projection_seasonal",
)
RATIO_COLUMNS = ("attainment", "pace", "action_coverage")
LEVELS = ("rep", "territory", "region", "org")
METRICS = ("revenue", "profit")
STATUSES = ("not_started", "achieved", "too_late", "on_track", "at_risk", "off_track")
WATCH_STATUSES = ("at_risk", "off_track", "too_late")
ORG_ID = "org"
ORG_NAME = "Whole organisation"
PASSED = "passed"

_REL_TOL = 1e-9  # relative tolerance of the ≥ / < comparisons (floating-point noise only)
_BIG = np.iinfo(np.int64).max // 4
_FILE = "report"

_FLOAT_KEYS = (
    "target", "expected_to_date", "actual_to_date", "attainment", "pace", "gap_to_date", "remaining",
    "required_per_working_day", "current_per_working_day", "acceleration", "best_per_working_day",
    "projection_linear", "projection_seasonal", "action_coverage",
)


# --------------------------------------------------------------------------- small helpers
def _clean(v: Any) -> str | None:
    """An id/name cell -> stripped string, or None when empty."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    s = str(v).strip()
    return s or None


def _codes(values: pd.Series, universe: list[str]) -> np.ndarray:
    """Position of each cell of ``values`` in ``universe`` (-1 when absent), via factorize so each
    distinct value is cleaned once."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = [_clean(u) for u in uniques]
    pos = pd.Index(universe, dtype=object).get_indexer(pd.Index(cleaned, dtype=object)) if cleaned else np.zeros(0, np.int64)
    pos = np.append(np.asarray(pos, dtype=np.int64), -1)  # code -1 (NaN) -> last slot -> -1
    return pos[codes]


def _norm(series: pd.Series, default: str) -> pd.Series:
    """Lower-cased, stripped strings (``default`` where empty), cleaning each distinct value once."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = np.array([(_clean(u) or default).lower() for u in uniques] + [default], dtype=object)
    return pd.Series(cleaned[codes], index=series.index)


def _dates(series: pd.Series) -> np.ndarray:
    if len(series) == 0:
        return np.zeros(0, dtype="datetime64[D]")
    return pd.to_datetime(series, errors="coerce").to_numpy().astype("datetime64[D]")


def _check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise BadInput.single(_FILE, f"{name} must be one of {', '.join(choices)}, not {value!r}", column=name)


# --------------------------------------------------------------------------- organisation
@dataclass
class _Org:
    rep_ids: list[str]
    rep_names: list[str]
    rep_terr: list[str | None]
    rep_start: np.ndarray  # datetime64[D], NaT when unknown
    territories: list[str]
    terr_region: list[str | None]
    regions: list[str]

    def rep_terr_idx(self) -> np.ndarray:
        index = {t: i for i, t in enumerate(self.territories)}
        return np.array([index.get(t, -1) if t else -1 for t in self.rep_terr], dtype=np.int64)

    def terr_region_idx(self) -> np.ndarray:
        index = {r: i for i, r in enumerate(self.regions)}
        return np.array([index.get(r, -1) if r else -1 for r in self.terr_region], dtype=np.int64)


def _org(inputs: EngineInputs) -> _Org:
    reps = inputs.reps
    rows: dict[str, tuple[str, str | None, Any, str | None]] = {}
    if len(reps):
        starts = _dates(reps["start_date"]) if "start_date" in reps.columns else np.full(len(reps), np.datetime64("NaT", "D"))
        names = reps["name"] if "name" in reps.columns else reps["rep_id"]
        terrs = reps["territory"] if "territory" in reps.columns else pd.Series([None] * len(reps))
        regs = reps["region"] if "region" in reps.columns else pd.Series([None] * len(reps))
        for rid, name, terr, reg, start in zip(reps["rep_id"], names, terrs, regs, starts):
            rid = _clean(rid)
            if rid is None or rid in rows:
                continue
            rows[rid] = (_clean(name) or rid, _clean(terr), start, _clean(reg))
    rep_ids = sorted(rows)
    terr_region: dict[str, str | None] = {}
    tf = inputs.territories
    if tf is not None and len(tf):
        regs = tf["region"] if "region" in tf.columns else pd.Series([None] * len(tf))
        for terr, reg in zip(tf["territory"], regs):
            terr = _clean(terr)
            if terr is not None and terr_region.get(terr) is None:
                terr_region[terr] = _clean(reg)
    for rid in rep_ids:  # territories known only from the reps file take the reps' region
        _, terr, _, reg = rows[rid]
        if terr is not None and terr_region.get(terr) is None:
            terr_region[terr] = reg
    territories = sorted(terr_region)
    return _Org(
        rep_ids=rep_ids,
        rep_names=[rows[r][0] for r in rep_ids],
        rep_terr=[rows[r][1] for r in rep_ids],
        rep_start=np.array([rows[r][2] for r in rep_ids], dtype="datetime64[D]"),
        territories=territories,
        terr_region=[terr_region[t] for t in territories],
        regions=sorted({r for r in terr_region.values() if r is not None}),
    )


@dataclass
class _Owners:
    level: str
    ids: list[str]
    names: list[str]
    cal_territory: list[str | None]
    start: np.ndarray  # datetime64[D]; NaT = no start-date rule (always NaT for roll-ups)


def _owners(level: str, org: _Org) -> _Owners:
    if level == "rep":
        return _Owners(level, org.rep_ids, org.rep_names, org.rep_terr, org.rep_start)
    if level == "territory":
        ids = org.territories
        return _Owners(level, ids, list(ids), list(ids), np.full(len(ids), np.datetime64("NaT"), "datetime64[D]"))
    if level == "region":
        ids = org.regions
        return _Owners(level, ids, list(ids), [None] * len(ids), np.full(len(ids), np.datetime64("NaT"), "datetime64[D]"))
    return _Owners(level, [ORG_ID], [ORG_NAME], [None], np.full(1, np.datetime64("NaT"), "datetime64[D]"))


def _row_owner(level: str, org: _Org, actuals: pd.DataFrame) -> np.ndarray:
    """Owner position of every daily-actuals row at ``level`` (-1: belongs to no owner)."""
    n = len(actuals)
    if level == "org":
        return np.zeros(n, dtype=np.int64)
    if level == "rep":
        return _codes(actuals["rep_id"], org.rep_ids)
    terr = _codes(actuals["territory"], org.territories) if "territory" in actuals.columns else np.full(n, -1)
    if level == "territory":
        return terr
    reg_of_terr = np.append(org.terr_region_idx(), -1)
    return reg_of_terr[terr]  # terr == -1 picks the appended -1


# --------------------------------------------------------------------------- targets
def _target_cells(inputs: EngineInputs, fy: int, metric: str, owner_type: str, universe: list[str]):
    """(amount matrix len(universe) x 12, presence matrix) of the stored targets."""
    amounts = np.zeros((len(universe), 12))
    present = np.zeros((len(universe), 12), dtype=bool)
    t = inputs.targets
    if t is None or len(t) == 0 or not universe:
        return amounts, present
    otype = _norm(t["owner_type"], "rep") if "owner_type" in t.columns else pd.Series("rep", index=t.index)
    tmetric = _norm(t["metric"], "revenue") if "metric" in t.columns else pd.Series("revenue", index=t.index)
    sel = ((otype == owner_type) & (tmetric == metric)).to_numpy()
    if not sel.any():
        return amounts, present
    sub = t.loc[sel]
    months = pd.to_datetime(sub["month"], errors="coerce")
    start = fiscal_months(fy, inputs.settings.fy_start_month)[0]
    k = (months.dt.year * 12 + months.dt.month - (start.year * 12 + start.month)).to_numpy()
    owner = _codes(sub["owner_id"], universe)
    amt = pd.to_numeric(sub["amount"], errors="coerce").to_numpy(dtype=float)
    ok = (owner >= 0) & ~np.isnan(k.astype(float)) & ~np.isnan(amt)
    k = np.nan_to_num(k.astype(float), nan=-1).astype(np.int64)
    ok &= (k >= 0) & (k < 12)
    np.add.at(amounts, (owner[ok], k[ok]), amt[ok])
    present[owner[ok], k[ok]] = True
    return amounts, present


def _targets_all(inputs: EngineInputs, org: _Org, fy: int, metric: str) -> dict[str, Any]:
    rep_t, rep_p = _target_cells(inputs, fy, metric, "rep", org.rep_ids)
    terr_t, terr_p = _target_cells(inputs, fy, metric, "territory", org.territories)
    rti = org.rep_terr_idx()
    nt = len(org.territories)
    reps_sum = np.zeros((nt, 12))
    reps_any = np.zeros((nt, 12), dtype=bool)
    inside = rti >= 0
    np.add.at(reps_sum, rti[inside], rep_t[inside])
    np.logical_or.at(reps_any, rti[inside], rep_p[inside])
    eff = np.where(terr_p, terr_t, reps_sum)
    rgi = org.terr_region_idx()
    region = np.zeros((len(org.regions), 12))
    np.add.at(region, rgi[rgi >= 0], eff[rgi >= 0])
    # org: every territory (also those without a region) plus reps without a territory
    org_t = eff.sum(axis=0) + rep_t[~inside].sum(axis=0)
    return dict(rep=rep_t, territory=eff, region=region, org=org_t[None, :],
                terr_own=terr_t, terr_own_p=terr_p, reps_sum=reps_sum, reps_any=reps_any)


def allocation(inputs: EngineInputs, fy: int, metric: str = "revenue") -> pd.DataFrame:
    """Per territory and fiscal month of FY ``fy``: its own target (NaN when it has none), the sum of
    its reps' targets (NaN when none of its reps has one), and the allocation ratio
    reps_target ÷ territory_target where both exist (NaN when the territory target is 0)."""
    _check_choice("metric", metric, METRICS)
    org = _org(inputs)
    tg = _targets_all(inputs, org, fy, metric)
    months = [pd.Timestamp(m) for m in fiscal_months(fy, inputs.settings.fy_start_month)]
    nt = len(org.territories)
    own = np.where(tg["terr_own_p"], tg["terr_own"], np.nan)
    reps = np.where(tg["reps_any"], tg["reps_sum"], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(~np.isnan(own) & ~np.isnan(reps) & (own != 0), reps / own, np.nan)
    return pd.DataFrame({
        "territory": np.repeat(np.array(org.territories, dtype=object), 12),
        "month": np.tile(np.array(months, dtype="datetime64[ns]"), nt),
        "territory_target": own.ravel(),
        "reps_target": reps.ravel(),
        "allocation_ratio": ratio.ravel(),
    })


# --------------------------------------------------------------------------- preparation
@dataclass
class _Group:
    """Owners sharing one working calendar, with its day -> bucket index and B running maximum."""

    cal: WorkingCalendar
    owners: np.ndarray
    wdays: np.ndarray  # day index (from D0) of each working day in [D0, D1]
    bidx: np.ndarray  # bucket (working-day) index of each day
    fb: np.ndarray  # bucket of each owner's first actual (or _BIG)
    runmax: np.ndarray  # running max over i of the full L-window sums ending at bucket i


@dataclass
class _Prep:
    level: str
    metric: str
    fy: int
    settings: Settings
    L: int
    owners: _Owners
    tm: np.ndarray  # owners x 12 fiscal-month targets
    open_impact: np.ndarray  # Σ open action impact of the owner's reps for the FY
    d0: np.datetime64
    ndays: int
    s0: np.ndarray  # owners x (ndays + 1) prefix sums
    first_day: np.ndarray  # day index of the owner's first actual (or _BIG)
    groups: list[_Group]
    fy_months: list[dt.date]


def _open_impact(inputs: EngineInputs, org: _Org, fy: int, level: str) -> np.ndarray:
    per_rep = np.zeros(len(org.rep_ids))
    oa = inputs.open_actions
    if oa is not None and len(oa):
        fys = pd.to_numeric(oa["fy"], errors="coerce").to_numpy()
        sel = fys == fy
        if sel.any():
            pos = _codes(oa.loc[sel, "rep_id"], org.rep_ids)
            amt = np.nan_to_num(pd.to_numeric(oa.loc[sel, "open_impact"], errors="coerce").to_numpy(dtype=float))
            ok = pos >= 0
            np.add.at(per_rep, pos[ok], amt[ok])
    if level == "rep":
        return per_rep
    if level == "org":
        return np.array([per_rep.sum()])
    rti = org.rep_terr_idx()
    if level == "territory":
        out = np.zeros(len(org.territories))
        np.add.at(out, rti[rti >= 0], per_rep[rti >= 0])
        return out
    rgi = np.append(org.terr_region_idx(), -1)[rti]
    out = np.zeros(len(org.regions))
    np.add.at(out, rgi[rgi >= 0], per_rep[rgi >= 0])
    return out


def _prepare(inputs: EngineInputs, level: str, metric: str, fy: int, last_day: dt.date,
             only: list[str] | None = None) -> _Prep:
    """Build the matrices for ``level`` holding actuals up to min(last_day, FY end)."""
    settings = inputs.settings
    L = int(settings.window)
    if L < 1:
        raise BadInput.single("settings", f"the run-rate window must be at least 1 working day, not {L}")
    fy_start, fy_end = fiscal_year_bounds(fy, settings.fy_start_month)
    org = _org(inputs)
    owners = _owners(level, org)
    tm = _targets_all(inputs, org, fy, metric)[level]
    open_impact = _open_impact(inputs, org, fy, level)

    act = inputs.daily_actuals if inputs.daily_actuals is not None else pd.DataFrame(columns=["date", "rep_id", "territory", "revenue", "profit"])
    row_owner = _row_owner(level, org, act)
    if only is not None:
        keep_ids = [i for i in only]
        pos = [owners.ids.index(i) for i in keep_ids]
        remap = np.full(len(owners.ids) + 1, -1, dtype=np.int64)
        remap[pos] = np.arange(len(pos))
        row_owner = remap[row_owner]  # -1 -> last slot -> -1
        owners = _Owners(level, [owners.ids[p] for p in pos], [owners.names[p] for p in pos],
                         [owners.cal_territory[p] for p in pos], owners.start[pos])
        tm, open_impact = tm[pos], open_impact[pos]
    n = len(owners.ids)

    # working calendars, deduplicated by their holiday sets
    by_terr: dict[str | None, WorkingCalendar] = {}
    sets = holiday_sets(inputs.holidays)
    for t in set(owners.cal_territory):
        by_terr[t] = calendar_for(settings, inputs.holidays, t, _sets=sets)
    cals: dict[tuple, WorkingCalendar] = {}
    owner_key = []
    for t in owners.cal_territory:
        k = by_terr[t].key
        cals.setdefault(k, by_terr[t])
        owner_key.append(k)
    keys = list(cals)
    key_pos = {k: i for i, k in enumerate(keys)}
    grp = np.array([key_pos[k] for k in owner_key], dtype=np.int64)

    # actuals -> owners x days matrix
    d1 = to_d64(min(last_day, fy_end))
    dates = _dates(act["date"]) if len(act) else np.zeros(0, dtype="datetime64[D]")
    if metric in act.columns and len(act):
        amount = np.nan_to_num(pd.to_numeric(act[metric], errors="coerce").to_numpy(dtype=float))
    else:
        amount = np.zeros(len(act))
    keep = (row_owner >= 0) & ~np.isnat(dates) & (dates <= d1)
    dates, amount, row_owner = dates[keep], amount[keep], row_owner[keep]
    x = to_d64(fy_start)
    if len(dates):
        x = min(x, dates.min())
    d0 = min([to_d64(cals[k].bucket(x)) for k in keys], default=x)
    d1 = max(d1, to_d64(fy_start))
    ndays = int((d1 - d0).astype(np.int64)) + 1
    j = (dates - d0).astype(np.int64)
    flat = row_owner * ndays + j
    daily = np.bincount(flat, weights=amount, minlength=n * ndays).reshape(n, ndays)
    count = np.bincount(flat, minlength=n * ndays).reshape(n, ndays)
    s0 = np.zeros((n, ndays + 1))
    np.cumsum(daily, axis=1, out=s0[:, 1:])
    has = count.any(axis=1)
    first_day = np.where(has, (count > 0).argmax(axis=1), _BIG).astype(np.int64)

    days = np.arange(d0, d1 + ONE_DAY, dtype="datetime64[D]")
    groups = []
    for gi, k in enumerate(keys):
        cal = cals[k]
        og = np.flatnonzero(grp == gi)
        wmask = np.is_busday(days, busdaycal=cal.busdaycal)
        wdays = np.flatnonzero(wmask)
        bidx = np.cumsum(wmask) - 1
        nw = len(wdays)
        endp1 = np.append(wdays[1:], ndays)  # exclusive end day of each bucket
        sg = s0[og]
        start_b = np.arange(nw) - L + 1
        before = np.zeros((len(og), nw))
        ok = start_b >= 0
        before[:, ok] = sg[:, wdays[start_b[ok]]]
        full = sg[:, endp1] - before
        fd = first_day[og]
        fb = np.where(fd < _BIG, bidx[np.minimum(fd, ndays - 1)], _BIG)
        valid = start_b[None, :] >= fb[:, None]
        runmax = np.maximum.accumulate(np.where(valid, full, -np.inf), axis=1) if nw else np.zeros((len(og), 0))
        groups.append(_Group(cal, og, wdays, bidx, fb, runmax))

    return _Prep(level, metric, fy, settings, L, owners, tm, open_impact, d0, ndays, s0, first_day,
                 groups, fiscal_months(fy, settings.fy_start_month))


# --------------------------------------------------------------------------- the numbers
def _compute(prep: _Prep, P: Period, as_of: dt.date) -> dict[str, np.ndarray]:
    """All SPEC §5 numbers of period ``P`` at ``as_of`` for every owner of ``prep``."""
    n = len(prep.owners.ids)
    nan = np.full(n, np.nan)
    tm = prep.tm
    T = tm[:, list(P.months)].sum(axis=1)
    out: dict[str, Any] = {k: nan.copy() for k in _FLOAT_KEYS}
    out["target"] = T
    elapsed = np.zeros(n, dtype=np.int64)
    left = np.zeros(n, dtype=np.int64)
    out["working_days_elapsed"], out["working_days_left"] = elapsed, left
    out["point_of_no_return"] = np.full(n, None, dtype=object)
    out["working_days_to_act"] = np.full(n, -1, dtype=np.int64)  # -1 = empty

    if P.start > as_of:  # not started: only the target (and the period's working days as "left")
        for g in prep.groups:
            left[g.owners] = g.cal.wd(P.start, P.end)
        out["status"] = np.full(n, "not_started", dtype=object)
        return out

    L = prep.L
    e = min(as_of, P.end)
    e64 = to_d64(e)
    je = int((e64 - prep.d0).astype(np.int64))
    jps = int((to_d64(P.start) - prep.d0).astype(np.int64))
    s0 = prep.s0
    A = s0[:, je + 1] - s0[:, jps]

    # expected to date: full months ending <= e, plus the running month's working-day share
    full_months = [m for m in P.months if month_end(prep.fy_months[m]) <= e]
    E = tm[:, full_months].sum(axis=1)
    cm = next(m for m in P.months if prep.fy_months[m] <= e <= month_end(prep.fy_months[m]))
    cm_start, cm_end = prep.fy_months[cm], month_end(prep.fy_months[cm])
    partial = e < cm_end
    num = np.zeros(n)
    den = np.ones(n)

    c = nan.copy()
    B = nan.copy()
    ponr_dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    bucket_e = {}
    start = prep.owners.start
    for gi, g in enumerate(prep.groups):
        og, cal = g.owners, g.cal
        if len(og) == 0:
            continue
        elapsed[og] = cal.wd(P.start, e)
        left[og] = cal.wd(e64 + ONE_DAY, P.end)
        if partial:
            a, b = cal.wd(cm_start, e), cal.wd(cm_start, cm_end)
            if b == 0:  # no working day in the month: calendar days
                a, b = (e - cm_start).days + 1, (cm_end - cm_start).days + 1
            num[og], den[og] = a, b
        i_e = int(g.bidx[je])
        s = i_e - L + 1
        before = s0[og, g.wdays[s]] if s >= 0 else 0.0
        wsum = s0[og, je + 1] - before  # the L-window ending at bucket(e), truncated at e
        cg = wsum / L
        st = start[og]
        if (~np.isnat(st)).any():
            ws = np.busday_offset(to_d64(cal.bucket(e)), -(L - 1), busdaycal=cal.busdaycal)
            known = ~np.isnat(st)
            inside = known & (st > ws) & (st <= e64)
            future = known & (st > e64)
            if inside.any():
                oi = og[inside]
                sd = np.clip((st[inside] - prep.d0).astype(np.int64), 0, None)
                div = np.asarray(cal.wd(st[inside], e64), dtype=float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    cg[inside] = np.where(div > 0, (s0[oi, je + 1] - s0[oi, sd]) / div, np.nan)
            cg[future] = np.nan
        c[og] = cg
        best = g.runmax[:, i_e - 1] if i_e >= 1 else np.full(len(og), -np.inf)
        trunc_ok = (s >= g.fb) & (prep.first_day[og] <= je)
        best = np.maximum(best, np.where(trunc_ok, wsum, -np.inf))
        B[og] = np.where(np.isfinite(best), best / L, np.nan)
        bucket_e[gi] = to_d64(cal.bucket(e))

    if partial:
        E = E + tm[:, cm] * num / den
    W = left.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        attainment = np.where(T != 0, A / T, np.nan)
        pace = np.where(E != 0, A / E, np.nan)
        need = np.maximum(T - A, 0.0)
        r = np.where(W > 0, need / W, np.nan)
        acceleration = np.where(c > 0, r / c, np.nan)
        proj_lin = A + c * W
        proj_seas = np.where(E != 0, A * T / E, np.nan)

        # point of no return
        tol = _REL_TOL * np.maximum(1.0, np.maximum(np.abs(T), np.abs(A)))
        has_c = ~np.isnan(c)
        on_course = has_c & (A + np.where(has_c, c, 0.0) * W >= T - tol)
        cand = has_c & ~on_course & ~np.isnan(B) & (B > c)
        reach = A + np.where(cand, B, 0.0) * W
        passed = cand & (reach < T - tol)
        ahead = cand & ~passed
        x = np.where(ahead, (reach - T) / np.where(ahead, B - c, 1.0), 0.0)
    n_act = np.floor(np.maximum(x, 0.0) + 1e-9).astype(np.int64)
    n_act = np.where(ahead, np.minimum(n_act, np.maximum(left - 1, 0)), -1)
    n_act = np.where(passed, 0, n_act)
    for gi, g in enumerate(prep.groups):
        og = g.owners
        sel = og[ahead[og]]
        if len(sel):
            k = n_act[sel]
            moved = np.busday_offset(bucket_e[gi], k, busdaycal=g.cal.busdaycal)
            ponr_dates[sel] = np.where(k == 0, e64, moved)
    ponr = np.full(n, None, dtype=object)
    if ahead.any():
        ponr[ahead] = ponr_dates[ahead].astype(dt.date)
    ponr[passed] = PASSED

    status = np.full(n, "off_track", dtype=object)
    at_risk = pace >= prep.settings.at_risk - _REL_TOL
    on_track = np.isnan(pace) | (pace >= 1.0 - _REL_TOL)
    too_late = passed | ((left == 0) & (A < T - tol))
    achieved = (A >= T - tol) & (T > 0)
    status[at_risk] = "at_risk"
    status[on_track] = "on_track"
    status[too_late] = "too_late"
    status[achieved] = "achieved"

    coverage = nan.copy()
    if prep.level == "rep" and P.grain == "year":
        with np.errstate(divide="ignore", invalid="ignore"):
            coverage = np.where(need > 0, prep.open_impact / need, np.nan)

    out.update(
        expected_to_date=E, actual_to_date=A, attainment=attainment, pace=pace, gap_to_date=E - A,
        remaining=T - A, required_per_working_day=r, current_per_working_day=c,
        acceleration=acceleration, best_per_working_day=B, projection_linear=proj_lin,
        projection_seasonal=proj_seas, status=status, point_of_no_return=ponr,
        working_days_to_act=n_act, action_coverage=coverage,
    )
    return out


def _frame(prep: _Prep, plist: list[Period], as_of: dt.date) -> pd.DataFrame:
    """Rows owner-major (each owner's periods in fiscal order), exactly REPORT_COLUMNS."""
    n, k = len(prep.owners.ids), len(plist)
    parts = [_compute(prep, P, as_of) for P in plist]

    def col(key: str) -> np.ndarray:
        if n == 0:
            return np.zeros(0, dtype=parts[0][key].dtype) if parts else np.zeros(0)
        return np.stack([p[key] for p in parts], axis=1).ravel()  # owner-major

    wdta = col("working_days_to_act")
    data: dict[str, Any] = {
        "owner_type": np.full(n * k, prep.level, dtype=object),
        "owner_id": np.repeat(np.array(prep.owners.ids, dtype=object), k),
        "owner_name": np.repeat(np.array(prep.owners.names, dtype=object), k),
        "metric": np.full(n * k, prep.metric, dtype=object),
        "period": np.tile(np.array([P.label for P in plist], dtype=object), n),
        "period_start": np.tile(np.array([P.start for P in plist], dtype=object), n),
        "period_end": np.tile(np.array([P.end for P in plist], dtype=object), n),
        "as_of": np.full(n * k, as_of, dtype=object),
    }
    for key in REPORT_COLUMNS[8:]:
        if key in data:
            continue
        if key == "working_days_to_act":
            data[key] = pd.array(np.where(wdta >= 0, wdta, 0), dtype="Int64")
            data[key][wdta < 0] = pd.NA
        elif key in ("working_days_elapsed", "working_days_left"):
            data[key] = col(key).astype(np.int64)
        elif key in ("status", "point_of_no_return"):
            data[key] = col(key).astype(object)
        else:
            data[key] = col(key).astype(float)
    df = pd.DataFrame(data, columns=REPORT_COLUMNS)
    for key in ("owner_type", "owner_id", "owner_name", "metric", "period", "status"):
        df[key] = df[key].astype(object)
    return df


def _resolve(inputs: EngineInputs, as_of: Any, fy: int | None) -> tuple[dt.date, int]:
    try:
        d = to_date(as_of)
    except (TypeError, ValueError):
        raise BadInput.single(_FILE, f"as-of date {as_of!r} is not a date", column="as_of") from None
    year = int(fy) if fy is not None else fiscal_year_of(d, inputs.settings.fy_start_month)
    if not 1900 <= year <= 2199:
        raise BadInput.single(_FILE, f"fiscal year {year} is out of range (1900-2199)", column="fy")
    return d, year


def report(inputs: EngineInputs, as_of: Any, *, fy: int | None = None, level: str = "rep",
           metric: str = "revenue", period: str = "year") -> pd.DataFrame:
    """SPEC §8 report: one row per owner of ``level`` and period of FY ``fy`` (default: the FY that
    contains ``as_of``), with exactly :data:`REPORT_COLUMNS`.

    Money and ratios are floats (NaN = empty); working_days_elapsed/left are ints;
    working_days_to_act is a nullable Int64; point_of_no_return is a ``datetime.date``, 'passed'
    or None; period_start, period_end and as_of are ``datetime.date``. Periods that start after
    ``as_of`` have status ``not_started``, their target, working_days_elapsed 0,
    working_days_left = the period's working days, and every other number empty.
    """
    _check_choice("level", level, LEVELS)
    _check_choice("metric", metric, METRICS)
    _check_choice("period", period, ("year", "quarter", "month"))
    d, fy = _resolve(inputs, as_of, fy)
    prep = _prepare(inputs, level, metric, fy, d)
    return _frame(prep, periods(fy, inputs.settings.fy_start_month, period), d)


# --------------------------------------------------------------------------- history and watch list
def status_history(inputs: EngineInputs, as_of: Any, owner_type: str, owner_id: str, *,
                   fy: int | None = None, metric: str = "revenue") -> pd.DataFrame:
    """The owner's year-period numbers at every Sunday of the FY up to ``as_of`` (one row per
    Sunday, ``week_end`` first, then the REPORT_COLUMNS from ``period`` on, as_of = that Sunday)."""
    _check_choice("owner_type", owner_type, LEVELS)
    _check_choice("metric", metric, METRICS)
    d, fy = _resolve(inputs, as_of, fy)
    org = _org(inputs)
    ids = _owners(owner_type, org).ids
    oid = ORG_ID if owner_type == "org" else _clean(owner_id)
    if oid not in ids:
        raise NotFound(f"no {owner_type} {owner_id!r}")
    fy_start, fy_end = fiscal_year_bounds(fy, inputs.settings.fy_start_month)
    prep = _prepare(inputs, owner_type, metric, fy, d, only=[oid])
    P = periods(fy, inputs.settings.fy_start_month, "year")[0]
    first_sunday = fy_start + dt.timedelta(days=(6 - fy_start.weekday()) % 7)
    last = min(d, fy_end)
    rows = []
    sunday = first_sunday
    while sunday <= last:
        f = _frame(prep, [P], sunday)
        f.insert(0, "week_end", sunday)
        rows.append(f)
        sunday += dt.timedelta(days=7)
    cols = ["week_end"] + REPORT_COLUMNS
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)[cols]


def _money(v: float) -> str:
    return f"{v:,.2f}"


def _recommend(row: dict[str, Any], open_impact: float) -> str:
    """Plain-words advice of a watch-list entry (SPEC §5 'Early warnings')."""
    T, A = row["target"], row["actual_to_date"]
    c, r, B = row["current_per_working_day"], row["required_per_working_day"], row["best_per_working_day"]
    W = int(row["working_days_left"])
    gap = max(T - A, 0.0)
    if W == 0:
        return (f"the period has ended {_money(gap)} short of the target; agree how to treat the gap "
                f"(revise the target or carry it over)")
    c_known = not (c is None or (isinstance(c, float) and math.isnan(c)))
    shortfall = max(T - A - (c * W if c_known else 0.0), 0.0)
    to_add = max(shortfall - open_impact, 0.0)
    if row["point_of_no_return"] == PASSED:
        head = (f"the target is out of reach even at the best run-rate so far ({_money(B)} per working "
                f"day; {_money(r)} needed)")
        if to_add > 0:
            return f"{head}: add actions worth {_money(to_add)} to cover the rest of the gap, or agree a revised target"
        return (f"{head}: make sure the open actions (worth {_money(open_impact)}) deliver, "
                f"or agree a revised target")
    if not c_known:
        first = f"build a run-rate of {_money(r)} per working day (no current run-rate yet)"
    elif c < r:
        first = f"raise the run-rate from {_money(c)} to {_money(r)} per working day"
    else:
        first = (f"keep the run-rate of {_money(c)} per working day ({_money(r)} needed) to catch up "
                 f"with the plan")
    if to_add > 0:
        return f"{first} and add actions worth {_money(to_add)} to cover the rest of the gap"
    if shortfall > 0:
        return f"{first}; the open actions (worth {_money(open_impact)}) cover the rest of the gap if they deliver"
    return first


def watchlist(inputs: EngineInputs, as_of: Any, *, metric: str = "revenue",
              levels: Iterable[str] = LEVELS) -> pd.DataFrame:
    """Owners behind plan at ``as_of`` and at ``as_of`` - 7 days (year period of the FY that contains
    ``as_of``), sorted by urgency; REPORT_COLUMNS + recommended_action + plan_needs_update."""
    _check_choice("metric", metric, METRICS)
    d, fy = _resolve(inputs, as_of, None)
    settings = inputs.settings
    P = periods(fy, settings.fy_start_month, "year")[0]
    week_before = d - dt.timedelta(days=7)
    frames = []
    for level in levels:
        _check_choice("level", level, LEVELS)
        prep = _prepare(inputs, level, metric, fy, d)
        now = _frame(prep, [P], d)
        then = _frame(prep, [P], week_before)

        def flagged(f: pd.DataFrame) -> np.ndarray:
            total = f["working_days_elapsed"] + f["working_days_left"]
            return (f["status"].isin(WATCH_STATUSES) & (f["working_days_elapsed"] > settings.grace * total)).to_numpy()

        sel = flagged(now) & flagged(then)
        f = now.loc[sel].copy()
        impacts = prep.open_impact[sel]
        f["recommended_action"] = [_recommend(row, imp) for row, imp in zip(f.to_dict("records"), impacts)]
        cov = f["action_coverage"]
        f["plan_needs_update"] = ((f["owner_type"] == "rep") & (cov.isna() | (cov < 1))).astype(bool)
        frames.append(f)
    if not frames or all(len(f) == 0 for f in frames):
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in WATCHLIST_COLUMNS})
        return out
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    wdta = out["working_days_to_act"]
    key_days = wdta.astype("Float64").fillna(np.inf).astype(float)
    key_passed = (out["point_of_no_return"] != PASSED).astype(int)
    order = np.lexsort((-out["gap_to_date"].fillna(-np.inf).to_numpy(), key_passed.to_numpy(), key_days.to_numpy()))
    return out.iloc[order].reset_index(drop=True)[WATCHLIST_COLUMNS]


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


def bench(n_reps: int = 1000, repeat: int = 3) -> dict[str, float]:
    """Time the engine on :func:`synthetic_inputs`; returns the best of ``repeat`` runs in seconds."""
    t0 = time.perf_counter()
    inputs = synthetic_inputs(n_reps)
    build = time.perf_counter() - t0
    as_of = dt.date(2025, 9, 15)
    timings = {"build_inputs": build, "daily_rows": float(len(inputs.daily_actuals))}
    cases = {
        "rep_year": lambda: report(inputs, as_of),
        "rep_month": lambda: report(inputs, as_of, period="month"),
        "territory_quarter": lambda: report(inputs, as_of, level="territory", period="quarter"),
        "org_month": lambda: report(inputs, as_of, level="org", period="month"),
        "watchlist_all_levels": lambda: watchlist(inputs, as_of),
    }
    for name, fn in cases.items():
        best = math.inf
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
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

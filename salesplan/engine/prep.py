"""The per-level matrices the numbers are read from (built once per level, FY and metric)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesplan.calendar import (
    ONE_DAY,
    WorkingCalendar,
    calendar_for,
    holiday_sets,
    fiscal_months,
    fiscal_year_bounds,
    month_end,
    to_d64,
)
from salesplan.errors import BadInput
from salesplan.inputs import EngineInputs
from salesplan.settings import Settings

from salesplan.engine.pipeline import _Deals, prepare_deals
from salesplan.engine.common import _BIG, _Org, _Owners, _codes, _dates, _open_impact, _org, _owners, _row_owner, _targets_all

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
    month_wd: np.ndarray  # working days of each of the FY's 12 months


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
    fy_month_ends: list[dt.date]
    deals: _Deals | None = None  # the deal snapshots, for the pipeline columns
    cache: dict = field(default_factory=dict)  # derived arrays built on first use (chance.py)


def _rep_owner(level: str, org: _Org) -> np.ndarray:
    """Owner position at ``level`` of every rep (-1: the rep belongs to no owner there)."""
    n = len(org.rep_ids)
    if level == "rep":
        return np.arange(n, dtype=np.int64)
    if level == "org":
        return np.zeros(n, dtype=np.int64)
    rti = org.rep_terr_idx()
    if level == "territory":
        return rti
    return np.append(org.terr_region_idx(), -1)[rti]


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
    rep_owner = _rep_owner(level, org)
    if only is not None:
        keep_ids = [i for i in only]
        pos = [owners.ids.index(i) for i in keep_ids]
        remap = np.full(len(owners.ids) + 1, -1, dtype=np.int64)
        remap[pos] = np.arange(len(pos))
        row_owner = remap[row_owner]  # -1 -> last slot -> -1
        rep_owner = remap[rep_owner]
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
        fm = np.array(fiscal_months(fy, settings.fy_start_month), dtype="datetime64[D]")
        month_wd = np.busday_count(fm, np.append(fm[1:], to_d64(fy_end) + ONE_DAY), busdaycal=cal.busdaycal)
        groups.append(_Group(cal, og, wdays, bidx, fb, runmax, month_wd))

    deals = prepare_deals(inputs, lambda ids: _codes(ids, org.rep_ids), rep_owner)
    return _Prep(level, metric, fy, settings, L, owners, tm, open_impact, d0, ndays, s0, first_day,
                 groups, fiscal_months(fy, settings.fy_start_month),
                 [month_end(m) for m in fiscal_months(fy, settings.fy_start_month)], deals)



"""Every number of one period at one as-of date, for every owner of a level at once."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from salesplan.calendar import (
    FIRST_DATE,
    LAST_DATE,
    ONE_DAY,
    Period,
    fiscal_year_of,
    to_d64,
    to_date,
)
from salesplan.errors import BadInput
from salesplan.inputs import EngineInputs

from salesplan.engine.common import PASSED, REPORT_COLUMNS
from salesplan.engine.common import _FILE, _FLOAT_KEYS, _REL_TOL
from salesplan.engine.chance import TOO_LATE_CHANCE, chance_to_reach
from salesplan.engine.pipeline import pipeline_columns
from salesplan.engine.prep import _Prep, _best_before


# --------------------------------------------------------------------------- the numbers
def _spread_plan(prep: _Prep, months: tuple[int, ...], lo: dt.date, hi: dt.date) -> tuple:
    """The calendar-free part of :func:`_spread` for [lo, hi]: the fiscal months wholly inside,
    and the pieces of the others (made once per period, not once per calendar)."""
    full, part, a0s, a1s = [], [], [], []
    for m in months:
        ms, me = prep.fy_months[m], prep.fy_month_ends[m]
        a0, a1 = max(ms, lo), min(me, hi)
        if a1 < a0:
            continue
        if a0 == ms and a1 == me:
            full.append(m)
        else:
            part.append(m)
            a0s.append(a0)
            a1s.append(a1)
    if not part:
        return full, part, None, None, None, None
    a0v = np.array(a0s, dtype="datetime64[D]")
    a1v = np.array(a1s, dtype="datetime64[D]")
    days = (a1v - a0v).astype(np.int64) + 1
    month_days = np.array([(prep.fy_month_ends[m] - prep.fy_months[m]).days + 1 for m in part])
    return full, part, a0v, a1v, days, month_days


def _spread(tm: np.ndarray, plan: tuple, g: Any) -> np.ndarray:
    """Σ over the fiscal months m of T_m × wd(m ∩ [lo, hi]) ÷ wd(m) for every row of ``tm`` (the
    owners of calendar group ``g``; ``plan``: :func:`_spread_plan` of [lo, hi]); calendar days
    for a month without working days; a month wholly inside [lo, hi] adds T_m itself, so
    months, quarters and years add their targets exactly."""
    full, part, a0v, a1v, days, month_days = plan
    out = tm[:, full].sum(axis=1)
    if part:
        num = np.busday_count(a0v, a1v + ONE_DAY, busdaycal=g.cal.busdaycal)
        den = g.month_wd[part]
        num = np.where(den == 0, days, num)  # no working day in the month: calendar days
        den = np.where(den == 0, month_days, den)
        for i, m in enumerate(part):
            out = out + tm[:, m] * int(num[i]) / int(den[i])
    return out


def _week_targets(prep: _Prep, plist: list[Period]) -> np.ndarray:
    """owners x weeks: each week's target, Σ over months m of T_m × wd(m ∩ week) ÷ wd(m) (calendar
    days for a month without working days), with one working-day count per calendar."""
    n, k = len(prep.owners.ids), len(plist)
    out = np.zeros((n, k))
    if not k:
        return out
    # each (week, month) piece: at most two per week
    wi, mi, a0, a1 = [], [], [], []
    for i, P in enumerate(plist):
        for m in P.months:
            wi.append(i)
            mi.append(m)
            a0.append(max(P.start, prep.fy_months[m]))
            a1.append(min(P.end, prep.fy_month_ends[m]))
    wi_a, mi_a = np.array(wi), np.array(mi)
    a0v, a1v = np.array(a0, dtype="datetime64[D]"), np.array(a1, dtype="datetime64[D]")
    days = (a1v - a0v).astype(np.int64) + 1
    month_days = np.array([(prep.fy_month_ends[m] - prep.fy_months[m]).days + 1 for m in mi])
    for g in prep.groups:
        if len(g.owners) == 0:
            continue
        num = np.busday_count(a0v, a1v + ONE_DAY, busdaycal=g.cal.busdaycal)
        den = g.month_wd[mi_a]
        num = np.where(den == 0, days, num)  # no working day in the month: calendar days
        den = np.where(den == 0, month_days, den)
        pieces = prep.tm[g.owners][:, mi_a] * num / den
        part = np.zeros((len(g.owners), k))
        np.add.at(part.T, wi_a, pieces.T)
        out[g.owners] = part
    return out


def _compute(prep: _Prep, P: Period, as_of: dt.date, *, with_chance: bool = True,
             target: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All numbers of period ``P`` at ``as_of`` for every owner of ``prep`` (docs/numbers.md).
    ``target``: the period's targets when already known (weeks: see :func:`_week_targets`)."""
    n = len(prep.owners.ids)
    nan = np.full(n, np.nan)
    tm = prep.tm
    out: dict[str, Any] = {k: nan.copy() for k in _FLOAT_KEYS}
    if target is not None:
        T = target
    elif P.grain == "week":
        T = _week_targets(prep, [P])[:, 0]
    else:
        T = tm[:, list(P.months)].sum(axis=1)
    out["target"] = T
    elapsed = np.zeros(n, dtype=np.int64)
    left = np.zeros(n, dtype=np.int64)
    out["working_days_elapsed"], out["working_days_left"] = elapsed, left
    out["point_of_no_return"] = np.full(n, None, dtype=object)
    out["working_days_to_act"] = np.full(n, -1, dtype=np.int64)  # -1 = empty
    out["_chance_n"] = np.zeros(n, dtype=np.int64)
    out["_chance_hits"] = np.zeros(n, dtype=np.int64)
    out["_chance_own_n"] = np.zeros(n, dtype=np.int64)
    out["_chance_own_hits"] = np.zeros(n, dtype=np.int64)

    if P.start > as_of:  # not started: only the target; every other number empty (-1 here)
        elapsed[:] = -1
        left[:] = -1
        out["status"] = np.full(n, "not_started", dtype=object)
        return out

    L = prep.L
    e = min(as_of, P.end)
    e64 = to_d64(e)
    je = int((e64 - prep.d0).astype(np.int64))
    jps = int((to_d64(P.start) - prep.d0).astype(np.int64))
    s0 = prep.s0
    A = s0[:, je + 1] - s0[:, jps]
    E = np.zeros(n)

    c = nan.copy()
    B = nan.copy()
    ponr_dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    bucket_e = {}
    start = prep.owners.start
    # the period's days as datetime64 once: the loop runs once per working calendar (one per
    # territory holiday set), and the calendar's date-converting helpers cost more than the
    # arithmetic for a small organisation
    ps64, after_e, after_end = to_d64(P.start), e64 + ONE_DAY, to_d64(P.end) + ONE_DAY
    plan = _spread_plan(prep, P.months, P.start, e) if e < P.end else None
    for gi, g in enumerate(prep.groups):
        og, cal = g.owners, g.cal
        if len(og) == 0:
            continue
        bdc = cal.busdaycal
        elapsed[og] = max(int(np.busday_count(ps64, after_e, busdaycal=bdc)), 0)  # cal.wd(P.start, e)
        left[og] = max(int(np.busday_count(after_e, after_end, busdaycal=bdc)), 0)  # cal.wd(e + 1, P.end)
        if plan is not None:  # else E = T: the same sum over the whole period
            E[og] = _spread(tm[og], plan, g)
        be = np.busday_offset(e64, 0, roll="backward", busdaycal=bdc)  # cal.bucket(e)
        i_e = int(g.bidx[je])
        s = i_e - L + 1
        before = s0[og, g.wdays[s]] if s >= 0 else 0.0
        wsum = s0[og, je + 1] - before  # the L-window ending at bucket(e), truncated at e
        cg = wsum / L
        st = start[og]
        if (~np.isnat(st)).any():
            ws = np.busday_offset(be, -(L - 1), busdaycal=bdc)
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
        best = _best_before(prep, g, i_e - 1) if i_e >= 1 else np.full(len(og), -np.inf)
        trunc_ok = (s >= g.fb) & (prep.first_day[og] <= je)
        best = np.maximum(best, np.where(trunc_ok, wsum, -np.inf))
        B[og] = np.where(np.isfinite(best), best / L, np.nan)
        bucket_e[gi] = be

    if e >= P.end:
        E = T.copy()
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

    no_target = T == 0
    achieved = (A >= T - tol) & ~no_target
    chance = nan.copy()
    if with_chance:
        est = chance_to_reach(prep, P, as_of, T=T, A=A, c=c, elapsed=elapsed, left=left)
        chance = est.chance
        out.update(_chance_n=est.n, _chance_hits=est.hits, _chance_own_n=est.own_n, _chance_own_hits=est.own_hits)
    chance = np.where((left == 0) & ~achieved, 0.0, chance)  # the period is over: the miss is certain
    chance[achieved | no_target] = np.nan

    status = np.full(n, "off_track", dtype=object)
    at_risk = pace >= prep.settings.at_risk - _REL_TOL
    on_track = np.isnan(pace) | (pace >= 1.0 - _REL_TOL)
    # too late needs, besides the passed point of no return, a chance below 0.05 where one is
    # known; with a higher chance the owner is off_track (and still shows 'passed')
    rule2 = passed | ((left == 0) & (A < T - tol))
    hopeful = rule2 & (chance >= TOO_LATE_CHANCE)
    status[at_risk] = "at_risk"
    status[on_track] = "on_track"
    status[hopeful] = "off_track"
    status[rule2 & ~hopeful] = "too_late"
    status[achieved] = "achieved"
    status[no_target] = "no_target"

    coverage = nan.copy()
    if prep.level == "rep" and P.grain == "year":
        with np.errstate(divide="ignore", invalid="ignore"):
            coverage = np.where(need > 0, prep.open_impact / need, np.nan)

    out.update(
        expected_to_date=E, actual_to_date=A, attainment=attainment, pace=pace, gap_to_date=E - A,
        remaining=T - A, required_per_working_day=r, current_per_working_day=c,
        acceleration=acceleration, best_per_working_day=B, projection_linear=proj_lin,
        projection_seasonal=proj_seas, status=status, point_of_no_return=ponr,
        working_days_to_act=n_act, action_coverage=coverage, chance_to_reach=chance,
    )
    if prep.metric == "revenue":
        out.update(pipeline_columns(prep, P, as_of, T=T, A=A, tol=tol))
    return out


# Results of _compute kept per preparation (prep.cache), most recently used last, up to this many
# bytes of arrays each: a digest asks for the same period at the same date for its report, its
# chance details and its watch list, and the alerts again; status_history's Sundays are not kept
# for long at 10,000 reps.
_COMPUTED_BUDGET = 16 << 20
_COMPUTED_LOCK = threading.Lock()


def _computed(prep: _Prep, P: Period, as_of: dt.date) -> dict[str, np.ndarray]:
    """:func:`_compute` of ``P`` at ``as_of``, computed once per preparation (see
    _COMPUTED_BUDGET) and read-only: every caller gets the same arrays."""
    key = (P, as_of)
    with _COMPUTED_LOCK:
        kept: OrderedDict = prep.cache.setdefault("computed", OrderedDict())
        found = kept.get(key)
        if found is not None:
            kept.move_to_end(key)
            return found[0]
    out = _compute(prep, P, as_of)
    size = 0
    for array in out.values():
        array.flags.writeable = False
        size += array.nbytes
    with _COMPUTED_LOCK:
        kept[key] = out, size
        total = sum(s for _, s in kept.values())
        while total > _COMPUTED_BUDGET and kept:
            _, (_, old) = kept.popitem(last=False)
            total -= old
    return out


CHANCE_COUNTS = {"_chance_n": "similar_positions", "_chance_hits": "reached",
                 "_chance_own_n": "own_positions", "_chance_own_hits": "own_reached"}


def _frame(prep: _Prep, plist: list[Period], as_of: dt.date, *, details: bool = False,
           select: np.ndarray | None = None) -> pd.DataFrame:
    """Rows owner-major (each owner's periods in fiscal order), exactly REPORT_COLUMNS (plus the
    chance's counts, see CHANCE_COUNTS, when ``details``); ``select``: only these owner positions
    (the numbers are still computed for all, as the chance pools every owner of the level)."""
    k = len(plist)
    if plist and plist[0].grain == "week":
        targets = _week_targets(prep, plist)
        parts = [_compute(prep, P, as_of, target=targets[:, i]) for i, P in enumerate(plist)]
    else:
        parts = [_computed(prep, P, as_of) for P in plist]
    ids, names = np.array(prep.owners.ids, dtype=object), np.array(prep.owners.names, dtype=object)
    if select is not None:
        parts = [{key: value[select] for key, value in part.items()} for part in parts]
        ids, names = ids[select], names[select]
    n = len(ids)

    def col(key: str) -> np.ndarray:
        if n == 0:
            return np.zeros(0, dtype=parts[0][key].dtype) if parts else np.zeros(0)
        return np.stack([p[key] for p in parts], axis=1).ravel()  # owner-major

    # the text columns stay objects as they have always been: the frame is made without pandas'
    # inference (_new_frame), which would make a string dtype of them
    data: dict[str, Any] = {
        "owner_type": np.full(n * k, prep.level, dtype=object),
        "owner_id": np.repeat(ids, k),
        "owner_name": np.repeat(names, k),
        "metric": np.full(n * k, prep.metric, dtype=object),
        "period": np.tile(np.array([P.label for P in plist], dtype=object), n),
        "period_start": np.tile(np.array([P.start for P in plist], dtype=object), n),
        "period_end": np.tile(np.array([P.end for P in plist], dtype=object), n),
        "as_of": np.full(n * k, as_of, dtype=object),
    }
    for key in REPORT_COLUMNS[8:]:
        if key in data:
            continue
        if key in ("working_days_to_act", "working_days_elapsed", "working_days_left"):
            values = col(key)
            empty = values < 0  # no point of no return, or not started
            data[key] = pd.arrays.IntegerArray(np.where(empty, 0, values).astype(np.int64, copy=False), empty)
        elif key == "status":
            data[key] = col(key).astype(object)
        elif key == "point_of_no_return":  # inferred as pandas infers it: str when it holds no date
            data[key] = pd.Series(col(key).astype(object), copy=False)._values
        else:
            data[key] = col(key).astype(float)
    columns = list(REPORT_COLUMNS)
    if details:
        for key, name in CHANCE_COUNTS.items():
            data[name] = col(key).astype(np.int64)
            columns.append(name)
    return _new_frame(data, columns)


def _new_frame(data: dict[str, Any], columns: list[str]) -> pd.DataFrame:
    """The frame of the columns ``data`` holds, in the order of ``columns``, each column's dtype
    the dtype of its array as given (object arrays stay objects; dates in them are not inferred).

    pandas' own constructor checks and converts every column again (~1.5 ms of CPU for a
    report's 35 columns, whatever its length: more than the numbers of a small organisation
    cost, and a digest run builds dozens of frames); the arrays here are fresh one-dimensional
    numpy arrays and pandas arrays of one length, which is what pandas' ``_from_arrays`` takes
    unchecked. Where a pandas version lacks it, the public constructor does the same more slowly."""
    arrays = [data[name] for name in columns]
    build = getattr(pd.DataFrame, "_from_arrays", None)
    if build is None:  # pragma: no cover - pandas versions without it
        return pd.DataFrame({name: pd.Series(a, dtype=a.dtype, copy=False) for name, a in zip(columns, arrays)},
                            columns=columns)
    n = len(arrays[0]) if arrays else 0
    return build(arrays, columns=pd.Index(columns), index=pd.RangeIndex(n), verify_integrity=False)


def _resolve(inputs: EngineInputs, as_of: Any, fy: int | None) -> tuple[dt.date, int]:
    try:
        d = to_date(as_of)
    except (TypeError, ValueError):
        raise BadInput.single(_FILE, f"as-of date {as_of!r} is not a date", column="as_of") from None
    if not FIRST_DATE <= d <= LAST_DATE:
        raise BadInput.single(_FILE, f"as-of date {d.isoformat()} is out of range ({FIRST_DATE} to {LAST_DATE})",
                              column="as_of")
    sm = inputs.settings.fy_start_month
    year = int(fy) if fy is not None else fiscal_year_of(d, sm)
    lo, hi = fiscal_year_of(FIRST_DATE, sm), fiscal_year_of(LAST_DATE, sm)
    if not lo <= year <= hi:
        raise BadInput.single(_FILE, f"fiscal year {year} is out of range ({lo}-{hi})", column="fy")
    return d, year



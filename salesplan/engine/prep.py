"""The per-level matrices the numbers are read from (built once per level, FY and metric)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterator

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
from salesplan.engine.common import (_BIG, _Org, _Owners, _codes, _dates, _memo_of, _memoised, _open_impact, _org, _owners,
                                     _read_only, _row_owner, _targets_all)

# --------------------------------------------------------------------------- preparation
@dataclass
class _Group:
    """Owners sharing one working calendar, with its day -> bucket index and B running maximum."""

    cal: WorkingCalendar
    owners: np.ndarray
    wdays: np.ndarray  # day index (from D0) of each working day in [D0, D1]
    bidx: np.ndarray  # bucket (working-day) index of each day
    fb: np.ndarray  # bucket of each owner's first actual (or _BIG)
    # buckets i >= run0 x owners: the running max over i' <= i of the full L-window sums ending
    # at bucket i' (row i - run0; see _window_runmax); the buckets before the FY are not kept
    runmax: np.ndarray
    month_wd: np.ndarray  # working days of each of the FY's 12 months
    run0: int = 0


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
    # owners x (ndays + 1) prefix sums: a transposed view of a days x owners matrix (see _build)
    s0: np.ndarray
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


_CHUNK = 1 << 20  # lines per chunk of the per-line arithmetic
_NAT = np.iinfo(np.int64).min
_NO_TICK = np.iinfo(np.int64).max
_UNITS = 10_000  # amounts are stored with four decimals (DECIMAL(18, 4))
_EXACT = 2.0**52  # below this, sums of whole numbers in float64 are exact


def _cell_sums(chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]], size: int) -> np.ndarray:
    """Σ amount per cell index (float64, ``size`` cells) of the lines ``chunks()`` yields, a
    chunk at a time as (cell index of each line, its amount); called again for the rare case.

    A cell whose amounts are all whole numbers of ten-thousandths (amounts in one currency: the
    nearest double of a four-decimal number) and whose absolute amounts add up to less than
    _EXACT ten-thousandths sums those whole numbers, exactly, and divides once: the cell is then
    the nearest double of its exact sum, whatever the order of the rows (the store hands over
    lines in the database's own order, which differs between backends). Any other cell (a
    converted amount among its lines, or sums too large to be exact in a double) sums its rows
    in their order. Decided per cell: one huge or converted cell no longer turns the exact sums
    off for every other. Chunk by chunk (np.add.at adds in row order, as bincount did): no
    array of one number per line is made whole."""
    cells = np.zeros(size)
    whole, total = True, 0.0
    for flat, amount in chunks():
        units = np.multiply(amount, _UNITS)
        np.rint(units, out=units)
        whole = whole and np.array_equal(units / _UNITS, amount)
        total += float(np.abs(units).sum())
        np.add.at(cells, flat, units)
    cells /= _UNITS
    if whole and total < _EXACT:  # every cell exact (the usual case): nothing more to do
        return cells
    # the rare case: find the cells that cannot be exact and sum their rows in order instead
    inexact = np.zeros(size, dtype=bool)
    magnitude = np.zeros(size) if total >= _EXACT else None
    in_order = np.zeros(size)
    for flat, amount in chunks():
        units = np.rint(np.multiply(amount, _UNITS))
        if not whole:
            inexact[flat[np.divide(units, _UNITS) != amount]] = True
        if magnitude is not None:
            np.add.at(magnitude, flat, np.abs(units))
        np.add.at(in_order, flat, amount)
    if magnitude is not None:
        inexact |= magnitude >= _EXACT
    np.copyto(cells, in_order, where=inexact)
    return cells


_TICKS_PER_DAY = {"D": 1, "h": 24, "m": 1_440, "s": 86_400, "ms": 86_400 * 10**3, "us": 86_400 * 10**6,
                  "ns": 86_400 * 10**9}


def _day_ticks(series: pd.Series) -> tuple[np.ndarray, int]:
    """The dates of ``series`` as their int64 ticks (a view, no copy, for a datetime64 column)
    and the ticks per day; NaT is the smallest int64."""
    values = series.to_numpy()
    if values.dtype.kind != "M":
        values = _dates(series)
    unit, count = np.datetime_data(values.dtype)
    if unit not in _TICKS_PER_DAY or count != 1:
        values, unit = _dates(series), "D"
    return values.view(np.int64), _TICKS_PER_DAY[unit]


def _window_runmax(s0: np.ndarray, og: np.ndarray, wdays: np.ndarray, ndays: int, L: int,
                   fb: np.ndarray, run0: int) -> np.ndarray:
    """Working days i >= ``run0`` x owners ``og``: the running maximum over i' <= i of the full
    L-bucket window sums ending at bucket i' and starting at or after the owner's first bucket
    ``fb`` (-inf where there is none).

    The report reads it only at buckets of its fiscal year (``run0``: the bucket before the FY's
    first day), but the maximum runs over the whole history: it is carried through blocks of
    working days in one scratch buffer instead of a working days x owners matrix (at 10,000
    reps that matrix was the engine's largest piece of fresh memory after the prefix sums).
    ``s0`` is owners x days; its transpose is read row by row (a day's sums of every owner)."""
    nw = len(wdays)
    out = np.zeros((max(nw - run0, 0), len(og)))
    if not nw or not len(og):
        return out
    days_first = s0.T  # (ndays + 1) x owners, C-ordered when s0 is the view _build makes
    endp1 = np.append(wdays[1:], ndays)  # exclusive end day of each bucket
    carry = np.full(len(og), -np.inf)
    whole = len(og) == s0.shape[0] and bool((og == np.arange(len(og))).all())
    rows = max(1, _CHUNK // len(og))
    for i0 in range(max(L - 1, 0), nw, rows):  # a window needs L buckets: none ends before L - 1
        i1 = min(i0 + rows, nw)
        ends, starts = endp1[i0:i1], wdays[i0 - L + 1:i1 - L + 1]
        block = days_first[ends] if whole else days_first[np.ix_(ends, og)]
        block -= days_first[starts] if whole else days_first[np.ix_(starts, og)]
        np.putmask(block, (np.arange(i0, i1) - L + 1)[:, None] < fb[None, :], -np.inf)
        np.maximum(block[0], carry, out=block[0])
        np.maximum.accumulate(block, axis=0, out=block)
        carry = block[-1].copy()
        if i1 > run0:
            lo = max(i0, run0)
            out[lo - run0:i1 - run0] = block[lo - i0:]
    if run0 < L - 1:  # rows of buckets without a full window: no window yet
        out[:min(L - 1, nw) - run0] = -np.inf
    return out


def _best_before(prep: Any, g: _Group, i: int) -> np.ndarray:
    """Row ``i`` of the group's running maximum (see _window_runmax): kept for the FY's buckets;
    an earlier one (no period of the FY ends there) is computed again."""
    if i >= g.run0:
        return g.runmax[i - g.run0]
    return _window_runmax(prep.s0, g.owners, g.wdays, prep.ndays, prep.L, g.fb, i)[0]


# Preparations kept per inputs object (common._memo_of), most recently used last, up to this many
# bytes of matrices per object: a digest asks for the same few again and again, and at 10,000
# reps x 10 years one rep-level preparation alone is hundreds of MB, which is then not kept.
_PREP_BUDGET = 256 << 20
_PREP_LOCK = threading.Lock()


def _prep_bytes(prep: _Prep) -> int:
    size = prep.s0.nbytes + sum(g.runmax.nbytes + g.bidx.nbytes + g.wdays.nbytes for g in prep.groups)
    if prep.deals is not None:
        d = prep.deals
        size += sum(a.nbytes for a in (d.rep, d.snap, d.close, d.amount, d.prob, d.scope_rep, d.scope_snap))
    return size


def _prepare(inputs: EngineInputs, level: str, metric: str, fy: int, last_day: dt.date,
             only: list[str] | None = None) -> _Prep:
    """The matrices for ``level`` holding actuals up to min(last_day, FY end): built once per
    inputs object, level, metric, FY and that day (see _PREP_BUDGET), read-only, shared by every
    caller. Raises BadInput for a run-rate window below one working day."""
    if only is not None:
        return _build(inputs, level, metric, fy, last_day, only)
    fy_end = fiscal_year_bounds(fy, inputs.settings.fy_start_month)[1]
    key = (level, metric, int(fy), min(last_day, fy_end))  # last_day is used only as min(last_day, FY end)
    with _PREP_LOCK:
        kept: OrderedDict = _memo_of(inputs).setdefault("preps", OrderedDict())
        prep = kept.get(key)
        if prep is not None:
            kept.move_to_end(key)
            return prep
    prep = _build(inputs, level, metric, fy, last_day)
    size = _prep_bytes(prep)
    if size <= _PREP_BUDGET:
        with _PREP_LOCK:
            kept[key] = prep
            total = sum(_prep_bytes(p) for p in kept.values())
            while total > _PREP_BUDGET:
                _, old = kept.popitem(last=False)
                total -= _prep_bytes(old)
    return prep


def _build(inputs: EngineInputs, level: str, metric: str, fy: int, last_day: dt.date,
           only: list[str] | None = None) -> _Prep:
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
    owner_codes, owner_table = _row_owner(level, org, act)
    rep_owner = _rep_owner(level, org)
    if only is not None:
        keep_ids = [i for i in only]
        pos = [owners.ids.index(i) for i in keep_ids]
        remap = np.full(len(owners.ids) + 1, -1, dtype=np.int64)
        remap[pos] = np.arange(len(pos))
        owner_table = remap[owner_table]  # -1 -> last slot -> -1
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
    key_of = {t: cal.key for t, cal in by_terr.items()}  # a key is built from the holidays: once per territory
    owner_key = []
    for t in owners.cal_territory:
        k = key_of[t]
        cals.setdefault(k, by_terr[t])
        owner_key.append(k)
    keys = list(cals)
    key_pos = {k: i for i, k in enumerate(keys)}
    grp = np.array([key_pos[k] for k in owner_key], dtype=np.int64)

    # actuals -> owners x days matrix. At 10M lines every array of one number per line costs more
    # in fresh memory than its arithmetic: the lines are taken a chunk at a time (see _lines)
    d1 = to_d64(min(last_day, fy_end))
    ticks, per_day = _day_ticks(act["date"]) if len(act) else (np.zeros(0, dtype=np.int64), 1)
    if metric in act.columns and len(act):
        amount = pd.to_numeric(act[metric], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(amount).all():  # a copy only when there is something to replace
            amount = np.nan_to_num(amount)
    else:
        amount = np.zeros(len(act))
    last_tick = (int(d1.astype(np.int64)) + 1) * per_day - 1  # a tick t is on day t // per_day

    def lines() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """(owner, ticks, whether the line counts, amount) of each chunk of lines."""
        for start in range(0, len(ticks), _CHUNK):
            part = slice(start, start + _CHUNK)
            t = ticks[part]
            if owner_codes is None:
                owner = np.full(len(t), owner_table[0], dtype=np.int64)
            else:
                owner = owner_table[owner_codes[part]]
            yield owner, t, (owner >= 0) & (t != _NAT) & (t <= last_tick), amount[part]

    x = to_d64(fy_start)
    # the first day of a line that counts; when every line has an owner (the usual case) its
    # dates alone decide, without looking the owners up
    every_owned = (owner_table[0] >= 0 if owner_codes is None
                   else not len(owner_codes) or bool((owner_table[:-1] >= 0).all() and owner_codes.min() >= 0))
    if every_owned:
        first = min((int(np.min(t, where=(t != _NAT) & (t <= last_tick), initial=_NO_TICK))
                     for t in (ticks[i:i + _CHUNK] for i in range(0, len(ticks), _CHUNK))), default=_NO_TICK)
    else:
        first = min((int(np.min(t, where=keep, initial=_NO_TICK)) for _, t, keep, _ in lines()), default=_NO_TICK)
    if first != _NO_TICK:
        x = min(x, np.datetime64(first // per_day, "D"))
    d0 = min([to_d64(cals[k].bucket(x)) for k in keys], default=x)
    d1 = max(d1, to_d64(fy_start))
    ndays = int((d1 - d0).astype(np.int64)) + 1
    size = n * (ndays + 1)
    # The matrix is summed day-major, (ndays + 1) x owners, and handed on as its transpose (a
    # view): imports list their lines by date far more often than by rep, and consecutive lines
    # then land in neighbouring cells instead of one row of days apart (at 10,000 reps a cache
    # and TLB miss per line, the largest cost of the preparation). The sums are the same: each
    # cell adds its lines in their order, and the running sums run over each owner's days. The
    # line of day j lands in row j + 1, so that the running sum in place leaves S0 (row 0 stays
    # 0: nothing before D0) without a second matrix; lines that do not count go to one cell
    # past the end.
    shift = int(d0.astype(np.int64)) - 1
    seen = np.zeros(size + 1, dtype=bool)

    def cells() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for owner, t, keep, part_amount in lines():
            flat = owner  # this chunk's own array: the cell index is made in place
            day = t // per_day
            day -= shift
            day *= n
            flat += day
            np.putmask(flat, ~keep, size)
            seen[flat] = True
            yield flat, part_amount

    by_day = _cell_sums(cells, size + 1)[:size].reshape(ndays + 1, n)
    np.cumsum(by_day, axis=0, out=by_day)
    s0 = by_day.T
    has = seen[:size].reshape(ndays + 1, n)
    first_day = np.where(has.any(axis=0), has.argmax(axis=0) - 1, _BIG).astype(np.int64)
    del has

    days = np.arange(d0, d1 + ONE_DAY, dtype="datetime64[D]")
    fm = np.array(fiscal_months(fy, settings.fy_start_month), dtype="datetime64[D]")
    groups = []
    for gi, k in enumerate(keys):
        cal = cals[k]
        og = np.flatnonzero(grp == gi)
        wmask = np.is_busday(days, busdaycal=cal.busdaycal)
        wdays = np.flatnonzero(wmask)
        bidx = np.cumsum(wmask) - 1
        fd = first_day[og]
        fb = np.where(fd < _BIG, bidx[np.minimum(fd, ndays - 1)], _BIG)
        # every period of the FY ends on or after its first day: its bucket minus one is the
        # earliest row _compute reads
        run0 = max(int(bidx[int((to_d64(fy_start) - d0).astype(np.int64))]) - 1, 0)
        runmax = _window_runmax(s0, og, wdays, ndays, L, fb, run0)
        month_wd = np.busday_count(fm, np.append(fm[1:], to_d64(fy_end) + ONE_DAY), busdaycal=cal.busdaycal)
        groups.append(_Group(cal, og, wdays, bidx, fb, runmax, month_wd, run0))

    # the deal arrays do not depend on the level: made once per inputs object, each level's
    # preparation gets them with its own rep -> owner map and its own open-deals cache
    shared = _memoised(inputs, ("deals",), lambda: prepare_deals(inputs, lambda ids: _codes(ids, org.rep_ids), rep_owner))
    deals = None if shared is None else dataclasses.replace(shared, rep_owner=rep_owner, cache={})
    # shared by every later caller (the memo): nothing may write into them
    _read_only(s0, first_day, tm, open_impact, owners.start, rep_owner)
    for g in groups:
        _read_only(g.owners, g.wdays, g.bidx, g.fb, g.runmax, g.month_wd)
    if deals is not None:
        _read_only(deals.rep, deals.snap, deals.close, deals.amount, deals.prob, deals.scope_rep, deals.scope_snap)
    return _Prep(level, metric, fy, settings, L, owners, tm, open_impact, d0, ndays, s0, first_day,
                 groups, fiscal_months(fy, settings.fy_start_month),
                 [month_end(m) for m in fiscal_months(fy, settings.fy_start_month)], deals)



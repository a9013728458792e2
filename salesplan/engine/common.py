"""Shared pieces of the engine: report columns, id cleaning, the organisation tree, targets
and open-action impact per owner."""

from __future__ import annotations

import functools
import math
import threading
import weakref
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from salesplan.calendar import (
    fiscal_months,
)
from salesplan.errors import BadInput
from salesplan.inputs import EngineInputs

REPORT_COLUMNS = [
    "owner_type", "owner_id", "owner_name", "metric", "period", "period_start", "period_end", "as_of",
    "target", "expected_to_date", "actual_to_date", "attainment", "pace", "gap_to_date", "remaining",
    "working_days_elapsed", "working_days_left", "required_per_working_day",
    "current_per_working_day", "acceleration", "best_per_working_day", "projection_linear",
    "projection_seasonal", "status", "point_of_no_return", "working_days_to_act", "action_coverage",
    "pipeline", "weighted_pipeline", "overdue_pipeline", "pipeline_coverage", "weighted_coverage",
    "projection_with_pipeline", "uncovered_gap", "chance_to_reach",
]
PIPELINE_COLUMNS = (
    "pipeline", "weighted_pipeline", "overdue_pipeline", "pipeline_coverage", "weighted_coverage",
    "projection_with_pipeline", "uncovered_gap",
)
WATCHLIST_COLUMNS = REPORT_COLUMNS + ["recommended_action", "plan_needs_update"]
MONEY_COLUMNS = (
    "target", "expected_to_date", "actual_to_date", "gap_to_date", "remaining",
    "required_per_working_day", "current_per_working_day", "best_per_working_day",
    "projection_linear", "projection_seasonal",
    "pipeline", "weighted_pipeline", "overdue_pipeline", "projection_with_pipeline", "uncovered_gap",
)
RATIO_COLUMNS = ("attainment", "pace", "action_coverage", "pipeline_coverage", "weighted_coverage", "chance_to_reach")
LEVELS = ("rep", "territory", "region", "org")
METRICS = ("revenue", "profit")
STATUSES = ("not_started", "no_target", "achieved", "too_late", "on_track", "at_risk", "off_track")
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
    "projection_linear", "projection_seasonal", "action_coverage", *PIPELINE_COLUMNS, "chance_to_reach",
)


# --------------------------------------------------------------------------- memo per inputs
# One report, watch list or digest asks for the same targets and matrices many times over one
# EngineInputs (a digest run: ~35 preparations). What is derived from an inputs object is kept
# while that object lives, keyed on the object itself: EngineInputs is a frozen dataclass of
# frames, so it is not hashable (its generated __hash__ hashes the frames) and a WeakKeyDictionary
# cannot hold it; an id() alone would be reused by a later object after garbage collection. So
# the key is id() *and* a weak reference that must still point at the very object asked about;
# the reference's callback drops the entry when the object dies. The engine never writes into
# the frames of its inputs (the store builds a new EngineInputs after every write), and the kept
# arrays are made read-only, so a caller that writes into them fails loudly instead of changing
# later answers.
_MEMOS: dict[int, tuple[weakref.ReferenceType, dict[Any, Any]]] = {}
# re-entrant: a garbage collection inside the locked section may run _forget in the same thread
_MEMO_LOCK = threading.RLock()


def _forget(key: int, ref: weakref.ReferenceType) -> None:
    with _MEMO_LOCK:
        entry = _MEMOS.get(key)
        if entry is not None and entry[0] is ref:  # not a newer object that got the same id
            del _MEMOS[key]


def _memo_of(inputs: EngineInputs) -> dict[Any, Any]:
    """The memo of ``inputs`` (created empty on first use, dropped when ``inputs`` is collected)."""
    key = id(inputs)
    with _MEMO_LOCK:
        entry = _MEMOS.get(key)
        if entry is not None and entry[0]() is inputs:
            return entry[1]
        memo: dict[Any, Any] = {}
        ref = weakref.ref(inputs, functools.partial(_forget, key))
        _MEMOS[key] = (ref, memo)
        return memo


def _memoised(inputs: EngineInputs, key: tuple, build: Callable[[], Any]) -> Any:
    """``build()``, computed once per ``inputs`` object and ``key`` (two threads may both build
    it the first time: the results are equal and either is kept)."""
    memo = _memo_of(inputs)
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = build()
        return value


def _read_only(*arrays: np.ndarray) -> None:
    """Freeze arrays that are kept in a memo and handed to every later caller."""
    for array in arrays:
        array.flags.writeable = False


# --------------------------------------------------------------------------- small helpers
def _clean(v: Any) -> str | None:
    """An id/name cell -> stripped string, or None when empty."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    s = str(v).strip()
    return s or None


def _code_parts(values: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Each cell's code and the cleaned value of each code (code -1: empty cell), via factorize
    so each distinct value is cleaned once."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # the store's daily actuals: codes already
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # as a list first: iterating an Arrow-backed array element by element is ~50x slower
    return codes, [_clean(u) for u in uniques.tolist()]


def _positions(cleaned: list[str | None], universe: list[str]) -> np.ndarray:
    """Position in ``universe`` of each cleaned value (-1 when absent), plus a last -1 for code -1."""
    pos = pd.Index(universe, dtype=object).get_indexer(pd.Index(cleaned, dtype=object)) if cleaned else np.zeros(0, np.int64)
    return np.append(np.asarray(pos, dtype=np.int64), -1)


def _codes(values: pd.Series, universe: list[str]) -> np.ndarray:
    """Position of each cell of ``values`` in ``universe`` (-1 when absent), via factorize so each
    distinct value is cleaned once."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    codes, cleaned = _code_parts(values)
    return _positions(cleaned, universe)[codes]


def _norm_is(series: pd.Series, default: str, value: str) -> np.ndarray:
    """Whether each cell, stripped and lower-cased (``default`` where empty), is ``value``;
    each distinct value is cleaned once, and no string column is built (at 350k target rows
    building one cost more than everything else done with the targets)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    match = np.array([(_clean(u) or default).lower() == value for u in uniques] + [default == value], dtype=bool)
    return match[codes]


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
    """The organisation tree of ``inputs``, built once per inputs object (see _memo_of): every
    level's preparation, the allocation and the status history ask for it again. Shared: its
    lists and arrays are not to be changed."""
    return _memoised(inputs, ("org",), lambda: _build_org(inputs))


def _build_org(inputs: EngineInputs) -> _Org:
    reps = inputs.reps
    rows: dict[str, tuple[str, str | None, Any, str | None]] = {}
    if len(reps):
        starts = _dates(reps["start_date"]) if "start_date" in reps.columns else np.full(len(reps), np.datetime64("NaT", "D"))
        names = reps["name"] if "name" in reps.columns else reps["rep_id"]
        terrs = reps["territory"] if "territory" in reps.columns else pd.Series([None] * len(reps))
        regs = reps["region"] if "region" in reps.columns else pd.Series([None] * len(reps))
        # as lists: iterating the frame's (Arrow-backed) string columns cell by cell is slow
        for rid, name, terr, reg, start in zip(reps["rep_id"].tolist(), names.tolist(), terrs.tolist(),
                                               regs.tolist(), starts):
            rid = _clean(rid)
            if rid is None or rid in rows:
                continue
            rows[rid] = (_clean(name) or rid, _clean(terr), start, _clean(reg))
    rep_ids = sorted(rows)
    terr_region: dict[str, str | None] = {}
    tf = inputs.territories
    if tf is not None and len(tf):
        regs = tf["region"] if "region" in tf.columns else pd.Series([None] * len(tf))
        for terr, reg in zip(tf["territory"].tolist(), regs.tolist()):
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


def _row_owner(level: str, org: _Org, actuals: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray]:
    """The owner position at ``level`` of every daily-actuals row (-1: belongs to no owner), as
    ``(codes, table)``: row i's owner is ``table[codes[i]]`` (``table``'s last entry is -1, for
    code -1), or ``table[0]`` for every row when ``codes`` is None. Kept apart so that the
    engine looks the owners up a chunk of rows at a time: at 10M rows an int64 owner per row
    is ~90 MB of fresh memory, the store's categorical codes are 2 bytes a row."""
    if level == "org":
        return None, np.array([0, -1], dtype=np.int64)
    if level == "rep":
        codes, cleaned = _code_parts(actuals["rep_id"]) if len(actuals) else (np.zeros(0, np.int64), [])
        return codes, _positions(cleaned, org.rep_ids)
    if "territory" not in actuals.columns:
        return None, np.array([-1, -1], dtype=np.int64)
    codes, cleaned = _code_parts(actuals["territory"]) if len(actuals) else (np.zeros(0, np.int64), [])
    terr = _positions(cleaned, org.territories)
    if level == "territory":
        return codes, terr
    return codes, np.append(org.terr_region_idx(), -1)[terr]  # terr == -1 picks the appended -1


# --------------------------------------------------------------------------- targets
def _target_cells(inputs: EngineInputs, fy: int, metric: str,
                  universes: dict[str, list[str]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per owner type of ``universes``: (amount matrix len(universe) x 12, presence matrix) of the
    stored targets. The frame's columns are read once for every owner type: for a small
    organisation the pandas calls per column cost more than the arithmetic."""
    out = {kind: (np.zeros((len(u), 12)), np.zeros((len(u), 12), dtype=bool)) for kind, u in universes.items()}
    t = inputs.targets
    if t is None or len(t) == 0:
        return out
    if "metric" in t.columns:
        of_metric = _norm_is(t["metric"], "revenue", metric)
    else:
        of_metric = np.full(len(t), metric == "revenue")
    if "owner_type" in t.columns:
        type_codes, type_uniques = pd.factorize(t["owner_type"], use_na_sentinel=True)
        kinds = np.array([(_clean(u) or "rep").lower() for u in type_uniques] + ["rep"], dtype=object)[type_codes]
    else:
        kinds = np.full(len(t), "rep", dtype=object)
    start = fiscal_months(fy, inputs.settings.fy_start_month)[0]
    month, amount = t["month"], t["amount"]
    # the store's (and the tests') frame: datetime64 months and float amounts, read as arrays once;
    # anything else is parsed per owner type as it always was (pandas infers a text column's
    # date format from its rows, so the rows parsed together stay the same)
    plain = isinstance(month.dtype, np.dtype) and month.dtype.kind == "M" and amount.dtype.kind == "f"
    if plain:
        m64 = month.to_numpy().astype("datetime64[M]")
        k_all = np.where(np.isnat(m64), np.nan,
                         m64.astype(np.int64) + (1970 * 12 + 1) - (start.year * 12 + start.month))
        amt_all = amount.to_numpy(dtype=float)
    owner_codes, owner_names = _code_parts(t["owner_id"])
    for kind, universe in universes.items():
        sel = of_metric & (kinds == kind)
        if not universe or not sel.any():
            continue
        amounts, present = out[kind]
        if plain:
            k, amt = k_all[sel], amt_all[sel]
        else:
            sub = t.loc[sel]
            months = pd.to_datetime(sub["month"], errors="coerce")
            k = (months.dt.year * 12 + months.dt.month - (start.year * 12 + start.month)).to_numpy()
            amt = pd.to_numeric(sub["amount"], errors="coerce").to_numpy(dtype=float)
        owner = _positions(owner_names, universe)[owner_codes[sel]]
        ok = (owner >= 0) & ~np.isnan(k.astype(float)) & ~np.isnan(amt)
        k = np.nan_to_num(k.astype(float), nan=-1).astype(np.int64)
        ok &= (k >= 0) & (k < 12)
        np.add.at(amounts, (owner[ok], k[ok]), amt[ok])
        present[owner[ok], k[ok]] = True
    return out


def _targets_all(inputs: EngineInputs, org: _Org, fy: int, metric: str) -> dict[str, Any]:
    """Target matrices of FY ``fy`` for every level (owners x 12 fiscal months, read-only), plus
    the territories' own targets and their reps' sums; ``org`` is ``_org(inputs)``. Built once
    per inputs object, FY and metric (see _memo_of): they depend on nothing else."""
    key = ("targets", int(fy), metric)
    return _memoised(inputs, key, lambda: _build_targets(inputs, org, fy, metric))


def _build_targets(inputs: EngineInputs, org: _Org, fy: int, metric: str) -> dict[str, Any]:
    cells = _target_cells(inputs, fy, metric, {"rep": org.rep_ids, "territory": org.territories})
    (rep_t, rep_p), (terr_t, terr_p) = cells["rep"], cells["territory"]
    # bottom-up: a territory's month sums the reps in it on the month's first day (docs/people.md)
    rtm = _rep_terr_by_month(inputs, org, fy)
    month = np.broadcast_to(np.arange(12), rtm.shape)
    nt = len(org.territories)
    reps_sum = np.zeros((nt, 12))
    reps_any = np.zeros((nt, 12), dtype=bool)
    inside = rtm >= 0
    np.add.at(reps_sum, (rtm[inside], month[inside]), rep_t[inside])
    np.logical_or.at(reps_any, (rtm[inside], month[inside]), rep_p[inside])
    eff = np.where(terr_p, terr_t, reps_sum)
    rgi = org.terr_region_idx()
    region = np.zeros((len(org.regions), 12))
    np.add.at(region, rgi[rgi >= 0], eff[rgi >= 0])
    # org: every territory (also those without a region) plus reps without a territory that month
    org_t = eff.sum(axis=0) + np.where(inside, 0.0, rep_t).sum(axis=0)
    out = dict(rep=rep_t, territory=eff, region=region, org=org_t[None, :],
               terr_own=terr_t, terr_own_p=terr_p, reps_sum=reps_sum, reps_any=reps_any)
    _read_only(*out.values())
    return out


def _rep_terr_by_month(inputs: EngineInputs, org: _Org, fy: int) -> np.ndarray:
    """reps x 12: position of each rep's territory on the first day of each fiscal month of FY
    ``fy`` (-1: none), from inputs.rep_history; a rep without a history row in effect keeps
    their current territory."""
    current = np.repeat(org.rep_terr_idx()[:, None], 12, axis=1)
    history = inputs.rep_history
    if history is None or len(history) == 0 or not org.rep_ids:
        return current
    # the last history row (by effective_from; among equal ones the later row) of the rep with
    # effective_from <= the month's first day: one sorted search over (rep, date) rank keys
    # instead of a merge_asof of a reps x 12 frame (which cost ~20 ms even for a few reps)
    rep = _codes(history["rep_id"], org.rep_ids)
    eff = pd.to_datetime(history["effective_from"], errors="coerce").to_numpy(dtype="datetime64[ns]")
    ok = (rep >= 0) & ~np.isnat(eff)
    if not ok.any():
        return current
    rep, eff = rep[ok], eff[ok]
    terr_of = _codes(history["territory"][ok], org.territories)
    starts = np.array(fiscal_months(fy, inputs.settings.fy_start_month), dtype="datetime64[ns]")
    dates = np.unique(np.concatenate([eff, starts]))
    span_key = rep * len(dates) + np.searchsorted(dates, eff)
    order = np.argsort(span_key, kind="stable")
    span_key, span_rep, span_terr = span_key[order], rep[order], terr_of[order]
    reps = np.arange(len(org.rep_ids))[:, None]
    query = reps * len(dates) + np.searchsorted(dates, starts)[None, :]
    found = np.searchsorted(span_key, query, side="right") - 1
    matched = found >= 0
    matched[matched] = span_rep[found[matched]] == np.broadcast_to(reps, found.shape)[matched]
    return np.where(matched, span_terr[np.maximum(found, 0)], current)


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



def _open_impact_per_rep(inputs: EngineInputs, org: _Org, fy: int) -> np.ndarray:
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
    _read_only(per_rep)
    return per_rep


def _open_impact(inputs: EngineInputs, org: _Org, fy: int, level: str) -> np.ndarray:
    # the reps' sums once per inputs object and FY: each level's preparation starts from them
    per_rep = _memoised(inputs, ("open_impact", int(fy)), lambda: _open_impact_per_rep(inputs, org, fy))
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



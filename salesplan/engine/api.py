"""The public engine functions: report, status history and watch list."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from collections.abc import Iterable

import numpy as np
import pandas as pd

from salesplan.calendar import (
    fiscal_year_bounds,
    GRAINS,
    periods,
)
from salesplan.currency import symbol_of
from salesplan.errors import NotFound
from salesplan.inputs import EngineInputs

from salesplan.engine.common import LEVELS, METRICS, ORG_ID, PASSED, REPORT_COLUMNS, WATCH_STATUSES, WATCHLIST_COLUMNS
from salesplan.engine.common import _check_choice, _clean, _org, _owners
from salesplan.engine.chance import explain
from salesplan.engine.numbers import CHANCE_COUNTS, _frame, _resolve
from salesplan.engine.prep import _prepare
from salesplan.engine.rows import rows_of

def report(inputs: EngineInputs, as_of: Any, *, fy: int | None = None, level: str = "rep",
           metric: str = "revenue", period: str = "year") -> pd.DataFrame:
    """The report: one row per owner of ``level`` and period of FY ``fy`` (default: the FY that
    contains ``as_of``), with exactly :data:`REPORT_COLUMNS` (docs/numbers.md). ``period`` is
    'year', 'quarter', 'month' or 'week'.

    Raises BadInput for an unknown level, metric or period, an as-of date that is not a date or
    lies outside 1900-01-01 .. 2199-12-31, or a fiscal year outside that range.

    Money and ratios are floats (NaN = empty); working_days_elapsed, working_days_left and
    working_days_to_act are nullable Int64; point_of_no_return is a ``datetime.date``, 'passed'
    or None; period_start, period_end and as_of are ``datetime.date``. Periods that start after
    ``as_of`` have status ``not_started`` and their target; every other number is empty.
    """
    _check_choice("level", level, LEVELS)
    _check_choice("metric", metric, METRICS)
    _check_choice("period", period, GRAINS)
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
    # the whole level: the owner's chance is read from its peers' history too
    prep = _prepare(inputs, owner_type, metric, fy, d)
    select = np.array([prep.owners.ids.index(oid)])
    P = periods(fy, inputs.settings.fy_start_month, "year")[0]
    first_sunday = fy_start + dt.timedelta(days=(6 - fy_start.weekday()) % 7)
    last = min(d, fy_end)
    rows = []
    sunday = first_sunday
    while sunday <= last:
        f = _frame(prep, [P], sunday, select=select)
        f.insert(0, "week_end", sunday)
        rows.append(f)
        sunday += dt.timedelta(days=7)
    cols = ["week_end"] + REPORT_COLUMNS
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)[cols]


def _money(v: float, symbol: str = "") -> str:
    """Money in the advice text: with the base currency's symbol when there is one ("€1,234.50",
    "-$50.00", "CHF 12.00"), the plain number in a single-currency organisation."""
    return f"{'-' if v < 0 else ''}{symbol}{abs(v):,.2f}"


def _pipeline_advice(row: dict[str, Any], symbol: str = "") -> str:
    """The advice's last words when the owner has a pipeline snapshot: the gap the weighted open
    deals leave uncovered (docs/numbers.md, 'Pipeline'); nothing without a snapshot."""
    uncovered = row.get("uncovered_gap")
    if uncovered is None or (isinstance(uncovered, float) and math.isnan(uncovered)) or row["working_days_left"] == 0:
        return ""
    if uncovered <= 0:
        return "; the weighted pipeline covers the rest of the gap"
    return f"; the weighted pipeline leaves {_money(uncovered, symbol)} of the gap uncovered"


def _recommend(row: dict[str, Any], open_impact: float, symbol: str = "") -> str:
    """Plain-words advice of a watch-list entry (docs/numbers.md, 'Early warnings')."""
    T, A = row["target"], row["actual_to_date"]
    c, r, B = row["current_per_working_day"], row["required_per_working_day"], row["best_per_working_day"]
    W = int(row["working_days_left"])
    gap = max(T - A, 0.0)
    if W == 0:
        return (f"the period has ended {_money(gap, symbol)} short of the target; agree how to treat the gap "
                f"(revise the target or carry it over)")
    c_known = not (c is None or (isinstance(c, float) and math.isnan(c)))
    shortfall = max(T - A - (c * W if c_known else 0.0), 0.0)
    to_add = max(shortfall - open_impact, 0.0)
    if row["point_of_no_return"] == PASSED:
        head = (f"the target is out of reach even at the best run-rate so far ({_money(B, symbol)} per working "
                f"day; {_money(r, symbol)} needed)")
        if to_add > 0:
            return f"{head}: add actions worth {_money(to_add, symbol)} to cover the rest of the gap, or agree a revised target"
        return (f"{head}: make sure the open actions (worth {_money(open_impact, symbol)}) deliver, "
                f"or agree a revised target")
    if not c_known:
        first = f"build a run-rate of {_money(r, symbol)} per working day (no current run-rate yet)"
    elif c < r:
        first = f"raise the run-rate from {_money(c, symbol)} to {_money(r, symbol)} per working day"
    else:
        first = (f"keep the run-rate of {_money(c, symbol)} per working day ({_money(r, symbol)} needed) to catch up "
                 f"with the plan")
    if to_add > 0:
        return f"{first} and add actions worth {_money(to_add, symbol)} to cover the rest of the gap"
    if shortfall > 0:
        return f"{first}; the open actions (worth {_money(open_impact, symbol)}) cover the rest of the gap if they deliver"
    return first


def watchlist(inputs: EngineInputs, as_of: Any, *, metric: str = "revenue",
              levels: Iterable[str] = LEVELS) -> pd.DataFrame:
    """Owners behind plan at ``as_of`` and at ``as_of`` - 7 days (year period of the FY that contains
    ``as_of``), sorted by urgency; REPORT_COLUMNS + recommended_action + plan_needs_update."""
    _check_choice("metric", metric, METRICS)
    d, fy = _resolve(inputs, as_of, None)
    settings = inputs.settings
    symbol = symbol_of(settings.base_currency)  # the advice's money (docs/currencies.md)
    P = periods(fy, settings.fy_start_month, "year")[0]
    week_before = d - dt.timedelta(days=7)
    frames = []
    for level in levels:
        _check_choice("level", level, LEVELS)
        prep = _prepare(inputs, level, metric, fy, d)
        now = _frame(prep, [P], d)
        then = _frame(prep, [P], week_before)

        def flagged(f: pd.DataFrame) -> np.ndarray:
            # in floats, as numpy arrays (NaN for an empty count, which is never late enough):
            # the same comparisons as on the Int64 columns, for a tenth of pandas' CPU
            elapsed = f["working_days_elapsed"].to_numpy(dtype=float, na_value=np.nan)
            total = elapsed + f["working_days_left"].to_numpy(dtype=float, na_value=np.nan)
            late_enough = elapsed > settings.grace * total
            return np.isin(f["status"].to_numpy(dtype=object), WATCH_STATUSES) & late_enough

        sel = flagged(now) & flagged(then)
        f = now.loc[sel].copy()
        impacts = prep.open_impact[sel]
        f["recommended_action"] = [_recommend(row, imp, symbol) + _pipeline_advice(row, symbol)
                                   for row, imp in zip(rows_of(f), impacts)]
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




def empty_watchlist_message(inputs: EngineInputs, as_of: Any, *, metric: str = "revenue") -> str:
    """What to say when the watch list at ``as_of`` is empty: never "everyone is on track" when
    nobody has a target for the fiscal year (then there is nothing to warn about).

    Raises BadInput for a bad as-of date or metric."""
    _check_choice("metric", metric, METRICS)
    d, fy = _resolve(inputs, as_of, None)
    year = report(inputs, d, fy=fy, level="org", metric=metric)
    if len(year) == 0 or (year["status"] == "no_target").all():
        return (f"Nobody is on the watch list: no owner has a {metric} target for FY{fy}, "
                f"so there is nothing to pace against. Import targets to get early warnings.")
    return (f"Nobody is on the watch list: every owner with a {metric} target is on track, achieved, "
            f"or FY{fy} is too young to tell.")


def chance_details(inputs: EngineInputs, as_of: Any, *, fy: int | None = None, level: str = "rep",
                   metric: str = "revenue", period: str = "year") -> pd.DataFrame:
    """"See the math" of chance_to_reach: per owner and period (as in :func:`report`), the chance,
    how many similar positions of past years it was read from (every owner of the level), how many
    of them reached the target from there, the same two counts for the owner's own history, and
    the plain-words explanation.

    Raises BadInput as :func:`report` does."""
    _check_choice("level", level, LEVELS)
    _check_choice("metric", metric, METRICS)
    _check_choice("period", period, GRAINS)
    d, fy = _resolve(inputs, as_of, fy)
    prep = _prepare(inputs, level, metric, fy, d)
    df = _frame(prep, periods(fy, inputs.settings.fy_start_month, period), d, details=True)
    counts = list(CHANCE_COUNTS.values())
    out = df[["owner_type", "owner_id", "period", "chance_to_reach", *counts]].copy()
    out["explanation"] = [
        explain(ch, n, h, on, oh)
        for ch, n, h, on, oh in zip(out["chance_to_reach"], *(out[c] for c in counts))
    ]
    return out

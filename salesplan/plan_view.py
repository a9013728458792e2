"""The My plan page's reading of the engine's rows, without the screen: the run-rate table and which
'when is it too late' message applies.

Every figure is the engine's (:func:`salesplan.engine.report` rows); the table only scales the
per-working-day rates by a count of working days the engine also reports. Plain Python.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from salesplan import engine


def _empty(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def current_month(months: pd.DataFrame, owner_id: str, as_of: dt.date) -> pd.Series | None:
    """The owner's row of ``engine.report(..., period="month")`` for the month holding ``as_of``."""
    mine = months[(months["owner_id"] == owner_id) & (months["period_start"] <= as_of) & (months["period_end"] >= as_of)]
    return None if mine.empty else mine.iloc[0]


def run_rates(year: pd.Series, month: pd.Series | None, working_days_a_week: int) -> pd.DataFrame:
    """Required and current sales per working day (the year row's), per week, and for the rest of
    the current month (its working days left, from the month row).

    Columns: ``per`` (label), ``days`` (working days the rate is multiplied by), ``required``,
    ``current`` (None where the engine has no rate) and ``derived_as``.
    """
    required, current = year["required_per_working_day"], year["current_per_working_day"]
    rows = [("per working day", 1, "engine figure"),
            ("per week", working_days_a_week, f"× {working_days_a_week} working days a week")]
    if month is not None:
        left = int(month["working_days_left"])
        name = f"{pd.Timestamp(month['period_start']):%b %Y}"
        rows.append((f"rest of {name}", left, f"× {left} working day{'s' if left != 1 else ''} left in {name}"))
    return pd.DataFrame({
        "per": [label for label, _, _ in rows],
        "days": [days for _, days, _ in rows],
        "required": [None if _empty(required) else float(required) * days for _, days, _ in rows],
        "current": [None if _empty(current) else float(current) * days for _, days, _ in rows],
        "derived_as": [how for _, _, how in rows],
    })


OUTLOOKS = ("achieved", "too_late", "point_of_no_return", "on_course", "short")


def outlook(year: pd.Series) -> str:
    """Which 'when is it too late' answer the year row gives, one of :data:`OUTLOOKS`:

    ``achieved`` (target reached), ``too_late`` (the engine's status: out of reach even at the best
    run), ``point_of_no_return`` (a date by which the pace must change), ``on_course`` (today's
    run-rate ends the year at or above the target), else ``short`` (today's pace is the best so far
    and still falls short).
    """
    if year["status"] == "achieved":
        return "achieved"
    if year["status"] == "too_late":
        return "too_late"
    ponr = year["point_of_no_return"]
    if not _empty(ponr) and ponr != engine.PASSED:
        return "point_of_no_return"
    projection = year["projection_linear"]
    if not _empty(projection) and float(projection) >= float(year["target"]):
        return "on_course"
    return "short"


def this_and_last_week(weeks: pd.DataFrame, owner_id: str, as_of: dt.date) -> pd.DataFrame:
    """The owner's rows of ``engine.report(..., period="week")`` for the week holding ``as_of``
    and the week before it, labelled in ``which`` ("This week", "Last week"); a week outside the
    fiscal year (the first week of a year has no last week in it) is left out."""
    mine = weeks[weeks["owner_id"] == owner_id]
    out = []
    for which, day in (("This week", as_of), ("Last week", as_of - dt.timedelta(days=7))):
        hit = mine[(mine["period_start"] <= day) & (mine["period_end"] >= day)]
        if not hit.empty:
            out.append(hit.iloc[[0]].assign(which=which))
    if not out:
        return mine.iloc[0:0].assign(which=pd.Series(dtype=object))
    return pd.concat(out, ignore_index=True)


def year_curve(weeks: pd.DataFrame, owner_id: str) -> pd.DataFrame:
    """The owner's burn-up points: at every Sunday of the fiscal year, ``expected_to_date`` (the
    cumulative target with its seasonality) and ``actual_to_date``, with ``week_end`` (that Sunday).

    ``weeks`` is ``engine.report(..., period="week")`` at the year's last day: a week's target is
    its months' targets spread over their working days and its actual is complete, so their sums
    up to a Sunday are what ``engine.status_history`` reports there as expected and actual to date.
    One week report of a level serves every owner of it, where the history recomputes the whole
    year's numbers at each of ~52 Sundays for one owner. A last week that ends on the year's last
    day but not on a Sunday is not a point (the history has no row for it either). Raises nothing.
    """
    mine = weeks[weeks["owner_id"] == owner_id].sort_values("period_start")
    curve = pd.DataFrame({
        "week_end": mine["period_end"].to_numpy(),
        "expected_to_date": mine["target"].astype(float).cumsum().to_numpy(),
        "actual_to_date": mine["actual_to_date"].astype(float).fillna(0.0).cumsum().to_numpy(),
    })
    sundays = np.fromiter((day.weekday() == 6 for day in curve["week_end"]), dtype=bool, count=len(curve))
    return curve.loc[sundays].reset_index(drop=True)  # a boolean array: an empty list would pick columns

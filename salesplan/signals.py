"""Plain-words signals for the pages (no storage, no streamlit): why a rep on pace still needs a
higher run-rate, a warning when the as-of date is far past the last sale, what is required in
each month left (from the working days left), and what an undo did.

Every function takes the engine's numbers (salesplan.engine, docs/) and returns text or a frame;
None means "nothing to say".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from salesplan.calendar import WorkingCalendar, add_months, month_end

__all__ = ["required_by_month", "seasonal_reason", "stale_data_warning", "undo_message"]

_TOL = 1e-9


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def seasonal_reason(row: Mapping[str, Any]) -> str | None:
    """Why a row on pace (pace >= 1) needs more per working day than it sells now (required run
    rate above the current one): the target's monthly shape puts more in the months ahead than in
    those behind. None when the row is not on pace, or the current rate covers the required one,
    or a number is missing. ``row`` holds the engine's pace, required_per_working_day and
    current_per_working_day. Raises nothing."""
    pace = _number(row.get("pace"))
    required = _number(row.get("required_per_working_day"))
    current = _number(row.get("current_per_working_day"))
    if pace is None or required is None or current is None:
        return None
    if pace < 1 - _TOL or required <= current + _TOL:
        return None
    return (f"On pace so far, but the plan's seasonal shape asks for more later: the months ahead need "
            f"{required:,.0f} per working day against {current:,.0f} now.")


def stale_data_warning(as_of: dt.date, last_actual: dt.date | None) -> str | None:
    """A warning when ``as_of`` is more than a month after the last sale in the data (a user who
    loaded history sees statuses for today as if nothing had been sold since). None when the
    data reach within a month of ``as_of`` or there are no sales at all. Raises nothing."""
    if last_actual is None or as_of <= _one_month_after(last_actual):
        return None
    days = (as_of - last_actual).days
    return (f"The as-of date {as_of.isoformat()} is {days} days after the last sale in the data "
            f"({last_actual.isoformat()}): the figures read as if nothing was sold since. Load recent actuals, "
            f"or pick an as-of date within the data.")


def _one_month_after(d: dt.date) -> dt.date:
    """The same day a month later (the month's last day when it has no such day: 31 Jan -> 28 Feb)."""
    first = add_months(dt.date(d.year, d.month, 1), 1)
    return min(dt.date(first.year, first.month, min(d.day, 28)) + dt.timedelta(days=max(d.day - 28, 0)),
               month_end(first))


def required_by_month(remaining: float, as_of: dt.date, period_end: dt.date, calendar: WorkingCalendar) -> pd.DataFrame:
    """What is required in each month left of a period: the remaining amount spread over the
    working days after ``as_of`` up to ``period_end`` (the engine's working days left), so each
    month gets its share of working days. Columns ``month`` (first day), ``working_days_left``
    and ``required``; the required amounts sum to ``remaining`` (none when nothing is left or no
    working day is). Raises nothing."""
    rows = []
    start = as_of + dt.timedelta(days=1)
    month = dt.date(start.year, start.month, 1)
    while month <= period_end:
        first, last = max(month, start), min(month_end(month), period_end)
        rows.append((month, int(calendar.wd(first, last)) if first <= last else 0))
        month = add_months(month, 1)
    frame = pd.DataFrame(rows, columns=["month", "working_days_left"])
    total = int(frame["working_days_left"].sum()) if len(frame) else 0
    share = max(float(remaining), 0.0) / total if total else 0.0
    frame["required"] = frame["working_days_left"] * share
    return frame


def undo_message(result: Mapping[str, Any]) -> str:
    """What an undo did, from ``Store.undo``'s result: when a newer batch still holds some of its
    keys, how many keep their current values, instead of "back to their previous values".
    Raises nothing."""
    batch = result.get("batch_id")
    kept = int(result.get("kept_by_newer") or 0)
    newer = list(result.get("newer_batches") or [])
    if not kept:
        return f"Batch {batch} undone: its rows are back to their previous values."
    holders = ", ".join(str(b) for b in newer)
    plural = "s" if len(newer) != 1 else ""
    return (f"Batch {batch} undone. {kept:,} of its rows are also in the newer batch{plural} {holders}, so their "
            f"current values stay; the rest are back to their previous values.")

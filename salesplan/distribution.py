"""Target helpers of docs/files.md, Targets: turn an annual amount (or an amount over a date range) into monthly
targets.

Every helper returns ``{first day of calendar month: amount}`` (``datetime.date`` keys, fiscal /
chronological order). Amounts are not rounded; the last month takes whatever makes
``sum(result.values())`` (summed in that order) equal the input amount exactly, so floating-point
noise never changes a target's total. Bad arguments raise :class:`salesplan.errors.BadInput`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from salesplan.calendar import (
    WorkingCalendar,
    add_months,
    fiscal_months,
    month_end,
    to_date,
)
from salesplan.errors import BadInput

FILE = "distribution"


def _check_amount(amount: Any, file: str) -> float:
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise BadInput.single(file, f"amount {amount!r} is not a number", column="amount") from None
    if not math.isfinite(value):
        raise BadInput.single(file, f"amount {amount!r} is not a finite number", column="amount")
    if value < 0:
        raise BadInput.single(file, f"amount {value:g} is negative; targets must be >= 0", column="amount")
    return value


def _spread(amount: float, months: Sequence[dt.date], weights: Sequence[float]) -> dict[dt.date, float]:
    """amount x weight / Σ weights per month, exactly summing to ``amount``.

    Each share is cut down to a multiple of ulp(amount) (a change of at most 1e-16 relative) and
    the last month with a positive weight takes the remainder. Every partial sum is then exactly
    representable, so ``sum(values)`` equals ``amount`` whatever the summation order, and months
    of weight 0 stay exactly 0."""
    w = np.asarray(weights, dtype=float)
    total = float(w.sum())
    positive = [i for i, x in enumerate(w) if x > 0]
    if amount == 0 or not positive:
        return {m: 0.0 for m in months}
    q = float(np.spacing(amount))
    values = [math.floor(amount * float(x) / total / q) * q for x in w]
    k = positive[-1]
    values[k] = 0.0
    values[k] = amount - math.fsum(values)
    return dict(zip(months, values))


def even_by_month(amount: float, fy: int, settings: Any, *, file: str = FILE) -> dict[dt.date, float]:
    """The annual ``amount`` in twelve equal monthly parts of FY ``fy``."""
    value = _check_amount(amount, file)
    return _spread(value, fiscal_months(fy, settings.fy_start_month), [1.0] * 12)


def by_working_days(amount: float, fy: int, calendar: WorkingCalendar, settings: Any, *,
                    file: str = FILE) -> dict[dt.date, float]:
    """The annual ``amount`` over FY ``fy`` in proportion to each month's working days in
    ``calendar`` (by calendar days if the year holds no working day at all)."""
    value = _check_amount(amount, file)
    months = fiscal_months(fy, settings.fy_start_month)
    weights = [calendar.wd(m, month_end(m)) for m in months]
    if sum(weights) == 0:
        weights = [(month_end(m) - m).days + 1 for m in months]
    return _spread(value, months, weights)


def custom_percentages(amount: float, fy: int, percentages: Sequence[float] | Mapping[Any, float],
                       settings: Any, *, file: str = FILE) -> dict[dt.date, float]:
    """The annual ``amount`` by twelve percentages (0..100 each, in fiscal-month order, or a mapping
    keyed by month first day) that must total 100 % within 1e-6."""
    value = _check_amount(amount, file)
    months = fiscal_months(fy, settings.fy_start_month)
    if isinstance(percentages, Mapping):
        by_month = {to_date(k).replace(day=1): v for k, v in percentages.items()}
        unknown = [k for k in by_month if k not in months]
        if unknown:
            raise BadInput.single(file, f"month {unknown[0].isoformat()[:7]} is not in FY{fy}")
        pcts = [by_month.get(m, 0.0) for m in months]
    else:
        pcts = list(percentages)
    if len(pcts) != 12:
        raise BadInput.single(file, f"give 12 monthly percentages, not {len(pcts)}")
    try:
        p = [float(x) for x in pcts]
    except (TypeError, ValueError):
        raise BadInput.single(file, "every percentage must be a number") from None
    for i, x in enumerate(p):
        if not math.isfinite(x) or x < 0:
            raise BadInput.single(file, f"percentage of fiscal month {i + 1} is {x:g}; it must be >= 0")
    total = math.fsum(p)
    if abs(total - 100.0) > 1e-6:
        raise BadInput.single(file, f"percentages total {total:.10g} %, not 100 %")
    return _spread(value, months, p)


def _monthly_mapping(prior: Any) -> dict[dt.date, float]:
    """dict / Series indexed by month, or a frame with (month, amount) -> {month first day: Σ}."""
    if isinstance(prior, pd.DataFrame):
        cols = {c.lower(): c for c in prior.columns}
        mcol = cols.get("month") or cols.get("date")
        acol = cols.get("amount") or cols.get("revenue") or cols.get("actual")
        if mcol is None or acol is None:
            raise BadInput.single(FILE, "prior actuals need columns month and amount")
        items: Iterable[tuple[Any, Any]] = zip(prior[mcol], prior[acol])
    elif isinstance(prior, (pd.Series, Mapping)):
        items = prior.items()
    else:
        raise BadInput.single(FILE, "prior actuals must be a mapping, a Series or a frame")
    out: dict[dt.date, float] = {}
    for k, v in items:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        m = to_date(k).replace(day=1)
        out[m] = out.get(m, 0.0) + float(v)
    return out


def previous_year_shape(amount: float, fy: int, prior_monthly_actuals: Any, settings: Any,
                        calendar: WorkingCalendar | None = None, *, file: str = FILE) -> dict[dt.date, float]:
    """The annual ``amount`` in the shape of the owner's actuals in FY ``fy - 1``.

    ``prior_monthly_actuals``: ``{month: amount}`` (any day of the month as key), a Series indexed
    that way, or a frame with columns ``month``/``amount``. Month i of FY ``fy`` gets the share of
    month i of the previous FY; negative months (net returns) count as 0. **When the previous FY has
    no positive actuals, this falls back to** :func:`by_working_days` (with ``calendar``, or the
    settings' working weekdays and no holidays when no calendar is given).
    """
    value = _check_amount(amount, file)
    months = fiscal_months(fy, settings.fy_start_month)
    prior_months = [add_months(m, -12) for m in months]
    actual = _monthly_mapping(prior_monthly_actuals)
    weights = [max(actual.get(m, 0.0), 0.0) for m in prior_months]
    if not sum(weights) > 0:
        cal = calendar if calendar is not None else WorkingCalendar(settings.weekmask, [])
        return by_working_days(value, fy, cal, settings, file=file)
    return _spread(value, months, weights)


def spread_range(amount: float, start: Any, end: Any, calendar: WorkingCalendar, *,
                 file: str = FILE) -> dict[dt.date, float]:
    """``amount`` over [start, end] (inclusive), spread over the calendar months the range touches
    in proportion to the working days of each month inside the range; by calendar days when the
    range holds no working day."""
    value = _check_amount(amount, file)
    s, e = to_date(start), to_date(end)
    if e < s:
        raise BadInput.single(file, f"range end {e.isoformat()} is before its start {s.isoformat()}")
    months: list[dt.date] = []
    m = s.replace(day=1)
    while m <= e:
        months.append(m)
        m = add_months(m, 1)
    lo = [max(s, m) for m in months]
    hi = [min(e, month_end(m)) for m in months]
    weights = [int(x) for x in calendar.wd(np.array(lo, dtype="datetime64[D]"), np.array(hi, dtype="datetime64[D]"))]
    if sum(weights) == 0:
        weights = [(b - a).days + 1 for a, b in zip(lo, hi)]
    return _spread(value, months, weights)

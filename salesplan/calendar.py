"""Fiscal calendar and working days (docs/index.md, Words).

Everything here is vectorised on numpy's business-day functions (``np.busday_count``,
``np.busday_offset``, ``np.is_busday``) with a weekmask and a holiday list, so the engine can ask
for thousands of working-day counts at once.

Fiscal year FY N is the twelve months starting on the first day of ``fy_start_month`` that *end*
in calendar year N (start month 1: FY 2025 = calendar 2025; start month 7: FY 2025 =
2024-07-01 ... 2025-06-30).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

import numpy as np
import pandas as pd

from salesplan.errors import BadInput

ONE_DAY = np.timedelta64(1, "D")
GRAINS = ("year", "quarter", "month", "week")
FIRST_DATE = dt.date(1900, 1, 1)  # the dates the product accepts (actuals, targets, holidays, as-of)
LAST_DATE = dt.date(2199, 12, 31)


# --------------------------------------------------------------------------- date conversion
def to_d64(x: Any) -> Any:
    """A date-like scalar -> ``np.datetime64[D]``; an array-like -> ``ndarray[datetime64[D]]``."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "M":
            return x.astype("datetime64[D]")
        return pd.to_datetime(pd.Series(x.ravel())).to_numpy().astype("datetime64[D]").reshape(x.shape)
    if isinstance(x, (pd.Series, pd.Index, pd.DatetimeIndex)):
        return pd.to_datetime(pd.Series(np.asarray(x))).to_numpy().astype("datetime64[D]")
    if isinstance(x, (list, tuple)):
        return pd.to_datetime(pd.Series(list(x), dtype=object)).to_numpy().astype("datetime64[D]")
    if isinstance(x, np.datetime64):
        return x.astype("datetime64[D]")
    if isinstance(x, dt.datetime):  # includes pd.Timestamp
        return np.datetime64(x.date(), "D")
    if isinstance(x, dt.date):
        return np.datetime64(x, "D")
    return np.datetime64(pd.Timestamp(x).date(), "D")


def to_date(x: Any) -> dt.date:
    """One date-like value -> ``datetime.date``."""
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    if isinstance(x, np.datetime64):
        return x.astype("datetime64[D]").astype(dt.date)
    return pd.Timestamp(x).date()


def _out(value: Any) -> Any:
    """Scalar datetime64 -> date; arrays are returned as ``datetime64[D]`` arrays."""
    if np.ndim(value) == 0:
        return np.datetime64(value, "D").astype(dt.date)
    return np.asarray(value, dtype="datetime64[D]")


def _int_out(value: Any) -> Any:
    if np.ndim(value) == 0:
        return int(value)
    return np.asarray(value, dtype=np.int64)


# --------------------------------------------------------------------------- fiscal calendar
def _check_month(fy_start_month: int) -> None:
    if not 1 <= int(fy_start_month) <= 12:
        raise BadInput.single("settings", f"fy_start_month must be 1..12, not {fy_start_month}")


def add_months(d: dt.date, n: int) -> dt.date:
    """First day of the month ``n`` months after the month of ``d``."""
    k = d.year * 12 + (d.month - 1) + n
    return dt.date(k // 12, k % 12 + 1, 1)


def month_end(d: dt.date) -> dt.date:
    """Last day of the calendar month of ``d``."""
    return add_months(d, 1) - dt.timedelta(days=1)


def fiscal_year_of(d: Any, fy_start_month: int) -> int:
    """The fiscal year containing ``d`` (FY N ends in calendar year N)."""
    _check_month(fy_start_month)
    d = to_date(d)
    if fy_start_month == 1:
        return d.year
    return d.year + 1 if d.month >= fy_start_month else d.year


def fiscal_year_bounds(fy: int, fy_start_month: int) -> tuple[dt.date, dt.date]:
    """(first day, last day) of FY ``fy``."""
    _check_month(fy_start_month)
    start = dt.date(fy if fy_start_month == 1 else fy - 1, fy_start_month, 1)
    return start, add_months(start, 12) - dt.timedelta(days=1)


def fiscal_months(fy: int, fy_start_month: int) -> list[dt.date]:
    """First day of each calendar month of FY ``fy``, in fiscal order (12 dates)."""
    start, _ = fiscal_year_bounds(fy, fy_start_month)
    return [add_months(start, i) for i in range(12)]


def fiscal_month_index(month: Any, fy: int, fy_start_month: int) -> int | None:
    """0..11 position of the calendar month of ``month`` inside FY ``fy``; None when outside it."""
    d = to_date(month)
    start, _ = fiscal_year_bounds(fy, fy_start_month)
    i = (d.year * 12 + d.month) - (start.year * 12 + start.month)
    return i if 0 <= i < 12 else None


@dataclass(frozen=True)
class Period:
    """A fiscal year, quarter, month or week: label (``FY2025``, ``FY2025-Q1``, ``FY2025-M01``,
    ``FY2025-W01``), bounds, its grain and the 0..11 fiscal-month positions it touches."""

    label: str
    start: dt.date
    end: dt.date
    grain: str
    months: tuple[int, ...]


def periods(fy: int, fy_start_month: int, grain: str = "year") -> list[Period]:
    """The periods of FY ``fy`` at ``grain`` ('year', 'quarter', 'month' or 'week'), in fiscal order.

    Weeks run Monday to Sunday; every week that overlaps the FY is one period, clipped to the FY
    (the first and the last may be short), numbered from 1.

    Raises BadInput for an unknown grain or fy_start_month."""
    if grain not in GRAINS:
        raise BadInput.single("period", f"period must be one of {', '.join(GRAINS)}, not {grain!r}")
    return list(_periods(int(fy), int(fy_start_month), grain))


@functools.lru_cache(maxsize=256)
def _periods(fy: int, fy_start_month: int, grain: str) -> tuple[Period, ...]:
    """Cached: the engine asks for the same periods at every check of a backtest."""
    return tuple(_build_periods(fy, fy_start_month, grain))


def _build_periods(fy: int, fy_start_month: int, grain: str) -> list[Period]:
    months = fiscal_months(fy, fy_start_month)
    if grain == "year":
        return [Period(f"FY{fy}", months[0], month_end(months[11]), "year", tuple(range(12)))]
    if grain == "quarter":
        return [
            Period(f"FY{fy}-Q{q + 1}", months[3 * q], month_end(months[3 * q + 2]), "quarter",
                   tuple(range(3 * q, 3 * q + 3)))
            for q in range(4)
        ]
    if grain == "week":
        return _weeks(fy, months)
    return [
        Period(f"FY{fy}-M{i + 1:02d}", months[i], month_end(months[i]), "month", (i,))
        for i in range(12)
    ]


def _weeks(fy: int, months: list[dt.date]) -> list[Period]:
    fy_start, fy_end = months[0], month_end(months[11])
    monday = fy_start - dt.timedelta(days=fy_start.weekday())
    out: list[Period] = []
    while monday <= fy_end:
        start, end = max(monday, fy_start), min(monday + dt.timedelta(days=6), fy_end)
        touched = tuple(i for i, m in enumerate(months) if m <= end and month_end(m) >= start)
        out.append(Period(f"FY{fy}-W{len(out) + 1:02d}", start, end, "week", touched))
        monday += dt.timedelta(days=7)
    return out


# --------------------------------------------------------------------------- working days
class WorkingCalendar:
    """Working days = weekdays of ``weekmask`` (numpy style, e.g. '1111100') minus ``holidays``.

    All methods accept one date-like value (and then return an int or a ``datetime.date``) or an
    array of them (and then return numpy arrays, dates as ``datetime64[D]``).
    """

    def __init__(self, weekmask: str = "1111100", holidays: Iterable[Any] | np.ndarray = ()):
        if "1" not in str(weekmask):
            raise BadInput.single("settings", "there must be at least one working weekday")
        hol = to_d64(np.asarray(list(holidays) if not isinstance(holidays, np.ndarray) else holidays))
        hol = np.unique(np.asarray(hol, dtype="datetime64[D]").ravel())
        hol = hol[~np.isnat(hol)]
        self.weekmask = str(weekmask)
        self.holidays = hol
        self.busdaycal = np.busdaycalendar(weekmask=self.weekmask, holidays=hol)

    @property
    def key(self) -> tuple:
        """Hashable identity: two calendars with equal keys give the same working days."""
        return (self.weekmask, tuple(self.holidays.astype(np.int64).tolist()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkingCalendar) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"WorkingCalendar(weekmask={self.weekmask!r}, holidays={len(self.holidays)})"

    def is_working(self, d: Any) -> Any:
        r = np.is_busday(to_d64(d), busdaycal=self.busdaycal)
        return bool(r) if np.ndim(r) == 0 else r

    def wd(self, a: Any, b: Any) -> Any:
        """Number of working days x with a <= x <= b (0 when b < a); broadcasts over arrays."""
        a64, b64 = to_d64(a), to_d64(b)
        n = np.busday_count(a64, b64 + ONE_DAY, busdaycal=self.busdaycal)
        return _int_out(np.maximum(n, 0))

    def bucket(self, d: Any) -> Any:
        """The last working day on or before ``d`` (the run-rate bucket of ``d``)."""
        return _out(np.busday_offset(to_d64(d), 0, roll="backward", busdaycal=self.busdaycal))

    def nth_working_day_after(self, d: Any, n: Any) -> Any:
        """The ``n``-th working day after ``d`` (``d`` itself when n = 0; n < 0 counts back from
        ``bucket(d)``)."""
        d64 = to_d64(d)
        n_arr = np.asarray(n, dtype=np.int64)
        base = np.busday_offset(d64, 0, roll="backward", busdaycal=self.busdaycal)
        moved = np.busday_offset(base, n_arr, busdaycal=self.busdaycal)
        return _out(np.where(n_arr == 0, d64, moved))

    def working_days(self, a: Any, b: Any) -> np.ndarray:
        """All working days a <= x <= b as ``datetime64[D]``."""
        a64, b64 = to_d64(a), to_d64(b)
        if b64 < a64:
            return np.array([], dtype="datetime64[D]")
        days = np.arange(a64, b64 + ONE_DAY, dtype="datetime64[D]")
        return days[np.is_busday(days, busdaycal=self.busdaycal)]


def holiday_sets(holidays: pd.DataFrame | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Split a holidays frame (date, name, territory) into org-wide dates (territory empty) and
    ``{territory: its own dates}``."""
    empty = np.array([], dtype="datetime64[D]")
    if holidays is None or len(holidays) == 0:
        return empty, {}
    dates = pd.to_datetime(holidays["date"], errors="coerce").to_numpy().astype("datetime64[D]")
    if "territory" in holidays.columns:
        codes, uniques = pd.factorize(holidays["territory"], use_na_sentinel=True)
        names = [str(u).strip() or None if u is not None else None for u in uniques]
    else:
        codes, names = np.full(len(holidays), -1), []
    ok = ~np.isnat(dates)
    org_codes = [i for i, nm in enumerate(names) if nm is None]
    org_mask = ok & ((codes < 0) | np.isin(codes, org_codes))
    own: dict[str, np.ndarray] = {}
    for i, nm in enumerate(names):
        if nm is not None:
            sel = ok & (codes == i)
            own[nm] = np.concatenate([own.get(nm, empty), dates[sel]])
    return dates[org_mask], own


def calendar_for(settings: Any, holidays_frame: pd.DataFrame | None, territory: str | None,
                 *, _sets: tuple[np.ndarray, dict[str, np.ndarray]] | None = None) -> WorkingCalendar:
    """Working calendar of an owner: org-wide holidays plus ``territory``'s own (None: org-wide only).

    ``_sets`` lets a caller that builds many calendars pass :func:`holiday_sets` once."""
    org, own = _sets if _sets is not None else holiday_sets(holidays_frame)
    dates = org if territory is None else np.concatenate([org, own.get(str(territory).strip(), org[:0])])
    return WorkingCalendar(settings.weekmask, dates)

"""Settings and small helpers shared by the demo's modules: fiscal calendar, amounts, CSV output."""

from __future__ import annotations

import calendar
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

MIN_REPS = 10
MAX_REPS = 2000
FY_START_MONTH = 1  # the demo assumes the default settings: FY = calendar year, Mon-Fri
WEEKMASK = "1111100"
DOMAIN = "demo.test"

# Share of the annual target per fiscal month: Q4 heavy, summer dip.
SEASONALITY = np.array([0.070, 0.075, 0.090, 0.080, 0.085, 0.085, 0.065, 0.055, 0.090, 0.095, 0.100, 0.110])
SEASONALITY = SEASONALITY / SEASONALITY.sum()


def _fy_of(d: date) -> int:
    return d.year + (1 if FY_START_MONTH != 1 and d.month >= FY_START_MONTH else 0)


def _fy_start(fy: int) -> date:
    return date(fy if FY_START_MONTH == 1 else fy - 1, FY_START_MONTH, 1)


def _add_months(d: date, k: int) -> date:
    m = d.month - 1 + k
    return date(d.year + m // 12, m % 12 + 1, 1)


def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _easter(y: int) -> date:
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(y, month, day)


def _nth_weekday(y: int, m: int, weekday: int, n: int) -> date:
    """n-th (1-based) given weekday of a month; n = -1 for the last one."""
    if n > 0:
        first = date(y, m, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(y, m, calendar.monthrange(y, m)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


def _ascii_local(text: str) -> str:
    letters: dict[str, str | int | None] = {"ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "ł": "l", "đ": "d"}
    text = text.translate(str.maketrans(letters))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _money(values: np.ndarray) -> np.ndarray:
    """Format amounts with 2 dp (no negative zero)."""
    return np.char.mod("%.2f", np.round(np.asarray(values, dtype=float), 2) + 0.0)


def _round_to(x: float, step: float) -> float:
    return float(round(x / step) * step)


def _floor_to(x: float, step: float) -> float:
    return float(np.floor(x / step) * step)


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def _persons(people: pd.DataFrame) -> dict[int, SimpleNamespace]:
    """Each person (a row of the people table) as a plain record by index: the generator reads a
    person's fields thousands of times, and an attribute of a pandas row costs ~0.1 ms."""
    return {int(i): SimpleNamespace(**{str(k): v for k, v in row.items()})
            for i, row in zip(people.index, people.to_dict("records"))}

"""The targets editor's work, without the screen: one owner's twelve monthly targets of a fiscal
year, a proposal (an annual amount spread by a distribution, or twelve typed amounts), which months
change, and the rows that save them.

Plain Python: the Plan page draws the widgets and hands the choices here. Every spread is
:mod:`salesplan.distribution`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from salesplan import distribution
from salesplan.calendar import WorkingCalendar, fiscal_months
from salesplan.errors import BadInput

FILE = "targets editor"
PRESETS: dict[str, str] = {
    "even": "Even by month",
    "working_days": "By working days",
    "previous_year": "Shape of last year's actuals",
    "custom": "Custom percentages",
}
CHANGE_TOLERANCE = 0.005  # half a cent: amounts closer than this are the same target


def current_targets(targets: pd.DataFrame, owner_type: str, owner_id: str, metric: str,
                    months: Sequence[dt.date]) -> pd.Series:
    """The owner's target of each month (0.0 where none is set), indexed by the months' first days.

    ``targets`` is ``Store.targets``: owner_type, owner_id, metric, month, amount.
    """
    cells = targets[(targets["owner_type"] == owner_type) & (targets["owner_id"] == owner_id)
                    & (targets["metric"] == metric)]
    by_month = dict(zip(pd.to_datetime(cells["month"]).dt.date, cells["amount"].astype(float)))
    return pd.Series([float(by_month.get(month, 0.0)) for month in months], index=list(months), dtype=float)


def default_percentages(current: pd.Series) -> list[float]:
    """The custom-percentages editor's starting point: the current shape, or twelve equal parts."""
    total = float(current.sum())
    if total > 0:
        return (current / total * 100).round(4).tolist()
    return [100 / len(current)] * len(current)


def propose(preset: str, amount: float, fy: int, settings: Any, calendar: WorkingCalendar, *,
            prior_actuals: Mapping[dt.date, float] | None = None,
            percentages: Sequence[float] | None = None) -> pd.Series:
    """An annual ``amount`` spread over the twelve months of FY ``fy`` by one of :data:`PRESETS`.

    ``prior_actuals`` (month -> actual of FY ``fy - 1``) feeds ``previous_year`` (by working days
    when it holds no sale); ``percentages`` (twelve, in fiscal order) feeds ``custom``.
    Raises BadInput for an unknown preset, a bad amount, or percentages that do not total 100.
    """
    if preset == "even":
        spread = distribution.even_by_month(amount, fy, settings, file=FILE)
    elif preset == "working_days":
        spread = distribution.by_working_days(amount, fy, calendar, settings, file=FILE)
    elif preset == "previous_year":
        spread = distribution.previous_year_shape(amount, fy, dict(prior_actuals or {}), settings, calendar,
                                                  file=FILE)
    elif preset == "custom":
        if percentages is None:
            raise BadInput.single(FILE, "custom percentages need twelve percentages", column="percent")
        spread = distribution.custom_percentages(amount, fy, list(percentages), settings, file=FILE)
    else:
        raise BadInput.single(FILE, f"unknown distribution {preset!r}; use one of {', '.join(PRESETS)}")
    months = fiscal_months(fy, settings.fy_start_month)
    return pd.Series([float(spread[month]) for month in months], index=months, dtype=float)


def has_prior_actuals(prior_actuals: Mapping[dt.date, float]) -> bool:
    """Whether last year's shape has anything to follow (else it is spread by working days)."""
    return any(value > 0 for value in prior_actuals.values())


def from_monthly(amounts: Sequence[Any], months: Sequence[dt.date]) -> pd.Series:
    """Twelve typed amounts (an empty cell is 0) as a proposal. Raises BadInput for a negative amount."""
    values = [0.0 if pd.isna(value) else float(value) for value in amounts]
    for month, value in zip(months, values):
        if value < 0:
            raise BadInput.single(FILE, f"the amount of {month:%b %Y} is negative ({value:,.2f})", column="amount")
    return pd.Series(values, index=list(months), dtype=float)


def changed_months(current: pd.Series, proposed: pd.Series) -> list[dt.date]:
    """The months whose target the proposal changes."""
    return [month for month in current.index if abs(float(proposed[month]) - float(current[month])) > CHANGE_TOLERANCE]


def comparison(current: pd.Series, proposed: pd.Series) -> pd.DataFrame:
    """Month, current, new and change (new − current), in fiscal order."""
    frame = pd.DataFrame({"month": list(current.index), "current": current.to_numpy(),
                          "new": proposed.reindex(current.index).to_numpy()})
    frame["change"] = frame["new"] - frame["current"]
    return frame


def target_rows(owner_type: str, owner_id: str, metric: str, proposed: pd.Series, months: Sequence[dt.date],
                reason: str) -> pd.DataFrame:
    """The rows ``Store.apply_targets`` saves for ``months`` of the proposal.

    Raises BadInput when no month changes or the reason is empty (it is kept with the old values).
    """
    if not months:
        raise BadInput.single(FILE, "nothing to save: the new targets equal the current ones")
    reason = (reason or "").strip()
    if not reason:
        raise BadInput.single(FILE, "say why the target changes: the reason is kept with the previous values",
                              column="reason")
    return pd.DataFrame({
        "owner_type": owner_type, "owner_id": owner_id, "metric": metric,
        "month": [pd.Timestamp(month) for month in months],
        "amount": [float(proposed[month]) for month in months], "reason": reason,
    })


def closed_months(months: Sequence[dt.date], as_of: dt.date) -> list[dt.date]:
    """The months of ``months`` (first days) that ended before ``as_of``'s month: their actuals are
    in, so the editor leaves their targets alone unless asked. Raises nothing."""
    this_month = as_of.replace(day=1)
    return [month for month in months if month < this_month]


def keep_months(current: pd.Series, proposed: pd.Series, kept: Sequence[dt.date]) -> pd.Series:
    """The proposal with the ``kept`` months at their current value (a closed month not to be
    rewritten). Raises KeyError when a kept month is not one of ``current``'s."""
    out = proposed.copy()
    for month in kept:
        out.loc[[month]] = float(current[month])
    return out


def months_text(months: Sequence[dt.date]) -> str:
    """The months a save will change, as people read them: "Jan 2026, Feb 2026" ("no month")."""
    return ", ".join(f"{month:%b %Y}" for month in months) or "no month"

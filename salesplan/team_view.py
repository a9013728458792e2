"""The Team overview's heatmap grid, without the screen: reps × fiscal months of engine ratios.

Plain Python: the page filters, calls :func:`heatmap_grid` and draws the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

IN_PROGRESS = "*"  # marks the label of the month holding the as-of date (a short mark: the columns are narrow)


def _label(start: dt.date, period: str) -> str:
    """'Mar' for a fiscal month, 'W05' for week 5 of the fiscal year (its label ends in -W05)."""
    return period.rsplit("-", 1)[-1] if "-W" in period else f"{pd.Timestamp(start):%b}"


def heatmap_grid(months: pd.DataFrame, year: pd.DataFrame, reps: pd.DataFrame, owner_ids: Iterable[str],
                 colour_by: str, as_of: dt.date) -> pd.DataFrame:
    """Columns region, territory, rep_id, name, then one column per fiscal month (or week) and 'YTD'.

    ``months`` and ``year`` are ``engine.report`` frames (period month, or week, and year) of reps;
    weeks are labelled by their number (``W05``), months by their name. A cell is
    the period's ``colour_by`` ratio (attainment or pace; the two differ only for the month in
    progress, whose target to date is a part of its target). The period holding ``as_of`` is labelled
    ``"<Mon>*"`` or ``"W48*"`` (in progress): its attainment reads low for everyone early in the month, so
    the page draws it apart (:func:`in_progress_columns`). YTD is the
    year's pace. Rows are sorted by region, territory and name; an empty frame when no owner is given.
    """
    cells = months[months["owner_id"].isin(set(owner_ids))].copy()
    if cells.empty:
        return pd.DataFrame(columns=["region", "territory", "rep_id", "name", "YTD"])
    current = (cells["period_start"] <= as_of) & (cells["period_end"] >= as_of)
    periods = cells[["period_start"]].assign(period=cells["period"] if "period" in cells.columns else "")
    # one label per period, not per cell (formatting 12 months x 1,000 reps was a tenth of a rerun)
    periods = periods.drop_duplicates("period_start")
    labels = {start: _label(start, str(period)) for start, period in zip(periods["period_start"], periods["period"])}
    for start in set(cells.loc[current, "period_start"]):
        labels[start] += IN_PROGRESS
    grid = cells.pivot(index="owner_id", columns="period_start", values=colour_by)
    grid.columns = [labels[start] for start in grid.columns]
    grid["YTD"] = year.set_index("owner_id")["pace"].reindex(grid.index)
    info = reps.set_index("rep_id")[["region", "territory", "name"]].reindex(grid.index)
    return (info.join(grid).reset_index(names="rep_id")
            .sort_values(["region", "territory", "name"], na_position="last").reset_index(drop=True))


def in_progress_columns(grid: pd.DataFrame) -> list[str]:
    """The grid's columns of the period in progress (labelled with :data:`IN_PROGRESS`). Raises nothing."""
    return [str(c) for c in grid.columns if str(c).endswith(IN_PROGRESS)]

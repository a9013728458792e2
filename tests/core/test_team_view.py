"""salesplan.team_view: the Team overview's heatmap grid."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from salesplan import team_view


def test_heatmap_grid_marks_the_month_in_progress_and_sorts_by_region():
    starts = [dt.date(2026, m, 1) for m in (10, 11, 12)]
    ends = [dt.date(2026, 10, 31), dt.date(2026, 11, 30), dt.date(2026, 12, 31)]
    months = pd.DataFrame({
        "owner_id": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
        "period_start": starts * 3, "period_end": ends * 3,
        "attainment": [1.0, 0.1, None, 0.5, 0.2, None, 9.0, 9.0, None],
        "pace": [1.0, 0.9, None, 0.5, 0.8, None, 9.0, 9.0, None],
    })
    year = pd.DataFrame({"owner_id": ["A", "B", "C"], "pace": [0.95, 0.6, 9.0]})
    reps = pd.DataFrame({"rep_id": ["A", "B", "C"], "name": ["Ann", "Bo", "Cy"],
                         "region": ["South", "North", "North"], "territory": ["S1", "N1", "N1"]})
    grid = team_view.heatmap_grid(months, year, reps, ["A", "B"], "attainment", dt.date(2026, 11, 2))
    assert grid.columns.tolist() == ["rep_id", "region", "territory", "name", "Oct", "Nov*", "Dec", "YTD"]
    assert grid["rep_id"].tolist() == ["B", "A"], "North before South; C was filtered out"
    assert grid["Nov*"].tolist() == [0.2, 0.1] and grid["YTD"].tolist() == [0.6, 0.95]
    by_pace = team_view.heatmap_grid(months, year, reps, ["A"], "pace", dt.date(2026, 11, 2))
    assert by_pace["Nov*"].tolist() == [0.9]
    assert team_view.heatmap_grid(months, year, reps, [], "pace", dt.date(2026, 11, 2)).empty


def test_heatmap_grid_of_weeks_labels_them_by_number():
    starts = [dt.date(2026, 11, 16), dt.date(2026, 11, 23), dt.date(2026, 11, 30)]
    weeks = pd.DataFrame({
        "owner_id": ["A"] * 3 + ["B"] * 3, "period": ["FY2026-W47", "FY2026-W48", "FY2026-W49"] * 2,
        "period_start": starts * 2, "period_end": [s + dt.timedelta(days=6) for s in starts] * 2,
        "attainment": [1.2, 0.4, None, 0.7, 0.3, None], "pace": [1.2, 0.9, None, 0.7, 0.8, None],
    })
    year = pd.DataFrame({"owner_id": ["A", "B"], "pace": [0.95, 0.6]})
    reps = pd.DataFrame({"rep_id": ["A", "B"], "name": ["Ann", "Bo"], "region": ["S", "S"], "territory": ["S1", "S1"]})
    grid = team_view.heatmap_grid(weeks, year, reps, ["A", "B"], "attainment", dt.date(2026, 11, 26))
    assert grid.columns.tolist()[4:] == ["W47", "W48*", "W49", "YTD"], "one mark, however many owners"
    assert grid["W48*"].tolist() == [0.4, 0.3]

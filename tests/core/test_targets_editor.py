"""salesplan.targets_editor: the Plan page's targets editor without the screen."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesplan import targets_editor as te
from salesplan.calendar import calendar_for, fiscal_months
from salesplan.errors import BadInput
from salesplan.settings import Settings

SETTINGS = Settings(fy_start_month=4)
FY = 2026
MONTHS = fiscal_months(FY, SETTINGS.fy_start_month)
CALENDAR = calendar_for(SETTINGS, None, None)


def test_current_targets_picks_the_owner_metric_and_months():
    targets = pd.DataFrame({
        "owner_type": ["rep", "rep", "rep", "territory"],
        "owner_id": ["R1", "R1", "R2", "R1"],
        "metric": ["revenue", "profit", "revenue", "revenue"],
        "month": pd.to_datetime(["2025-05-01", "2025-05-01", "2025-05-01", "2025-06-01"]),
        "amount": [100.0, 7.0, 9.0, 5.0],
    })
    current = te.current_targets(targets, "rep", "R1", "revenue", MONTHS)
    assert MONTHS[0] == dt.date(2025, 4, 1)
    assert current.tolist() == [0.0, 100.0] + [0.0] * 10


@pytest.mark.parametrize("preset", ["even", "working_days", "previous_year", "custom"])
def test_every_preset_spreads_the_whole_amount_over_the_fiscal_months(preset):
    prior = {dt.date(2024, 4, 1) + pd.DateOffset(months=i): float(i + 1) for i in range(12)}
    prior = {pd.Timestamp(k).date(): v for k, v in prior.items()}
    proposed = te.propose(preset, 120_000.0, FY, SETTINGS, CALENDAR, prior_actuals=prior,
                          percentages=[10, 10, 10, 10, 10, 10, 10, 10, 5, 5, 5, 5])
    assert list(proposed.index) == MONTHS and proposed.sum() == pytest.approx(120_000.0)
    if preset == "even":
        assert proposed.tolist() == pytest.approx([10_000.0] * 12)
    if preset == "previous_year":
        assert proposed.iloc[11] == pytest.approx(120_000.0 * 12 / 78), "shaped like last year"
    if preset == "custom":
        assert proposed.iloc[0] == pytest.approx(12_000.0) and proposed.iloc[11] == pytest.approx(6_000.0)


def test_bad_proposals_are_refused_in_words():
    with pytest.raises(BadInput, match="unknown distribution"):
        te.propose("lumpy", 1.0, FY, SETTINGS, CALENDAR)
    with pytest.raises(BadInput, match="twelve percentages"):
        te.propose("custom", 1.0, FY, SETTINGS, CALENDAR)
    with pytest.raises(BadInput):
        te.propose("custom", 1.0, FY, SETTINGS, CALENDAR, percentages=[1] * 12)
    with pytest.raises(BadInput, match="negative"):
        te.from_monthly([1, -2, *[0] * 10], MONTHS)


def test_changes_comparison_and_rows():
    current = pd.Series([100.0] * 12, index=MONTHS)
    proposed = te.from_monthly([100.0, 100.004, 250.0, *[100.0] * 8, None], MONTHS)
    changed = te.changed_months(current, proposed)
    assert changed == [MONTHS[2], MONTHS[11]], "half a cent is no change; an empty cell is 0"
    frame = te.comparison(current, proposed)
    assert frame.loc[2, "change"] == 150.0 and frame.loc[11, "new"] == 0.0
    rows = te.target_rows("rep", "R1", "revenue", proposed, changed, "  Q2 review ")
    assert rows["amount"].tolist() == [250.0, 0.0] and set(rows["reason"]) == {"Q2 review"}
    assert rows["month"].tolist() == [pd.Timestamp(MONTHS[2]), pd.Timestamp(MONTHS[11])]
    with pytest.raises(BadInput, match="say why"):
        te.target_rows("rep", "R1", "revenue", proposed, changed, "  ")
    with pytest.raises(BadInput, match="nothing to save"):
        te.target_rows("rep", "R1", "revenue", proposed, [], "x")


def test_default_percentages_follow_the_current_shape():
    assert te.default_percentages(pd.Series([0.0] * 12)) == pytest.approx([100 / 12] * 12)
    assert te.default_percentages(pd.Series([1.0, 3.0] + [0.0] * 10))[:2] == [25.0, 75.0]
    assert te.has_prior_actuals({MONTHS[0]: 0.0}) is False and te.has_prior_actuals({MONTHS[0]: 2.0})

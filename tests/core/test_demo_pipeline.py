"""The demo's open deals (docs/pipeline.md): weekly snapshots a first look can read a trend from."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from salesplan.demo import DEAL_STAGES
from tests.helpers.demo import generated

TODAY = date(2025, 6, 18)  # a Wednesday, mid-year


@pytest.fixture(scope="module")
def demo():
    # the default demo's files, as tests/core/test_demo.py reads them (generated once per process)
    data = generated(40, 7, TODAY)
    reps = pd.read_csv(data.reps_csv, dtype=str, keep_default_na=False)
    snapshots = {day: pd.read_csv(path, dtype=str, keep_default_na=False) for day, path in data.deals.items()}
    targets = pd.read_csv(data.targets_csv, dtype={"amount": float}, keep_default_na=False)
    actuals = pd.read_csv(data.actuals_csv, keep_default_na=False)
    fy_targets = targets[(targets.owner_type == "rep") & (targets.metric == "revenue") & targets.month.str.startswith("2025")]
    ytd = actuals[actuals.date.between("2025-01-01", TODAY.isoformat())].groupby("rep")["revenue"].sum()
    gap = fy_targets.groupby("owner")["amount"].sum().sub(ytd, fill_value=0)
    return data, reps.set_index("email")["rep_id"], snapshots, gap


def test_four_weekly_snapshots_ending_today_in_crm_export_shape(demo):
    _, _, snapshots, _ = demo
    assert list(snapshots) == [TODAY - timedelta(days=d) for d in (21, 14, 7, 0)]
    for frame in snapshots.values():
        assert list(frame.columns) == ["Deal ID", "Deal Name", "Company", "Deal Owner", "Deal Stage", "Amount",
                                       "Close Date", "Probability (%)"]
        assert set(frame["Deal Stage"]) <= {stage for stage, _ in DEAL_STAGES}
        assert frame["Deal ID"].is_unique
    # the same seed gives the same snapshot files: tests/core/test_demo.py::test_same_seed_gives_identical_bytes


def test_overdue_and_slipped_deals_and_a_thin_drying_pipeline_for_rep1(demo):
    _, rep_of, snapshots, gap = demo
    today = snapshots[TODAY]
    overdue = today[pd.to_datetime(today["Close Date"]) < pd.Timestamp(TODAY)]
    assert len(overdue) >= 3
    first = snapshots[TODAY - timedelta(days=21)].set_index("Deal ID")
    last = today.set_index("Deal ID")
    both = first.index.intersection(last.index)
    moved = (pd.to_datetime(last.loc[both, "Close Date"]) - pd.to_datetime(first.loc[both, "Close Date"])).dt.days
    assert (moved == 35).sum() >= 3  # slipped by five weeks
    assert len(first.index.difference(last.index)) >= 5  # closed (won or lost) in the meantime

    def coverage(frame, email):
        """Open deals (whenever they close) over the rep's remaining FY revenue gap."""
        return frame.loc[frame["Deal Owner"] == email, "Amount"].astype(float).sum() / gap[rep_of[email]]

    rep1_then, rep1_now = coverage(snapshots[TODAY - timedelta(days=21)], "rep1@demo.test"), coverage(today, "rep1@demo.test")
    assert 0 < rep1_now < min(rep1_then, 1)  # thin (less than the gap) and drying up
    others = [coverage(today, email) for email in today["Deal Owner"].unique() if email != "rep1@demo.test"]
    assert sorted(others)[len(others) // 2] > 2  # the typical rep carries over twice their gap



# Loading the snapshots into a store (dates, stage probabilities, blank probabilities taking their
# stage's, a second load changing no deal) is checked with the rest of the loader, on the same two
# loads: tests/core/test_demo.py::test_load_demo_through_the_store.

"""salesplan.pipeline_view: the gap bridge, the deals behind the pipeline, the gap sentence and the
trend across snapshots, hand-worked and on the demo's engine report."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from salesplan import engine, pipeline_view
from salesplan.principal import Principal
from salesplan.store import Store
from tests.helpers.demo import demo_copy

TODAY = dt.date(2026, 11, 26)
ADMIN = Principal("admin@local", "admin")


def row(**values):
    base = {"target": 1000.0, "actual_to_date": 600.0, "weighted_pipeline": 150.0, "pipeline": 400.0,
            "action_coverage": 0.5, "weighted_coverage": 0.375, "uncovered_gap": 250.0,
            "period_start": dt.date(2026, 1, 1), "period_end": dt.date(2026, 12, 31), "as_of": TODAY}
    return pd.Series({**base, **values})


def test_bridge_by_hand():
    steps = pipeline_view.bridge(row())
    assert steps["step"].tolist() == list(pipeline_view.BRIDGE_STEPS)
    # T 1000, A 600 leaves 400; pipeline 150 leaves 250; actions 0.5 × 400 = 200 leave 50
    assert steps["amount"].tolist() == pytest.approx([1000, 600, 150, 200, 50])
    assert steps["covers"].tolist() == pytest.approx([1000, 600, 150, 200, 50])
    assert steps["left"].tolist() == pytest.approx([1000, 400, 250, 50, 50])


def test_bridge_steps_cover_no_more_than_is_left():
    steps = pipeline_view.bridge(row(weighted_pipeline=900.0, uncovered_gap=0.0))
    assert steps["covers"].tolist() == pytest.approx([1000, 600, 400, 0, 0])
    assert steps["amount"].iloc[2] == 900.0, "the label keeps the pipeline's own amount"
    achieved = pipeline_view.bridge(row(actual_to_date=1200.0, action_coverage=math.nan))
    assert achieved["covers"].tolist() == pytest.approx([1000, 1000, 0, 0, 0])
    empty = pipeline_view.bridge(row(weighted_pipeline=math.nan, action_coverage=math.nan))
    assert empty["left"].iloc[-1] == pytest.approx(400)


def test_gap_sentence_names_the_uncovered_gap():
    assert pipeline_view.gap_sentence(row()) == (
        "The weighted pipeline of 150 (400 in open deals closing in the period) covers 38 % of the 400 still to "
        "sell: 250 is not covered by any deal.")
    covered = pipeline_view.gap_sentence(row(weighted_pipeline=500.0, weighted_coverage=1.25, uncovered_gap=0.0))
    assert covered.endswith("the deals cover the rest of the target if they close as weighted.")
    assert pipeline_view.gap_sentence(row(weighted_coverage=math.nan)) == ""
    assert pipeline_view.gap_sentence(row(actual_to_date=1000.0)) == ""


def test_deals_table_sorts_each_deal_by_when_it_closes():
    deals = pd.DataFrame({
        "rep_id": ["R1"] * 5 + ["R2"], "deal_id": list("ABCDEF"), "name": list("abcdef"), "customer": None,
        "stage": "Proposal", "probability": [0.5, 0.4, 0.2, 1.0, 0.1, 0.5],
        "amount": [100.0, 200.0, 300.0, 50.0, 10.0, 999.0],
        "expected_close": pd.to_datetime(["2026-12-31", "2026-11-26", "2027-01-15", "2025-12-01", "2026-11-27",
                                          "2026-12-01"]),
        "snapshot_date": pd.to_datetime(["2026-11-26"] * 6),
    })
    table = pipeline_view.deals_table(deals, ["R1"], row())
    assert table["deal_id"].tolist() == ["B", "E", "A", "C", "D"]
    assert table["when"].tolist() == ["overdue", "in period", "in period", "after period", "earlier"]
    assert table["days_overdue"].iloc[0] == 0 and table["days_overdue"].isna().tolist() == [False] + [True] * 4
    assert table["weighted"].tolist() == pytest.approx([80, 1, 50, 60, 50])


def test_trend_is_the_engines_pipeline_at_each_snapshot(tmp_path):
    # the demo the pages' tests use (tests/helpers/pages.py): a run builds each demo once, and this
    # one is built anyway
    with Store.open(demo_copy(tmp_path, reps=12, seed=3, today=TODAY)) as store:
        inputs = store.engine_inputs(ADMIN)
        snapshots = store.deal_snapshots(ADMIN)
    year = engine.report(inputs, TODAY)
    rep = year[year["weighted_pipeline"] > 0].iloc[0]["owner_id"]
    dates = pipeline_view.snapshot_dates(snapshots, [rep], dt.date(2026, 1, 1), TODAY)
    assert len(dates) >= 2 and dates[-1] == TODAY
    assert pipeline_view.snapshot_dates(snapshots, [rep], dt.date(2026, 1, 1), dates[0]) == dates[:1]
    points = pipeline_view.trend(inputs, dates, "rep", rep, fy=2026)
    for day, weighted in zip(points["snapshot_date"], points["weighted_pipeline"]):
        assert weighted == pytest.approx(engine.report(inputs, day).set_index("owner_id").loc[rep, "weighted_pipeline"])
    org = pipeline_view.trend(inputs, dates, "org", engine.ORG_ID, fy=2026)
    assert org["weighted_pipeline"].iloc[-1] == pytest.approx(year["weighted_pipeline"].sum())


def test_trend_direction():
    points = pd.DataFrame({"weighted_pipeline": [100.0, 80.0], "weighted_coverage": [0.5, 0.3]})
    assert pipeline_view.trend_direction(points) == "shrinking"
    assert pipeline_view.trend_direction(points.iloc[::-1]) == "growing"
    assert pipeline_view.trend_direction(points.assign(weighted_coverage=[0.5, 0.5])) == "flat"
    assert pipeline_view.trend_direction(points.assign(weighted_coverage=[math.nan, 0.3])) == "shrinking"
    assert pipeline_view.trend_direction(points.iloc[:1]) == ""

"""The pipeline columns (docs/numbers.md, "Pipeline"), worked by hand.

The worked example of test_engine: rep r1 (North), March 2025 target 22,000, 8,000 sold by Friday
14 March (T - A = 14,000). Unless a test says otherwise the as-of date is 14 March and the period
FY2025-M03 = [1 March, 31 March], so e = 14 March.
"""

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from salesplan.engine import PIPELINE_COLUMNS, report
from tests.test_engine import D, every_working_day, make_inputs, row, worked_example

AS_OF = D(2025, 3, 14)


def deals_frame(rows):
    """rows: (snapshot_date, deal_id, rep_id, amount, probability, expected_close)."""
    return pd.DataFrame(
        [(pd.Timestamp(s), i, r, float(a), float(p), pd.Timestamp(c)) for s, i, r, a, p, c in rows],
        columns=["snapshot_date", "deal_id", "rep_id", "amount", "probability", "expected_close"],
    )


SNAPSHOT = [
    ("2025-03-10", "D1", "r1", 1000, 0.5, "2025-03-14"),  # closes on e: overdue, not pipeline
    ("2025-03-10", "D2", "r1", 4000, 0.5, "2025-03-31"),  # closes on P.end: pipeline
    ("2025-03-10", "D3", "r1", 9000, 0.9, "2025-04-02"),  # after P.end: not this month's
    ("2025-03-10", "D4", "r1", 500, 0.8, "2025-02-20"),  # before P.start: not this month's
    ("2025-03-10", "D5", "r1", 2000, 0.25, "2025-03-20"),  # pipeline
]
OLDER = [("2025-03-01", "D9", "r1", 7777, 1.0, "2025-03-25")]


def with_deals(inputs, rows, scopes=None):
    scope_df = None if scopes is None else pd.DataFrame(
        [(pd.Timestamp(s), r) for s, r in scopes], columns=["snapshot_date", "rep_id"])
    return dataclasses.replace(inputs, deals=deals_frame(rows), deal_scopes=scope_df)


def test_each_column_by_hand():
    df = report(with_deals(worked_example(), OLDER + SNAPSHOT), AS_OF, period="month")
    r = row(df, "r1", "FY2025-M03")
    assert r.pipeline == 4000 + 2000  # D2 (on P.end) and D5; not D1 (on e), D3 (after), D4 (before)
    assert r.weighted_pipeline == 4000 * 0.5 + 2000 * 0.25
    assert r.overdue_pipeline == 1000  # D1: 1 March <= 14 March <= e, still open
    assert r.pipeline_coverage == pytest.approx(6000 / 14000, rel=1e-12)
    assert r.weighted_coverage == pytest.approx(2500 / 14000, rel=1e-12)
    assert r.projection_with_pipeline == 8000 + 2500
    assert r.uncovered_gap == 14000 - 2500
    # the year: D3 (2 April) is ahead too; D4 (20 February) and D1 are overdue
    y = row(report(with_deals(worked_example(), OLDER + SNAPSHOT), AS_OF), "r1", "FY2025")
    assert y.pipeline == 4000 + 2000 + 9000
    assert y.weighted_pipeline == 2000 + 500 + 8100
    assert y.overdue_pipeline == 1000 + 500
    # year target = 22,000 (only March), A = 19,500 (Feb) + 8,000 = 27,500: nothing missing
    assert y.actual_to_date == 27500
    assert np.isnan(y.pipeline_coverage) and np.isnan(y.weighted_coverage)
    assert y.uncovered_gap == 0 and y.projection_with_pipeline == 27500 + 10600


def test_period_over_and_not_started_and_profit():
    df = report(with_deals(worked_example(), SNAPSHOT), AS_OF, period="month")
    feb = row(df, "r1", "FY2025-M02")  # e = P.end = 28 February
    assert feb.pipeline == 0 and feb.overdue_pipeline == 500  # D4
    assert np.isnan(feb.pipeline_coverage) and np.isnan(feb.weighted_coverage)
    apr = row(df, "r1", "FY2025-M04")  # not started: only the target
    assert all(np.isnan(apr[c]) for c in PIPELINE_COLUMNS)
    profit = report(with_deals(worked_example(), SNAPSHOT), AS_OF, period="month", metric="profit")
    assert profit[list(PIPELINE_COLUMNS)].isna().all().all()


def test_coverage_empty_on_the_last_day():
    r = row(report(with_deals(worked_example(), SNAPSHOT), D(2025, 3, 31), period="month"), "r1", "FY2025-M03")
    assert r.actual_to_date < r.target  # still missing, but e = P.end
    assert np.isnan(r.pipeline_coverage) and np.isnan(r.weighted_coverage)
    assert r.pipeline == 0 and r.overdue_pipeline == 1000 + 4000 + 2000  # everything of March is overdue


def test_latest_snapshot_dated_on_or_before_the_as_of_date():
    inputs = with_deals(worked_example(), OLDER + SNAPSHOT)
    early = row(report(inputs, D(2025, 3, 5), period="month"), "r1", "FY2025-M03")
    assert early.pipeline == 7777 and early.weighted_pipeline == 7777  # only the 1 March snapshot
    none = report(inputs, D(2025, 2, 28), period="month")
    assert none[list(PIPELINE_COLUMNS)].isna().all().all()  # no snapshot dated <= d
    no_deals = report(worked_example(), AS_OF, period="month")
    assert no_deals[list(PIPELINE_COLUMNS)].isna().all().all()


REPS2 = [("r1", "Ann", "North"), ("r2", "Bob", "North"), ("r3", "Cy", "South")]
TERR2 = [("North", "East"), ("South", "East")]


def two_reps():
    actuals = every_working_day(D(2025, 3, 3), D(2025, 3, 14), 100.0, rep="r1") + \
        every_working_day(D(2025, 3, 3), D(2025, 3, 14), 100.0, rep="r2") + \
        every_working_day(D(2025, 3, 3), D(2025, 3, 14), 100.0, rep="r3", territory="South")
    targets = [("rep", r, "2025-03", 5000) for r in ("r1", "r2", "r3")]
    return make_inputs(reps=REPS2, territories=TERR2, targets=targets, actuals=actuals)


ROLL = [
    ("2025-03-10", "A", "r1", 1000, 0.5, "2025-03-20"),
    ("2025-03-10", "B", "r2", 3000, 0.2, "2025-03-25"),
    ("2025-03-10", "C", "r3", 800, 1.0, "2025-03-12"),
]


def test_a_rep_whose_deals_vanish_in_a_newer_snapshot():
    # a manager's snapshot of 12 March covers r1 alone and holds no deal of r1: r1's deals are gone
    inputs = with_deals(two_reps(), ROLL, scopes=[("2025-03-10", r) for r in ("r1", "r2", "r3")] + [("2025-03-12", "r1")])
    df = report(inputs, AS_OF, period="month")
    r1, r2 = row(df, "r1", "FY2025-M03"), row(df, "r2", "FY2025-M03")
    assert r1.pipeline == 0 and r1.weighted_pipeline == 0 and r1.uncovered_gap == 5000 - 1000
    assert r2.pipeline == 3000  # r2 was outside the newer snapshot's scope: keeps its deals
    before = row(report(inputs, D(2025, 3, 11), period="month"), "r1", "FY2025-M03")
    assert before.pipeline == 1000


def test_rollups_are_sums():
    inputs = with_deals(two_reps(), ROLL)
    reps = report(inputs, AS_OF, period="month")
    north = row(report(inputs, AS_OF, level="territory", period="month"), "North", "FY2025-M03")
    org = row(report(inputs, AS_OF, level="org", period="month"), "org", "FY2025-M03")
    march = reps[reps.period == "FY2025-M03"]
    assert north.pipeline == 4000 and north.weighted_pipeline == 500 + 600
    assert org.pipeline == march.pipeline.sum() and org.overdue_pipeline == 800
    assert org.weighted_pipeline == pytest.approx(march.weighted_pipeline.sum())
    assert org.pipeline_coverage == pytest.approx(4000 / (15000 - 3000))


@hsettings(max_examples=40, deadline=None)
@given(amounts=st.lists(st.integers(1, 20000), min_size=1, max_size=6), scale=st.integers(2, 5))
def test_coverage_scales_with_the_gap(amounts, scale):
    """Doubling every deal doubles pipeline and coverage; coverage = pipeline / (T - A)."""
    rows = [("2025-03-10", f"D{i}", "r1", a, 0.5, "2025-03-28") for i, a in enumerate(amounts)]
    one = row(report(with_deals(worked_example(), rows), AS_OF, period="month"), "r1", "FY2025-M03")
    big = [(s, i, r, a * scale, p, c) for s, i, r, a, p, c in rows]
    k = row(report(with_deals(worked_example(), big), AS_OF, period="month"), "r1", "FY2025-M03")
    assert k.pipeline_coverage == pytest.approx(one.pipeline_coverage * scale)
    assert one.pipeline_coverage == pytest.approx(one.pipeline / (one.target - one.actual_to_date))
    assert one.uncovered_gap == max(one.remaining - one.weighted_pipeline, 0)


def test_week_periods_get_the_pipeline_too():
    df = report(with_deals(worked_example(), SNAPSHOT), AS_OF, period="week")
    this_week = df[(df.period_start <= AS_OF) & (df.period_end >= AS_OF)].iloc[0]
    assert this_week.period_start == D(2025, 3, 10) and this_week.period_end == D(2025, 3, 16)
    assert this_week.overdue_pipeline == 1000 and this_week.pipeline == 0  # D1 on e; D2, D5 later
    assert isinstance(this_week.period_start, dt.date)

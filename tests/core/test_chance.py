"""chance_to_reach and the backtest (docs/numbers.md, "Chance to reach", "Backtest")."""

import dataclasses
import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from salesplan import engine
from salesplan.backtest import backtest
from salesplan.engine.chance import explain
from salesplan.engine.synthetic import seasonal_inputs
from salesplan.errors import BadInput
from tests.helpers.engine import D, every_working_day, make_inputs, row, worked_example

SETTINGS = hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def org():
    return seasonal_inputs(n_reps=120, years=3, last_fy=2025, seed=5)


def add_sale(inputs, rep_id, day, amount):
    extra = pd.DataFrame({"date": [pd.Timestamp(day)], "rep_id": [rep_id], "territory": [None],
                          "revenue": [float(amount)], "profit": [0.0]})
    return dataclasses.replace(inputs, daily_actuals=pd.concat([inputs.daily_actuals, extra], ignore_index=True))


@SETTINGS
@given(day=st.integers(0, 364), grain=st.sampled_from(["year", "quarter", "month", "week"]),
       level=st.sampled_from(["rep", "territory", "org"]))
def test_chance_is_a_probability_and_empty_where_it_must_be(day, grain, level):
    as_of = D(2025, 1, 1) + dt.timedelta(days=day)
    df = engine.report(org(), as_of, level=level, period=grain)
    known = df.chance_to_reach.dropna()
    assert ((known >= 0) & (known <= 1)).all()
    empty = df.status.isin(["achieved", "not_started", "no_target"]) | (df.target == 0)
    assert df.loc[empty, "chance_to_reach"].isna().all()
    # too_late only where the chance is below 0.05 or unknown
    late = df[df.status == "too_late"]
    assert (late.chance_to_reach.isna() | (late.chance_to_reach < 0.05)).all()
    # a passed point of no return with a chance of 0.05 or more is off_track, still showing 'passed'
    hopeful = df[(df.point_of_no_return == engine.PASSED) & (df.chance_to_reach >= 0.05)]
    assert hopeful.status.isin(["off_track"]).all()


@SETTINGS
@given(day=st.integers(20, 360), who=st.integers(0, 119), amount=st.integers(1, 200000),
       grain=st.sampled_from(["year", "quarter", "month"]))
def test_more_actual_never_lowers_the_chance(day, who, amount, grain):
    as_of = D(2025, 1, 1) + dt.timedelta(days=day)
    rep_id = f"r{who:04d}"
    before = engine.report(org(), as_of, period=grain)
    after = engine.report(add_sale(org(), rep_id, as_of, amount), as_of, period=grain)
    a = before[before.owner_id == rep_id].reset_index(drop=True)
    b = after[after.owner_id == rep_id].reset_index(drop=True)
    both = a.chance_to_reach.notna() & b.chance_to_reach.notna()
    assert (b.chance_to_reach[both] >= a.chance_to_reach[both] - 1e-12).all()
    # a chance may only disappear because the target is now reached
    gone = a.chance_to_reach.notna() & b.chance_to_reach.isna()
    assert (b.status[gone] == "achieved").all()


def test_deterministic_and_a_database_cut_at_d_gives_the_same_chance():
    as_of = D(2025, 6, 15)
    full = org()
    cut = dataclasses.replace(full, daily_actuals=full.daily_actuals[full.daily_actuals.date <= pd.Timestamp(as_of)])
    a = engine.report(full, as_of, period="month")
    b = engine.report(full, as_of, period="month")
    c = engine.report(cut, as_of, period="month")
    pd.testing.assert_series_equal(a.chance_to_reach, b.chance_to_reach)
    pd.testing.assert_series_equal(a.chance_to_reach, c.chance_to_reach)
    assert a.chance_to_reach.notna().sum() > 100


def test_no_history_no_chance_and_too_late_falls_back_to_the_point_of_no_return():
    # the worked example has no past year: the chance cannot be estimated
    r = row(engine.report(worked_example(target=30000), D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert np.isnan(r.chance_to_reach)
    assert r.point_of_no_return == engine.PASSED and r.status == "too_late"
    # the period is over and short: the chance is 0
    over = row(engine.report(worked_example(target=30000), D(2025, 4, 2), period="month"), "r1", "FY2025-M03")
    assert over.chance_to_reach == 0 and over.status == "too_late"


def test_see_the_math():
    details = engine.chance_details(org(), D(2025, 9, 14), period="year")
    assert list(details.columns) == ["owner_type", "owner_id", "period", "chance_to_reach", "similar_positions",
                                     "reached", "own_positions", "own_reached", "explanation"]
    some = details[details.chance_to_reach.notna()].iloc[0]
    assert some.similar_positions >= 20 and 0 <= some.reached <= some.similar_positions
    assert f"In {some.similar_positions:,} similar positions in past years" in some.explanation
    assert f"{some.reached:,} reached the target" in some.explanation
    assert explain(float("nan"), 0, 0, 0, 0).startswith("No chance is given")


def test_calibration_on_generated_data():
    """Seasonality, growth that differs by rep and year, lumpy orders: the predicted chance matches
    the observed share within 0.10 on average over five bins, and too_late is right 95 % of the time."""
    result = backtest(seasonal_inputs(n_reps=300, years=3, last_fy=2025, seed=3))
    s = result.summary
    assert s["fiscal_years"] == "2024,2025" and s["owners"] == 600
    assert s["calibration_gap"] <= 0.10, result.calibration
    assert s["too_late_precision"] >= 0.95
    assert s["too_late_precision"] >= s["too_late_precision_without_chance"]
    assert len(result.calibration) == 5 and result.calibration.checks.sum() == s["chance_checks"]
    # statuses are ordered by risk: on_track misses least often among the undecided ones
    rates = result.by_status.set_index("status").miss_rate
    assert rates["on_track"] < rates["at_risk"] < rates["off_track"] < rates["too_late"]
    assert rates["achieved"] == 0


def test_backtest_one_year_and_refusals():
    inputs = org()
    one = backtest(inputs, fy=2025)
    assert one.summary["fiscal_years"] == "2025"
    assert set(one.checks.check_date.map(lambda d: d.weekday())) == {6}  # Sundays
    frame = one.to_frame()
    assert list(frame.columns) == ["section", "name", "value"] and "too_late_precision" in set(frame.name)
    with pytest.raises(BadInput):
        backtest(inputs, fy=2026)  # not over: the outcome is unknown
    with pytest.raises(BadInput):
        backtest(inputs, metric="margin")


def test_status_history_reads_the_same_chance_as_the_report():
    sunday = D(2025, 8, 31)
    history = engine.status_history(org(), sunday, "rep", "r0007")
    last = history.iloc[-1]
    assert last.week_end == sunday
    now = row(engine.report(org(), sunday), "r0007", "FY2025")
    assert last.status == now.status
    assert last.chance_to_reach == pytest.approx(now.chance_to_reach, nan_ok=True)
    assert history.chance_to_reach.notna().any()


@pytest.mark.parametrize("grain", ["year", "quarter", "month", "week"])
def test_a_young_history_whose_fiscal_year_starts_on_a_weekend_gives_a_report(grain):
    # FY2022 starts on Saturday 1 January, no actuals before it, a 65-day window: the day axis
    # starts on the Friday before (in FY2021), and the year's report fell over (IndexError) when
    # FY2021 was taken for history with fewer than a window of working days on the axis
    inputs = make_inputs(reps=[("r1", "Ann", "North")], territories=[("North", "N")],
                         targets=[("rep", "r1", f"2022-{m:02d}", 5000.0) for m in range(1, 13)],
                         actuals=every_working_day(D(2022, 1, 3), D(2022, 2, 10), 100.0), window=65)
    for level in ("rep", "territory", "org"):
        chance = engine.report(inputs, D(2022, 2, 10), period=grain, level=level).chance_to_reach
        # no past year to compare with: empty, or 0 for a period already over and missed
        assert (chance.isna() | (chance == 0)).all() and chance.isna().any()
    details = engine.chance_details(inputs, D(2022, 2, 10), period=grain).chance_to_reach
    assert (details.isna() | (details == 0)).all()


def test_a_history_that_starts_inside_a_past_period_is_matched_at_the_share_of_the_whole_period():
    # r1's history starts on 17 May 2021 and October 2021 sold ten times the usual. At 30 September
    # 2022 (~3/4 of the year) the same point of FY2021 is ~30 September 2021, before the strong
    # October, from where r1 did reach a target like this one. Positions counted as shares of the
    # part of FY2021 on record put the check near 1 November, after it. A second rep whose only
    # actual is a zero in early January (the day axis then covers all of FY2021) must change
    # nothing for r1.
    reps = [("r1", "Ann", "North"), ("r2", "Bo", "North")]
    actuals = every_working_day(D(2021, 5, 17), D(2022, 9, 30), 100.0, rep="r1",
                                special={(D(2021, 10, 1), D(2021, 10, 31)): 1000.0})
    targets = [("rep", "r1", f"2022-{m:02d}", 3250.0) for m in range(1, 13)]

    def r1(extra):
        inputs = make_inputs(reps=reps, territories=[("North", "N")], targets=targets, actuals=actuals + extra, window=20)
        details = engine.chance_details(inputs, D(2022, 9, 30), period="year")
        return details[details.owner_id == "r1"].iloc[0]

    alone, with_zero = r1([]), r1([(D(2021, 1, 4), "r2", "North", 0.0)])
    assert alone.similar_positions == with_zero.similar_positions > 0
    assert alone.reached == with_zero.reached > 0
    assert alone.chance_to_reach == with_zero.chance_to_reach

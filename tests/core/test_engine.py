"""Hand-worked examples of the engine (docs/numbers.md), the arithmetic written out in the comments.

Unless a test says otherwise: Mon-Fri, no holidays, FY = calendar year, window L = 5.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from salesplan.engine import (
    REPORT_COLUMNS,
    WATCHLIST_COLUMNS,
    allocation,
    report,
    status_history,
    watchlist,
)
from salesplan.errors import BadInput, NotFound

from tests.helpers.engine import (
    REP,
    TERR,
    D,
    empty,
    every_working_day,
    make_inputs,
    row,
    worked_example,
)


# --------------------------------------------------------------------------- docs/numbers.md worked example
def test_spec_worked_example_every_number():
    df = report(worked_example(), D(2025, 3, 14), period="month")
    assert list(df.columns) == REPORT_COLUMNS
    r = row(df, "r1", "FY2025-M03")
    assert (r.period_start, r.period_end, r.as_of) == (D(2025, 3, 1), D(2025, 3, 31), D(2025, 3, 14))
    assert r.target == 22000
    # March has 21 working days; 1-14 March holds 10 (3-7, 10-14): E = 22,000 x 10 / 21
    assert r.expected_to_date == pytest.approx(22000 * 10 / 21)
    assert round(r.expected_to_date, 2) == 10476.19
    assert r.actual_to_date == 8000  # 10 days x 800
    assert round(r.pace, 4) == 0.7636  # 8,000 / 10,476.19
    assert r.attainment == pytest.approx(8000 / 22000)
    assert r.gap_to_date == pytest.approx(22000 * 10 / 21 - 8000)
    assert r.remaining == 14000
    assert r.working_days_elapsed == 10
    assert r.working_days_left == 11  # 17-21, 24-28, 31
    assert round(r.required_per_working_day, 2) == 1272.73  # 14,000 / 11
    assert r.current_per_working_day == 800  # 10-14 March: 4,000 / 5
    assert r.best_per_working_day == 1500  # the week of 10 February: 7,500 / 5
    assert round(r.acceleration, 3) == 1.591  # 1,272.73 / 800
    assert r.projection_linear == pytest.approx(16800)  # 8,000 + 800 x 11
    assert r.projection_seasonal == pytest.approx(16800)  # 8,000 x 22,000 / 10,476.19
    # A + cW = 16,800 < 22,000 <= A + BW = 8,000 + 1,500 x 11 = 24,500
    # x = 2,500 / 700 = 3.57 -> 3 working days: Mon 17, Tue 18, Wed 19 March
    assert r.working_days_to_act == 3
    assert r.point_of_no_return == D(2025, 3, 19)
    # check of the claim: 800 a day for 4 more days then 1,500 for 7: 8,000 + 3,200 + 10,500 = 21,700 < 22,000
    x = r.working_days_to_act
    assert r.actual_to_date + r.current_per_working_day * (x + 1) + r.best_per_working_day * (r.working_days_left - x - 1) < r.target
    assert r.actual_to_date + r.current_per_working_day * x + r.best_per_working_day * (r.working_days_left - x) >= r.target
    assert r.status == "off_track"  # pace 0.76 < 0.90, not passed
    assert empty(r.action_coverage)  # month period


def test_other_months_of_worked_example():
    df = report(worked_example(), D(2025, 3, 14), period="month")
    feb = row(df, "r1", "FY2025-M02")
    # finished month without target: T = E = 0; A = 4 weeks x 4,000 + 3,500 extra = 19,500
    assert feb.target == 0 and feb.expected_to_date == 0
    assert feb.actual_to_date == 800 * 15 + 1500 * 5
    assert empty(feb.attainment) and empty(feb.pace) and empty(feb.projection_seasonal)
    assert feb.working_days_left == 0 and empty(feb.required_per_working_day)
    assert feb.status == "no_target"  # T = 0: nothing to pace against, never on track
    apr = row(df, "r1", "FY2025-M04")
    assert apr.status == "not_started" and apr.target == 0
    assert empty(apr.actual_to_date) and empty(apr.expected_to_date) and empty(apr.current_per_working_day)
    assert apr.working_days_elapsed is pd.NA and apr.working_days_left is pd.NA  # only the target
    assert apr.point_of_no_return is None and apr.working_days_to_act is pd.NA


# --------------------------------------------------------------------------- as-of dates
def test_as_of_on_a_weekend_with_a_saturday_sale():
    # a Saturday sale of 700 on 15 March counts in A and in Friday 14's bucket
    inputs = worked_example(extra=[(D(2025, 3, 15), "r1", "North", 700.0)])
    r = row(report(inputs, D(2025, 3, 16), period="month"), "r1", "FY2025-M03")  # Sunday
    assert r.actual_to_date == 8700
    assert r.working_days_elapsed == 10 and r.working_days_left == 11
    assert r.expected_to_date == pytest.approx(22000 * 10 / 21)  # wd(1 Mar, Sun 16 Mar) = 10
    # window of 5 buckets ending with bucket(Sun 16) = Fri 14: 10-14 March + Saturday = 4,700
    assert r.current_per_working_day == pytest.approx(940)
    assert r.best_per_working_day == 1500
    assert r.required_per_working_day == pytest.approx(13300 / 11)
    # x = (8,700 + 1,500 x 11 - 22,000) / (1,500 - 940) = 3,200 / 560 = 5.71 -> 5
    # 5th working day after Sunday 16: Mon 17, Tue 18, Wed 19, Thu 20, Fri 21
    assert r.working_days_to_act == 5
    assert r.point_of_no_return == D(2025, 3, 21)


def test_as_of_on_a_weekend_without_a_weekend_sale_equals_friday():
    inputs = worked_example()
    sat = row(report(inputs, D(2025, 3, 15), period="month"), "r1", "FY2025-M03")
    fri = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    for col in ("actual_to_date", "expected_to_date", "current_per_working_day", "best_per_working_day",
                "working_days_left", "working_days_to_act", "point_of_no_return"):
        assert sat[col] == fri[col], col
    assert sat.as_of == D(2025, 3, 15)


def test_as_of_on_a_holiday():
    # org-wide holiday Monday 17 March: March has 20 working days
    inputs = worked_example(holidays=[(D(2025, 3, 17), None)])
    r = row(report(inputs, D(2025, 3, 17), period="month"), "r1", "FY2025-M03")
    assert r.working_days_elapsed == 10  # 3-7, 10-14; the 17th is a holiday
    assert r.working_days_left == 10  # 18-21, 24-28, 31
    assert r.expected_to_date == pytest.approx(11000)  # 22,000 x 10 / 20
    assert r.actual_to_date == 8000
    assert r.current_per_working_day == 800  # bucket(17th) = Fri 14: window 10-14
    assert r.required_per_working_day == pytest.approx(1400)  # 14,000 / 10
    # A + BW = 8,000 + 15,000 = 23,000 >= 22,000 > A + cW = 16,000; x = 1,000 / 700 = 1.43 -> 1
    assert r.working_days_to_act == 1
    assert r.point_of_no_return == D(2025, 3, 18)  # first working day after the holiday
    assert r.status == "off_track"  # pace 8,000 / 11,000 = 0.727


def test_territory_holiday_applies_to_rep_and_territory_not_region():
    inputs = worked_example(holidays=[(D(2025, 3, 17), "North")])
    as_of = D(2025, 3, 17)
    rep = row(report(inputs, as_of, period="month"), "r1", "FY2025-M03")
    terr = row(report(inputs, as_of, period="month", level="territory"), "North", "FY2025-M03")
    region = row(report(inputs, as_of, period="month", level="region"), "East", "FY2025-M03")
    assert rep.working_days_elapsed == terr.working_days_elapsed == 10
    assert region.working_days_elapsed == 11  # the region follows org-wide holidays only
    assert region.expected_to_date == pytest.approx(22000 * 11 / 21)
    assert rep.expected_to_date == pytest.approx(22000 * 10 / 20)


def test_last_day_of_month_period_over():
    inputs = worked_example()
    r = row(report(inputs, D(2025, 3, 31), period="month"), "r1", "FY2025-M03")
    assert r.expected_to_date == 22000  # March ends <= e: the whole month, no fraction
    assert r.actual_to_date == 21 * 800
    assert r.working_days_left == 0 and empty(r.required_per_working_day) and empty(r.acceleration)
    assert r.projection_linear == 16800  # A + c x 0
    # A + c.0 < T, B = 1,500 > c = 800, A + B.0 < T -> passed
    assert r.point_of_no_return == "passed" and r.working_days_to_act == 0
    assert r.status == "too_late"


def test_last_day_of_february_in_year_period():
    inputs = make_inputs(reps=REP, territories=TERR,
                         targets=[("rep", "r1", "2025-02", 20000), ("rep", "r1", "2025-03", 30000)],
                         actuals=every_working_day(D(2025, 2, 3), D(2025, 2, 28), 1000.0))
    r = row(report(inputs, D(2025, 2, 28)), "r1", "FY2025")
    assert r.expected_to_date == 20000  # January 0 + February complete; March not begun
    assert r.actual_to_date == 20000  # 20 working days x 1,000
    assert r.pace == 1.0 and r.status == "on_track"
    assert r.working_days_elapsed == 43  # January 23 + February 20
    assert r.working_days_left == 261 - 43


# --------------------------------------------------------------------------- fiscal years and periods
def test_fy_starting_in_july_quarter_periods():
    # FY2025 = July 2024 - June 2025. Targets 10,000 in July and August 2024; 500 a working day from 1 July
    inputs = make_inputs(reps=REP, territories=TERR, fy_start_month=7,
                         targets=[("rep", "r1", "2024-07", 10000), ("rep", "r1", "2024-08", 10000)],
                         actuals=every_working_day(D(2024, 7, 1), D(2024, 8, 30), 500.0))
    df = report(inputs, D(2024, 8, 15), period="quarter")
    assert df["period"].tolist() == ["FY2025-Q1", "FY2025-Q2", "FY2025-Q3", "FY2025-Q4"]
    q1 = row(df, "r1", "FY2025-Q1")
    assert (q1.period_start, q1.period_end) == (D(2024, 7, 1), D(2024, 9, 30))
    # July 2024 has 23 working days, August 22; 1-15 August holds 11 (1-2, 5-9, 12-15)
    assert q1.expected_to_date == pytest.approx(10000 + 10000 * 11 / 22)  # 15,000
    assert q1.actual_to_date == (23 + 11) * 500  # 17,000
    assert q1.pace == pytest.approx(17000 / 15000)
    assert q1.status == "on_track"
    assert q1.working_days_elapsed == 34
    assert q1.working_days_left == 11 + 21  # 16-30 August: 11; September 2024: 21
    for label in ("FY2025-Q2", "FY2025-Q3", "FY2025-Q4"):
        assert row(df, "r1", label).status == "not_started"
    assert fiscal_default_fy(inputs, D(2024, 8, 15)) == "FY2025"


def fiscal_default_fy(inputs, as_of):
    return report(inputs, as_of)["period"].iloc[0]


def test_quarter_and_month_periods_before_during_after():
    # target 10,000 every month of 2025; 400 every working day from 1 January; as of Wed 14 May 2025
    targets = [("rep", "r1", f"2025-{m:02d}", 10000) for m in range(1, 13)]
    inputs = make_inputs(reps=REP, territories=TERR, targets=targets,
                         actuals=every_working_day(D(2025, 1, 1), D(2025, 5, 30), 400.0))
    as_of = D(2025, 5, 14)
    q = report(inputs, as_of, period="quarter")
    q1, q2, q3 = (row(q, "r1", f"FY2025-Q{i}") for i in (1, 2, 3))
    # Q1 over: e = 31 March; working days Jan 23 + Feb 20 + Mar 21 = 64; A = 25,600 < 30,000
    assert q1.expected_to_date == 30000 and q1.actual_to_date == 64 * 400
    assert q1.working_days_left == 0 and q1.status == "too_late"
    # Q2 running: April 22 working days, 1-14 May 10 of 22 -> E = 10,000 + 10,000 x 10 / 22
    assert q2.expected_to_date == pytest.approx(10000 + 10000 * 10 / 22)
    assert q2.actual_to_date == (22 + 10) * 400
    assert q2.working_days_elapsed == 32 and q2.working_days_left == 12 + 21  # rest of May + June
    assert q2.status == "off_track"  # pace = 12,800 / 14,545 = 0.88
    assert q3.status == "not_started" and q3.target == 30000 and empty(q3.pace)
    m = report(inputs, as_of, period="month")
    assert len(m) == 12
    assert [row(m, "r1", f"FY2025-M{i:02d}").status for i in range(1, 13)] == (
        ["too_late"] * 4 + ["off_track"] + ["not_started"] * 7)
    may = row(m, "r1", "FY2025-M05")
    assert may.expected_to_date == pytest.approx(10000 * 10 / 22)
    assert may.actual_to_date == 4000 and may.current_per_working_day == 400
    # FY of a later year that has not started at all
    later = report(inputs, as_of, fy=2026)
    assert row(later, "r1").status == "not_started"


def test_as_of_before_any_actual_and_year_totals():
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-01", 1000)], actuals=[])
    r = row(report(inputs, D(2025, 1, 10)), "r1")
    # E = 1,000 x 8 / 23 (1-10 January: 1-3, 6-10), A = 0
    assert r.expected_to_date == pytest.approx(1000 * 8 / 23)
    assert r.actual_to_date == 0 and r.current_per_working_day == 0
    assert empty(r.best_per_working_day) and empty(r.acceleration)
    assert r.point_of_no_return is None and r.status == "off_track"


# --------------------------------------------------------------------------- run-rates
def test_rep_who_started_mid_window():
    # start Wed 12 March; a stray 5,000 on 10 March (before the start) and 1,000 on 12, 13, 14 March
    actuals = [(D(2025, 3, 10), "r1", "North", 5000.0)] + every_working_day(D(2025, 3, 12), D(2025, 3, 14), 1000.0)
    inputs = make_inputs(reps=[("r1", "Ann", "North", "2025-03-12")], territories=TERR,
                         targets=[("rep", "r1", "2025-03", 22000)], actuals=actuals)
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    # window starts at the start date: 3,000 / wd(12, 14) = 3
    assert r.current_per_working_day == pytest.approx(1000)
    assert r.actual_to_date == 8000  # A is not limited by the start date
    # B: first actual 10 March; the window ending 14 March starts 10 March -> B = 8,000 / 5
    assert r.best_per_working_day == pytest.approx(1600)
    # roll-ups never use start dates: 8,000 / 5
    t = row(report(inputs, D(2025, 3, 14), period="month", level="territory"), "North", "FY2025-M03")
    assert t.current_per_working_day == pytest.approx(1600)


def test_rep_start_date_shapes_current_run_rate_only_inside_window():
    base = every_working_day(D(2025, 3, 3), D(2025, 3, 14), 500.0)
    early = make_inputs(reps=[("r1", "Ann", "North", "2025-01-02")], territories=TERR, actuals=base)
    assert row(report(early, D(2025, 3, 14), period="month"), "r1", "FY2025-M03").current_per_working_day == 500
    at_window_start = make_inputs(reps=[("r1", "Ann", "North", "2025-03-10")], territories=TERR, actuals=base)
    assert row(report(at_window_start, D(2025, 3, 14), period="month"), "r1", "FY2025-M03").current_per_working_day == 500
    # start on Saturday 15 March, as of Sunday 16: wd(15, 16) = 0 -> c empty
    weekend = make_inputs(reps=[("r1", "Ann", "North", "2025-03-15")], territories=TERR, actuals=base)
    r = row(report(weekend, D(2025, 3, 16), period="month"), "r1", "FY2025-M03")
    assert empty(r.current_per_working_day) and empty(r.projection_linear) and empty(r.acceleration)
    # start after the as-of date: no run-rate yet
    future = make_inputs(reps=[("r1", "Ann", "North", "2025-04-01")], territories=TERR, actuals=base)
    assert empty(row(report(future, D(2025, 3, 14), period="month"), "r1", "FY2025-M03").current_per_working_day)


def test_start_date_can_make_c_exceed_b():
    # why B >= c needs "no start-date window": 100 a day 3-11 March, start Wed 12 March, 1,000 a day after
    actuals = every_working_day(D(2025, 3, 3), D(2025, 3, 11), 100.0) + every_working_day(D(2025, 3, 12), D(2025, 3, 14), 1000.0)
    inputs = make_inputs(reps=[("r1", "Ann", "North", "2025-03-12")], territories=TERR, actuals=actuals)
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.current_per_working_day == pytest.approx(1000)  # 3,000 / 3
    assert r.best_per_working_day == pytest.approx(640)  # 10-14 March: (200 + 3,000) / 5
    assert r.current_per_working_day > r.best_per_working_day


def test_rep_starting_on_the_as_of_date():
    # start Fri 14 March = e: the window is that one day: c = 700 / wd(14, 14) = 700
    actuals = every_working_day(D(2025, 3, 3), D(2025, 3, 13), 100.0) + [(D(2025, 3, 14), "r1", "North", 700.0)]
    inputs = make_inputs(reps=[("r1", "Ann", "North", "2025-03-14")], territories=TERR, actuals=actuals)
    assert row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03").current_per_working_day == 700


def test_best_windows_start_on_or_after_first_actual():
    # first sale Mon 3 March 1,000; a return of -900 on Fri 7 March; as of Mon 10 March, L = 5
    # windows ending Fri 7 (3-7 March): 100 -> 20; ending Mon 10 (4-10 March): -900 -> -180
    # the window ending Thu 6 March would start Fri 28 February, before the first actual: not counted
    actuals = [(D(2025, 3, 3), "r1", "North", 1000.0), (D(2025, 3, 7), "r1", "North", -900.0)]
    inputs = make_inputs(reps=REP, territories=TERR, actuals=actuals)
    r = row(report(inputs, D(2025, 3, 10), period="month"), "r1", "FY2025-M03")
    assert r.best_per_working_day == pytest.approx(20)
    assert r.current_per_working_day == pytest.approx(-180)


def test_fewer_than_L_working_days_of_history_has_no_best():
    # first sale Tue 11 March; the only window ending <= 14 March starts Mon 10 < bucket(11 March)
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 22000)],
                         actuals=every_working_day(D(2025, 3, 11), D(2025, 3, 14), 1000.0))
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert empty(r.best_per_working_day)
    assert r.current_per_working_day == 800  # 4,000 / L = 5
    assert r.point_of_no_return is None and r.working_days_to_act is pd.NA  # no B
    # one more day of history (from Monday 10) gives exactly one window: B = c = 1,000
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 22000)],
                         actuals=every_working_day(D(2025, 3, 10), D(2025, 3, 14), 1000.0))
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.best_per_working_day == 1000 == r.current_per_working_day
    assert r.point_of_no_return is None  # B <= c


def test_best_window_is_truncated_at_e():
    # a big sale on Thursday 13 March must not count in B as of Wed 12 March (year period)
    actuals = every_working_day(D(2025, 3, 3), D(2025, 3, 12), 100.0) + [(D(2025, 3, 13), "r1", "North", 9000.0)]
    inputs = make_inputs(reps=REP, territories=TERR, actuals=actuals)
    r = row(report(inputs, D(2025, 3, 12)), "r1")
    assert r.best_per_working_day == 100 and r.current_per_working_day == 100
    r = row(report(inputs, D(2025, 3, 13)), "r1")
    assert r.best_per_working_day == pytest.approx((400 + 9000) / 5)


def test_negative_actuals_returns():
    # week of 3 March: 1,000 a day (5,000); week of 10 March: Mon -2,000 (a return), then 200 a day
    actuals = every_working_day(D(2025, 3, 3), D(2025, 3, 7), 1000.0) + [
        (D(2025, 3, 10), "r1", "North", -2000.0)] + every_working_day(D(2025, 3, 11), D(2025, 3, 14), 200.0)
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 14000)], actuals=actuals)
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.actual_to_date == 3800  # 5,000 - 2,000 + 800
    assert r.remaining == 10200
    assert r.current_per_working_day == pytest.approx(-240)  # (-2,000 + 800) / 5
    assert empty(r.acceleration)  # c <= 0
    assert r.best_per_working_day == 1000  # 3-7 March: 5,000 / 5
    assert r.projection_linear == pytest.approx(3800 - 240 * 11)
    # A + cW = 1,160 < 14,000 <= A + BW = 3,800 + 11,000 = 14,800
    # x = 800 / (1,000 + 240) = 0.65 -> 0: the point of no return is today
    assert r.working_days_to_act == 0 and r.point_of_no_return == D(2025, 3, 14)
    assert r.status == "off_track"  # pace = 3,800 / (14,000 x 10 / 21) = 0.57
    # a bigger target is out of reach even at 1,000 a day
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 22000)], actuals=actuals)
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.point_of_no_return == "passed" and r.status == "too_late"


def test_zero_target():
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 0)],
                         actuals=every_working_day(D(2025, 3, 3), D(2025, 3, 14), 100.0))
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.target == 0 and r.expected_to_date == 0
    assert empty(r.attainment) and empty(r.pace) and empty(r.projection_seasonal)
    assert r.required_per_working_day == 0  # max(0 - 1,000, 0) / 11
    assert r.acceleration == 0
    assert r.point_of_no_return is None  # A + cW >= 0: on course
    assert r.status == "no_target"  # T = 0 comes first: never on track (and never achieved)
    assert empty(r.chance_to_reach)


def test_achieved():
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 5000)],
                         actuals=every_working_day(D(2025, 3, 3), D(2025, 3, 14), 500.0),
                         open_actions=[("r1", 2025, 900.0)])
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.status == "achieved" and r.required_per_working_day == 0 and r.attainment == 1.0
    y = row(report(inputs, D(2025, 3, 14)), "r1", "FY2025")
    assert empty(y.action_coverage)  # T - A = 0: no denominator


# --------------------------------------------------------------------------- point of no return
def test_point_of_no_return_passed():
    # target 30,000: even A + BW = 24,500 < 30,000
    r = row(report(worked_example(target=30000), D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.point_of_no_return == "passed" and r.working_days_to_act == 0
    assert r.status == "too_late"


def test_point_of_no_return_none_on_course():
    # target 16,000: A + cW = 16,800 >= 16,000
    r = row(report(worked_example(target=16000), D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.point_of_no_return is None and r.working_days_to_act is pd.NA
    # E = 16,000 x 10 / 21 = 7,619.05; pace = 8,000 / 7,619.05 = 1.05
    assert r.pace == pytest.approx(8000 / (16000 * 10 / 21))
    assert r.status == "on_track"


def test_point_of_no_return_none_when_best_not_above_current():
    # a constant 800 a day: B = c = 800, A + cW = 16,800 < 22,000 but no better pace to hope for
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 22000)],
                         actuals=every_working_day(D(2025, 2, 3), D(2025, 3, 14), 800.0))
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.best_per_working_day == 800 == r.current_per_working_day
    assert r.point_of_no_return is None and r.status == "off_track"


def test_point_of_no_return_today():
    # target 24,000: x = (24,500 - 24,000) / 700 = 0.71 -> 0: the point of no return is e itself
    r = row(report(worked_example(target=24000), D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.working_days_to_act == 0 and r.point_of_no_return == D(2025, 3, 14)
    # and as of a Saturday it is that Saturday
    r = row(report(worked_example(target=24000), D(2025, 3, 15), period="month"), "r1", "FY2025-M03")
    assert r.point_of_no_return == D(2025, 3, 15)


def test_at_risk_band():
    # 10-14 March: 1,000 a day; E = 10 days x 1,000; A = 9,500 -> pace 0.95
    actuals = every_working_day(D(2025, 3, 3), D(2025, 3, 7), 900.0) + every_working_day(D(2025, 3, 10), D(2025, 3, 14), 1000.0)
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 21000)], actuals=actuals)
    r = row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03")
    assert r.expected_to_date == pytest.approx(10000) and r.pace == pytest.approx(0.95)
    assert r.status == "at_risk"
    inputs = make_inputs(reps=REP, territories=TERR, targets=[("rep", "r1", "2025-03", 21000)], actuals=actuals, at_risk=0.96)
    assert row(report(inputs, D(2025, 3, 14), period="month"), "r1", "FY2025-M03").status == "off_track"


# --------------------------------------------------------------------------- roll-ups and targets
def rollup_inputs():
    reps = [("n1", "Nora", "North"), ("n2", "Ned", "North"), ("s1", "Sam", "South"), ("s2", "Sue", "South"),
            ("u1", "Uma", None)]
    territories = [("North", "East"), ("South", "East"), ("West", "Far")]
    targets = [
        ("territory", "North", "2025-03", 30000),  # top-down for March only
        ("rep", "n1", "2025-03", 10000), ("rep", "n2", "2025-03", 15000),
        ("rep", "n1", "2025-04", 4000), ("rep", "n2", "2025-04", 6000),
        ("rep", "s1", "2025-03", 5000), ("rep", "s2", "2025-03", 7000),
        ("rep", "u1", "2025-03", 1000),
        ("rep", "n1", "2025-03", 999, "profit"),
    ]
    actuals = [
        (D(2025, 3, 3), "n1", "North", 100.0, 40.0),
        (D(2025, 3, 3), "n1", "South", 50.0, np.nan),  # booked to South: counts for South, not North
        (D(2025, 3, 4), "n2", "North", 200.0, 80.0),
        (D(2025, 3, 5), "s1", "South", 300.0, 90.0),
        (D(2025, 3, 5), "u1", None, 7.0, 1.0),
        (D(2025, 3, 6), "gone", "West", 11.0, 2.0),  # a rep no longer in the reps file
    ]
    return make_inputs(reps=reps, territories=territories, targets=targets, actuals=actuals)


def test_rollup_targets_with_territory_fallback():
    inputs = rollup_inputs()
    as_of = D(2025, 3, 31)
    t = report(inputs, as_of, level="territory", period="month")
    assert row(t, "North", "FY2025-M03").target == 30000  # its own
    assert row(t, "North", "FY2025-M04").target == 10000  # no own April target: 4,000 + 6,000
    assert row(t, "South", "FY2025-M03").target == 12000  # 5,000 + 7,000
    assert row(t, "West", "FY2025-M03").target == 0
    g = report(inputs, as_of, level="region", period="month")
    assert row(g, "East", "FY2025-M03").target == 42000
    assert row(g, "Far", "FY2025-M03").target == 0
    o = report(inputs, as_of, level="org", period="month")
    assert row(o, "org", "FY2025-M03").target == 43000  # 42,000 + u1 (no territory) 1,000
    assert row(o, "org", "FY2025-M03").owner_name == "Whole organisation"
    y = report(inputs, as_of, level="org")
    assert row(y, "org").target == 43000 + 10000
    p = report(inputs, as_of, level="rep", period="month", metric="profit")
    assert row(p, "n1", "FY2025-M03").target == 999 and row(p, "n2", "FY2025-M03").target == 0


def test_rollup_actuals_by_row_territory():
    inputs = rollup_inputs()
    as_of = D(2025, 3, 31)
    rep = report(inputs, as_of)
    assert row(rep, "n1").actual_to_date == 150  # both rows of n1
    assert row(rep, "n1").owner_name == "Nora"
    assert set(rep["owner_id"]) == {"n1", "n2", "s1", "s2", "u1"}
    t = report(inputs, as_of, level="territory")
    assert row(t, "North").actual_to_date == 300  # 100 + 200
    assert row(t, "South").actual_to_date == 350  # 50 (n1's South row) + 300
    assert row(t, "West").actual_to_date == 11
    assert row(report(inputs, as_of, level="region"), "East").actual_to_date == 650
    assert row(report(inputs, as_of, level="org"), "org").actual_to_date == 668  # every row
    # profit: NaN counts 0
    assert row(report(inputs, as_of, level="territory", metric="profit"), "South").actual_to_date == 90
    assert row(report(inputs, as_of, level="org", metric="profit"), "org").actual_to_date == 213


def test_allocation_ratio():
    a = allocation(rollup_inputs(), 2025)
    assert list(a.columns) == ["territory", "month", "territory_target", "reps_target", "allocation_ratio"]
    north_mar = a[(a.territory == "North") & (a.month == pd.Timestamp("2025-03-01"))].iloc[0]
    assert north_mar.territory_target == 30000 and north_mar.reps_target == 25000
    assert north_mar.allocation_ratio == pytest.approx(25000 / 30000)
    north_apr = a[(a.territory == "North") & (a.month == pd.Timestamp("2025-04-01"))].iloc[0]
    assert np.isnan(north_apr.territory_target) and north_apr.reps_target == 10000
    assert np.isnan(north_apr.allocation_ratio)
    assert len(a) == 3 * 12


def test_action_coverage_rep_year_only():
    inputs = worked_example(open_actions=[("r1", 2025, 2500.0), ("r1", 2024, 99999.0)])
    # year: T = 22,000, A = 19,500 (February) + 8,000 (March) = 27,500 >= T -> achieved, no coverage
    y = row(report(inputs, D(2025, 3, 14)), "r1")
    assert y.status == "achieved" and empty(y.action_coverage)
    inputs = worked_example(target=40000, open_actions=[("r1", 2025, 2500.0)])
    y = row(report(inputs, D(2025, 3, 14)), "r1")
    assert y.action_coverage == pytest.approx(2500 / (40000 - 27500))
    assert empty(row(report(inputs, D(2025, 3, 14), level="territory"), "North").action_coverage)
    no_actions = worked_example(target=40000)
    assert row(report(no_actions, D(2025, 3, 14)), "r1").action_coverage == 0


def test_bad_arguments():
    inputs = worked_example()
    with pytest.raises(BadInput):
        report(inputs, D(2025, 3, 14), level="team")
    with pytest.raises(BadInput):
        report(inputs, D(2025, 3, 14), metric="margin")
    with pytest.raises(BadInput):
        report(inputs, D(2025, 3, 14), period="fortnight")
    with pytest.raises(BadInput):
        report(inputs, D(1899, 12, 31))
    with pytest.raises(BadInput):
        report(inputs, D(2200, 1, 1))
    with pytest.raises(BadInput):
        report(make_inputs(reps=REP, window=0), D(2025, 3, 14))


def test_empty_organisation():
    df = report(make_inputs(), D(2025, 3, 14))
    assert list(df.columns) == REPORT_COLUMNS and len(df) == 0
    assert len(report(make_inputs(), D(2025, 3, 14), level="org")) == 1


# --------------------------------------------------------------------------- history and watch list
def test_status_history_sundays():
    inputs = worked_example()
    h = status_history(inputs, D(2025, 3, 14), "rep", "r1", fy=2025)
    sundays = pd.date_range("2025-01-05", "2025-03-09", freq="7D").date.tolist()
    assert h["week_end"].tolist() == sundays
    assert h.columns[0] == "week_end" and "status" in h.columns and "pace" in h.columns
    # on Sunday 9 March: March 1-9 holds 5 working days -> E = 22,000 x 5 / 21; A = 19,500 + 4,000
    last = h.iloc[-1]
    assert last.expected_to_date == pytest.approx(22000 * 5 / 21)
    assert last.actual_to_date == 23500 and last.status == "achieved"
    assert h.iloc[0].status == "on_track"  # E = 0 in January
    with pytest.raises(NotFound):
        status_history(inputs, D(2025, 3, 14), "rep", "nobody")
    org = status_history(inputs, D(2025, 1, 12), "org", "org")
    assert org["week_end"].tolist() == [D(2025, 1, 5), D(2025, 1, 12)]


def watch_inputs():
    targets = [(t, o, f"2025-{m:02d}", amt) for t, o, amt in
               [("rep", "w1", 20000), ("rep", "w2", 15000), ("rep", "w3", 20000)] for m in range(1, 13)]
    actuals = (every_working_day(D(2025, 1, 1), D(2025, 3, 31), 500.0, rep="w1", territory="North")
               + every_working_day(D(2025, 1, 1), D(2025, 3, 31), 1000.0, rep="w2", territory="North")
               # w3 on track until 7 March, nothing since
               + every_working_day(D(2025, 1, 1), D(2025, 3, 7), 1000.0, rep="w3", territory="South"))
    reps = [("w1", "Will", "North"), ("w2", "Wendy", "North"), ("w3", "Walt", "South")]
    return make_inputs(reps=reps, territories=[("North", "East"), ("South", "East")], targets=targets,
                       actuals=actuals, open_actions=[("w1", 2025, 500000.0)], window=20)


def test_watchlist_two_weekly_checks_and_grace():
    inputs = watch_inputs()
    wl = watchlist(inputs, D(2025, 3, 14))
    assert list(wl.columns) == WATCHLIST_COLUMNS
    keys = set(zip(wl.owner_type, wl.owner_id))
    # w1: 500 a day against ~950 planned: off_track on 14 March and on 7 March -> listed
    assert ("rep", "w1") in keys
    # w2: 1,000 a day against 15,000 / ~21 days: on track
    assert ("rep", "w2") not in keys
    # w3: pace 1.0 or more on 7 March (1,000 a day vs 20,000/month ~ 950) -> not yet listed
    then = row(report(inputs, D(2025, 3, 7)), "w3")
    assert then.status == "on_track"
    assert ("rep", "w3") not in keys
    # North = w1 + w2 (35,000 / month, 1,500 a day): behind as well
    assert ("territory", "North") in keys
    w1 = wl[wl.owner_id == "w1"].iloc[0]
    assert not w1.plan_needs_update  # open actions of 500,000 cover the gap
    assert "raise the run-rate from 500.00 to" in w1.recommended_action
    north = wl[wl.owner_id == "North"].iloc[0]
    assert not north.plan_needs_update  # plans belong to reps
    # as of 8 January (5 of 261 working days elapsed) nobody is listed: grace 10 %
    assert len(watchlist(inputs, D(2025, 1, 8))) == 0
    assert list(watchlist(inputs, D(2025, 1, 8)).columns) == WATCHLIST_COLUMNS
    only_reps = watchlist(inputs, D(2025, 3, 14), levels=("rep",))
    assert set(only_reps.owner_type) == {"rep"}


def test_watchlist_sort_order_and_advice():
    inputs = watch_inputs()
    wl = watchlist(inputs, D(2025, 3, 21))
    assert list(wl.owner_id) == ["East", "org", "w3", "South", "w1", "North"]
    days = wl["working_days_to_act"].astype("Float64").fillna(np.inf).astype(float).tolist()
    assert days == sorted(days)
    for (d1, p1, g1), (d2, p2, g2) in zip(
        zip(days, wl.point_of_no_return, wl.gap_to_date), list(zip(days, wl.point_of_no_return, wl.gap_to_date))[1:]
    ):
        if d1 == d2:
            assert not (p1 != "passed" and p2 == "passed")
            if (p1 == "passed") == (p2 == "passed"):
                assert g1 >= g2
    # w3 now: nothing since 7 March -> listed (pace fell below the band on both checks?)
    r = row(report(inputs, D(2025, 3, 21)), "w3")
    r7 = row(report(inputs, D(2025, 3, 14)), "w3")
    listed = ("w3" in set(wl.owner_id))
    assert listed == (r.status in ("at_risk", "off_track", "too_late") and r7.status in ("at_risk", "off_track", "too_late"))
    assert listed and (r.status, r7.status) == ("off_track", "at_risk")
    w3 = watchlist(inputs, D(2025, 3, 28), levels=("rep",))
    w3 = w3[w3.owner_id == "w3"].iloc[0]
    assert w3.plan_needs_update  # no open actions: coverage 0 < 1
    assert "add actions worth" in w3.recommended_action


def test_watchlist_passed_before_dates():
    # p1, p2: 100 a day (200 in January) against 100,000 / 90,000 a month: passed, p1's gap larger
    # x: 1,500 a day in January-February then 400: behind plan, point of no return months ahead
    # q: a constant 600 a day against 20,000 a month: B = c, no point of no return (listed last)
    monthly = {"p1": 100000, "p2": 90000, "x": 20000, "q": 20000}
    reps = [(r, r.upper(), "North") for r in monthly]
    targets = [("rep", r, f"2025-{m:02d}", amt) for r, amt in monthly.items() for m in range(1, 13)]
    jan = {(D(2025, 1, 1), D(2025, 1, 31)): 200.0}
    actuals = (every_working_day(D(2025, 1, 1), D(2025, 6, 30), 100.0, rep="p1", special=jan)
               + every_working_day(D(2025, 1, 1), D(2025, 6, 30), 100.0, rep="p2", special=jan)
               + every_working_day(D(2025, 1, 1), D(2025, 6, 30), 400.0, rep="x",
                                   special={(D(2025, 1, 1), D(2025, 2, 28)): 1500.0})
               + every_working_day(D(2025, 1, 1), D(2025, 6, 30), 600.0, rep="q"))
    inputs = make_inputs(reps=reps, territories=TERR, targets=targets, actuals=actuals, window=20)
    wl = watchlist(inputs, D(2025, 6, 30), levels=("rep",))
    assert wl.owner_id.tolist() == ["p1", "p2", "x", "q"]
    assert wl.point_of_no_return.tolist()[:2] == ["passed", "passed"]
    assert wl.gap_to_date.iloc[0] > wl.gap_to_date.iloc[1]
    assert isinstance(wl.point_of_no_return.iloc[2], dt.date) and wl.working_days_to_act.iloc[2] > 0
    assert wl.point_of_no_return.iloc[3] is None and wl.working_days_to_act.iloc[3] is pd.NA
    assert "out of reach even at the best run-rate so far (200.00 per working day" in wl.iloc[0].recommended_action
    assert wl.plan_needs_update.all()


def test_watchlist_advice_names_the_gap_the_weighted_pipeline_leaves():
    """With a deals snapshot the advice ends with the uncovered gap (docs/numbers.md, Pipeline);
    without one it says nothing of a pipeline."""
    import dataclasses

    inputs = watch_inputs()
    plain = watchlist(inputs, D(2025, 3, 14), levels=("rep",))
    assert not plain.recommended_action.str.contains("pipeline").any()
    deals = pd.DataFrame({
        "snapshot_date": [pd.Timestamp("2025-03-10")], "deal_id": ["D1"], "rep_id": ["w1"],
        "amount": [10_000.0], "probability": [0.5], "expected_close": [pd.Timestamp("2025-06-30")],
    })
    with_deals = watchlist(dataclasses.replace(inputs, deals=deals), D(2025, 3, 14), levels=("rep",))
    w1 = with_deals[with_deals.owner_id == "w1"].iloc[0]
    assert w1.uncovered_gap == max(w1.target - w1.actual_to_date - 5_000.0, 0)
    assert w1.recommended_action.startswith(plain[plain.owner_id == "w1"].iloc[0].recommended_action)
    assert w1.recommended_action.endswith(f"; the weighted pipeline leaves {w1.uncovered_gap:,.2f} of the gap uncovered")


def test_watchlist_advice_writes_money_with_the_base_currency_symbol():
    """Hand-worked: w1 sells 500 every working day; as of Fri 14 March 2025 it has 53 working days
    behind it (23 + 20 + 10), so A = 26,500 of T = 12 x 20,000 = 240,000, with W = 261 - 53 = 208
    working days left: r = 213,500 / 208 = 1,026.44 a day. Its open actions are worth 500,000.
    With EUR as the base currency the advice's money carries "€" (docs/currencies.md); without a
    base currency it stays the plain number."""
    import dataclasses

    inputs = watch_inputs()
    euro = dataclasses.replace(inputs, settings=dataclasses.replace(inputs.settings, base_currency="EUR"))
    w1 = watchlist(euro, D(2025, 3, 14), levels=("rep",)).set_index("owner_id").loc["w1"]
    assert (w1.actual_to_date, w1.working_days_left) == (26_500.0, 208)
    assert w1.recommended_action == ("raise the run-rate from €500.00 to €1,026.44 per working day; the open actions "
                                     "(worth €500,000.00) cover the rest of the gap if they deliver")
    plain = watchlist(inputs, D(2025, 3, 14), levels=("rep",)).set_index("owner_id").loc["w1"]
    assert plain.recommended_action == w1.recommended_action.replace("€", "")
    franc = dataclasses.replace(inputs, settings=dataclasses.replace(inputs.settings, base_currency="CHF"))
    w1_chf = watchlist(franc, D(2025, 3, 14), levels=("rep",)).set_index("owner_id").loc["w1"]
    assert w1_chf.recommended_action.startswith("raise the run-rate from CHF 500.00 to CHF 1,026.44 per working day")

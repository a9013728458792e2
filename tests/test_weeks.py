"""Week periods (docs/numbers.md, "Weeks"): Monday-Sunday weeks clipped to the fiscal year, each
month's target spread over its working days."""

import datetime as dt

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from salesplan.calendar import fiscal_months, month_end, periods
from salesplan.engine import report
from tests.test_engine import D, every_working_day, make_inputs, row


def test_week_labels_and_clipping():
    weeks = periods(2025, 1, "week")
    assert weeks[0].label == "FY2025-W01" and (weeks[0].start, weeks[0].end) == (D(2025, 1, 1), D(2025, 1, 5))
    assert (weeks[1].start, weeks[1].end) == (D(2025, 1, 6), D(2025, 1, 12))
    assert weeks[-1].label == "FY2025-W53" and (weeks[-1].start, weeks[-1].end) == (D(2025, 12, 29), D(2025, 12, 31))
    crossing = next(w for w in weeks if w.start == D(2025, 3, 31))
    assert crossing.end == D(2025, 4, 6) and crossing.months == (2, 3)
    july = periods(2025, 7, "week")  # FY2025 = 2024-07-01 (a Monday) .. 2025-06-30
    assert (july[0].start, july[0].end, july[0].months) == (D(2024, 7, 1), D(2024, 7, 7), (0,))
    assert july[-1].start == D(2025, 6, 30) == july[-1].end
    days = sum((w.end - w.start).days + 1 for w in weeks)
    assert days == 365  # the weeks cover the FY exactly once


def test_week_crossing_the_fy_boundary_with_a_holiday():
    # W01 = Wed 1 .. Sun 5 January 2025; 1 January a holiday: working days 2 and 3 January.
    # January 2025: 23 weekdays - 1 holiday = 22 working days; target 22,000 -> 2,000 for W01
    inputs = make_inputs(reps=[("r1", "Ann", "North")], territories=[("North", "East")],
                         holidays=[(D(2025, 1, 1), None)], targets=[("rep", "r1", "2025-01", 22000)],
                         actuals=every_working_day(D(2024, 12, 2), D(2025, 1, 3), 500.0, holidays={D(2025, 1, 1)}))
    df = report(inputs, D(2025, 1, 2), period="week")
    w1 = row(df, "r1", "FY2025-W01")
    assert w1.target == pytest.approx(2000)
    assert w1.expected_to_date == pytest.approx(1000)  # 22,000 x wd(1 Jan..2 Jan) / 22 = 22,000 / 22
    assert w1.actual_to_date == 500  # 2 January only: the December sales belong to FY2024
    assert (w1.working_days_elapsed, w1.working_days_left) == (1, 1)
    assert w1.pace == pytest.approx(0.5) and w1.status == "off_track"
    assert row(df, "r1", "FY2025-W02").status == "not_started"
    assert row(df, "r1", "FY2025-W02").target == pytest.approx(5 * 1000)


def test_week_crossing_a_month_with_a_territory_holiday():
    # Mon 31 March .. Sun 6 April 2025. March: 21 working days, 31 March is one of them.
    # April: 22 weekdays, 4 April a North holiday -> 21; 1-3 April in the week.
    # target 21,000 in March and in April: 21,000 x 1/21 + 21,000 x 3/21 = 4,000
    inputs = make_inputs(reps=[("r1", "Ann", "North"), ("r2", "Bob", "South")],
                         territories=[("North", "East"), ("South", "East")],
                         holidays=[(D(2025, 4, 4), "North")],
                         targets=[("rep", r, m, 21000) for r in ("r1", "r2") for m in ("2025-03", "2025-04")],
                         actuals=every_working_day(D(2025, 1, 6), D(2025, 4, 2), 1000.0))
    df = report(inputs, D(2025, 4, 2), period="week")
    label = next(w.label for w in periods(2025, 1, "week") if w.start == D(2025, 3, 31))
    north = row(df, "r1", label)
    assert north.target == pytest.approx(4000)
    # E = 1,000 (31 March) + 21,000 x wd(1..2 April) / 21 = 3,000; A = 3 x 1,000
    assert north.expected_to_date == pytest.approx(3000) and north.actual_to_date == 3000
    assert (north.working_days_elapsed, north.working_days_left) == (3, 1)  # 3 April; 4 April is off
    assert north.required_per_working_day == pytest.approx(1000)
    south = row(df, "r2", label)  # no holiday: 1/21 of March + 4/22 of April
    assert south.target == pytest.approx(1000 + 21000 * 4 / 22)
    assert south.working_days_left == 2


@hsettings(max_examples=40, deadline=None)
@given(month=st.integers(0, 11), amount=st.integers(1, 100000), fsm=st.sampled_from([1, 4, 7, 10]),
       holidays=st.lists(st.integers(0, 364), max_size=12), weekmask=st.sampled_from(["1111100", "1111110", "0000001"]),
       empty_month=st.booleans())
def test_the_weeks_of_a_month_add_up_to_its_target(month, amount, fsm, holidays, weekmask, empty_month):
    months = fiscal_months(2025, fsm)
    m0 = months[month]
    hol = [months[0] + dt.timedelta(days=k) for k in holidays]
    if empty_month:  # a month without working days: the weeks share it by calendar days
        hol += [m0 + dt.timedelta(days=k) for k in range((month_end(m0) - m0).days + 1)]
    weekdays = tuple(i for i, ch in enumerate(weekmask) if ch == "1")
    inputs = make_inputs(reps=[("r1", "Ann", "North")], territories=[("North", "East")],
                         holidays=[(h, None) for h in hol], targets=[("rep", "r1", m0.strftime("%Y-%m"), amount)],
                         working_weekdays=weekdays, fy_start_month=fsm)
    df = report(inputs, months[0] - dt.timedelta(days=1), fy=2025, period="week")
    touching = df[(df.period_end >= m0) & (df.period_start <= month_end(m0))]
    assert touching.target.sum() == pytest.approx(amount, rel=1e-12)
    assert df.target.sum() == pytest.approx(amount, rel=1e-12)
    assert (touching.target >= 0).all()

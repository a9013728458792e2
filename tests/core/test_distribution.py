"""Target helpers of docs/files.md, Targets: hand-worked spreads and the exact-sum property."""

import datetime as dt
import math

import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from salesplan.calendar import WorkingCalendar, fiscal_months
from salesplan.distribution import (
    by_working_days,
    custom_percentages,
    even_by_month,
    previous_year_shape,
    spread_range,
)
from salesplan.errors import BadInput
from salesplan.settings import Settings

D = dt.date
S = Settings()
CAL = WorkingCalendar("1111100", [])
# working days of 2025, Mon-Fri, no holidays
WD_2025 = [23, 20, 21, 22, 22, 21, 23, 21, 22, 23, 20, 23]


def test_even_by_month():
    out = even_by_month(12000, 2025, S)
    assert list(out) == fiscal_months(2025, 1)
    assert all(v == 1000 for v in out.values())
    july = even_by_month(1200, 2025, Settings(fy_start_month=7))
    assert list(july)[0] == D(2024, 7, 1) and list(july)[-1] == D(2025, 6, 1)


def test_even_by_month_awkward_amount_sums_exactly():
    out = even_by_month(100000 / 3, 2025, S)
    assert sum(out.values()) == 100000 / 3
    assert all(v == pytest.approx(100000 / 36) for v in out.values())


def test_by_working_days():
    assert sum(WD_2025) == 261
    out = by_working_days(261000, 2025, CAL, S)
    assert [round(v, 6) for v in out.values()] == [1000.0 * w for w in WD_2025]
    # a holiday on Mon 17 March 2025 moves a share away from March
    hol = by_working_days(260000, 2025, WorkingCalendar("1111100", [D(2025, 3, 17)]), S)
    assert hol[D(2025, 3, 1)] == pytest.approx(20000)
    assert sum(hol.values()) == 260000


def test_custom_percentages():
    pct = [5, 5, 10, 10, 10, 10, 5, 5, 10, 10, 10, 10]
    out = custom_percentages(50000, 2025, pct, S)
    assert out[D(2025, 1, 1)] == pytest.approx(2500) and out[D(2025, 3, 1)] == pytest.approx(5000)
    assert sum(out.values()) == 50000
    by_month = custom_percentages(1000, 2025, {D(2025, 1, 1): 40, D(2025, 6, 15): 60}, S)
    assert by_month[D(2025, 1, 1)] == 400 and by_month[D(2025, 6, 1)] == 600 and by_month[D(2025, 2, 1)] == 0


def test_custom_percentages_must_total_100():
    pct = [8.125] * 12  # 97.5
    with pytest.raises(BadInput) as err:
        custom_percentages(1000, 2025, pct, S)
    assert "percentages total 97.5 %, not 100 %" in str(err.value)
    assert err.value.problems[0].file == "distribution"
    # within 1e-6 is accepted
    custom_percentages(1000, 2025, [100 / 12] * 12, S)
    with pytest.raises(BadInput):
        custom_percentages(1000, 2025, [10] * 10, S)  # not 12 values
    with pytest.raises(BadInput):
        custom_percentages(1000, 2025, [-10, 20] + [9] * 10, S)  # negative share
    with pytest.raises(BadInput) as err:
        custom_percentages(1000, 2025, [50, 49] + [0] * 10, S, file="targets.csv")
    assert err.value.problems[0].file == "targets.csv"
    assert "percentages total 99 %, not 100 %" in str(err.value)
    with pytest.raises(BadInput):
        custom_percentages(1000, 2025, {D(2026, 1, 1): 100}, S)  # a month outside the FY


def test_bad_amounts():
    with pytest.raises(BadInput):
        even_by_month(-1, 2025, S)
    with pytest.raises(BadInput):
        even_by_month(float("nan"), 2025, S)
    with pytest.raises(BadInput):
        even_by_month("lots", 2025, S)


def test_previous_year_shape():
    prior = {D(2024, m, 1): 0.0 for m in range(1, 13)}
    prior[D(2024, 3, 10)] = 300.0  # any day of the month counts for the month
    prior[D(2024, 4, 1)] = 100.0
    prior[D(2024, 5, 1)] = -50.0  # net returns count as 0
    out = previous_year_shape(8000, 2025, prior, S)
    assert out[D(2025, 3, 1)] == 6000 and out[D(2025, 4, 1)] == 2000 and out[D(2025, 5, 1)] == 0
    assert out[D(2025, 12, 1)] == 0  # months of weight 0 stay exactly 0
    # the same from a frame, and a July fiscal year: FY2025 month 1 (July 2024) <- July 2023
    frame = pd.DataFrame({"month": pd.to_datetime(["2023-07-01", "2024-06-01"]), "amount": [1.0, 3.0]})
    july = previous_year_shape(400, 2025, frame, Settings(fy_start_month=7))
    assert july[D(2024, 7, 1)] == 100 and july[D(2025, 6, 1)] == 300


def test_previous_year_shape_falls_back_to_working_days():
    no_sales = {D(2024, 2, 1): -10.0}
    out = previous_year_shape(261000, 2025, no_sales, S, CAL)
    assert out == by_working_days(261000, 2025, CAL, S)
    assert previous_year_shape(261000, 2025, {}, S) == out  # default calendar: settings' weekdays


def test_spread_range():
    # 1 March - 14 April 2025: March 21 working days, 1-14 April 10 -> 31
    out = spread_range(31000, D(2025, 3, 1), D(2025, 4, 14), CAL)
    assert out == {D(2025, 3, 1): 21000.0, D(2025, 4, 1): 10000.0}
    # inside one month
    assert spread_range(500, D(2025, 3, 10), D(2025, 3, 12), CAL) == {D(2025, 3, 1): 500.0}
    # 31 January - 3 February: Fri 31 (1 day) and Mon 3 (1 day); Sat/Sun 1-2 Feb count nothing
    assert spread_range(100, D(2025, 1, 31), D(2025, 2, 3), CAL) == {D(2025, 1, 1): 50.0, D(2025, 2, 1): 50.0}


def test_spread_range_without_working_days_uses_calendar_days():
    # Sat 29 March - Tue 1 April 2025 where 31 March and 1 April are holidays: no working day;
    # calendar days: March 3 (29, 30, 31), April 1
    cal = WorkingCalendar("1111100", [D(2025, 3, 31), D(2025, 4, 1)])
    out = spread_range(400, D(2025, 3, 29), D(2025, 4, 1), cal)
    assert out == {D(2025, 3, 1): 300.0, D(2025, 4, 1): 100.0}


def test_spread_range_bad_range():
    with pytest.raises(BadInput):
        spread_range(100, D(2025, 4, 1), D(2025, 3, 1), CAL)


# --------------------------------------------------------------------------- property: exact sums
amounts = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
fys = st.integers(min_value=2000, max_value=2040)
start_months = st.integers(min_value=1, max_value=12)


@hsettings(max_examples=150, deadline=None)
@given(amount=amounts, fy=fys, m=start_months)
def test_even_and_working_days_sum_to_amount(amount, fy, m):
    s = Settings(fy_start_month=m)
    for out in (even_by_month(amount, fy, s), by_working_days(amount, fy, CAL, s)):
        assert len(out) == 12 and sum(out.values()) == amount
        assert all(v >= 0 for v in out.values())


@hsettings(max_examples=150, deadline=None)
@given(amount=amounts, weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=12, max_size=12).filter(lambda w: sum(w) > 0))
def test_percentages_and_shape_sum_to_amount(amount, weights):
    total = sum(weights)
    pct = [100 * w / total for w in weights]
    if abs(math.fsum(pct) - 100) <= 1e-6:
        out = custom_percentages(amount, 2025, pct, S)
        assert sum(out.values()) == amount and all(v >= 0 for v in out.values())
    prior = {D(2024, i + 1, 1): float(w) for i, w in enumerate(weights)}
    out = previous_year_shape(amount, 2025, prior, S)
    assert sum(out.values()) == amount and all(v >= 0 for v in out.values())
    assert all(v == 0 for v, w in zip(out.values(), weights) if w == 0)


@hsettings(max_examples=150, deadline=None)
@given(amount=amounts, start=st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 12, 31)),
       length=st.integers(min_value=0, max_value=800))
def test_spread_range_sums_to_amount(amount, start, length):
    end = start + dt.timedelta(days=length)
    out = spread_range(amount, start, end, CAL)
    assert sum(out.values()) == amount == math.fsum(out.values())
    assert min(out) == start.replace(day=1) and max(out) <= end
    assert all(v >= 0 for v in out.values())


def test_regression_sum_needs_more_than_the_last_month():
    # found by hypothesis: no value of the last month alone makes this two-month spread sum exactly
    out = spread_range(235318264133.95547, D(2020, 2, 21), D(2020, 3, 12), CAL)
    assert sum(out.values()) == 235318264133.95547 == math.fsum(out.values())

"""Fiscal calendar and working days (docs/index.md, Words), checked against hand-counted calendars."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from salesplan.calendar import (
    WorkingCalendar,
    add_months,
    calendar_for,
    fiscal_month_index,
    fiscal_months,
    fiscal_year_bounds,
    fiscal_year_of,
    month_end,
    periods,
)
from salesplan.errors import BadInput
from salesplan.settings import Settings

D = dt.date
MON_FRI = "1111100"


def test_fiscal_year_of_calendar_year_start():
    assert fiscal_year_of(D(2025, 1, 1), 1) == 2025
    assert fiscal_year_of(D(2025, 12, 31), 1) == 2025


def test_fiscal_year_of_july_start_ends_in_year_n():
    # FY2025 = 2024-07-01 ... 2025-06-30
    assert fiscal_year_of(D(2024, 6, 30), 7) == 2024
    assert fiscal_year_of(D(2024, 7, 1), 7) == 2025
    assert fiscal_year_of(D(2025, 6, 30), 7) == 2025
    assert fiscal_year_of(D(2025, 7, 1), 7) == 2026


def test_fiscal_year_bounds():
    assert fiscal_year_bounds(2025, 1) == (D(2025, 1, 1), D(2025, 12, 31))
    assert fiscal_year_bounds(2025, 7) == (D(2024, 7, 1), D(2025, 6, 30))
    assert fiscal_year_bounds(2024, 3) == (D(2023, 3, 1), D(2024, 2, 29))  # leap February


def test_fiscal_year_bad_start_month():
    with pytest.raises(BadInput):
        fiscal_year_bounds(2025, 13)


def test_fiscal_months_in_fiscal_order():
    months = fiscal_months(2025, 7)
    assert months[0] == D(2024, 7, 1)
    assert months[5] == D(2024, 12, 1)
    assert months[6] == D(2025, 1, 1)
    assert months[11] == D(2025, 6, 1)
    assert len(months) == 12
    assert fiscal_month_index(D(2025, 1, 20), 2025, 7) == 6
    assert fiscal_month_index(D(2025, 7, 1), 2025, 7) is None


def test_periods_labels_and_bounds():
    (year,) = periods(2025, 7, "year")
    assert (year.label, year.start, year.end) == ("FY2025", D(2024, 7, 1), D(2025, 6, 30))
    qs = periods(2025, 7, "quarter")
    assert [q.label for q in qs] == ["FY2025-Q1", "FY2025-Q2", "FY2025-Q3", "FY2025-Q4"]
    assert (qs[0].start, qs[0].end) == (D(2024, 7, 1), D(2024, 9, 30))
    assert (qs[3].start, qs[3].end) == (D(2025, 4, 1), D(2025, 6, 30))
    ms = periods(2024, 1, "month")
    assert ms[0].label == "FY2024-M01" and ms[11].label == "FY2024-M12"
    assert (ms[1].start, ms[1].end) == (D(2024, 2, 1), D(2024, 2, 29))
    assert ms[1].months == (1,)
    with pytest.raises(BadInput):
        periods(2025, 1, "fortnight")


def test_month_helpers():
    assert add_months(D(2024, 11, 15), 2) == D(2025, 1, 1)
    assert add_months(D(2024, 1, 31), -1) == D(2023, 12, 1)
    assert month_end(D(2023, 2, 3)) == D(2023, 2, 28)


def test_wd_counts_inclusive_both_ends():
    cal = WorkingCalendar(MON_FRI, [])
    # March 2025: Sat 1 ... Mon 31; weekdays 3-7, 10-14, 17-21, 24-28, 31 = 21
    assert cal.wd(D(2025, 3, 1), D(2025, 3, 31)) == 21
    assert cal.wd(D(2025, 3, 3), D(2025, 3, 3)) == 1  # a Monday
    assert cal.wd(D(2025, 3, 1), D(2025, 3, 2)) == 0  # a weekend
    assert cal.wd(D(2025, 3, 14), D(2025, 3, 13)) == 0  # b < a
    assert cal.wd(D(2025, 3, 31), D(2025, 3, 1)) == 0  # b < a, far apart: still 0, not negative
    assert cal.wd(D(2025, 1, 1), D(2025, 12, 31)) == 261


def test_wd_with_holidays_and_vectorised():
    cal = WorkingCalendar(MON_FRI, [D(2025, 3, 17), D(2025, 3, 22)])  # a Monday and a Saturday
    assert cal.wd(D(2025, 3, 1), D(2025, 3, 31)) == 20  # the Saturday holiday changes nothing
    a = np.array(["2025-03-01", "2025-03-17", "2025-03-20"], dtype="datetime64[D]")
    b = np.array(["2025-03-31", "2025-03-17", "2025-03-19"], dtype="datetime64[D]")
    assert cal.wd(a, b).tolist() == [20, 0, 0]
    assert cal.wd(pd.Timestamp("2025-03-18"), "2025-03-21") == 4


def test_other_weekmask():
    cal = WorkingCalendar("1111001", [])  # Sun-Thu
    # week of Sun 9 March 2025 .. Sat 15 March: Sun, Mon, Tue, Wed, Thu = 5
    assert cal.wd(D(2025, 3, 9), D(2025, 3, 15)) == 5
    assert cal.bucket(D(2025, 3, 15)) == D(2025, 3, 13)  # Saturday -> Thursday
    with pytest.raises(BadInput):
        WorkingCalendar("0000000", [])


def test_bucket_is_last_working_day_on_or_before():
    cal = WorkingCalendar(MON_FRI, [D(2025, 3, 17)])
    assert cal.bucket(D(2025, 3, 14)) == D(2025, 3, 14)  # Friday itself
    assert cal.bucket(D(2025, 3, 15)) == D(2025, 3, 14)  # Saturday -> Friday
    assert cal.bucket(D(2025, 3, 16)) == D(2025, 3, 14)  # Sunday -> Friday
    assert cal.bucket(D(2025, 3, 17)) == D(2025, 3, 14)  # holiday Monday -> Friday
    arr = cal.bucket(np.array(["2025-03-18", "2025-03-16"], dtype="datetime64[D]"))
    assert arr.tolist() == [D(2025, 3, 18), D(2025, 3, 14)]


def test_nth_working_day_after():
    cal = WorkingCalendar(MON_FRI, [D(2025, 3, 18)])
    assert cal.nth_working_day_after(D(2025, 3, 14), 0) == D(2025, 3, 14)
    assert cal.nth_working_day_after(D(2025, 3, 15), 0) == D(2025, 3, 15)  # e itself, even a Saturday
    assert cal.nth_working_day_after(D(2025, 3, 15), 1) == D(2025, 3, 17)  # Sat + 1 -> Monday
    # Fri 14 + 3: Mon 17, (Tue 18 holiday), Wed 19, Thu 20
    assert cal.nth_working_day_after(D(2025, 3, 14), 3) == D(2025, 3, 20)
    assert cal.nth_working_day_after(D(2025, 3, 14), -4) == D(2025, 3, 10)
    many = cal.nth_working_day_after(np.array(["2025-03-14"] * 3, dtype="datetime64[D]"), np.array([0, 1, 2]))
    assert many.tolist() == [D(2025, 3, 14), D(2025, 3, 17), D(2025, 3, 19)]


def test_calendar_for_org_and_territory_holidays():
    holidays = pd.DataFrame({
        "date": pd.to_datetime(["2025-03-17", "2025-03-18", "2025-03-19"]),
        "name": ["org day", "north day", "south day"],
        "territory": [None, "North", "South"],
    })
    s = Settings()
    org = calendar_for(s, holidays, None)
    north = calendar_for(s, holidays, "North")
    other = calendar_for(s, holidays, "West")  # no own holidays
    week = (D(2025, 3, 17), D(2025, 3, 21))
    assert org.wd(*week) == 4
    assert north.wd(*week) == 3  # org + its own, not South's
    assert other.wd(*week) == 4
    assert other == org and north != org
    assert calendar_for(s, pd.DataFrame(columns=["date", "name", "territory"]), "North").wd(*week) == 5
    assert calendar_for(Settings(working_weekdays=(0, 1, 2)), None, None).wd(*week) == 3


def test_dates_from_1900_to_2199():
    cal = WorkingCalendar("1111100", [dt.date(1900, 1, 1)])
    assert cal.wd(dt.date(1900, 1, 1), dt.date(1900, 1, 31)) == 22  # 23 weekdays, 1 January off
    assert cal.wd(dt.date(2199, 12, 1), dt.date(2199, 12, 31)) == 22
    assert fiscal_year_of(dt.date(2199, 12, 31), 7) == 2200
    assert periods(1900, 1, "week")[0].start == dt.date(1900, 1, 1)
    assert periods(2199, 1, "week")[-1].end == dt.date(2199, 12, 31)


def test_report_accepts_the_first_and_the_last_date():
    from salesplan.engine import report
    from tests.helpers.engine import make_inputs

    for day, fsm in ((dt.date(1900, 1, 1), 1), (dt.date(2199, 12, 31), 7), (dt.date(2199, 12, 31), 1)):
        inputs = make_inputs(reps=[("r1", "Ann", "North")], territories=[("North", "East")],
                             targets=[("rep", "r1", f"{day.year}-{day.month:02d}", 100)],
                             actuals=[(day, "r1", "North", 60.0)], fy_start_month=fsm)
        r = report(inputs, day, period="month")
        current = r[(r.period_start <= day) & (r.period_end >= day)].iloc[0]
        assert current.actual_to_date == 60 and current.target == 100

"""salesplan.plan_view: the My plan page's reading of engine rows, checked on a real engine report."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from salesplan import engine, plan_view
from salesplan.principal import Principal
from salesplan.store import Store
from tests.helpers.demo import demo_copy

TODAY = dt.date(2026, 11, 26)
ADMIN = Principal("admin@local", "admin")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    # the demo the pages' tests use (tests/helpers/pages.py): a run builds each demo once, and this
    # one is built anyway
    path = demo_copy(tmp_path_factory.mktemp("plan_view"), reps=12, seed=3, today=TODAY)
    with Store.open(path) as store:
        inputs = store.engine_inputs(ADMIN)
    return engine.report(inputs, TODAY), engine.report(inputs, TODAY, period="month")


def test_run_rates_scale_the_engines_rates_by_working_days(reports):
    year, months = reports
    row = year[year["target"] > 0].iloc[0]
    month = plan_view.current_month(months, row["owner_id"], TODAY)
    assert month is not None and month["period_start"] <= TODAY <= month["period_end"]
    rates = plan_view.run_rates(row, month, 5)
    left = int(month["working_days_left"])
    assert rates["per"].tolist() == ["per working day", "per week", "rest of Nov 2026"]
    assert rates["days"].tolist() == [1, 5, left]
    assert rates["required"].tolist() == pytest.approx([row["required_per_working_day"] * d for d in (1, 5, left)])
    assert rates["current"].tolist() == pytest.approx([row["current_per_working_day"] * d for d in (1, 5, left)])
    assert f"{left} working days left in Nov 2026" in rates["derived_as"].iloc[2]


def test_run_rates_without_a_month_or_a_rate():
    row = pd.Series({"required_per_working_day": float("nan"), "current_per_working_day": 10.0})
    rates = plan_view.run_rates(row, None, 4)
    assert rates["required"].tolist() == [None, None] and rates["current"].tolist() == [10.0, 40.0]


def test_outlook_follows_the_engine_status_and_point_of_no_return(reports):
    year, _ = reports
    for _, row in year[year["target"] > 0].iterrows():
        answer = plan_view.outlook(row)
        if row["status"] in ("achieved", "too_late"):
            assert answer == row["status"]
        elif answer == "point_of_no_return":
            assert isinstance(row["point_of_no_return"], dt.date)
        elif answer == "on_course":
            assert row["projection_linear"] >= row["target"]
        else:
            assert answer == "short"
    base = {"status": "on_track", "point_of_no_return": None, "projection_linear": 90.0, "target": 100.0}
    assert plan_view.outlook(pd.Series(base)) == "short"
    assert plan_view.outlook(pd.Series({**base, "projection_linear": 100.0})) == "on_course"
    assert plan_view.outlook(pd.Series({**base, "point_of_no_return": TODAY})) == "point_of_no_return"
    assert plan_view.outlook(pd.Series({**base, "status": "too_late", "point_of_no_return": engine.PASSED})) == "too_late"


def test_this_and_last_week_are_the_engines_week_rows(tmp_path):
    path = demo_copy(tmp_path, reps=12, seed=3, today=TODAY)
    with Store.open(path) as store:
        weeks = engine.report(store.engine_inputs(ADMIN), TODAY, period="week")
    owner = weeks["owner_id"].iloc[0]
    both = plan_view.this_and_last_week(weeks, owner, TODAY)
    assert both["which"].tolist() == ["This week", "Last week"]
    assert both["period_start"].tolist() == [dt.date(2026, 11, 23), dt.date(2026, 11, 16)]
    assert both["period"].tolist() == ["FY2026-W48", "FY2026-W47"]
    # the first days of a fiscal year have no last week inside it
    first = plan_view.this_and_last_week(weeks, owner, dt.date(2026, 1, 2))
    assert first["which"].tolist() == ["This week"]
    assert plan_view.this_and_last_week(weeks, "nobody", TODAY).empty


def test_actions_for_people_name_the_rep_and_read_the_status():
    from salesplan import planflow

    actions = pd.DataFrame({"owner": ["R012", "Ann from finance", None], "status": ["in_progress", "planned", "done"]})
    shown = planflow.for_people(actions, {"R012": "Louis Kazlauskas"})
    assert shown["owner"].tolist()[:2] == ["Louis Kazlauskas", "Ann from finance"] and shown["owner"].isna().iloc[2]
    assert shown["status"].tolist() == ["in progress", "planned", "done"]
    assert actions["owner"].iloc[0] == "R012", "a copy"

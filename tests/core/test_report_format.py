"""docs/cli.md output formats: csv header and cells, json, and the human table."""

import csv
import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest

from salesplan.engine import REPORT_COLUMNS, report, status_history, watchlist
from salesplan.errors import BadInput
from salesplan.inputs import EngineInputs
from tests.helpers.report import SPEC_HEADER
from salesplan.report import render
from salesplan.settings import Settings

D = dt.date



def worked_example(target=22000.0, open_impact=None):
    """docs/numbers.md: 800 a working day from 3 February 2025, 1,500 in the week of 10 February; L = 5."""
    days = pd.bdate_range("2025-02-03", "2025-03-31")
    revenue = [1500.0 if D(2025, 2, 10) <= d.date() <= D(2025, 2, 14) else 800.0 for d in days]
    daily = pd.DataFrame({"date": days, "rep_id": "r1", "territory": "North", "revenue": revenue, "profit": np.nan})
    reps = pd.DataFrame({"rep_id": ["r1"], "name": ["Ann, Jr."], "email": None, "territory": ["North"], "region": None,
                         "manager": None, "start_date": pd.NaT, "end_date": pd.NaT})
    territories = pd.DataFrame({"territory": ["North"], "region": ["East"]})
    holidays = pd.DataFrame(columns=["date", "name", "territory"])
    targets = pd.DataFrame({"owner_type": "rep", "owner_id": "r1", "metric": "revenue",
                            "month": pd.to_datetime(["2025-03-01"]), "amount": [target]})
    actions = pd.DataFrame({"rep_id": ["r1"], "fy": [2025], "open_impact": [open_impact]}) if open_impact else \
        pd.DataFrame(columns=["rep_id", "fy", "open_impact"])
    return EngineInputs(Settings(window=5), reps, territories, holidays, targets, daily, actions)


@pytest.fixture(scope="module")
def month_report():
    return report(worked_example(), D(2025, 3, 14), period="month")


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_header_is_exactly_spec(month_report):
    text = render(month_report, "csv")
    assert text.splitlines()[0] == SPEC_HEADER
    assert SPEC_HEADER.split(",") == REPORT_COLUMNS
    assert len(parse_csv(text)) == 12


def test_csv_worked_example_cells(month_report):
    rows = {r["period"]: r for r in parse_csv(render(month_report, "csv"))}
    mar = rows["FY2025-M03"]
    assert mar["owner_name"] == "Ann, Jr."  # quoted, round-trips
    assert (mar["period_start"], mar["period_end"], mar["as_of"]) == ("2025-03-01", "2025-03-31", "2025-03-14")
    assert mar["target"] == "22000"  # integral money without '.0'
    assert mar["actual_to_date"] == "8000"
    # money unrounded: the shortest text that reads back as the same float
    assert mar["expected_to_date"] == repr(22000 * 10 / 21)
    assert float(mar["required_per_working_day"]) == 14000 / 11
    assert mar["required_per_working_day"] == "1272.7272727272727"
    # fractions as plain decimals, not per cent
    assert float(mar["pace"]) == 8000 / (22000 * 10 / 21) and "%" not in mar["pace"]
    assert mar["working_days_elapsed"] == "10" and mar["working_days_left"] == "11"
    assert mar["point_of_no_return"] == "2025-03-19" and mar["working_days_to_act"] == "3"
    assert mar["status"] == "off_track"
    assert mar["action_coverage"] == ""  # empty cell
    apr = rows["FY2025-M04"]
    assert apr["status"] == "not_started" and apr["target"] == "0"
    for col in ("expected_to_date", "actual_to_date", "pace", "current_per_working_day", "point_of_no_return",
                "working_days_to_act"):
        assert apr[col] == "", col
    assert apr["working_days_elapsed"] == "" and apr["working_days_left"] == ""  # only the target


def test_csv_every_float_round_trips(month_report):
    rows = parse_csv(render(month_report, "csv"))
    for (_, src), out in zip(month_report.iterrows(), rows):
        for col in REPORT_COLUMNS:
            v = src[col]
            if isinstance(v, float):
                if np.isnan(v):
                    assert out[col] == ""
                else:
                    assert float(out[col]) == v and "e" not in out[col].lower(), (col, out[col])


def test_csv_passed_and_no_exponent():
    r = report(worked_example(target=30000), D(2025, 3, 14), period="month")
    mar = [x for x in parse_csv(render(r, "csv")) if x["period"] == "FY2025-M03"][0]
    assert mar["point_of_no_return"] == "passed" and mar["working_days_to_act"] == "0"
    tiny = r.copy()
    tiny.loc[:, "pace"] = 1e-7
    tiny.loc[:, "remaining"] = 1.5e22
    cells = parse_csv(render(tiny, "csv"))[0]
    assert cells["pace"] == "0.0000001" and cells["remaining"] == "15000000000000000000000"


def test_watchlist_csv_extra_columns():
    # year target 100,000 in March: pace 23,500 / 23,809.52 = 0.99 (at_risk) on 7 March, 0.58 on 14 March
    wl = watchlist(worked_example(target=100000, open_impact=100.0), D(2025, 3, 14))
    assert len(wl) > 0
    text = render(wl, "csv")
    assert text.splitlines()[0] == SPEC_HEADER + ",recommended_action,plan_needs_update"
    rows = parse_csv(text)
    rep = [r for r in rows if r["owner_type"] == "rep"][0]
    assert rep["plan_needs_update"] == "true"
    # r = (100,000 - 27,500) / 208 working days left < c = 800: the run-rate is enough, the plan is ahead of it
    assert rep["recommended_action"].startswith("keep the run-rate of 800.00 per working day (348.56 needed)")
    terr = [r for r in rows if r["owner_type"] == "territory"][0]
    assert terr["plan_needs_update"] == "false"


def test_json(month_report):
    data = json.loads(render(month_report, "json"))
    assert isinstance(data, list) and len(data) == 12
    assert all(list(obj) == REPORT_COLUMNS for obj in data)
    mar = [o for o in data if o["period"] == "FY2025-M03"][0]
    assert mar["expected_to_date"] == 22000 * 10 / 21
    assert mar["pace"] == pytest.approx(0.7636, abs=1e-4)
    assert mar["point_of_no_return"] == "2025-03-19" and mar["working_days_to_act"] == 3
    assert mar["action_coverage"] is None
    apr = [o for o in data if o["period"] == "FY2025-M04"][0]
    assert apr["pace"] is None and apr["point_of_no_return"] is None and apr["working_days_to_act"] is None
    assert apr["working_days_left"] is None


def test_table_is_for_people(month_report):
    text = render(month_report, "table")
    lines = text.splitlines()
    header = lines[0]
    mar = [line for line in lines if "FY2025-M03" in line][0]
    assert "10,476.19" in mar and "22,000.00" in mar and "1,272.73" in mar
    assert "76.4 %" in mar and "1.59x" in mar and "2025-03-19" in mar
    # numbers are right-aligned under their header
    end = header.index("expected_to_date") + len("expected_to_date")
    assert mar[:end].endswith("10,476.19")
    assert len({len(line) for line in lines[:2]}) == 1  # header and rule line up


def test_table_shows_money_with_the_base_currencys_symbol_and_csv_stays_plain(month_report):
    mar = [line for line in render(month_report, "table", currency="EUR").splitlines() if "FY2025-M03" in line][0]
    assert "€10,476.19" in mar and "€22,000.00" in mar and "76.4 %" in mar
    chf = [line for line in render(month_report, "table", currency="CHF").splitlines() if "FY2025-M03" in line][0]
    assert "CHF 22,000.00" in chf
    assert render(month_report, "csv") == render(month_report.copy(), "csv")  # no currency argument, no symbol
    assert "€" not in render(month_report, "json")


def test_empty_frames_and_bad_format(month_report):
    empty = month_report.iloc[0:0]
    assert render(empty, "csv") == SPEC_HEADER + "\n"
    assert json.loads(render(empty, "json")) == []
    assert "no rows" in render(empty, "table")
    with pytest.raises(BadInput):
        render(month_report, "xml")


def test_status_history_keeps_week_end_first():
    h = status_history(worked_example(), D(2025, 1, 20), "rep", "r1")
    text = render(h, "csv")
    assert text.splitlines()[0] == "week_end," + SPEC_HEADER
    assert [r["week_end"] for r in parse_csv(text)] == ["2025-01-05", "2025-01-12", "2025-01-19"]


def test_csv_neutralises_formula_like_text_but_never_numbers():
    inputs = worked_example()
    inputs.reps.loc[0, "name"] = "=HYPERLINK(\"http://x\",\"Ann\")"
    inputs.reps.loc[0, "territory"] = "-North"
    inputs.daily_actuals["territory"] = "-North"
    df = report(inputs, D(2025, 3, 14), period="month", level="rep")
    text = render(df, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    march = next(r for r in rows if r["period"] == "FY2025-M03")
    assert march["owner_name"] == "'=HYPERLINK(\"http://x\",\"Ann\")"
    feb = next(r for r in rows if r["period"] == "FY2025-M02")
    assert feb["gap_to_date"] == "-19500" and feb["remaining"] == "-19500"  # numbers stay numbers
    terr = render(report(inputs, D(2025, 3, 14), level="territory"), "csv")
    assert ",'-North,'-North," in terr
    assert json.loads(render(df, "json"))[0]["owner_name"].startswith("=")  # json is data, not a sheet

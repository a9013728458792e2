"""Exports people read (issue 12): the report and watch-list downloads carry rounded money,
percentages, status labels and names, never "nan", with the gap's one sign; the Excel file keeps
the engine's raw values on a second sheet."""

from __future__ import annotations

import io
import math
import re

import openpyxl
import pandas as pd
import pytest

from salesplan import engine, report
from salesplan.ui.exports import RAW_SHEET, report_csv, report_excel
from tests.helpers.pages import DEMO_TODAY, demo_template, engine_inputs


@pytest.fixture(scope="module")
def year():
    return engine.report(engine_inputs(demo_template()), DEMO_TODAY)


@pytest.fixture(scope="module")
def watch():
    return engine.watchlist(engine_inputs(demo_template()), DEMO_TODAY)


def test_readable_report(year):
    out = report.readable(year)
    assert "owner_id" not in out.columns and "Owner" in out.columns, "names, not raw ids"
    assert out["Owner"].tolist() == year["owner_name"].tolist()
    assert set(out["Status"]) <= set(report.READABLE_STATUS.values()) and "No target" in set(out["Status"])
    assert out["Level"].unique().tolist() == ["Rep"]
    row, raw = out.iloc[3], year.iloc[3]
    assert row["Target"] == round(raw["target"]) and isinstance(row["Actual to date"], int)
    assert row["Pace %"] == round(raw["pace"] * 100, 1)
    assert row["Gap to date (+ = behind plan)"] == round(raw["gap_to_date"]), "the engine's sign: E − A"
    assert row["Acceleration (×)"] == round(raw["acceleration"], 2)
    no_target = out[out["Status"] == "No target"].iloc[0]
    assert no_target["Pace %"] is None and no_target["Attainment %"] is None


def test_csv_has_no_nan_and_no_ids(year):
    text = report_csv(year).decode()
    assert not re.search(r"\bnan\b", text, re.IGNORECASE), "an empty value is an empty cell"
    assert ",R001," not in text and "owner_id" not in text.splitlines()[0]
    frame = pd.read_csv(io.StringIO(text))
    assert frame.columns[0] == "Level" and "Status" in frame.columns
    first = year.iloc[2]
    assert frame.loc[2, "Target"] == round(first["target"]) and frame.loc[2, "Status"] == "On track"


def test_watchlist_excel_has_a_readable_and_a_raw_sheet(watch):
    book = openpyxl.load_workbook(io.BytesIO(report_excel(watch, "watch list")))
    assert book.sheetnames == ["watch list", RAW_SHEET]
    readable = list(book["watch list"].values)
    head = list(readable[0])
    assert "What to do" in head and "Plan needs an update" in head and "owner_id" not in head
    status = head.index("Status")
    assert {r[status] for r in readable[1:]} <= {"At risk", "Off track", "Too late"}
    flags = {r[head.index("Plan needs an update")] for r in readable[1:]}
    assert flags <= {"yes", "no"}
    ponr = {r[head.index("Point of no return")] for r in readable[1:]}
    assert "passed" in ponr
    raw = list(book[RAW_SHEET].values)
    assert "owner_id" in raw[0] and len(raw) == len(watch) + 1
    gap = raw[0].index("gap_to_date")
    assert raw[1][gap] == pytest.approx(watch.iloc[0]["gap_to_date"]) and not float(raw[1][gap]).is_integer()
    for line in readable[1:]:
        assert not any(isinstance(v, float) and math.isnan(v) for v in line)
        assert "nan" not in {str(v).lower() for v in line}

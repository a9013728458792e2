"""Team overview: the heatmap (switch attainment/pace, filters, engine numbers), the owners table,
drill-down to a rep, and the watch list's way to the plan that needs an update."""

from __future__ import annotations

import io
import math

import openpyxl
import pandas as pd
import pytest

from salesplan import ui
from salesplan.ui.exports import RAW_SHEET, report_csv
from tests.helpers.downloads import capture_downloads, counting, download
from tests.helpers.pages import ADMIN, DEMO_TODAY, app, engine_year, figures, fresh_db, open_store, shared_app, texts


@pytest.fixture(scope="module")
def db(read_only_demo):  # tests/pages/conftest.py: the tests that write take a copy of their own
    return read_only_demo


@pytest.fixture
def at(monkeypatch, db):
    return app(monkeypatch, db, page="team")


@pytest.fixture(scope="module")
def team(db):
    """The admin's Team overview as it opens, shared by the tests that only read it (a test that
    changes a choice on the page opens its own: ``at``)."""
    with shared_app(db, page="team") as at:
        yield at


def heatmap(at):
    [figure] = [f for f in figures(at) if f["data"][0]["type"] == "heatmap"]
    return figure["data"][0], figure["layout"]


def in_progress_trace(at):
    """The grey trace of the month in progress (attainment colouring only), or None."""
    [figure] = [f for f in figures(at) if f["data"][0]["type"] == "heatmap"]
    muted = [t for t in figure["data"][1:] if t.get("name") == "in progress"]
    return muted[0] if muted else None


def same(a, b):
    def empty(v):
        return v is None or (isinstance(v, float) and math.isnan(v))

    return empty(a) and empty(b) or (not empty(a) and not empty(b) and a == pytest.approx(b))


def test_heatmap_switches_between_attainment_and_pace(at, db):
    trace, layout = heatmap(at)
    assert trace["x"][-1] == "YTD" and len(trace["x"]) == 13
    assert "Monthly attainment" in layout["title"]["text"]
    names = trace["y"][1]
    months = engine_year(db, period="month").set_index(["owner_name", "period"])
    year = engine_year(db).set_index("owner_name")
    row = names.index(year[year["target"] > 0].index[0])
    name = names[row]
    assert trace["x"][10] == "Nov*", "the month of the as-of date is marked: it is not over"
    assert [x for x in trace["x"] if x.endswith("*")] == ["Nov*"]
    for column in range(12):
        if column != 10:
            assert same(trace["z"][row][column], months.loc[(name, f"FY2026-M{column + 1:02d}"), "attainment"])
    assert trace["z"][row][12] == pytest.approx(year.loc[name, "pace"])
    # issue 12: the month in progress is not coloured by its attainment (red for everyone early on): it is
    # drawn grey, its attainment so far as text
    assert all(same(line[10], float("nan")) for line in trace["z"])
    muted = in_progress_trace(at)
    assert muted["x"] == trace["x"], "the same grid: the grey cells sit exactly on the month in progress"
    assert {v for line in muted["colorscale"] for v in line[1:]} == {"#eeeeee"}
    assert [i for i, v in enumerate(muted["z"][row]) if v is not None and not math.isnan(v)] == [10]
    assert muted["text"][row][10] == ui.pct(months.loc[(name, "FY2026-M11"), "attainment"], 0)
    assert trace["text"][row][10] == "", "the value is written once, on the grey cell"
    assert "in progress and grey" in texts(at)

    at.segmented_control(key="team_colour").set_value("pace").run()
    pace_trace, layout = heatmap(at)
    assert "Pace vs plan" in layout["title"]["text"]
    assert any(not same(a, b) for a, b in zip(pace_trace["z"][row], trace["z"][row])), "the switch changes the figure"
    assert same(pace_trace["z"][row][10], months.loc[(name, "FY2026-M11"), "pace"])
    assert in_progress_trace(at) is None, "by pace, the month in progress is coloured against its target to date"


def test_heatmap_groups_by_region_and_territory_and_filters(at, db):
    trace, _ = heatmap(at)
    groups = trace["y"][0]
    assert groups == sorted(groups), "rows are grouped by region, then territory"
    region = groups[0].split(" · ")[0]
    at.multiselect(key="team_regions").set_value([region]).run()
    trace, _ = heatmap(at)
    assert {g.split(" · ")[0] for g in trace["y"][0]} == {region}
    table = at.dataframe[0].value
    assert len(table) == len(trace["y"][1]), "the owners table follows the filter"


def test_owners_table_and_levels(at, db):
    table = at.dataframe[0].value
    year = engine_year(db)
    year = year[year["target"] > 0].set_index("owner_name")
    assert set(table["owner_name"]) == set(year.index)
    first = table.iloc[0]
    assert first["status"] == ui.status_label(year.loc[first["owner_name"], "status"])
    assert first["target"] == pytest.approx(round(year.loc[first["owner_name"], "target"]))
    at.segmented_control(key="team_level").set_value("org").run()
    assert at.dataframe[0].value["owner_name"].tolist() == ["Whole organisation"]
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["Export CSV", "Export Excel"]


def test_drill_down_opens_the_reps_dashboard(at, db):
    year = engine_year(db)
    rep = year[year["target"] > 0].iloc[-1]
    at.selectbox(key="team_drill").set_value(rep["owner_id"])  # sent with the click
    [b for b in at.button if b.label == "Open their dashboard"][0].click().run()
    assert not at.exception
    assert at.title[0].value == "My plan"
    assert at.selectbox(key="rep_picker").value == rep["owner_id"]
    assert at.query_params.get("rep") in (rep["owner_id"], [rep["owner_id"]])


def test_watchlist_button_opens_the_plan_to_update(monkeypatch, db):
    at = app(monkeypatch, db, page="watchlist")
    store = open_store(db)
    try:
        from salesplan import engine

        entries = engine.watchlist(store.engine_inputs(ADMIN), DEMO_TODAY)
    finally:
        store.close()
    rep = entries[entries["owner_type"] == "rep"].iloc[0]["owner_id"]
    at.button(key=f"plan_{rep}").click().run()
    assert not at.exception
    assert at.title[0].value == "Plan"
    assert at.selectbox(key="rep_picker").value == rep


def test_user_text_in_charts_is_text_not_html(monkeypatch, tmp_path):
    """A rep named like a link and a region named like markup: plotly renders a subset of HTML in
    axis ticks and hover labels, so the heatmap must carry them escaped (shown as typed)."""
    db = fresh_db(tmp_path)
    year = engine_year(db)
    rep_id = year[year["target"] > 0].iloc[0]["owner_id"]
    store = open_store(db)
    try:
        reps = store.reps(ADMIN)
        reps.loc[reps["rep_id"] == rep_id, "name"] = '<a href="https://evil.test">x</a>'
        reps.loc[reps["rep_id"] == rep_id, "region"] = "<b>North</b>"
        store.apply_reps(ADMIN, reps, file_name=None, sha256=None)
    finally:
        store.close()
    at = app(monkeypatch, db, page="team")
    trace, _ = heatmap(at)
    assert '&lt;a href="https://evil.test"&gt;x&lt;/a&gt;' in trace["y"][1]
    assert not any("<a" in name for name in trace["y"][1]), "no live link in the tick labels"
    assert any(group.startswith("&lt;b&gt;North&lt;/b&gt; · ") for group in trace["y"][0])
    assert '<a href="https://evil.test">x</a>' in at.dataframe[0].value["owner_name"].tolist(), "tables: as typed"


def test_an_owner_without_a_target_is_never_shown_on_track(monkeypatch, db):
    year = engine_year(db)
    without = year[~(year["target"] > 0)]
    assert not without.empty, "the demo has reps without a target"
    rep = without.iloc[0]
    at = app(monkeypatch, db, page="my_plan", rep=rep["owner_id"])  # the rep's address
    assert at.selectbox(key="rep_picker").value == rep["owner_id"]
    shown = texts(at)  # st.badge is a markdown element
    assert "-badge[:material/flag_circle: No target]" in shown and "On track" not in shown

    at = app(monkeypatch, db, page="team")
    at.toggle(key="team_hide_zero").set_value(False).run()
    table = at.dataframe[0].value.set_index("owner_name")
    assert set(table.loc[without["owner_name"], "status"]) == {"No target"}



def test_owners_table_shows_pipeline_coverage_and_chance(team, db):
    at = team
    table = at.dataframe[0].value.set_index("owner_name")
    year = engine_year(db)
    year = year[year["target"] > 0].set_index("owner_name")
    for name, row in year.iterrows():
        for column in ("pipeline_coverage", "weighted_coverage", "chance_to_reach"):
            assert same(table.loc[name, column], round(row[column], 3)), (name, column)
        assert same(table.loc[name, "uncovered_gap"], round(row["uncovered_gap"]))
    assert year["weighted_coverage"].notna().any(), "the demo has pipelines"


def test_weekly_heatmap_option(at, db):
    at.segmented_control(key="team_grain").set_value("week").run()
    assert not at.exception
    trace, layout = heatmap(at)
    weeks = engine_year(db, period="week").set_index(["owner_name", "period"])
    labels = sorted({p for _, p in weeks.index})
    assert trace["x"][:-1] == [p.rsplit("-", 1)[1] + ("*" if p == "FY2026-W48" else "") for p in labels]
    assert trace["x"][-1] == "YTD" and "Weekly attainment" in layout["title"]["text"]
    names = trace["y"][1]
    for column, period in enumerate(labels):
        expected = float("nan") if period == "FY2026-W48" else weeks.loc[(names[0], period), "attainment"]
        assert same(trace["z"][0][column], expected), "the week in progress is grey (its own trace)"
    muted = in_progress_trace(at)
    assert [x for x, v in zip(muted["x"], muted["z"][0]) if v is not None and not math.isnan(v)] == ["W48*"]


# ---------------------------------------------------------------- issue 12: signals a sales manager can trust


def test_on_pace_but_needing_more_later_is_said_in_the_table(team, db):
    at = team
    year = engine_year(db)
    seasonal = year[(year["pace"] >= 1) & (year["required_per_working_day"] > year["current_per_working_day"])]
    assert not seasonal.empty, "the demo has a rep on pace whose plan asks for more later"
    table = at.dataframe[0].value.set_index("owner_name")
    for name in year.loc[year["target"] > 0, "owner_name"]:
        expected = "needs more later (seasonal)" if name in set(seasonal["owner_name"]) else ""
        assert table.loc[name, "note"] == expected, name
    row = seasonal.iloc[0]
    assert ui.md(f"the months ahead need {row['required_per_working_day']:,.0f} per working day against "
                 f"{row['current_per_working_day']:,.0f} now") in texts(at)


def test_stale_data_is_said(at):
    assert "after the last sale in the data" not in texts(at)
    at.date_input(key="team_as_of").set_value(DEMO_TODAY + __import__("datetime").timedelta(days=40)).run()
    assert not at.exception
    assert [w.value for w in at.warning if "after the last sale in the data" in w.value]


def test_exports_are_built_only_when_downloaded_and_are_readable(at, db, monkeypatch):
    from salesplan.ui import exports

    seen = capture_downloads(monkeypatch)
    csv_calls = counting(monkeypatch, exports, "report_csv")
    excel_calls = counting(monkeypatch, exports, "report_excel")
    at.segmented_control(key="team_level").set_value("territory").run()
    at.run()
    assert not at.exception
    assert csv_calls == [] and excel_calls == [], "a rerun without a click builds no export"

    territories = engine_year(db, level="territory")
    territories = territories[territories["target"] > 0]
    text = download(seen, "Export CSV")
    assert len(csv_calls) == 1 and excel_calls == []
    assert text == report_csv(territories), "the same readable file as before, when asked"
    frame = pd.read_csv(io.StringIO(text.decode()))
    assert frame["Owner"].tolist() == territories["owner_name"].tolist() and "owner_id" not in frame.columns
    assert frame["Target"].tolist() == [round(t) for t in territories["target"]], "money rounded"
    assert set(frame["Level"]) == {"Territory"}

    book = openpyxl.load_workbook(io.BytesIO(download(seen, "Export Excel")))
    assert len(excel_calls) == 1
    assert book.sheetnames == ["report", RAW_SHEET]
    head = [cell.value for cell in book["report"][1]]
    assert head[:2] == ["Level", "Owner"] and "Status" in head

"""My plan: the gap bridge and the deals behind the pipeline, the pipeline's trend across
snapshots, the chance to reach with its "see the math", and this week / last week: the numbers on
screen are the engine's for the demo organisation."""

from __future__ import annotations

from datetime import date

import pytest

from salesplan import engine, pipeline_view, ui
from tests.helpers.pages import ADMIN, DEMO_TODAY, app, engine_inputs, engine_year, figures, fresh_db, open_store, texts


@pytest.fixture(scope="module")
def db(read_only_demo):  # tests/pages/conftest.py: the tests that write take a copy of their own
    return read_only_demo


@pytest.fixture
def at(monkeypatch, db):
    return app(monkeypatch, db, page="my_plan")


@pytest.fixture(scope="module")
def shown(db):
    """``shown(rep_id)``: the admin's My plan of that rep, opened by its address (``?rep=``) and
    left as it is: one AppTest per rep, shared by the tests that only read the page (a test that
    changes a choice on it opens its own)."""
    monkeypatch = pytest.MonkeyPatch()
    opened: dict = {}

    def page(rep_id):
        if rep_id not in opened:
            opened[rep_id] = app(monkeypatch, db, page="my_plan", rep=rep_id)
        at = opened[rep_id]
        assert at.selectbox(key="rep_picker").value == rep_id
        return at

    try:
        yield page
    finally:
        monkeypatch.undo()


def figure(at, title_part):
    found = [f for f in figures(at) if title_part in str(f["layout"].get("title", ""))]
    assert found, f"no figure titled like {title_part!r}"
    return found[0]


def test_gap_bridge_is_the_engines_pipeline_and_actions(shown, db):
    year = engine_year(db)
    # a rep behind with a pipeline and open actions, whose deals do not cover the gap
    row = year[(year["uncovered_gap"] > 0) & (year["action_coverage"] > 0) & (year["weighted_pipeline"] > 0)].iloc[0]
    at = shown(row["owner_id"])
    bridge = figure(at, "what covers the target")["data"][0]
    assert bridge["x"] == list(pipeline_view.BRIDGE_STEPS)
    T, A, wp = row["target"], row["actual_to_date"], row["weighted_pipeline"]
    actions = row["action_coverage"] * (T - A)
    heights = bridge["y"]
    assert heights[0] == pytest.approx(T)
    assert heights[1] == pytest.approx(A)
    assert heights[2] == pytest.approx(wp)
    assert heights[3] == pytest.approx(min(actions, T - A - wp))
    assert heights[4] == pytest.approx(max(T - A - wp - actions, 0))
    # the actual's bar stands on what it leaves open, the pipeline's on what is left after it
    assert bridge["base"][1] == pytest.approx(T - A) and bridge["base"][2] == pytest.approx(T - A - wp)
    page = texts(at)
    assert f"{ui.money(row['uncovered_gap'])} is not covered by any deal" in page
    values = {m.label: m.value for m in at.metric}
    assert values["Weighted pipeline"] == ui.money(wp)
    assert values["Weighted coverage"] == ui.pct(row["weighted_coverage"], 0)
    assert values["Overdue deals"] == ui.money(row["overdue_pipeline"])


def test_the_deals_behind_the_pipeline_with_overdue_flagged(shown, db):
    year = engine_year(db)
    row = year[(year["overdue_pipeline"] > 0) & (year["target"] > year["actual_to_date"])].iloc[0]
    at = shown(row["owner_id"])
    store = open_store(db)
    try:
        deals = store.open_deals(ADMIN, DEMO_TODAY)
    finally:
        store.close()
    deals = deals[deals["rep_id"] == row["owner_id"]]
    [table] = [d.value for d in at.dataframe if "deal_id" in d.value.columns]
    assert set(table["deal_id"]) == set(deals["deal_id"])
    in_period = table[table["when"] == "in period"]
    assert in_period["amount"].sum() == pytest.approx(row["pipeline"])
    assert in_period["weighted"].sum() == pytest.approx(row["weighted_pipeline"])
    overdue = table[table["when"] == "⚠ overdue"]
    assert overdue["amount"].sum() == pytest.approx(row["overdue_pipeline"])
    assert (overdue["days_overdue"] >= 0).all() and overdue.index[0] == 0, "overdue deals come first"
    assert f"{len(overdue)} open deal(s) worth {ui.money(overdue['amount'].sum())} were expected to close" in texts(at)


def test_pipeline_trend_across_snapshots(shown, db):
    year = engine_year(db)
    row = year[year["weighted_pipeline"] > 0].iloc[0]
    at = shown(row["owner_id"])
    trend = figure(at, "Pipeline at each snapshot")
    weighted = trend["data"][0]["y"]
    store = open_store(db)
    try:
        inputs = store.engine_inputs(ADMIN)
        dates = sorted({d.date() for d in store.deal_snapshots(ADMIN).query("rep_id == @row.owner_id")["snapshot_date"]})
    finally:
        store.close()
    assert len(weighted) == len(dates) >= 2
    for day, shown in zip(dates, weighted):
        then = engine.report(inputs, day).set_index("owner_id").loc[row["owner_id"]]
        assert shown == pytest.approx(then["weighted_pipeline"])
    assert weighted[-1] == pytest.approx(row["weighted_pipeline"]), "the last snapshot is today's"
    assert "coverage is **" in texts(at)


def test_profit_has_no_pipeline(at, db):
    at.segmented_control(key="metric").set_value("profit").run()
    assert "switch the metric to Revenue to see the pipeline" in texts(at)
    assert not [f for f in figures(at) if "what covers the target" in str(f["layout"].get("title", ""))]


def test_chance_to_reach_with_see_the_math_in_words(shown, db):
    year = engine_year(db)
    row = year[year["chance_to_reach"].notna()].iloc[0]
    at = shown(row["owner_id"])
    assert [m.value for m in at.metric if m.label == "Chance to reach the target"] == [ui.pct(row["chance_to_reach"], 0)]
    details = engine.chance_details(engine_inputs(db), DEMO_TODAY).set_index("owner_id")
    explanation = details.loc[row["owner_id"], "explanation"]
    assert "similar positions" in explanation
    assert ui.md(explanation) in texts(at)


def test_this_week_and_last_week_against_their_targets(shown, db):
    year = engine_year(db)
    rep_id = year[year["target"] > 0].iloc[0]["owner_id"]
    at = shown(rep_id)
    weeks = engine_year(db, period="week")
    weeks = weeks[weeks["owner_id"] == rep_id].set_index("period_start")
    monday = DEMO_TODAY - __import__("datetime").timedelta(days=DEMO_TODAY.weekday())
    this, last = weeks.loc[monday], weeks.loc[monday - __import__("datetime").timedelta(days=7)]
    shown = {m.label: m for m in at.metric}
    assert shown[f"This week · {this['period'][-3:]}"].value == ui.money(this["actual_to_date"])
    assert shown[f"Last week · {last['period'][-3:]}"].value == ui.money(last["actual_to_date"])
    assert shown[f"Last week · {last['period'][-3:]}"].delta == (
        f"{ui.pct(last['attainment'], 0)} of its target {ui.money(last['target'])}")
    assert last["target"] > 0 and last["period_end"] < DEMO_TODAY
    assert ("Reached its target" if last["actual_to_date"] >= last["target"] else "Missed its target") in texts(at)


# ---------------------------------------------------------------- issue 12: signals a sales manager can trust


def test_on_pace_but_needing_more_later_says_why(shown, db):
    year = engine_year(db)
    seasonal = year[(year["pace"] >= 1) & (year["required_per_working_day"] > year["current_per_working_day"])]
    row = seasonal.iloc[0]
    at = shown(row["owner_id"])
    assert "-badge[:material/check_circle: On track]" in texts(at)
    [info] = [i.value for i in at.info if "seasonal shape asks for more later" in i.value]
    assert f"{row['required_per_working_day']:,.0f} per working day against {row['current_per_working_day']:,.0f} now" in info
    behind = year[(year["pace"] < 1) & (year["target"] > 0)].iloc[0]
    at = shown(behind["owner_id"])
    assert "seasonal shape" not in texts(at)


def test_gap_to_date_keeps_its_sign(shown, db):
    """One convention on every page and export: expected − actual, positive = behind plan."""
    year = engine_year(db)
    ahead = year[(year["gap_to_date"] < 0) & (year["target"] > 0)].iloc[0]
    at = shown(ahead["owner_id"])
    [gap] = [m for m in at.metric if m.label == "Gap to date"]
    assert gap.value == ui.money(ahead["gap_to_date"]) and gap.value.startswith("-") and gap.delta == "ahead of plan"
    behind = year[year["gap_to_date"] > 0].iloc[0]
    at = shown(behind["owner_id"])
    [gap] = [m for m in at.metric if m.label == "Gap to date"]
    assert gap.value == ui.money(behind["gap_to_date"]) and gap.delta == "behind plan"


def test_stale_data_is_said(at):
    assert "after the last sale in the data" not in texts(at)
    at.date_input(key="as_of").set_value(DEMO_TODAY + __import__("datetime").timedelta(days=40)).run()
    assert not at.exception
    [warning] = [w.value for w in at.warning if "after the last sale in the data" in w.value]
    assert (DEMO_TODAY + __import__("datetime").timedelta(days=40)).isoformat() in warning


def test_overdue_open_actions_are_flagged(monkeypatch, tmp_path):
    import datetime as dt

    db = fresh_db(tmp_path)
    year = engine_year(db)
    rep_id = year[year["target"] > 0].iloc[0]["owner_id"]
    store = open_store(db)
    try:
        late = store.add_action(ADMIN, rep_id, 2026, description="Call the CFO", owner="me",
                                due_date=DEMO_TODAY - dt.timedelta(days=3), status="planned", expected_impact=500.0)
        store.add_action(ADMIN, rep_id, 2026, description="Plan Q1", owner="me",
                         due_date=DEMO_TODAY + dt.timedelta(days=3), status="in_progress", expected_impact=500.0)
        number = int(store.plan(ADMIN, rep_id, 2026)["actions"].set_index("action_id").loc[late, "number"])
    finally:
        store.close()
    at = app(monkeypatch, db, page="my_plan", rep=rep_id)  # the rep's address
    assert at.selectbox(key="rep_picker").value == rep_id
    [table] = [d.value for d in at.dataframe if "overdue" in d.value.columns]
    rows = table.set_index("description")
    assert rows.loc["Call the CFO", "overdue"] == "overdue" and rows.loc["Call the CFO", "label"] == f"Action {number}"
    assert rows.loc["Plan Q1", "overdue"] == "" and rows.loc["Plan Q1", "status"] == "in progress"
    names = set(year["owner_name"])
    assert not set(table["owner"]) & set(year["owner_id"]), "an owner that is a rep shows the rep's name"
    assert set(table["owner"]) - {"me"} <= names
    assert any("past their due date" in w.value for w in at.warning)


@pytest.mark.parametrize("metric", ["revenue", "profit"])
def test_the_burn_up_is_the_engines_status_at_every_sunday(monkeypatch, db, shown, metric):
    """The burn-up's plan and actual lines pass through the engine's expected and actual to date
    at every Sunday of the year (engine.status_history, the definition), for a rep behind plan."""
    year = engine_year(db, metric=metric)
    behind = year[(year["target"] > 0) & (year["gap_to_date"] > 0)].iloc[-1]
    if metric == "revenue":
        at = shown(behind["owner_id"])
    else:
        at = app(monkeypatch, db, page="my_plan", rep=behind["owner_id"])
        at.segmented_control(key="metric").set_value(metric).run()
    burnup = {trace["name"]: trace for trace in figure(at, "burn-up")["data"]}
    history = engine.status_history(engine_inputs(db), date(2026, 12, 31), "rep", behind["owner_id"], fy=2026,
                                    metric=metric)
    plan, actual = burnup["Plan (cumulative target)"], burnup["Actual (cumulative)"]
    assert plan["x"][1:-1] == [d.isoformat() for d in history["week_end"]]
    assert plan["y"][1:-1] == pytest.approx(history["expected_to_date"].astype(float).tolist())
    past = history[history["week_end"] <= DEMO_TODAY]
    assert actual["x"][1:-1] == [d.isoformat() for d in past["week_end"]]
    assert actual["y"][1:-1] == pytest.approx(past["actual_to_date"].astype(float).tolist())
    assert len(past) == 47 and plan["y"][-1] == pytest.approx(behind["target"])

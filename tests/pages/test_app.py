"""AppTest of the dashboard on the demo organisation: the numbers on screen are the engine's, reruns
compute nothing again, empty databases say what to do next. That every page renders for every role
that may open it, with its key elements, and is refused to the others is
tests/pages/test_role_matrix.py."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from salesplan import engine, ui
from salesplan.principal import Principal
from tests.helpers.pages import (ADMIN, DEMO_TODAY, ROOT, add_admin, app, engine_year, figures, goto, metric_value,
                                open_store, shared_app, texts)

PAGES = {
    "my_plan": "My plan",
    "plan": "Plan",
    "upload": "Upload",
    "team": "Team overview",
    "watchlist": "Watch list",
    "trust": "Warning track record",
    "admin": "Admin",
}


@pytest.fixture(scope="module")
def db(read_only_demo):  # tests/pages/conftest.py: the tests that write take a copy of their own
    return read_only_demo


@pytest.fixture(scope="module")
def at(db):
    with shared_app(db) as at:
        yield at


def test_menu_follows_the_role():
    keys = {role: [spec.key for spec in ui.menu(Principal("x@y", role))] for role in ("admin", "leader", "manager", "rep")}
    assert keys["admin"] == list(PAGES)
    assert keys["leader"] == ["my_plan", "plan", "team", "watchlist", "trust"]
    assert keys["manager"] == ["my_plan", "plan", "upload", "team", "watchlist"]
    assert keys["rep"] == ["my_plan", "plan", "upload"]


def test_my_plan_shows_the_engines_numbers(at, db):
    year = engine_year(db)
    behind = year[(year["target"] > 0) & (year["gap_to_date"] > 0)].iloc[0]
    at.query_params["rep"] = behind["owner_id"]  # the rep's address, as a drill-down opens it: one run
    goto(at, "my_plan")
    assert at.selectbox(key="rep_picker").value == behind["owner_id"]
    assert metric_value(at, "Attainment") == ui.pct(behind["attainment"])
    assert metric_value(at, "Pace vs plan") == ui.pct(behind["pace"])
    assert metric_value(at, "Gap to date") == ui.money(abs(behind["gap_to_date"]))
    assert metric_value(at, "Required per working day") == ui.money(behind["required_per_working_day"])
    assert metric_value(at, "Current per working day") == ui.money(behind["current_per_working_day"])
    assert metric_value(at, "Working days left") == str(int(behind["working_days_left"]))
    page = texts(at)
    assert f"badge[{ui.status_label(behind['status'])}]" in page or ui.status_label(behind["status"]) in page
    if behind["point_of_no_return"] == engine.PASSED:
        assert "out of reach even at your best" in page
    elif not ui.is_empty(behind["point_of_no_return"]):
        assert ui.day_text(behind["point_of_no_return"]) in page
    assert len([e for e in at.expander if e.label == "See the math"]) >= 8
    shown = figures(at)
    burnup = {trace["name"]: trace for trace in shown[0]["data"]}
    assert {"Plan (cumulative target)", "Actual (cumulative)"} <= set(burnup)
    assert burnup["Actual (cumulative)"]["y"][-1] == pytest.approx(behind["actual_to_date"])
    assert burnup["Plan (cumulative target)"]["y"][-1] == pytest.approx(behind["target"])
    months = engine_year(db, period="month")
    months = months[months["owner_id"] == behind["owner_id"]]
    bars = {trace["name"]: trace for trace in shown[1]["data"]}
    assert sum(bars["Target"]["y"]) == pytest.approx(months["target"].sum())


def test_my_plan_profit_switch(at, db):
    goto(at, "my_plan")
    rep = at.selectbox(key="rep_picker").value
    at.segmented_control(key="metric").set_value("profit").run()
    profit = engine_year(db, metric="profit").set_index("owner_id").loc[rep]
    assert metric_value(at, "Attainment") == ui.pct(profit["attainment"])


def _expected_watchlist(db):
    store = open_store(db)
    try:
        return engine.watchlist(store.engine_inputs(ADMIN), DEMO_TODAY)
    finally:
        store.close()


def test_watchlist_is_the_engines_in_order(at, db):
    goto(at, "watchlist")
    expected = _expected_watchlist(db)
    shown = [m.value for m in at.markdown if m.value.startswith("**1. ")]
    assert shown and ui.md(expected.iloc[0]["owner_name"]) in shown[0]
    assert metric_value(at, "Gap to date") == ui.money(expected.iloc[0]["gap_to_date"])


def test_watchlist_pages_its_cards_most_urgent_first(at, db, monkeypatch):
    monkeypatch.setattr(ui, "WATCHLIST_PAGE_SIZE", 3)
    goto(at, "watchlist")
    expected = _expected_watchlist(db)
    assert len(expected) > 3
    cards = [m.value for m in at.markdown if m.value[:2] == "**" and ". " in m.value[:7]]
    assert [c.split(".")[0] for c in cards] == ["**1", "**2", "**3"]
    at.number_input(key="watch_page").set_value(2).run()
    cards = [m.value for m in at.markdown if m.value[:2] == "**" and ". " in m.value[:7]]
    assert cards[0].startswith("**4. ") and ui.md(expected.iloc[3]["owner_name"]) in cards[0]


def test_exports_neutralise_formula_cells():
    frame = pd.DataFrame({"owner_name": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "Ann"], "gap": [1.0, -2.0, 3, 4, 5]})
    text = ui.csv_bytes(frame).decode()
    assert "'=HYPERLINK" in text and "\n'+1," in text and "\n'-2," in text and "\n'@SUM" in text and "\nAnn," in text
    assert ",-2.0" in text, "negative numbers stay numbers"
    book = openpyxl.load_workbook(io.BytesIO(ui.excel_bytes(frame)))
    cells = [row[0] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert cells[:4] == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)"]


def test_printable_plan_escapes_user_text():
    plan = {
        "status": "draft", "summary": "<script>alert(1)</script>",
        "obstacles": pd.DataFrame({"obstacle_id": [1], "description": ["<b>bold</b>"], "likelihood": [3],
                                   "revenue_at_risk": [100.0]}),
        "actions": pd.DataFrame(columns=["action_id", "description", "owner", "due_date", "status", "expected_impact",
                                         "obstacle_id"]),
        "checkins": pd.DataFrame(columns=["checkin_id", "checkin_date", "author", "note"]),
    }
    page = ui.plan_html("<img src=x onerror=alert(1)>", "R1", 2026, plan, None, "revenue")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_reruns_of_an_unchanged_page_compute_nothing_again(monkeypatch, at):
    """A rerun that changes nothing takes its numbers from the cache: the engine is not called
    again. (Asserted by counting calls, not by timing, which a busy machine running tests in
    parallel would make flaky; so the shared 12-rep demo shows it as well as a bigger one, without
    building a demo of its own.)"""
    calls: list[str] = []

    def counting(name: str):
        real = getattr(engine, name)

        def counted(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return counted

    for name in ("report", "watchlist", "status_history", "allocation"):
        monkeypatch.setattr(engine, name, counting(name))
    for page in PAGES:
        if page == "plan":  # on its targets editor, which runs only when its tab is open (with the action plan)
            at.session_state["plan_tabs"] = "Targets"
        goto(at, page)
        calls.clear()
        at.run()
        assert not at.exception
        assert calls == [], f"{page} recomputed {calls} on a rerun that changed nothing"


def test_empty_database_says_what_to_do_next(monkeypatch, tmp_path):
    add_admin(tmp_path / "empty.duckdb")
    at = app(monkeypatch, tmp_path / "empty.duckdb")
    for page, hint in {"my_plan": "No reps yet", "plan": "No reps yet", "team": "No reps yet",
                       "watchlist": "No reps yet", "admin": "No reps yet", "upload": "Choose a file"}.items():
        goto(at, page)
        assert hint in texts(at), page


def test_reps_without_targets_or_actuals(monkeypatch, tmp_path):
    from salesplan import imports
    from salesplan.store import Store

    db = tmp_path / "reps-only.duckdb"
    with Store.open(db) as store:
        imports.import_file(store, "reps", b"rep_id,name,territory,region\nR1,Ann Lee,North,N\n", principal=ADMIN,
                            file_name="reps.csv")
    add_admin(db)
    at = app(monkeypatch, db)
    assert "No revenue target for FY2026 yet" in texts(at)
    goto(at, "team")
    assert "No revenue targets for this fiscal year yet" in texts(at)
    goto(at, "watchlist")
    assert "Nobody has a revenue target this fiscal year" in texts(at), "not 'every owner is on track'"
    assert "on track" not in texts(at)
    goto(at, "plan")
    assert "No plan for FY2026 yet" in texts(at)


def test_app_py_imports_only_streamlit_and_the_ui_package():
    """import-linter sees packages only (pyproject.toml [tool.importlinter]); the entry script app.py
    is held to the pages' rule here: sign-in and routing through salesplan.ui, no database, no SQL."""
    import ast

    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    # the UI package's mail scheduler starter too (it starts the digest sender of an embedded deployment)
    assert imported == {"__future__.annotations", "streamlit", "salesplan.ui", "salesplan.ui.admin_data.start_mail_scheduler"}

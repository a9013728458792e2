"""Plan page: obstacles, actions, check-ins, the draft → submitted → agreed flow, and the targets
editor (every change with a reason, the old version kept)."""

from __future__ import annotations

import pandas as pd
import pytest

from salesplan import engine

from tests.helpers.pages import ADMIN, app, copy_of, demo_with, engine_year, fresh_db, open_store, texts


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


@pytest.fixture(scope="module")
def rep(tmp_path_factory):
    """The last rep with a FY2026 target: every test's database is a copy of the same demo, so
    the engine is asked once per module."""
    year = engine_year(fresh_db(tmp_path_factory.mktemp("plan-rep")))
    return year[year["target"] > 0].iloc[-1]["owner_id"]


def plan_page(monkeypatch, db, rep, tab: str | None = None):
    """The admin's Plan page of ``rep``, opened on that rep by its address (and on the tab
    ``tab``: the targets editor runs only on its own)."""
    at = app(monkeypatch, db, page="plan", rep=rep, state={"plan_tabs": tab} if tab else None)
    assert at.selectbox(key="rep_picker").value == rep
    return at


@pytest.fixture
def at(monkeypatch, db, rep):
    return plan_page(monkeypatch, db, rep)


@pytest.fixture
def targets(monkeypatch, db, rep):
    """The Plan page open on its Targets tab."""
    return plan_page(monkeypatch, db, rep, "Targets")


def submit(at, form: str, label: str):
    at.button(key=f"FormSubmitter:{form}-{label}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def read(db, method, *args):
    """``store.<method>(ADMIN, *args)`` on a second connection to the app's database."""
    store = open_store(db)
    try:
        return getattr(store, method)(ADMIN, *args)
    finally:
        store.close()


def plan_of(db, rep):
    return read(db, "plan", rep, 2026)


def _count_reports(monkeypatch) -> list[str]:
    """The engine's reports computed from now on (the page's cached reads call engine.report)."""
    calls: list[str] = []
    real = engine.report

    def counted(*args, **kwargs):
        calls.append(kwargs.get("period", "year"))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "report", counted)
    return calls


def _coverage_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Revenue target"))


def test_add_an_obstacle_and_an_action_that_answers_it(monkeypatch, at, db, rep):
    """Also: a write of the plan that cannot change a number keeps the cached numbers (the engine
    reads of a plan only its open actions' expected impact); one that can recomputes them."""
    assert [t.label for t in at.tabs] == ["Action plan", "Targets"]
    assert not [n for n in at.number_input if n.key == "target_amount"], "the targets editor runs only when open"
    before = plan_of(db, rep)
    obstacle_box = [t for t in at.text_input if t.label == "Obstacle"][0]
    obstacle_box.set_value("Key account <b>freezes</b> its budget")
    [s for s in at.slider if s.label.startswith("Likelihood")][0].set_value(4)
    [n for n in at.number_input if n.label == "Revenue at risk"][0].set_value(40000.0)
    submit(at, "obstacle_form", "Add obstacle")
    assert any(s.value == "Obstacle added." for s in at.success)
    plan = plan_of(db, rep)
    assert len(plan["obstacles"]) == len(before["obstacles"]) + 1
    added = plan["obstacles"].iloc[-1]
    assert added["description"] == "Key account <b>freezes</b> its budget" and added["likelihood"] == 4
    assert "Key account <b>freezes</b> its budget" in at.dataframe[0].value["description"].tolist()

    # a summary and an action without impact change no number: the report is not computed again
    reports, coverage = _count_reports(monkeypatch), _coverage_caption(at)
    [t for t in at.text_area if t.label == "How the target will be reached"][0].set_value("Phase the big deals")
    submit(at, "summary_form", "Save summary")
    [t for t in at.text_input if t.label == "Action"][0].set_value("Call the buyer")
    submit(at, "action_form", "Add action")
    assert plan_of(db, rep)["summary"] == "Phase the big deals"
    assert "Call the buyer" in plan_of(db, rep)["actions"]["description"].tolist()
    assert reports == [] and _coverage_caption(at) == coverage

    [t for t in at.text_input if t.label == "Action"][0].set_value("Offer a phased contract")
    [n for n in at.number_input if n.label == "Expected impact (money)"][0].set_value(25000.0)
    [s for s in at.selectbox if s.label == "Answers obstacle"][0].set_value(int(added["obstacle_id"]))
    submit(at, "action_form", "Add action")
    actions = plan_of(db, rep)["actions"]
    new = actions[actions["description"] == "Offer a phased contract"].iloc[0]
    assert new["expected_impact"] == 25000 and new["obstacle_id"] == added["obstacle_id"]
    assert new["status"] == "planned"
    # an open action with an impact changes the action coverage: computed again, shown changed
    assert reports and _coverage_caption(at) != coverage
    covered = _coverage_caption(at)
    reports.clear()

    [s for s in at.selectbox if s.label == "Update an action"][0].set_value(int(new["action_id"]))
    [s for s in at.selectbox if s.label == "New status"][0].set_value("done")
    submit(at, "action_status_form", "Update")
    actions = plan_of(db, rep)["actions"].set_index("action_id")
    assert actions.loc[int(new["action_id"]), "status"] == "done"
    assert reports and _coverage_caption(at) == coverage != covered, "a done action covers nothing"


def test_an_empty_obstacle_is_refused_in_words(at, db, rep):
    before = plan_of(db, rep)
    submit(at, "obstacle_form", "Add obstacle")
    assert any("needs a description" in e.value for e in at.error)
    assert len(plan_of(db, rep)["obstacles"]) == len(before["obstacles"])


def test_draft_submitted_agreed_and_a_checkin(at, db, rep):
    if plan_of(db, rep)["status"] != "draft":
        [b for b in at.button if b.label in ("Reopen as draft", "Back to draft")][0].click().run()
    [b for b in at.button if b.label == "Submit for agreement"][0].click().run()
    assert plan_of(db, rep)["status"] == "submitted"
    [b for b in at.button if b.label == "Mark agreed"][0].click().run()
    assert plan_of(db, rep)["status"] == "agreed"
    assert "**agreed**" in " ".join(m.value for m in at.markdown)

    [t for t in at.text_area if t.label == "Note"][0].set_value("Reviewed the pipeline together.")
    submit(at, "checkin_form", "Add check-in")
    notes = plan_of(db, rep)["checkins"]["note"].tolist()
    assert "Reviewed the pipeline together." in notes


def _revenue_targets_2026(db, rep):
    """The rep's current FY2026 revenue target cells, in month order."""
    targets = read(db, "targets")
    return targets[(targets["owner_id"] == rep) & (targets["metric"] == "revenue")
                   & (pd.to_datetime(targets["month"]).dt.year == 2026)].sort_values("month")


def _history(db, rep):
    """Every version of the rep's targets (Store.target_history)."""
    return read(db, "target_history", "rep", rep)


def test_targets_editor_saves_a_new_version_with_its_reason(targets, db, rep):
    at = targets
    old = _revenue_targets_2026(db, rep)
    # the three choices in one run: none of them changes which widgets the editor shows
    at.checkbox(key="target_include_closed").check()
    at.number_input(key="target_amount").set_value(1_200_000.0)
    at.selectbox(key="target_preset").set_value("even").run()
    at.button(key="FormSubmitter:target_save_form-Save 12 changed month(s)").click().run()
    assert any("say why the target changes" in e.value.lower() for e in at.error), "a change needs a reason"

    at.text_input(key="target_reason").set_value("Agreed at the Q4 review")
    at.button(key="FormSubmitter:target_save_form-Save 12 changed month(s)").click().run()
    assert not at.exception
    assert any("Targets saved" in s.value for s in at.success)
    store = open_store(db)
    try:
        history = store.target_history(ADMIN, "rep", rep)
        targets = store.targets(ADMIN)
    finally:
        store.close()
    new = history[(history["reason"] == "Agreed at the Q4 review") & (history["metric"] == "revenue")]
    assert len(new) == 12
    assert new["amount"].tolist() == pytest.approx([100_000.0] * 12)
    assert sorted(new["previous_amount"].tolist()) == pytest.approx(sorted(old["amount"].tolist()))
    mine = targets[(targets["owner_id"] == rep) & (targets["metric"] == "revenue")
                   & (pd.to_datetime(targets["month"]).dt.year == 2026)]
    assert mine["amount"].sum() == pytest.approx(1_200_000.0)
    assert engine_year(db).set_index("owner_id").loc[rep, "target"] == pytest.approx(1_200_000.0)
    # a target is a number the page shows: computed again after the save, not kept
    assert "1,200,000" in _coverage_caption(at)


def test_monthly_amounts_editor_changes_only_the_edited_month(targets, db, rep):
    at = targets
    mine = _revenue_targets_2026(db, rep)
    at.segmented_control(key="target_mode").set_value("monthly")
    at.checkbox(key="target_include_closed").check().run()  # March is closed on the demo's today
    # data_editor edits are set through session state: row 2 is March of FY2026 (January start)
    at.session_state["target_monthly"] = {"edited_rows": {2: {"amount": 77_777.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.text_input(key="target_reason").set_value("March reforecast")
    at.button(key="FormSubmitter:target_save_form-Save 1 changed month(s)").click().run()
    assert not at.exception
    history = _history(db, rep)
    new = history[history["reason"] == "March reforecast"]
    assert len(new) == 1
    assert pd.Timestamp(new.iloc[0]["month"]).month == 3 and new.iloc[0]["amount"] == pytest.approx(77_777.0)
    assert new.iloc[0]["previous_amount"] == pytest.approx(mine.iloc[2]["amount"])


# ---------------------------------------------------------------- issue 12: the plan flow


def test_targets_editor_leaves_closed_months_shows_the_months_and_keeps_its_confirmation(targets, db, rep):
    at = targets
    old = _revenue_targets_2026(db, rep)
    assert not at.checkbox(key="target_include_closed").value, "closed months are not rewritten by default"
    at.number_input(key="target_amount").set_value(1_200_000.0)
    at.selectbox(key="target_preset").set_value("even").run()
    # demo today is 2026-11-26: Jan-Oct are closed, only Nov and Dec change
    assert "Saving changes **2 month(s)**: Nov 2026, Dec 2026." in texts(at)
    at.text_input(key="target_reason").set_value("Year-end push")
    at.button(key="FormSubmitter:target_save_form-Save 2 changed month(s)").click().run()
    assert not at.exception
    history = _history(db, rep)
    new = history[history["reason"] == "Year-end push"]
    assert sorted(pd.Timestamp(m).month for m in new["month"]) == [11, 12]
    closed = _revenue_targets_2026(db, rep)
    assert closed["amount"].iloc[:10].tolist() == pytest.approx(old["amount"].iloc[:10].tolist())
    confirmation = [s.value for s in at.success if "Targets saved" in s.value]
    assert confirmation and "Nov 2026, Dec 2026" in confirmation[0]
    at.run()  # another run (any click): the confirmation is still on screen
    assert any("Targets saved" in s.value for s in at.success)


def test_fiscal_years_from_1900_to_2199(targets):
    at = targets  # the Targets tab shows the action plan too: both parts run in FY1950
    assert at.number_input(key="target_amount")
    fy = at.number_input(key="plan_fy")
    assert (fy.min, fy.max) == (1900, 2199)
    fy.set_value(1950).run()
    assert not at.exception


def _seed_plan(store, rep, status="agreed"):
    store.save_plan(ADMIN, rep, 2026, status="draft", summary="Win the year")
    obstacle = store.add_obstacle(ADMIN, rep, 2026, description="Budget freeze", likelihood=3, revenue_at_risk=1000.0)
    action = store.add_action(ADMIN, rep, 2026, description="Call the CFO", owner="me",
                              due_date=pd.Timestamp("2026-11-01").date(), status="planned",
                              expected_impact=500.0, obstacle_id=obstacle)
    store.save_plan(ADMIN, rep, 2026, status="submitted", summary="Win the year")
    if status == "agreed":
        store.save_plan(ADMIN, rep, 2026, status="agreed", summary="Win the year")
    return store.plan(ADMIN, rep, 2026), obstacle, action


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """``seeded(folder, rep, status="agreed")``: a copy (in ``folder``) of the demo with a plan of
    ``rep`` (an obstacle and an overdue action answering it, submitted or agreed), and the plan, the
    obstacle's and the action's ids. Each plan is written once per module (tests/helpers/pages.py,
    ``demo_with``); the copies' first runs share the dashboard's cached reads."""
    built: dict = {}

    def copy(folder, rep, status="agreed"):
        if (rep, status) not in built:
            built[rep, status] = demo_with(tmp_path_factory.mktemp("plan-seeded"),
                                           lambda store: _seed_plan(store, rep, status))
        template, (plan, obstacle, action) = built[rep, status]
        return copy_of(template, folder), plan, obstacle, action

    return copy


def test_numbers_and_overdue_actions_are_shown(monkeypatch, tmp_path, seeded, rep):
    db, plan, obstacle, action = seeded(tmp_path, rep)
    at = plan_page(monkeypatch, db, rep)
    number = int(plan["actions"].set_index("action_id").loc[action, "number"])
    table = [d.value for d in at.dataframe if "Late" in d.value.columns or "overdue" in d.value.columns][0]
    row = table[table["description"] == "Call the CFO"].iloc[0]
    assert row["label"] == f"Action {number}" and row["overdue"] == "overdue"
    assert row["answers"].startswith("Obstacle ")
    assert "past their due date" in texts(at)


def test_editing_an_agreed_plan_sends_it_back_to_submitted_and_says_so(monkeypatch, tmp_path, seeded, rep):
    db, plan, obstacle, action = seeded(tmp_path, rep)
    at = plan_page(monkeypatch, db, rep)
    at.selectbox(key="edit_obstacle_pick").set_value(obstacle).run()
    form = f"edit_obstacle_{obstacle}"
    name = [b for b in at.button if b.key and b.key.startswith(f"FormSubmitter:{form}-Save Obstacle")][0]
    [t for t in at.text_input if t.label == "Description"][0].set_value("Budget freeze until March")
    name.click().run()
    assert not at.exception
    assert "sends it back to submitted" in texts(at)
    after = plan_of(db, rep)
    assert after["status"] == "submitted"
    assert after["obstacles"].set_index("obstacle_id").loc[obstacle, "description"] == "Budget freeze until March"


def test_deleting_needs_a_confirmation(monkeypatch, tmp_path, seeded, rep):
    db, plan, obstacle, action = seeded(tmp_path, rep, status="submitted")
    at = plan_page(monkeypatch, db, rep)
    at.selectbox(key="edit_action_pick").set_value(action).run()
    delete = at.button(key=f"delete_action_{action}")
    assert delete.disabled, "no delete before the confirmation is ticked"
    at.checkbox(key=f"confirm_delete_action_{action}").check().run()
    at.button(key=f"delete_action_{action}").click().run()
    assert not at.exception
    assert action not in plan_of(db, rep)["actions"]["action_id"].tolist()
    assert "deleted." in texts(at)

    at.selectbox(key="edit_obstacle_pick").set_value(obstacle).run()
    at.checkbox(key=f"confirm_delete_obstacle_{obstacle}").check().run()
    at.button(key=f"delete_obstacle_{obstacle}").click().run()
    assert obstacle not in plan_of(db, rep)["obstacles"]["obstacle_id"].tolist()


def test_a_manager_agrees_from_the_queue(monkeypatch, db):
    store = open_store(db)
    try:
        store.save_plan(ADMIN, "R004", 2026, status="submitted", summary="Close the gap in Q4")
    finally:
        store.close()
    at = app(monkeypatch, db, user="manager1@demo.test", page="plan")
    assert "Close the gap in Q4" in texts(at)
    at.button(key="agree_R004_2026").click().run()
    assert not at.exception
    assert plan_of(db, "R004")["status"] == "agreed"
    assert "marked agreed" in texts(at)
    assert not [b for b in at.button if b.key == "agree_R004_2026"], "an agreed plan leaves the queue"


def test_a_leader_reads_every_plan_read_only(monkeypatch, tmp_path, seeded):
    db, *_ = seeded(tmp_path, "R004")
    store = open_store(db)
    try:
        store.add_checkin(ADMIN, "R004", 2026, checkin_date=pd.Timestamp("2026-11-20").date(), author="admin@local",
                          note="Reviewed with the leader")
    finally:
        store.close()
    at = app(monkeypatch, db, user="leader@demo.test", page="plan", rep="R004")  # the plan's address
    assert at.selectbox(key="rep_picker").value == "R004"
    assert "Read-only" in texts(at)
    shown = " ".join(d.value.astype(str).to_string() for d in at.dataframe)
    assert "Budget freeze" in shown and "Call the CFO" in shown, "obstacles and actions"
    assert "Reviewed with the leader" in shown, "check-ins"
    assert not at.text_input and not at.text_area or all(t.disabled for t in at.text_area), "nothing to type in"
    labels = [b.label for b in at.button]
    assert not {"Mark agreed", "Add obstacle", "Add action", "Reopen as draft"} & set(labels)
    assert not at.tabs, "no targets editor for a leader"


def test_the_printable_plan_numbers_items_and_flags_overdue_actions(monkeypatch, tmp_path, seeded, rep):
    from salesplan import ui
    from tests.helpers.pages import DEMO_TODAY

    monkeypatch.setenv("SALESPLAN_TODAY", DEMO_TODAY.isoformat())
    _, plan, obstacle, action = seeded(tmp_path, rep)
    numbers = plan["obstacles"].set_index("obstacle_id")["number"]
    number = int(plan["actions"].set_index("action_id").loc[action, "number"])
    page = ui.plan_html("Ann", rep, 2026, plan, None, "revenue")
    assert f"<td>Obstacle {int(numbers[obstacle])}</td><td>Budget freeze</td>" in page
    assert f"<td>Action {number}</td><td>Call the CFO</td>" in page
    assert "<td>planned (overdue)</td>" in page and "past the due date" in page
    assert f"<td>Obstacle {int(numbers[obstacle])}: Budget freeze</td>" in page, "the obstacle an action answers"


@pytest.fixture(scope="module")
def rep1(tmp_path_factory):
    """The rep id of the demo's account rep1@demo.test."""
    reps = read(fresh_db(tmp_path_factory.mktemp("plan-rep1")), "reps")
    return reps.loc[reps["email"] == "rep1@demo.test", "rep_id"].iloc[0]


@pytest.mark.parametrize("user", ["rep1@demo.test", "manager1@demo.test"])
def test_reps_and_managers_edit_and_delete_actions_and_it_is_audited(monkeypatch, tmp_path, seeded, rep1, user):
    rep_id = rep1
    db, plan, obstacle, action = seeded(tmp_path, rep_id)
    at = app(monkeypatch, db, user=user, page="plan", rep=rep_id)  # the plan's address
    if user == "rep1@demo.test":
        assert not [s for s in at.selectbox if s.key == "rep_picker"], "a rep has no picker: the plan is theirs"
    else:
        assert at.selectbox(key="rep_picker").value == rep_id
    at.selectbox(key="edit_action_pick").set_value(action).run()
    form = f"edit_action_{action}"
    [t for t in at.text_input if t.label == "Description"][-1].set_value("Call the CFO and the CEO")
    [b for b in at.button if b.key and b.key.startswith(f"FormSubmitter:{form}-Save Action")][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    after = plan_of(db, rep_id)
    assert after["actions"].set_index("action_id").loc[action, "description"] == "Call the CFO and the CEO"
    assert after["status"] == "submitted" and "sends it back to submitted" in texts(at)
    at.checkbox(key=f"confirm_delete_action_{action}").check().run()
    at.button(key=f"delete_action_{action}").click().run()
    assert action not in plan_of(db, rep_id)["actions"]["action_id"].tolist()
    log = read(db, "audit_log")
    mine = log[(log["actor"] == user) & log["detail"].astype(str).str.contains(str(action))]
    assert len(mine) >= 2, ("the change and the delete are in the audit log", mine)


def test_a_year_not_started_shows_only_its_target(monkeypatch, db, rep):
    store = open_store(db)
    try:
        store.apply_targets(ADMIN, pd.DataFrame({
            "owner_type": ["rep"], "owner_id": [rep], "metric": ["revenue"], "month": [pd.Timestamp("2027-03-01")],
            "amount": [50_000.0], "reason": ["next year"]}), file_name=None, sha256=None, reason="next year")
    finally:
        store.close()
    at = app(monkeypatch, db, page="plan", rep=rep)  # the plan's address
    assert at.selectbox(key="rep_picker").value == rep
    at.number_input(key="plan_fy").set_value(2027).run()
    assert not at.exception
    [caption] = [c.value for c in at.caption if c.value.startswith("Revenue target")]
    from salesplan import ui

    assert caption == f"Revenue target {ui.money(50_000)}; FY2027 starts on Fri 1 Jan 2027: nothing is sold or due yet."

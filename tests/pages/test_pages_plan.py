"""Plan page: obstacles, actions, check-ins, the draft → submitted → agreed flow, and the targets
editor (every change with a reason, the old version kept)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers.pages import ADMIN, app, engine_year, fresh_db, open_store


@pytest.fixture
def db(tmp_path):
    return fresh_db(tmp_path)


@pytest.fixture
def rep(db):
    year = engine_year(db)
    return year[year["target"] > 0].iloc[-1]["owner_id"]


@pytest.fixture
def at(monkeypatch, db, rep):
    at = app(monkeypatch, db, page="plan")
    at.selectbox(key="rep_picker").set_value(rep).run()
    return at


def submit(at, form: str, label: str):
    at.button(key=f"FormSubmitter:{form}-{label}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plan_of(db, rep):
    store = open_store(db)
    try:
        return store.plan(ADMIN, rep, 2026)
    finally:
        store.close()


def test_add_an_obstacle_and_an_action_that_answers_it(at, db, rep):
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

    [t for t in at.text_input if t.label == "Action"][0].set_value("Offer a phased contract")
    [n for n in at.number_input if n.label == "Expected impact (money)"][0].set_value(25000.0)
    [s for s in at.selectbox if s.label == "Answers obstacle"][0].set_value(int(added["obstacle_id"]))
    submit(at, "action_form", "Add action")
    actions = plan_of(db, rep)["actions"]
    new = actions[actions["description"] == "Offer a phased contract"].iloc[0]
    assert new["expected_impact"] == 25000 and new["obstacle_id"] == added["obstacle_id"]
    assert new["status"] == "planned"

    [s for s in at.selectbox if s.label == "Update an action"][0].set_value(int(new["action_id"]))
    [s for s in at.selectbox if s.label == "New status"][0].set_value("done")
    submit(at, "action_status_form", "Update")
    actions = plan_of(db, rep)["actions"].set_index("action_id")
    assert actions.loc[int(new["action_id"]), "status"] == "done"


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
    store = open_store(db)
    try:
        targets = store.targets(ADMIN)
    finally:
        store.close()
    return targets[(targets["owner_id"] == rep) & (targets["metric"] == "revenue")
                   & (pd.to_datetime(targets["month"]).dt.year == 2026)].sort_values("month")


def test_targets_editor_saves_a_new_version_with_its_reason(at, db, rep):
    old = _revenue_targets_2026(db, rep)
    at.number_input(key="target_amount").set_value(1_200_000.0).run()
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


def test_monthly_amounts_editor_changes_only_the_edited_month(at, db, rep):
    mine = _revenue_targets_2026(db, rep)
    at.segmented_control(key="target_mode").set_value("monthly").run()
    # data_editor edits are set through session state: row 2 is March of FY2026 (January start)
    at.session_state["target_monthly"] = {"edited_rows": {2: {"amount": 77_777.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.text_input(key="target_reason").set_value("March reforecast")
    at.button(key="FormSubmitter:target_save_form-Save 1 changed month(s)").click().run()
    assert not at.exception
    store = open_store(db)
    try:
        history = store.target_history(ADMIN, "rep", rep)
    finally:
        store.close()
    new = history[history["reason"] == "March reforecast"]
    assert len(new) == 1
    assert pd.Timestamp(new.iloc[0]["month"]).month == 3 and new.iloc[0]["amount"] == pytest.approx(77_777.0)
    assert new.iloc[0]["previous_amount"] == pytest.approx(mine.iloc[2]["amount"])

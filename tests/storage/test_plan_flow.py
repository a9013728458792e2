"""The plan flow in the store: leaders read, managers' queue, editing and deleting obstacles and
actions (audited), an agreed plan reopened by a change, numbers within a plan, overdue actions."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from salesplan import planflow
from salesplan.errors import NotAllowed, NotFound
from salesplan.principal import SYSTEM, Principal

MANAGER = Principal("max@x.test", "manager", "M1")
REP = Principal("ann@x.test", "rep", "R1")
LEADER = Principal("lee@x.test", "leader")


# org (tests/storage/conftest.py): the contract suite's organisation, VP; M1 over R1, R2; M2 over R3


def _obstacle(store, who, rep="R1", text="budget freeze"):
    return store.add_obstacle(who, rep, 2026, description=text, likelihood=3, revenue_at_risk=1000)


def _action(store, who, rep="R1", text="call", due=date(2026, 3, 1), obstacle=None):
    return store.add_action(who, rep, 2026, description=text, owner="Ann", due_date=due, expected_impact=500,
                            obstacle_id=obstacle)


def test_leader_reads_every_plan_and_changes_nothing(org):
    _obstacle(org, REP)
    org.add_checkin(MANAGER, "R1", 2026, checkin_date=date(2026, 2, 1), author="Max", note="weekly")
    plan = org.plan(LEADER, "R1", 2026)
    assert len(plan["obstacles"]) == 1 and len(plan["checkins"]) == 1
    assert org.plan(LEADER, "R3", 2026)["exists"] is False  # any rep, even without a plan
    with pytest.raises(NotAllowed):
        _obstacle(org, LEADER)
    with pytest.raises(NotAllowed):
        org.delete_obstacle(LEADER, int(plan["obstacles"]["obstacle_id"][0]))


def test_numbers_follow_creation_and_survive_deletion(org):
    first, second = _obstacle(org, REP, text="a"), _obstacle(org, REP, text="b")
    _obstacle(org, MANAGER, rep="R2", text="other plan")
    org.delete_obstacle(REP, second)
    third = _obstacle(org, REP, text="c")  # the deleted 2 is not reused
    numbers = dict(zip(org.plan(REP, "R1", 2026)["obstacles"]["obstacle_id"], org.plan(REP, "R1", 2026)["obstacles"]["number"]))
    assert numbers == {first: 1, third: 3}
    assert org.plan(SYSTEM, "R2", 2026)["obstacles"]["number"].tolist() == [1]
    a1, a2 = _action(org, MANAGER, text="x"), _action(org, MANAGER, text="y", due=date(2026, 1, 1))
    actions = org.plan(REP, "R1", 2026)["actions"]
    assert dict(zip(actions["action_id"], actions["number"])) == {a1: 1, a2: 2}
    assert planflow.item_label("action", 2) == "Action 2"


def test_edit_and_delete_are_audited_with_the_values_before(org):
    ob = _obstacle(org, REP)
    act = _action(org, REP, obstacle=ob)
    org.update_obstacle(MANAGER, ob, description="budget freeze until Q3", likelihood=4, revenue_at_risk=2500)
    org.update_action(REP, act, description="call the CFO", owner="Ann", due_date=date(2026, 4, 1),
                      status="in_progress", expected_impact=800, obstacle_id=ob)
    plan = org.plan(REP, "R1", 2026)
    assert plan["obstacles"].iloc[0][["description", "likelihood", "revenue_at_risk"]].tolist() == \
        ["budget freeze until Q3", 4, 2500]
    assert plan["actions"].iloc[0][["description", "status", "expected_impact"]].tolist() == ["call the CFO", "in_progress", 800]
    org.delete_obstacle(REP, ob)
    org.delete_action(MANAGER, act)
    plan = org.plan(REP, "R1", 2026)
    assert plan["obstacles"].empty and plan["actions"].empty
    log = org.audit_log(SYSTEM)
    deleted = json.loads(log[log["action"] == "delete action"]["detail"].iloc[0])
    assert deleted["description"] == "call the CFO" and deleted["number"] == 1 and deleted["due_date"] == "2026-04-01"
    deleted_ob = json.loads(log[log["action"] == "delete obstacle"]["detail"].iloc[0])
    assert deleted_ob["description"] == "budget freeze until Q3" and deleted_ob["revenue_at_risk"] == 2500
    edited = json.loads(log[log["action"] == "update obstacle"]["detail"].iloc[0])
    assert edited["description"] == "budget freeze" and edited["likelihood"] == 3


def test_deleting_an_obstacle_keeps_its_actions_unlinked(org):
    ob = _obstacle(org, REP)
    act = _action(org, REP, obstacle=ob)
    org.delete_obstacle(REP, ob)
    actions = org.plan(REP, "R1", 2026)["actions"]
    assert actions["action_id"].tolist() == [act] and pd.isna(actions["obstacle_id"].iloc[0])


def test_out_of_scope_and_missing_items_are_refused(org):
    other = _obstacle(org, SYSTEM, rep="R3")
    with pytest.raises(NotAllowed):
        org.update_obstacle(REP, other, description="x", likelihood=1, revenue_at_risk=0)
    with pytest.raises(NotAllowed):
        org.delete_obstacle(MANAGER, other)  # R3 is M2's
    with pytest.raises(NotFound):
        org.delete_action(REP, 999999)
    assert len(org.plan(SYSTEM, "R3", 2026)["obstacles"]) == 1


def test_changing_an_agreed_plan_sends_it_back_to_submitted(org):
    ob = _obstacle(org, REP)
    act = _action(org, REP)
    org.save_plan(REP, "R1", 2026, status="submitted", summary="close the gap in Q2")
    org.save_plan(MANAGER, "R1", 2026, status="agreed", summary="close the gap in Q2")

    def status():
        return org.plan(REP, "R1", 2026)["status"]

    # progress on an agreed action is not a change of the plan
    org.update_action_status(REP, act, "in_progress")
    org.update_action(REP, act, description="call", owner="Ann", due_date=date(2026, 3, 1), status="done",
                      expected_impact=500, obstacle_id=None)
    assert status() == "agreed"
    for change in (
        lambda: org.save_plan(REP, "R1", 2026, status="agreed", summary="close the gap in Q3"),
        lambda: org.update_obstacle(REP, ob, description="new", likelihood=2, revenue_at_risk=10),
        lambda: _action(org, MANAGER, text="another"),
        lambda: org.update_action(REP, act, description="call twice", owner="Ann", due_date=date(2026, 3, 1),
                                  status="done", expected_impact=500, obstacle_id=None),
        lambda: org.delete_action(REP, act),
        lambda: org.delete_obstacle(REP, ob),
    ):
        org.save_plan(MANAGER, "R1", 2026, status="agreed", summary=org.plan(REP, "R1", 2026)["summary"])
        assert status() == "agreed"
        change()
        assert status() == "submitted"
    # a rep still may not un-agree or agree without a change
    org.save_plan(MANAGER, "R1", 2026, status="agreed", summary="final")
    with pytest.raises(NotAllowed):
        org.save_plan(REP, "R1", 2026, status="draft", summary="final")
    with pytest.raises(NotAllowed):
        org.save_plan(REP, "R1", 2026, status="submitted", summary="final")


def test_manager_queue_lists_submitted_plans_of_their_reps(org):
    for rep in ("R1", "R2", "R3", "M1"):
        org.save_plan(SYSTEM, rep, 2026, status="submitted", summary=f"plan of {rep}")
    org.save_plan(SYSTEM, "R2", 2026, status="agreed", summary="plan of R2")
    queue = org.plan_queue(MANAGER)
    assert queue["rep_id"].tolist() == ["R1"]  # not R2 (agreed), R3 (M2's), M1 (their own)
    assert queue["name"].tolist() == ["Ann One"]
    assert set(org.plan_queue(SYSTEM)["rep_id"]) == {"R1", "R3", "M1"}
    assert org.plan_queue(LEADER).empty and org.plan_queue(REP).empty


def test_overdue_open_actions_are_flagged(org):
    _action(org, REP, text="late", due=date(2026, 2, 27))
    _action(org, REP, text="due today", due=date(2026, 3, 2))
    done = _action(org, REP, text="late but done", due=date(2026, 1, 5))
    org.update_action_status(REP, done, "done")
    _action(org, REP, text="no date", due=None)
    flagged = planflow.flag_overdue(org.plan(REP, "R1", 2026)["actions"], date(2026, 3, 2))
    assert flagged.loc[flagged["overdue"], "description"].tolist() == ["late"]
    assert planflow.overdue_count(org.plan(REP, "R1", 2026)["actions"], date(2026, 3, 2)) == 1

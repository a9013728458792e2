"""``Store.add_plans``: whole plans written in one transaction leave exactly what the plan API's
calls one by one leave (rows, ids, numbers, audit lines), with the same checks, on both backends."""

from __future__ import annotations

from datetime import date

import pytest

from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store

PLANS = [
    {"rep_id": "R1", "fy": 2025, "status": "agreed", "summary": "Win back Acme",
     "obstacles": [
         {"key": "O1", "description": "Budget freeze at Acme", "likelihood": 4, "revenue_at_risk": 30000.0},
         {"key": "O2", "description": "Price pressure", "likelihood": 2, "revenue_at_risk": 1234.5678},
     ],
     "actions": [
         {"description": "Offer a phased rollout", "owner": "R1", "due_date": date(2025, 4, 30), "status": "planned",
          "expected_impact": 12000.0, "obstacle_key": "O2"},
         {"description": "Weekly review with Max", "owner": "M1", "due_date": None, "status": "done",
          "expected_impact": 0.0, "obstacle_key": None},
         {"description": "Cross-sell to Beta", "owner": "R1", "due_date": date(2025, 2, 1), "status": "in_progress",
          "expected_impact": 999.99, "obstacle_key": "O1"},
     ],
     "checkins": [
         {"checkin_date": date(2025, 3, 31), "author": "max@x.test", "note": "Looks right"},
         {"checkin_date": date(2025, 2, 28), "author": None, "note": "First look"},
     ]},
    {"rep_id": "R2", "fy": 2025, "status": "submitted", "summary": "", "obstacles": [], "actions": [],
     "checkins": []},
    {"rep_id": "R3", "fy": 2025, "status": "draft", "summary": "Ramp-up",
     "obstacles": [{"key": "A", "description": "New patch", "likelihood": 3, "revenue_at_risk": 0.0}],
     "actions": [{"description": "Meet the accounts", "owner": "R3", "due_date": date(2025, 6, 1),
                  "status": "planned", "expected_impact": 5000.0, "obstacle_key": None}],
     "checkins": [{"checkin_date": date(2025, 5, 2), "author": "mia@x.test", "note": "Onboarding going well."}]},
    {"rep_id": "R1", "fy": 2026, "status": "agreed", "summary": "Next year", "obstacles": [], "actions": [],
     "checkins": []},
]


def _one_by_one(store: Store, principal: Principal, plans: list) -> None:
    """What loading the demo's plans did before ``add_plans``: the plan API's calls, item by item."""
    for plan in plans:
        rid, fy = plan["rep_id"], plan["fy"]
        if store.plan(principal, rid, fy)["exists"]:
            continue
        store.save_plan(principal, rid, fy, status=plan["status"], summary=plan["summary"])
        ids = {}
        for ob in plan["obstacles"]:
            ids[ob["key"]] = store.add_obstacle(principal, rid, fy, description=ob["description"],
                                                likelihood=ob["likelihood"], revenue_at_risk=ob["revenue_at_risk"])
        for ac in plan["actions"]:
            store.add_action(principal, rid, fy, description=ac["description"], owner=ac["owner"],
                             due_date=ac["due_date"], status=ac["status"], expected_impact=ac["expected_impact"],
                             obstacle_id=ids[ac["obstacle_key"]] if ac["obstacle_key"] else None)
        for ck in plan["checkins"]:
            store.add_checkin(principal, rid, fy, checkin_date=ck["checkin_date"], author=ck["author"], note=ck["note"])
        if plan["status"] == "agreed":
            store.save_plan(principal, rid, fy, status="agreed", summary=plan["summary"])


def _plan_rows(store: Store) -> dict[str, list[tuple]]:
    """Every row of the plan tables without their timestamps, and the audit lines without theirs,
    in the audit view's order (by time; lines of the same time by their texts, so that lines
    sharing a time would not come out in the calls' order)."""
    tables = {"plans": "rep_id, fy", "obstacles": "obstacle_id", "actions": "action_id", "checkins": "checkin_id"}
    stamps = {"updated_at", "created_at"}
    rows = {}
    with store.cursor() as cursor:
        for table, order in tables.items():
            cursor.execute(f"SELECT * FROM {table} LIMIT 0")
            columns = [d[0] for d in cursor.description if d[0] not in stamps]
            rows[table] = cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()
        rows["audit"] = cursor.execute(
            "SELECT actor, action, detail FROM audit_log ORDER BY logged_at, actor, action, detail"
        ).fetchall()
    return rows


def test_add_plans_leaves_the_rows_and_audit_lines_of_the_calls_one_by_one(org, another_org):
    manager = Principal("max@x.test", "manager", "M1")
    org.save_plan(manager, "R2", 2026, status="submitted", summary="Held already")  # in both: kept by both
    other = another_org
    other.save_plan(manager, "R2", 2026, status="submitted", summary="Held already")
    plans = PLANS + [{"rep_id": "R2", "fy": 2026, "status": "draft", "summary": "Would replace it",
                      "obstacles": [{"key": "X", "description": "x", "likelihood": 1, "revenue_at_risk": 1.0}],
                      "actions": [], "checkins": []}]
    version = org.data_version()
    added = org.add_plans(SYSTEM, plans)
    _one_by_one(other, SYSTEM, plans)
    assert added == {"plans": 4, "kept": 1, "obstacles": 3, "actions": 4, "checkins": 3}
    assert org.data_version() == version + 1  # one write
    assert _plan_rows(org) == _plan_rows(other)
    # the next item gets the same id in both: the sequence moved on by as many ids
    assert (org.add_obstacle(SYSTEM, "R3", 2025, description="n", likelihood=1, revenue_at_risk=0)
            == other.add_obstacle(SYSTEM, "R3", 2025, description="n", likelihood=1, revenue_at_risk=0))
    plan = org.plan(SYSTEM, "R1", 2025)
    assert plan["status"] == "agreed" and plan["obstacles"]["number"].tolist() == [1, 2]
    assert org.plan(SYSTEM, "R2", 2026)["summary"] == "Held already"
    # loading the same plans again writes nothing and says so
    before = org.snapshot()
    assert org.add_plans(SYSTEM, plans) == {"plans": 0, "kept": 5, "obstacles": 0, "actions": 0, "checkins": 0}
    assert org.snapshot() == before  # the data version too: every session's cached reads stay


def test_add_plans_takes_dates_as_text_as_the_calls_do_and_refuses_what_is_not_a_date(org, another_org):
    plan = {"rep_id": "R3", "fy": 2025, "status": "draft", "summary": "", "obstacles": [],
            "actions": [{"description": "Call", "owner": "R3", "due_date": "2025-04-30", "status": "planned",
                         "expected_impact": 0.0, "obstacle_key": None}],
            "checkins": [{"checkin_date": "2025-03-31", "author": None, "note": "ok"}]}
    before = org.snapshot()
    wrong = dict(plan, actions=[dict(plan["actions"][0], due_date="30/04/2025")],
                 checkins=[dict(plan["checkins"][0], checkin_date=20250331)])
    with pytest.raises(BadInput) as refused:
        org.add_plans(SYSTEM, [wrong])
    assert [(p.column, p.reason) for p in refused.value.problems] == [
        ("due_date", "'30/04/2025' is not a date (YYYY-MM-DD)"), ("checkin_date", "20250331 is not a date (YYYY-MM-DD)")]
    assert org.snapshot() == before
    other = another_org
    org.add_plans(SYSTEM, [plan])
    _one_by_one(other, SYSTEM, [plan])
    assert _plan_rows(org) == _plan_rows(other)


def test_add_plans_checks_what_the_calls_check_and_writes_nothing_when_refused(org):
    rep = Principal("ann@x.test", "rep", "R1")
    manager = Principal("max@x.test", "manager", "M1")
    draft = {"rep_id": "R1", "fy": 2025, "status": "draft", "summary": "", "obstacles": [], "actions": [],
             "checkins": []}
    before, lines = org.snapshot(), len(org.audit_log(SYSTEM))

    def unchanged() -> None:
        assert org.snapshot() == before and len(org.audit_log(SYSTEM)) == lines

    with pytest.raises(NotAllowed, match="manager"):  # a rep may not agree their own plan
        org.add_plans(rep, [dict(draft, status="agreed")])
    with pytest.raises(NotAllowed):  # another team's rep
        org.add_plans(manager, [draft, dict(draft, rep_id="R3")])
    with pytest.raises(NotAllowed):  # leaders read only
        org.add_plans(Principal("lea@x.test", "leader"), [draft])
    unchanged()
    bad = dict(draft, status="done",
               obstacles=[{"key": "O1", "description": " ", "likelihood": 7, "revenue_at_risk": -1.0},
                          {"key": "O1", "description": "twice", "likelihood": 1, "revenue_at_risk": 0.0}],
               actions=[{"description": "", "owner": "R1", "due_date": None, "status": "someday",
                         "expected_impact": float("nan"), "obstacle_key": "O9"}],
               checkins=[{"checkin_date": date(2025, 1, 1), "author": None, "note": "  "}])
    with pytest.raises(BadInput) as caught:
        org.add_plans(rep, [bad, draft])
    found = {(p.file, p.column) for p in caught.value.problems}
    assert found == {
        ("plan R1 FY2025", "status"), ("plan R1 FY2025", "rep_id"), ("plan R1 FY2025", "key"),
        ("plan R1 FY2025 obstacle O1", "description"), ("plan R1 FY2025 obstacle O1", "likelihood"),
        ("plan R1 FY2025 obstacle O1", "revenue_at_risk"), ("plan R1 FY2025 action 1", "description"),
        ("plan R1 FY2025 action 1", "status"), ("plan R1 FY2025 action 1", "expected_impact"),
        ("plan R1 FY2025 action 1", "obstacle_key"), ("plan R1 FY2025 check-in 1", "note"),
    }
    unchanged()
    # a rep writes their own draft; the check-in's author is the rep, whatever the item says
    org.add_plans(rep, [dict(draft, checkins=[{"checkin_date": date(2025, 1, 1), "author": "max@x.test",
                                               "note": "mine"}])])
    plan = org.plan(rep, "R1", 2025)
    assert plan["updated_by"] == "ann@x.test" and plan["checkins"]["author"].tolist() == ["ann@x.test"]
    log = org.audit_log(SYSTEM)
    assert set(zip(log["actor"], log["action"], log["detail"])) >= {
        ("ann@x.test", "save plan", "R1 FY2025 draft"), ("ann@x.test", "add check-in", "R1 FY2025")}

"""Achievement plans: header, obstacles, actions and check-ins per rep and fiscal year."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa

from salesplan import policy
from salesplan.errors import (
    BadInput,
    NotAllowed,
    NotFound,
    Problem,
)
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import ACTION_STATUSES, PLAN_STATUSES, StoreBase, amount_problem
from salesplan.storage.records import NewPlan, PlanRecord, PlansAdded


class PlanStore(StoreBase):
    """Achievement plans: header, obstacles, actions and check-ins per rep and fiscal year."""

    # ------------------------------------------------------------------ plans
    def plan(self, principal: Principal, rep_id: str, fy: int) -> PlanRecord:
        """The rep's plan for a FY: header, obstacles, actions and check-ins (empty when none yet).

        Obstacles and actions carry ``number``, their display number within the plan (1, 2, 3 in
        creation order, never reused). Leaders read every plan. Raises NotAllowed for a rep out
        of scope.
        """
        self.require_rep_access(principal, rep_id)
        with self.cursor() as cursor:
            headers = cursor.execute(
                "SELECT status, summary, updated_by, updated_at FROM plans WHERE rep_id = ? AND fy = ?", [rep_id, fy]
            ).fetchall()
            header = headers[0] if headers else None
            obstacles = cursor.execute(
                "SELECT obstacle_id, number, description, likelihood, revenue_at_risk::DOUBLE PRECISION AS revenue_at_risk "
                "FROM obstacles WHERE rep_id = ? AND fy = ? ORDER BY number, obstacle_id",
                [rep_id, fy],
            ).df()
            actions = cursor.execute(
                "SELECT action_id, number, description, owner, due_date, status, "
                "expected_impact::DOUBLE PRECISION AS expected_impact, obstacle_id FROM actions WHERE rep_id = ? AND fy = ? ORDER BY due_date NULLS LAST, action_id",
                [rep_id, fy],
            ).df()
            checkins = cursor.execute(
                "SELECT checkin_id, checkin_date, author, note FROM checkins WHERE rep_id = ? AND fy = ? "
                "ORDER BY checkin_date DESC, checkin_id DESC",
                [rep_id, fy],
            ).df()
        return {
            "rep_id": rep_id,
            "fy": fy,
            "exists": header is not None,
            "status": header[0] if header else "draft",
            "summary": header[1] if header else "",
            "updated_by": header[2] if header else None,
            "updated_at": header[3] if header else None,
            "obstacles": obstacles,
            "actions": actions,
            "checkins": checkins,
        }

    def save_plan(self, principal: Principal, rep_id: str, fy: int, *, status: str = "draft", summary: str = "") -> str:
        """Create or update a plan header; returns the status the plan now has.

        Only the rep's manager (not for their own plan) or an admin may set ``agreed``, and only
        they may change the status of an agreed plan. Anyone else who changes the summary of an
        agreed plan (passing ``agreed`` or ``submitted``) sends it back to ``submitted`` for
        agreement again. Raises NotAllowed for those and for reps out of scope (and leaders),
        BadInput for an unknown status.
        """
        self.require_rep_access(principal, rep_id, write=True)
        if status not in PLAN_STATUSES:
            raise BadInput.single("plan", f"status must be one of {', '.join(PLAN_STATUSES)}, not {status!r}", column="status")
        approver = policy.may(principal, "agree_plan", rep_id=rep_id)

        def work(cursor: Cursor) -> str:
            # the current status is read in the writing transaction: the decision cannot go stale
            rows = cursor.execute("SELECT status, summary FROM plans WHERE rep_id = ? AND fy = ?", [rep_id, fy]).fetchall()
            current, current_summary = (rows[0][0], rows[0][1] or "") if rows else ("draft", "")
            changed = bool(rows) and summary != current_summary
            new_status = status
            if not approver and current == "agreed" and changed and status in ("agreed", "submitted"):
                new_status = policy.status_after_change(current)  # to be agreed again
            elif not approver and status != current and "agreed" in (status, current):
                if status == "agreed":
                    policy.require(principal, "agree_plan", rep_id=rep_id)
                raise NotAllowed(
                    f"The FY{fy} plan of {rep_id} is agreed: only the rep's manager (or an admin) may change its status."
                )
            cursor.execute(
                "INSERT INTO plans (rep_id, fy, status, summary, updated_by, updated_at, obstacles_numbered, "
                "actions_numbered) VALUES (?, ?, ?, ?, ?, localtimestamp, 0, 0) ON CONFLICT (rep_id, fy) DO UPDATE "
                "SET status = excluded.status, summary = excluded.summary, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at",
                [rep_id, fy, new_status, summary, principal.email],
            )
            return new_status

        return self.write(principal, "save plan", f"{rep_id} FY{fy} {status}", work)

    def add_obstacle(
        self, principal: Principal, rep_id: str, fy: int, *, description: str, likelihood: int, revenue_at_risk: float
    ) -> int:
        """Add an obstacle to a rep's plan; returns its id. An agreed plan goes back to submitted.
        Raises NotAllowed (rep out of scope, leader), BadInput (empty description, likelihood not
        1-5, negative revenue at risk)."""
        self.require_rep_access(principal, rep_id, write=True)
        _raise_form_problems("obstacle", _obstacle_problems(description, likelihood, revenue_at_risk))

        def work(cursor: Cursor) -> int:
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO obstacles (obstacle_id, rep_id, fy, description, likelihood, revenue_at_risk, created_by, "
                "created_at, number) VALUES (?, ?, ?, ?, ?, ?, ?, localtimestamp, ?)",
                [new_id, rep_id, fy, description, int(likelihood), revenue_at_risk, principal.email,
                 self._next_number(cursor, rep_id, fy, "obstacles")],
            )
            self._reopen_if_agreed(cursor, principal, rep_id, fy)
            return new_id

        return self.write(principal, "add obstacle", f"{rep_id} FY{fy}", work)

    def add_action(
        self,
        principal: Principal,
        rep_id: str,
        fy: int,
        *,
        description: str,
        owner: str,
        due_date: date | None,
        status: str = "planned",
        expected_impact: float = 0.0,
        obstacle_id: int | None = None,
    ) -> int:
        """Add an action to a rep's FY plan, optionally against one of that plan's obstacles.
        Raises NotAllowed for reps out of scope, BadInput for invalid fields or an obstacle that
        is not one of this plan's."""
        self.require_rep_access(principal, rep_id, write=True)
        _raise_form_problems("action", _action_problems(description, status, expected_impact))

        def work(cursor: Cursor) -> int:
            _check_obstacle_of_plan(cursor, obstacle_id, rep_id, fy)
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO actions (action_id, rep_id, fy, description, owner, due_date, status, expected_impact, "
                "obstacle_id, updated_by, updated_at, number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, localtimestamp, ?)",
                [new_id, rep_id, fy, description, owner, due_date, status, expected_impact, obstacle_id, principal.email,
                 self._next_number(cursor, rep_id, fy, "actions")],
            )
            self._reopen_if_agreed(cursor, principal, rep_id, fy)
            return new_id

        return self.write(principal, "add action", f"{rep_id} FY{fy}", work)

    def update_action_status(self, principal: Principal, action_id: int, status: str) -> None:
        if status not in ACTION_STATUSES:
            raise BadInput.single("action", f"status must be one of {', '.join(ACTION_STATUSES)}", column="status")
        with self.cursor() as cursor:
            rows = cursor.execute("SELECT rep_id FROM actions WHERE action_id = ?", [action_id]).fetchall()
        row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"There is no action {action_id}.")
        self.require_rep_access(principal, row[0], write=True)

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "UPDATE actions SET status = ?, updated_by = ?, updated_at = localtimestamp WHERE action_id = ?",
                [status, principal.email, action_id],
            )

        self.write(principal, "update action", f"{action_id} {status}", work)

    def add_checkin(
        self, principal: Principal, rep_id: str, fy: int, *, checkin_date: date, author: str | None = None, note: str
    ) -> int:
        """Add a check-in note to a rep's plan; returns its id. The author is the principal's
        email: ``author`` is used only by the command line and the demo loader (the system
        principal), which write on behalf of named people. Raises NotAllowed, BadInput."""
        if principal.role != "system" or not author:
            author = principal.email
        self.require_rep_access(principal, rep_id, write=True)
        _raise_form_problems("check-in", [("note", "a check-in needs a note")] if not str(note).strip() else [])

        def work(cursor: Cursor) -> int:
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO checkins VALUES (?, ?, ?, ?, ?, ?, localtimestamp)",
                [new_id, rep_id, fy, checkin_date, author, note],
            )
            return new_id

        return self.write(principal, "add check-in", f"{rep_id} FY{fy}", work)

    def add_plans(self, principal: Principal, plans: Sequence[NewPlan]) -> PlansAdded:
        """Write whole new plans (header, obstacles, actions, check-ins) in one transaction, with
        the rows and audit lines that ``save_plan``, ``add_obstacle``, ``add_action`` and
        ``add_checkin`` called one by one for each plan in order would leave, and a second
        ``save_plan`` line for an agreed plan (an item added to an agreed plan sends it back for
        agreement: the one-by-one calls agree it again once its items are in). A plan that
        exists already is kept as it is: nothing of it is written. Loading the demo writes its
        plans so (one transaction instead of one per item).

        The checks are those of the one-by-one calls: write access to each rep, ``agreed`` only
        by someone who may agree the plan, valid statuses and items; an action's
        ``obstacle_key`` must name one of its plan's obstacles, and a plan may be listed once.
        Raises NotAllowed (a rep out of scope, leaders, agreeing without the right) and BadInput
        (every problem found); nothing is written then.
        """
        problems: list[Problem] = []
        seen: set[tuple[str, int]] = set()
        for plan in plans:
            rep_id, fy = plan["rep_id"], int(plan["fy"])
            self.require_rep_access(principal, rep_id, write=True)
            if plan["status"] == "agreed":
                policy.require(principal, "agree_plan", rep_id=rep_id)
            where = f"plan {rep_id} FY{fy}"
            if plan["status"] not in PLAN_STATUSES:
                problems.append(Problem(where, None, "status",
                                        f"status must be one of {', '.join(PLAN_STATUSES)}, not {plan['status']!r}"))
            if (rep_id, fy) in seen:
                problems.append(Problem(where, None, "rep_id", "the plan is listed twice"))
            seen.add((rep_id, fy))
            keys = [ob["key"] for ob in plan["obstacles"]]
            for ob in plan["obstacles"]:
                problems += [Problem(f"{where} obstacle {ob['key']}", None, column, reason) for column, reason in
                             _obstacle_problems(ob["description"], ob["likelihood"], ob["revenue_at_risk"])]
            if len(set(keys)) != len(keys):
                problems.append(Problem(where, None, "key", "two obstacles have the same key"))
            for number, ac in enumerate(plan["actions"], 1):
                problems += [Problem(f"{where} action {number}", None, column, reason) for column, reason in
                             _action_problems(ac["description"], ac["status"], ac["expected_impact"])]
                if ac["due_date"] is not None and _plan_date(ac["due_date"]) is None:
                    problems.append(Problem(f"{where} action {number}", None, "due_date",
                                            f"{ac['due_date']!r} is not a date (YYYY-MM-DD)"))
                if ac["obstacle_key"] is not None and ac["obstacle_key"] not in keys:
                    problems.append(Problem(f"{where} action {number}", None, "obstacle_key",
                                            f"{ac['obstacle_key']!r} is not an obstacle of this plan"))
            for number, ck in enumerate(plan["checkins"], 1):
                if not str(ck["note"]).strip():
                    problems.append(Problem(f"{where} check-in {number}", None, "note", "a check-in needs a note"))
                if _plan_date(ck["checkin_date"]) is None:
                    problems.append(Problem(f"{where} check-in {number}", None, "checkin_date",
                                            f"{ck['checkin_date']!r} is not a date (YYYY-MM-DD)"))
        if problems:
            raise BadInput(problems)
        with self.cursor() as cursor:
            held_before = {(str(r), int(f)) for r, f in cursor.execute("SELECT rep_id, fy FROM plans").fetchall()}
        if all((plan["rep_id"], int(plan["fy"])) in held_before for plan in plans):
            # nothing to write: no transaction, so the data version (every session's cached
            # reads) stays as it is
            return PlansAdded(plans=0, kept=len(plans), obstacles=0, actions=0, checkins=0)

        def work(cursor: Cursor) -> PlansAdded:
            # read in the writing transaction: a plan saved meanwhile is kept, never doubled
            held = {(str(r), int(f)) for r, f in cursor.execute("SELECT rep_id, fy FROM plans").fetchall()}
            new = [plan for plan in plans if (plan["rep_id"], int(plan["fy"])) not in held]
            wanted = sum(len(p["obstacles"]) + len(p["actions"]) + len(p["checkins"]) for p in new)
            # the ids one nextval per item would give, in the same order (the write lock is held)
            ids = iter(sorted(int(row[0]) for row in cursor.execute(
                "SELECT nextval('plan_item_seq') FROM generate_series(1, ?)", [wanted]).fetchall()) if wanted else [])
            rows: dict[str, list[dict[str, Any]]] = {"plans": [], "obstacles": [], "actions": [], "checkins": [],
                                                      "audit": []}
            by = principal.email

            def audit(action: str, detail: str) -> None:
                rows["audit"].append({"line": len(rows["audit"]), "action": action, "detail": detail})

            for plan in new:
                rep_id, fy, status = plan["rep_id"], int(plan["fy"]), plan["status"]
                audit("save plan", f"{rep_id} FY{fy} {status}")
                rows["plans"].append({"rep_id": rep_id, "fy": fy, "status": status, "summary": plan["summary"],
                                      "obstacles_numbered": len(plan["obstacles"]),
                                      "actions_numbered": len(plan["actions"])})
                obstacle_ids = {}
                for number, ob in enumerate(plan["obstacles"], 1):
                    obstacle_ids[ob["key"]] = new_id = next(ids)
                    rows["obstacles"].append({
                        "obstacle_id": new_id, "rep_id": rep_id, "fy": fy, "description": ob["description"],
                        "likelihood": int(ob["likelihood"]), "revenue_at_risk": float(ob["revenue_at_risk"]),
                        "number": number})
                    audit("add obstacle", f"{rep_id} FY{fy}")
                for number, ac in enumerate(plan["actions"], 1):
                    rows["actions"].append({
                        "action_id": next(ids), "rep_id": rep_id, "fy": fy, "description": ac["description"],
                        "owner": ac["owner"], "due_date": _plan_date(ac["due_date"]), "status": ac["status"],
                        "expected_impact": float(ac["expected_impact"]),
                        "obstacle_id": obstacle_ids[ac["obstacle_key"]] if ac["obstacle_key"] is not None else None,
                        "number": number})
                    audit("add action", f"{rep_id} FY{fy}")
                for ck in plan["checkins"]:
                    author = ck["author"] if principal.role == "system" and ck["author"] else by
                    rows["checkins"].append({"checkin_id": next(ids), "rep_id": rep_id, "fy": fy,
                                             "checkin_date": _plan_date(ck["checkin_date"]), "author": author, "note": ck["note"]})
                    audit("add check-in", f"{rep_id} FY{fy}")
                if status == "agreed":
                    audit("save plan", f"{rep_id} FY{fy} agreed")
            # one statement per table, the principal as the writer; every row has this transaction's time
            inserts = [
                ("plans", "INSERT INTO plans (rep_id, fy, status, summary, updated_by, updated_at, obstacles_numbered, "
                          "actions_numbered) SELECT rep_id, fy, status, summary, ?, localtimestamp, obstacles_numbered, "
                          "actions_numbered FROM new_rows", [by]),
                ("obstacles", "INSERT INTO obstacles (obstacle_id, rep_id, fy, description, likelihood, revenue_at_risk, "
                              "created_by, created_at, number) SELECT obstacle_id, rep_id, fy, description, likelihood, "
                              "CAST(revenue_at_risk AS DECIMAL(18,4)), ?, localtimestamp, number FROM new_rows", [by]),
                ("actions", "INSERT INTO actions (action_id, rep_id, fy, description, owner, due_date, status, "
                            "expected_impact, obstacle_id, updated_by, updated_at, number) SELECT action_id, rep_id, fy, "
                            "description, owner, due_date, status, CAST(expected_impact AS DECIMAL(18,4)), obstacle_id, "
                            "?, localtimestamp, number FROM new_rows", [by]),
                ("checkins", "INSERT INTO checkins (checkin_id, rep_id, fy, checkin_date, author, note, created_at) "
                             "SELECT checkin_id, rep_id, fy, checkin_date, author, note, localtimestamp FROM new_rows", []),
                # a microsecond apart, in the order the calls one by one would have written them: the
                # audit view orders by time, and lines sharing one had no defined order there
                ("audit", "INSERT INTO audit_log (logged_at, actor, action, detail) "
                          "SELECT localtimestamp + line * INTERVAL '1 microsecond', ?, action, detail "
                          "FROM new_rows ORDER BY line", [by]),
            ]
            for table, statement, params in inserts:
                if rows[table]:
                    cursor.stage("new_rows", pa.Table.from_pylist(rows[table], schema=_NEW_ROWS[table]))
                    cursor.execute(statement, params)
                    cursor.unstage("new_rows")
            return PlansAdded(plans=len(new), kept=len(plans) - len(new), obstacles=len(rows["obstacles"]),
                              actions=len(rows["actions"]), checkins=len(rows["checkins"]))

        return self.write(principal, "add plans", f"{len(plans)} plans", work, audited_by_work=True)

    # ------------------------------------------------------------------ editing obstacles and actions
    def update_obstacle(
        self, principal: Principal, obstacle_id: int, *, description: str, likelihood: int, revenue_at_risk: float
    ) -> None:
        """Change an obstacle (its number stays); audited with the values before. An agreed plan
        goes back to submitted. Raises NotFound (no such obstacle), NotAllowed (rep out of scope,
        leader), BadInput (empty description, likelihood not 1-5, negative revenue at risk)."""
        before = self._item(principal, "obstacles", obstacle_id)
        _raise_form_problems("obstacle", _obstacle_problems(description, likelihood, revenue_at_risk))

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "UPDATE obstacles SET description = ?, likelihood = ?, revenue_at_risk = ? WHERE obstacle_id = ?",
                [description, int(likelihood), revenue_at_risk, obstacle_id],
            )
            self._reopen_if_agreed(cursor, principal, before["rep_id"], before["fy"])

        self.write(principal, "update obstacle", _detail(before), work)

    def delete_obstacle(self, principal: Principal, obstacle_id: int) -> None:
        """Delete an obstacle; the audit detail keeps the deleted row. Actions against it stay, no
        longer linked. An agreed plan goes back to submitted. Raises NotFound (no such obstacle),
        NotAllowed (rep out of scope, leader)."""
        before = self._item(principal, "obstacles", obstacle_id)

        def work(cursor: Cursor) -> None:
            cursor.execute("UPDATE actions SET obstacle_id = NULL WHERE obstacle_id = ?", [obstacle_id])
            cursor.execute("DELETE FROM obstacles WHERE obstacle_id = ?", [obstacle_id])
            self._reopen_if_agreed(cursor, principal, before["rep_id"], before["fy"])

        self.write(principal, "delete obstacle", _detail(before), work)

    def update_action(
        self,
        principal: Principal,
        action_id: int,
        *,
        description: str,
        owner: str,
        due_date: date | None,
        status: str,
        expected_impact: float,
        obstacle_id: int | None,
    ) -> None:
        """Change an action (its number stays); audited with the values before. A change of
        anything but its status sends an agreed plan back to submitted (progress on an agreed
        action is not a change of the plan). Raises NotFound (no such action), NotAllowed (rep out
        of scope, leader), BadInput (invalid fields, an obstacle that is not one of this plan's)."""
        before = self._item(principal, "actions", action_id)
        _raise_form_problems("action", _action_problems(description, status, expected_impact))
        due = due_date.isoformat() if due_date is not None else None
        replanned = (description, owner, due, float(expected_impact), obstacle_id) != (
            before["description"], before["owner"], before["due_date"], before["expected_impact"], before["obstacle_id"])

        def work(cursor: Cursor) -> None:
            _check_obstacle_of_plan(cursor, obstacle_id, before["rep_id"], before["fy"])
            cursor.execute(
                "UPDATE actions SET description = ?, owner = ?, due_date = ?, status = ?, expected_impact = ?, "
                "obstacle_id = ?, updated_by = ?, updated_at = localtimestamp WHERE action_id = ?",
                [description, owner, due_date, status, expected_impact, obstacle_id, principal.email, action_id],
            )
            if replanned:
                self._reopen_if_agreed(cursor, principal, before["rep_id"], before["fy"])

        self.write(principal, "update action", _detail(before), work)

    def delete_action(self, principal: Principal, action_id: int) -> None:
        """Delete an action; the audit detail keeps the deleted row. An agreed plan goes back to
        submitted. Raises NotFound (no such action), NotAllowed (rep out of scope, leader)."""
        before = self._item(principal, "actions", action_id)

        def work(cursor: Cursor) -> None:
            cursor.execute("DELETE FROM actions WHERE action_id = ?", [action_id])
            self._reopen_if_agreed(cursor, principal, before["rep_id"], before["fy"])

        self.write(principal, "delete action", _detail(before), work)

    def plan_queue(self, principal: Principal) -> pd.DataFrame:
        """The plans waiting for this principal's agreement: status ``submitted``, of a rep whose
        plan they may agree (a manager: the reps under them, never their own; an admin: all).
        Columns rep_id, name, fy, summary, updated_by, updated_at, oldest first. Empty for roles
        that agree nothing (leader, rep). Raises nothing of its own."""
        columns = ["rep_id", "name", "fy", "summary", "updated_by", "updated_at"]
        if not policy.may_agree_some(principal):
            return pd.DataFrame(columns=columns)
        team = self.visible_rep_ids(principal)
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT p.rep_id, r.name, p.fy, p.summary, p.updated_by, p.updated_at FROM plans p "
                "LEFT JOIN reps r ON r.rep_id = p.rep_id WHERE p.status = 'submitted' "
                "ORDER BY p.updated_at, p.rep_id, p.fy"
            ).df()
        keep = [(team is None or rid in team) and policy.may(principal, "agree_plan", rep_id=rid)
                for rid in frame["rep_id"]]
        return frame[keep].reset_index(drop=True)[columns] if len(frame) else pd.DataFrame(columns=columns)

    def _item(self, principal: Principal, table: str, item_id: int) -> dict[str, Any]:
        """The obstacle or action as a plain dict, after checking the principal may change its
        plan. Raises NotFound, NotAllowed."""
        if table == "obstacles":
            what, key = "obstacle", "obstacle_id"
            columns = ["obstacle_id", "rep_id", "fy", "number", "description", "likelihood", "revenue_at_risk"]
            select = ("obstacle_id, rep_id, fy, number, description, likelihood, "
                      "revenue_at_risk::DOUBLE PRECISION")
        else:
            what, key = "action", "action_id"
            columns = ["action_id", "rep_id", "fy", "number", "description", "owner", "due_date", "status",
                       "expected_impact", "obstacle_id"]
            select = ("action_id, rep_id, fy, number, description, owner, due_date, status, "
                      "expected_impact::DOUBLE PRECISION, obstacle_id")
        with self.cursor() as cursor:
            rows = cursor.execute(f"SELECT {select} FROM {table} WHERE {key} = ?", [item_id]).fetchall()
        if not rows:
            raise NotFound(f"There is no {what} {item_id}.")
        row = dict(zip(columns, rows[0]))
        self.require_rep_access(principal, str(row["rep_id"]), write=True)
        if row.get("due_date") is not None:
            row["due_date"] = row["due_date"].isoformat()
        for name in ("fy", "number", "likelihood", "obstacle_id", "obstacle_id"):
            if row.get(name) is not None:
                row[name] = int(row[name])
        return row

    @staticmethod
    def _next_number(cursor: Cursor, rep_id: str, fy: int, table: str) -> int:
        column = f"{table}_numbered"
        cursor.execute(f"UPDATE plans SET {column} = coalesce({column}, 0) + 1 WHERE rep_id = ? AND fy = ?", [rep_id, fy])
        return int(cursor.execute(f"SELECT {column} FROM plans WHERE rep_id = ? AND fy = ?", [rep_id, fy]).fetchall()[0][0])

    @staticmethod
    def _reopen_if_agreed(cursor: Cursor, principal: Principal, rep_id: str, fy: int) -> None:
        """A change of an agreed plan's content sends it back for agreement (docs/decisions.md)."""
        cursor.execute(
            "UPDATE plans SET status = ?, updated_by = ?, updated_at = localtimestamp "
            "WHERE rep_id = ? AND fy = ? AND status = 'agreed'",
            [policy.status_after_change("agreed"), principal.email, rep_id, fy],
        )

    @staticmethod
    def _ensure_plan(cursor: Cursor, principal: Principal, rep_id: str, fy: int) -> None:
        cursor.execute(
            "INSERT INTO plans (rep_id, fy, status, summary, updated_by, updated_at, obstacles_numbered, actions_numbered) "
            "VALUES (?, ?, 'draft', '', ?, localtimestamp, 0, 0) ON CONFLICT DO NOTHING",
            [rep_id, fy, principal.email],
        )



# the Arrow schema of the rows ``add_plans`` stages per table (the same on both backends)
_NEW_ROWS = {
    "plans": pa.schema([("rep_id", pa.string()), ("fy", pa.int32()), ("status", pa.string()), ("summary", pa.string()),
                        ("obstacles_numbered", pa.int32()), ("actions_numbered", pa.int32())]),
    "obstacles": pa.schema([("obstacle_id", pa.int64()), ("rep_id", pa.string()), ("fy", pa.int32()),
                            ("description", pa.string()), ("likelihood", pa.int32()), ("revenue_at_risk", pa.float64()),
                            ("number", pa.int32())]),
    "actions": pa.schema([("action_id", pa.int64()), ("rep_id", pa.string()), ("fy", pa.int32()),
                          ("description", pa.string()), ("owner", pa.string()), ("due_date", pa.date32()),
                          ("status", pa.string()), ("expected_impact", pa.float64()), ("obstacle_id", pa.int64()),
                          ("number", pa.int32())]),
    "checkins": pa.schema([("checkin_id", pa.int64()), ("rep_id", pa.string()), ("fy", pa.int32()),
                           ("checkin_date", pa.date32()), ("author", pa.string()), ("note", pa.string())]),
    "audit": pa.schema([("line", pa.int64()), ("action", pa.string()), ("detail", pa.string())]),
}


def _obstacle_problems(description: str, likelihood: Any, revenue_at_risk: Any) -> list[tuple[str, str]]:
    problems = []
    if not str(description).strip():
        problems.append(("description", "an obstacle needs a description"))
    if not (isinstance(likelihood, int) or float(likelihood).is_integer()) or not 1 <= int(likelihood) <= 5:
        problems.append(("likelihood", f"likelihood must be a whole number from 1 to 5, not {likelihood!r}"))
    if (problem := amount_problem(revenue_at_risk, "revenue at risk")) is not None:
        problems.append(("revenue_at_risk", problem))
    return problems


def _plan_date(value: Any) -> date | None:
    """A plan item's date given as a date, a timestamp or ISO text (as the one-by-one calls
    accept, the database casting the text); None when it is none of these."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, date):
        return value.date() if hasattr(value, "date") and callable(value.date) else value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _action_problems(description: str, status: str, expected_impact: Any) -> list[tuple[str, str]]:
    problems = []
    if not str(description).strip():
        problems.append(("description", "an action needs a description"))
    if status not in ACTION_STATUSES:
        problems.append(("status", f"status must be one of {', '.join(ACTION_STATUSES)}, not {status!r}"))
    if (problem := amount_problem(expected_impact, "expected impact")) is not None:
        problems.append(("expected_impact", problem))
    return problems


def _check_obstacle_of_plan(cursor: Cursor, obstacle_id: int | None, rep_id: str, fy: int) -> None:
    if obstacle_id is not None and not cursor.execute(
        "SELECT count(*) FROM obstacles WHERE obstacle_id = ? AND rep_id = ? AND fy = ?", [obstacle_id, rep_id, fy]
    ).fetchall()[0][0]:
        # the same answer whether the obstacle is another rep's or does not exist: it tells
        # nothing about plans the user may not see
        raise BadInput.single(
            "action", f"obstacle {obstacle_id} is not an obstacle of this plan ({rep_id}, FY{fy})", column="obstacle_id",
        )


def _detail(row: dict[str, Any]) -> str:
    """The audit detail of an edited or deleted item: its values before, as JSON, so a deleted
    obstacle or action can be read (and typed in again) from the audit log."""
    return json.dumps(row, sort_keys=True, default=str)


def _raise_form_problems(form: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise BadInput([Problem(form, None, column, reason) for column, reason in problems])

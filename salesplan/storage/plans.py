"""Achievement plans: header, obstacles, actions and check-ins per rep and fiscal year."""

from __future__ import annotations

from datetime import date
from typing import Any

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


class PlanStore(StoreBase):
    """Achievement plans: header, obstacles, actions and check-ins per rep and fiscal year."""

    # ------------------------------------------------------------------ plans
    def plan(self, principal: Principal, rep_id: str, fy: int) -> dict[str, Any]:
        """The rep's plan for a FY: header, obstacles, actions and check-ins (empty when none yet)."""
        self.require_rep_access(principal, rep_id)
        with self.cursor() as cursor:
            headers = cursor.execute(
                "SELECT status, summary, updated_by, updated_at FROM plans WHERE rep_id = ? AND fy = ?", [rep_id, fy]
            ).fetchall()
            header = headers[0] if headers else None
            obstacles = cursor.execute(
                "SELECT obstacle_id, description, likelihood, revenue_at_risk::DOUBLE PRECISION AS revenue_at_risk "
                "FROM obstacles WHERE rep_id = ? AND fy = ? ORDER BY obstacle_id",
                [rep_id, fy],
            ).df()
            actions = cursor.execute(
                "SELECT action_id, description, owner, due_date, status, expected_impact::DOUBLE PRECISION AS expected_impact, "
                "obstacle_id FROM actions WHERE rep_id = ? AND fy = ? ORDER BY due_date NULLS LAST, action_id",
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

    def save_plan(self, principal: Principal, rep_id: str, fy: int, *, status: str = "draft", summary: str = "") -> None:
        """Create or update a plan header.

        Only the rep's manager (not for their own plan) or an admin may set ``agreed``, and only
        they may change the status of an agreed plan: a rep may edit the summary of an agreed
        plan but not un-agree it. Raises NotAllowed for those and for reps out of scope,
        BadInput for an unknown status.
        """
        self.require_rep_access(principal, rep_id, write=True)
        if status not in PLAN_STATUSES:
            raise BadInput.single("plan", f"status must be one of {', '.join(PLAN_STATUSES)}, not {status!r}", column="status")
        approver = policy.may(principal, "agree_plan", rep_id=rep_id)

        def work(cursor: Cursor) -> None:
            # the current status is read in the writing transaction: the decision cannot go stale
            rows = cursor.execute("SELECT status FROM plans WHERE rep_id = ? AND fy = ?", [rep_id, fy]).fetchall()
            current = rows[0][0] if rows else "draft"
            if not approver and status != current and "agreed" in (status, current):
                if status == "agreed":
                    policy.require(principal, "agree_plan", rep_id=rep_id)
                raise NotAllowed(
                    f"The FY{fy} plan of {rep_id} is agreed: only the rep's manager (or an admin) may change its status."
                )
            cursor.execute(
                "INSERT INTO plans VALUES (?, ?, ?, ?, ?, localtimestamp) ON CONFLICT (rep_id, fy) DO UPDATE "
                "SET status = excluded.status, summary = excluded.summary, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at",
                [rep_id, fy, status, summary, principal.email],
            )

        self.write(principal, "save plan", f"{rep_id} FY{fy} {status}", work)

    def add_obstacle(
        self, principal: Principal, rep_id: str, fy: int, *, description: str, likelihood: int, revenue_at_risk: float
    ) -> int:
        """Add an obstacle to a rep's FY plan; returns its id. Raises NotAllowed for reps out of
        scope, BadInput for an empty description, a likelihood outside 1-5 or an impossible amount."""
        self.require_rep_access(principal, rep_id, write=True)
        problems = []
        if not str(description).strip():
            problems.append(("description", "an obstacle needs a description"))
        if not (isinstance(likelihood, int) or float(likelihood).is_integer()) or not 1 <= int(likelihood) <= 5:
            problems.append(("likelihood", f"likelihood must be a whole number from 1 to 5, not {likelihood!r}"))
        if (problem := amount_problem(revenue_at_risk, "revenue at risk")) is not None:
            problems.append(("revenue_at_risk", problem))
        _raise_form_problems("obstacle", problems)

        def work(cursor: Cursor) -> int:
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO obstacles VALUES (?, ?, ?, ?, ?, ?, ?, localtimestamp)",
                [new_id, rep_id, fy, description, int(likelihood), revenue_at_risk, principal.email],
            )
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
        problems = []
        if not str(description).strip():
            problems.append(("description", "an action needs a description"))
        if status not in ACTION_STATUSES:
            problems.append(("status", f"status must be one of {', '.join(ACTION_STATUSES)}, not {status!r}"))
        if (problem := amount_problem(expected_impact, "expected impact")) is not None:
            problems.append(("expected_impact", problem))
        _raise_form_problems("action", problems)

        def work(cursor: Cursor) -> int:
            if obstacle_id is not None and not cursor.execute(
                "SELECT count(*) FROM obstacles WHERE obstacle_id = ? AND rep_id = ? AND fy = ?", [obstacle_id, rep_id, fy]
            ).fetchall()[0][0]:
                # the same answer whether the obstacle is another rep's or does not exist: it
                # tells nothing about plans the user may not see
                raise BadInput.single(
                    "action", f"obstacle {obstacle_id} is not an obstacle of this plan ({rep_id}, FY{fy})",
                    column="obstacle_id",
                )
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO actions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, localtimestamp)",
                [new_id, rep_id, fy, description, owner, due_date, status, expected_impact, obstacle_id, principal.email],
            )
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

    @staticmethod
    def _ensure_plan(cursor: Cursor, principal: Principal, rep_id: str, fy: int) -> None:
        cursor.execute(
            "INSERT INTO plans VALUES (?, ?, 'draft', '', ?, localtimestamp) ON CONFLICT DO NOTHING",
            [rep_id, fy, principal.email],
        )



def _raise_form_problems(form: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise BadInput([Problem(form, None, column, reason) for column, reason in problems])

"""People over time (docs/people.md): each rep's territory and manager from a day on, the
editor of that history, and the SQL that finds a rep's territory on any date."""

from __future__ import annotations

from datetime import date

import pandas as pd

from salesplan import policy
from salesplan.errors import BadInput
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import StoreBase

ALWAYS = date(1900, 1, 1)  # effective_from of a rep's first known territory: since always

# each history row with the day its successor starts (NULL: still in effect)
SPANS = (
    "SELECT rep_id, effective_from, territory, manager, "
    "lead(effective_from) OVER (PARTITION BY rep_id ORDER BY effective_from) AS effective_to "
    "FROM rep_history"
)


def history_join(rep_expr: str, date_expr: str, alias: str = "h") -> str:
    """LEFT JOIN of the history row (alias ``alias``) in effect for the rep on the date."""
    return (
        f"LEFT JOIN ({SPANS}) {alias} ON {alias}.rep_id = {rep_expr} AND {date_expr} >= {alias}.effective_from "
        f"AND ({alias}.effective_to IS NULL OR {date_expr} < {alias}.effective_to)"
    )


# reps.territory / reps.manager hold what is in effect today (lists, scoping by current manager)
REFRESH_CURRENT = """
    UPDATE reps SET
        territory = (SELECT h.territory FROM rep_history h WHERE h.rep_id = reps.rep_id
                     AND h.effective_from <= current_date ORDER BY h.effective_from DESC LIMIT 1),
        manager = (SELECT h.manager FROM rep_history h WHERE h.rep_id = reps.rep_id
                   AND h.effective_from <= current_date ORDER BY h.effective_from DESC LIMIT 1)
    WHERE EXISTS (SELECT 1 FROM rep_history h WHERE h.rep_id = reps.rep_id AND h.effective_from <= current_date)
"""


class PeopleHistoryStore(StoreBase):
    """Each rep's territory and manager over time, and the Admin page's editor of it."""

    def rep_history(self, principal: Principal, rep_id: str | None = None) -> pd.DataFrame:
        """History rows (rep_id, effective_from, effective_to exclusive or NaT, territory,
        manager, batch_id) of the reps the principal may see, or of one rep (raises NotAllowed
        when the principal may not see that rep)."""
        if rep_id is not None:
            self.require_rep_access(principal, rep_id)
        visible = self.visible_rep_ids(principal)
        with self.cursor() as cursor:
            frame = cursor.execute(
                f"SELECT s.rep_id, s.effective_from, s.effective_to, s.territory, s.manager, h.batch_id "
                f"FROM ({SPANS}) s JOIN rep_history h USING (rep_id, effective_from) "
                "ORDER BY s.rep_id, s.effective_from"
            ).df()
        if rep_id is not None:
            frame = frame[frame["rep_id"] == rep_id]
        elif visible is not None:
            frame = frame[frame["rep_id"].isin(visible)]
        return frame.reset_index(drop=True)

    def set_rep_history(
        self, principal: Principal, rep_id: str, effective_from: date, territory: str | None, manager: str | None
    ) -> None:
        """Put ``rep_id`` in ``territory`` under ``manager`` from ``effective_from`` on (replacing
        a row of that same day). Raises NotAllowed unless admin, BadInput for an unknown rep,
        territory or manager, a rep managing themself or a date out of range."""
        policy.require(principal, "edit_people")
        if not ALWAYS <= effective_from <= date(2199, 12, 31):
            raise BadInput.single("people", f"effective_from {effective_from} is out of range", column="effective_from")
        if manager == rep_id:
            raise BadInput.single("people", "a rep cannot be their own manager", column="manager")

        def work(cursor: Cursor) -> None:
            known = {row[0] for row in cursor.execute("SELECT rep_id FROM reps").fetchall()}
            if rep_id not in known:
                raise BadInput.single("people", f"unknown rep {rep_id!r}", column="rep_id")
            if manager is not None and manager not in known:
                raise BadInput.single("people", f"unknown manager {manager!r}: not a rep_id", column="manager")
            if territory is not None and not cursor.execute(
                "SELECT count(*) FROM territories WHERE territory = ?", [territory]
            ).fetchall()[0][0]:
                raise BadInput.single("people", f"unknown territory {territory!r}", column="territory")
            cursor.execute(
                "INSERT INTO rep_history VALUES (?, ?, ?, ?, NULL) ON CONFLICT (rep_id, effective_from) "
                "DO UPDATE SET territory = excluded.territory, manager = excluded.manager, batch_id = NULL",
                [rep_id, effective_from, territory, manager],
            )
            cursor.execute(REFRESH_CURRENT)

        self.write(principal, "rep history", f"{rep_id} from {effective_from}: {territory or '-'} / {manager or '-'}", work)

    def delete_rep_history(self, principal: Principal, rep_id: str, effective_from: date) -> None:
        """Remove one history row (the previous one then runs on); the rep's first row cannot go.
        Raises NotAllowed unless admin, BadInput when there is no such row or it is the only one."""
        policy.require(principal, "edit_people")

        def work(cursor: Cursor) -> None:
            days = [row[0] for row in cursor.execute(
                "SELECT effective_from FROM rep_history WHERE rep_id = ? ORDER BY effective_from", [rep_id]
            ).fetchall()]
            if effective_from not in days:
                raise BadInput.single("people", f"{rep_id} has no history row from {effective_from}")
            if len(days) == 1:
                raise BadInput.single("people", f"{effective_from} is {rep_id}'s only history row: change it instead")
            cursor.execute("DELETE FROM rep_history WHERE rep_id = ? AND effective_from = ?", [rep_id, effective_from])
            cursor.execute(REFRESH_CURRENT)

        self.write(principal, "rep history", f"{rep_id}: row from {effective_from} removed", work)

    def set_rep_end_date(self, principal: Principal, rep_id: str, end_date: date | None) -> None:
        """A leaver's last day (docs/people.md), or None for a rep who is not leaving. The rep's
        targets of months that start after it are ignored from then on (and refused on import);
        their actuals stay. Raises NotAllowed unless admin, BadInput for an unknown rep, a date
        out of range or before the rep's start date."""
        policy.require(principal, "edit_people")
        if end_date is not None and not ALWAYS <= end_date <= date(2199, 12, 31):
            raise BadInput.single("people", f"end_date {end_date} is out of range", column="end_date")

        def work(cursor: Cursor) -> None:
            rows = cursor.execute("SELECT start_date FROM reps WHERE rep_id = ?", [rep_id]).fetchall()
            if not rows:
                raise BadInput.single("people", f"unknown rep {rep_id!r}", column="rep_id")
            start = rows[0][0]
            if end_date is not None and start is not None and end_date < start:
                raise BadInput.single("people", f"the end date {end_date} is before {rep_id}'s start date {start}",
                                      column="end_date")
            cursor.execute("UPDATE reps SET end_date = ? WHERE rep_id = ?", [end_date, rep_id])

        self.write(principal, "rep end date", f"{rep_id}: {end_date or 'no end date'}", work)

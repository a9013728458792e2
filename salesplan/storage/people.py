"""Reference data: reps, territories, regions and holidays; their imports and edits."""

from __future__ import annotations

from datetime import date

import pandas as pd

from salesplan import policy
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import BatchCounts
from salesplan.storage.batches import BatchStore
from salesplan.storage.people_history import REFRESH_CURRENT, history_join


class PeopleStore(BatchStore):  # its imports are batches too
    """Reference data: reps, territories, regions and holidays; their imports and edits."""

    # ------------------------------------------------------------------ reference data
    def reps(self, principal: Principal) -> pd.DataFrame:
        """Reps the principal may see, with their territory, region and manager in effect today
        and ``left`` (True once their end_date has passed: listed as having left, docs/people.md)."""
        visible = self.visible_rep_ids(principal)
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT rep_id, name, email, territory, region, manager, start_date, end_date, "
                "coalesce(end_date < current_date, false) AS \"left\" "
                "FROM reps ORDER BY rep_id"
            ).df()
        if visible is not None:
            frame = frame[frame["rep_id"].isin(visible)].reset_index(drop=True)
        return frame

    def territories(self, principal: Principal) -> pd.DataFrame:
        with self.cursor() as cursor:
            return cursor.execute("SELECT territory, region FROM territories ORDER BY territory").df()

    def holidays(self, principal: Principal) -> pd.DataFrame:
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT holiday_date AS date, name, nullif(territory, '') AS territory "
                "FROM holidays ORDER BY holiday_date, territory"
            ).df()
        return frame

    def rep_lookup(self) -> pd.DataFrame:
        """All reps with the keys an import may name them by (rep_id, email, name).

        Used only by imports to resolve and validate rows; not scoped, never shown.
        """
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT rep_id, name, email, territory, manager, start_date, end_date FROM reps"
            ).df()

    def territory_names(self) -> list[str]:
        with self.cursor() as cursor:
            return [row[0] for row in cursor.execute("SELECT territory FROM territories").fetchall()]
    # ------------------------------------------------------------------ applying imports
    def apply_reps(
        self,
        principal: Principal,
        reps: pd.DataFrame,
        *,
        file_name: str | None,
        sha256: str | None,
        rejected: int = 0,
    ) -> tuple[int, BatchCounts]:
        """Upsert validated reps (columns of inputs.REPS_COLUMNS, optionally effective_from) and
        derive territories/regions.

        A rep's territory and manager go into rep_history from ``effective_from`` on (docs/people.md):
        without it, a new rep's from always and a known rep's changed ones from today. A rep may
        come on several rows with different effective_from dates; the rest of their row is the
        same on each (the importer checks).

        Raises NotAllowed unless admin, or a manager adding only new reps under themself in their
        team's territories (or none), without moving a territory to another region or taking a
        rep's name (policy ``add_reps``); BadInput when the database refuses a value.
        """
        columns = ["rep_id", "name", "email", "territory", "region", "manager", "start_date", "end_date"]
        history = reps[["rep_id", "territory", "region", "manager"]].copy()
        history["effective_from"] = reps["effective_from"] if "effective_from" in reps.columns else pd.NaT
        history["effective_from"] = pd.to_datetime(history["effective_from"])
        # the reps table holds one row per rep: the one with the latest effective_from (the
        # history sets what is in effect today right after)
        order = history["effective_from"].reset_index(drop=True).sort_values(kind="stable", na_position="last").index
        incoming = reps[columns].iloc[order].drop_duplicates("rep_id", keep="last").copy()
        if not policy.may(principal, "import_reps"):
            # a manager adding people from an export: only new reps, each under the manager
            lookup = self.rep_lookup()
            known = set(lookup["rep_id"])
            # every row counts, not only each rep's latest: an earlier row may be the one in effect
            regions = dict(self.territories(principal).itertuples(index=False, name=None))
            moved = {t for t, r in zip(history["territory"], history["region"])
                     if not pd.isna(t) and not pd.isna(r) and t in regions and r != regions[t]}
            policy.require(principal, "add_reps", existing=set(incoming["rep_id"]) & known,
                           managers={None if pd.isna(m) else m for m in history["manager"]},
                           moved_territories=moved,
                           territories_outside=set(history["territory"].dropna()) - set(
                               lookup[lookup["rep_id"].isin(self.visible_rep_ids(principal) or set())]["territory"].dropna()),
                           taken_names=set(incoming["name"].dropna()) & set(lookup["name"].dropna()))

        def work(cursor: Cursor) -> tuple[int, BatchCounts]:
            cursor.stage("incoming_history", history)
            cursor.temp_table(
                "staged_history",
                """
                SELECT DISTINCT i.rep_id, coalesce(CAST(i.effective_from AS DATE), CASE WHEN EXISTS (
                           SELECT 1 FROM rep_history h WHERE h.rep_id = i.rep_id) THEN current_date
                           ELSE DATE '1900-01-01' END) AS effective_from,
                       i.territory, i.region, i.manager
                FROM incoming_history i
                """,
            )
            cursor.unstage("incoming_history")
            cursor.stage("incoming_reps", incoming)
            inserted, updated, unchanged = cursor.execute(
                """
                SELECT count(*) FILTER (WHERE r.rep_id IS NULL),
                       count(*) FILTER (WHERE r.rep_id IS NOT NULL AND (
                           i.name IS DISTINCT FROM r.name OR i.email IS DISTINCT FROM r.email
                           OR i.territory IS DISTINCT FROM r.territory OR i.region IS DISTINCT FROM r.region
                           OR i.manager IS DISTINCT FROM r.manager
                           OR i.start_date::DATE IS DISTINCT FROM r.start_date
                           OR i.end_date::DATE IS DISTINCT FROM r.end_date)),
                       count(*) FILTER (WHERE r.rep_id IS NOT NULL AND NOT (
                           i.name IS DISTINCT FROM r.name OR i.email IS DISTINCT FROM r.email
                           OR i.territory IS DISTINCT FROM r.territory OR i.region IS DISTINCT FROM r.region
                           OR i.manager IS DISTINCT FROM r.manager
                           OR i.start_date::DATE IS DISTINCT FROM r.start_date
                           OR i.end_date::DATE IS DISTINCT FROM r.end_date))
                FROM incoming_reps i LEFT JOIN reps r USING (rep_id)
                """
            ).fetchall()[0]
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), rejected)
            batch_id = self._new_batch(
                cursor, kind="reps", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=rejected > 0,
            )
            cursor.execute(
                """
                INSERT INTO reps
                SELECT rep_id, name, email, territory, region, manager, start_date::DATE, end_date::DATE, ?
                FROM incoming_reps
                ON CONFLICT (rep_id) DO UPDATE SET name = excluded.name, email = excluded.email,
                    territory = excluded.territory, region = excluded.region, manager = excluded.manager,
                    start_date = excluded.start_date, end_date = excluded.end_date, batch_id = excluded.batch_id
                """,
                [batch_id],
            )
            # a history row only where it changes what was in effect on its day
            cursor.execute(
                f"""
                INSERT INTO rep_history
                SELECT s.rep_id, s.effective_from, s.territory, s.manager, ?
                FROM staged_history s {history_join("s.rep_id", "s.effective_from")}
                WHERE h.rep_id IS NULL OR h.effective_from = s.effective_from
                   OR h.territory IS DISTINCT FROM s.territory OR h.manager IS DISTINCT FROM s.manager
                ON CONFLICT (rep_id, effective_from) DO UPDATE SET territory = excluded.territory,
                    manager = excluded.manager, batch_id = excluded.batch_id
                """,
                [batch_id],
            )
            cursor.execute(REFRESH_CURRENT)
            cursor.execute(
                """
                INSERT INTO territories
                SELECT territory, max(region) FROM incoming_reps
                WHERE territory IS NOT NULL GROUP BY territory
                ON CONFLICT (territory) DO UPDATE SET region = coalesce(excluded.region, territories.region)
                """
            )
            # territories named only on a rep's earlier rows
            cursor.execute(
                """
                INSERT INTO territories
                SELECT territory, max(region) FROM staged_history
                WHERE territory IS NOT NULL GROUP BY territory
                ON CONFLICT (territory) DO NOTHING
                """
            )
            cursor.execute("DROP TABLE staged_history")
            cursor.execute(
                "INSERT INTO regions SELECT DISTINCT region FROM territories WHERE region IS NOT NULL "
                "ON CONFLICT DO NOTHING"
            )
            cursor.unstage("incoming_reps")
            return batch_id, counts

        return self.write(principal, "import reps", file_name or "", work)

    def apply_holidays(
        self, principal: Principal, holidays: pd.DataFrame, *, file_name: str | None, sha256: str | None,
        rejected: int = 0,
    ) -> tuple[int, BatchCounts]:
        """Upsert validated holidays (date, name, territory with '' = org-wide)."""
        policy.require(principal, "import_holidays")
        incoming = holidays[["date", "name", "territory"]].copy()
        incoming["territory"] = incoming["territory"].fillna("")

        def work(cursor: Cursor) -> tuple[int, BatchCounts]:
            cursor.stage("incoming_holidays", incoming)
            inserted, updated, unchanged = cursor.execute(
                """
                SELECT count(*) FILTER (WHERE h.holiday_date IS NULL),
                       count(*) FILTER (WHERE h.holiday_date IS NOT NULL AND i.name IS DISTINCT FROM h.name),
                       count(*) FILTER (WHERE h.holiday_date IS NOT NULL AND i.name IS NOT DISTINCT FROM h.name)
                FROM incoming_holidays i
                LEFT JOIN holidays h ON h.holiday_date = i.date::DATE AND h.territory = i.territory
                """
            ).fetchall()[0]
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), rejected)
            batch_id = self._new_batch(
                cursor, kind="holidays", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=rejected > 0,
            )
            cursor.execute(
                "INSERT INTO holidays SELECT date::DATE, territory, name, ? FROM incoming_holidays "
                "ON CONFLICT (holiday_date, territory) DO UPDATE SET name = excluded.name, batch_id = excluded.batch_id",
                [batch_id],
            )
            cursor.unstage("incoming_holidays")
            return batch_id, counts

        return self.write(principal, "import holidays", file_name or "", work)

    def delete_holiday(self, principal: Principal, holiday_date: date, territory: str | None) -> None:
        policy.require(principal, "edit_calendar")

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "DELETE FROM holidays WHERE holiday_date = ? AND territory = ?", [holiday_date, territory or ""]
            )

        self.write(principal, "delete holiday", f"{holiday_date} {territory or 'org'}", work)

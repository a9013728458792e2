"""Upload batches: recording them, listing them per role, their rejected rows, and undo."""

from __future__ import annotations

from typing import Any

import pandas as pd

from salesplan import policy
from salesplan.errors import (
    BadInput,
    NotFound,
)
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import BatchCounts, StoreBase
from salesplan.text import without_controls


class BatchStore(StoreBase):
    """Upload batches: recording them, listing them per role, their rejected rows, and undo."""

    # ------------------------------------------------------------------ batches
    def _new_batch(
        self,
        cursor: Cursor,
        *,
        kind: str,
        file_name: str | None,
        sha256: str | None,
        principal: Principal,
        counts: BatchCounts,
        valid_only: bool,
        reason: str | None = None,
    ) -> int:
        batch_id = int(cursor.execute("SELECT nextval('batch_seq')").fetchall()[0][0])
        # a file name is the user's text and is shown in terminals and pages: no control characters
        file_name = None if file_name is None else without_controls(file_name)
        cursor.execute(
            "INSERT INTO upload_batches (batch_id, kind, file_name, sha256, uploaded_by, uploaded_at, "
            "rows_inserted, rows_updated, rows_unchanged, rows_rejected, valid_only, reason, "
            "uploader_role, uploader_rep_id) "
            "VALUES (?, ?, ?, ?, ?, localtimestamp, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id, kind, file_name, sha256, principal.email, counts.inserted, counts.updated,
                counts.unchanged, counts.rejected, valid_only, reason, principal.role, principal.rep_id,
            ],
        )
        return batch_id

    def batches(self, principal: Principal) -> pd.DataFrame:
        """Upload batches, newest first. Reps see their own uploads, managers their team's, and
        both see every batch that changed a sale or target of a rep in their scope, whoever
        uploaded it: a manager re-crediting a sale from one rep to another shows in both reps'
        history. Column ``details`` says whether the principal may see the batch's details,
        rejected rows and undo it (``see_batch``); for a batch listed only because it touched the
        principal's reps, the file name, checksum, reason and counts are blank (they may describe
        other reps). Raises nothing of its own."""
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT batch_id, kind, file_name, sha256, uploaded_by, uploaded_at, rows_inserted, "
                "rows_updated, rows_unchanged, rows_rejected, valid_only, reason, reverted_at, reverted_by, "
                "uploader_role, uploader_rep_id "
                "FROM upload_batches ORDER BY batch_id DESC"
            ).df()
        if policy.may(principal, "read_all"):
            return frame.drop(columns=["uploader_role", "uploader_rep_id"]).assign(details=True)
        team = self.visible_rep_ids(principal) or set()
        visible = sorted(team)
        with self.cursor() as cursor:
            touching = {row[0] for row in cursor.execute(
                """
                SELECT batch_id FROM actual_versions WHERE row_key IN (
                    SELECT row_key FROM actual_versions WHERE rep_id IN (SELECT unnest(?::VARCHAR[])))
                UNION
                SELECT batch_id FROM target_versions WHERE owner_type = 'rep' AND owner_id IN (SELECT unnest(?::VARCHAR[]))
                """,
                [visible, visible],
            ).fetchall()}
        in_scope: list[bool] = [
            self._batch_in_scope(principal, {str(key): value for key, value in row.items()}, team)
            for row in frame.to_dict("records")
        ]
        details = pd.Series(in_scope, index=frame.index, dtype=bool)
        frame = frame[details | frame["batch_id"].isin(touching)].assign(details=details)
        frame = frame.drop(columns=["uploader_role", "uploader_rep_id"]).reset_index(drop=True)
        hidden = ~frame["details"]
        frame[["file_name", "sha256", "reason"]] = frame[["file_name", "sha256", "reason"]].astype(object)
        frame.loc[hidden, ["file_name", "sha256", "reason"]] = None
        for column in ("rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected"):
            frame[column] = frame[column].astype("Int64")
            frame.loc[hidden, column] = pd.NA
        return frame

    @staticmethod
    def _batch_in_scope(principal: Principal, info: dict[str, Any], team: set[str]) -> bool:
        """Whether the batch was uploaded by the principal or their team, by the uploader's role
        and rep_id recorded with the batch (never by email alone: see policy.batch_in_scope)."""
        return policy.batch_in_scope(
            principal, uploaded_by=str(info["uploaded_by"]), uploader_role=info.get("uploader_role"),
            uploader_rep_id=info.get("uploader_rep_id"), team=team,
        )

    def batch(self, batch_id: int) -> dict[str, Any]:
        with self.cursor() as cursor:
            result = cursor.execute("SELECT * FROM upload_batches WHERE batch_id = ?", [batch_id])
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
        row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"There is no upload batch {batch_id}.")
        return dict(zip(columns, row))

    def rejected_rows(self, principal: Principal, batch_id: int) -> pd.DataFrame:
        """The rows a valid-only import left out, with their problems, for download."""
        self._require_batch_access(principal, batch_id)
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT line, problems, record FROM rejected_rows WHERE batch_id = ? ORDER BY line", [batch_id]
            ).df()

    def _require_batch_access(self, principal: Principal, batch_id: int, *, undo: bool = False) -> dict[str, Any]:
        """A batch's details, for who uploaded it (or manages the uploader) or sees everything.
        Seeing a batch in the history is broader (see ``batches``); its rejected rows and its undo
        are not. An undo also needs every rep whose sales or targets it touched, now or before, in
        the principal's scope. Raises NotFound, NotAllowed."""
        info = self.batch(batch_id)
        if policy.may(principal, "read_all"):
            return info
        visible = self.visible_rep_ids(principal) or set()
        policy.require(principal, "see_batch", batch_id=batch_id,
                       in_scope=self._batch_in_scope(principal, info, visible))
        if undo:
            with self.cursor() as cursor:
                touched = {row[0] for row in cursor.execute(
                    """
                    SELECT rep_id FROM actual_versions WHERE row_key IN (
                        SELECT row_key FROM actual_versions WHERE batch_id = ?)
                    UNION
                    SELECT owner_id FROM target_versions WHERE batch_id = ? AND owner_type = 'rep'
                    UNION
                    SELECT rep_id FROM deal_snapshot_reps WHERE batch_id = ?
                    """,
                    [batch_id, batch_id, batch_id],
                ).fetchall()}
            policy.require(principal, "undo_batch", batch_id=batch_id, in_scope=True, touched_outside=touched - visible)
        return info

    def undo(self, principal: Principal, batch_id: int) -> dict[str, Any]:
        """Revert a batch: each key it held goes back to the newest batch still holding it.

        Nothing is deleted from the version tables. Raises NotFound, NotAllowed, or BadInput when
        the batch is already reverted or is of a kind that cannot be undone (reps, holidays).
        """
        info = self._require_batch_access(principal, batch_id, undo=True)
        policy.require(principal, "undo_batch", batch_id=batch_id, in_scope=True)
        if info["reverted_at"] is not None:
            raise BadInput.single("uploads", f"batch {batch_id} was already undone at {info['reverted_at']}")
        kind = info["kind"]
        if kind not in ("actuals", "targets", *_UNDONE_BY_MARK):
            raise BadInput.single(
                "uploads", f"batch {batch_id} imported {kind}; such imports cannot be undone: import the previous file again"
            )

        def work(cursor: Cursor) -> None:
            # checked again inside the transaction: two sessions may press "undo" at once
            reverted = cursor.execute("SELECT reverted_at FROM upload_batches WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
            if reverted is not None:
                raise BadInput.single("uploads", f"batch {batch_id} was already undone at {reverted}")
            cursor.execute(
                "UPDATE upload_batches SET reverted_at = localtimestamp, reverted_by = ? WHERE batch_id = ?",
                [principal.email, batch_id],
            )
            if kind in _UNDONE_BY_MARK:
                pass  # reads skip reverted batches: the mark above is the whole undo
            elif kind == "actuals":
                cursor.temp_table(
                    "undo_keys", "SELECT DISTINCT row_key FROM actual_versions WHERE batch_id = ?", [batch_id]
                )
                cursor.execute("DELETE FROM actuals WHERE row_key IN (SELECT row_key FROM undo_keys)")
                cursor.execute(
                    f"""
                    INSERT INTO actuals
                    SELECT DISTINCT ON (v.row_key) {_ACTUAL_COLUMNS_FROM_V}
                    FROM actual_versions v
                    JOIN upload_batches b USING (batch_id)
                    WHERE b.reverted_at IS NULL AND v.row_key IN (SELECT row_key FROM undo_keys)
                    ORDER BY v.row_key, v.batch_id DESC
                    """
                )
                cursor.execute("DROP TABLE undo_keys")
            else:
                cursor.temp_table(
                    "undo_cells",
                    "SELECT DISTINCT owner_type, owner_id, metric, month FROM target_versions WHERE batch_id = ?",
                    [batch_id],
                )
                cursor.execute(
                    "DELETE FROM targets t USING undo_cells u WHERE t.owner_type = u.owner_type "
                    "AND t.owner_id = u.owner_id AND t.metric = u.metric AND t.month = u.month"
                )
                cursor.execute(
                    """
                    INSERT INTO targets
                    SELECT DISTINCT ON (v.owner_type, v.owner_id, v.metric, v.month)
                           v.owner_type, v.owner_id, v.metric, v.month, v.amount, v.batch_id
                    FROM target_versions v
                    JOIN upload_batches b USING (batch_id)
                    JOIN undo_cells u USING (owner_type, owner_id, metric, month)
                    WHERE b.reverted_at IS NULL
                    ORDER BY v.owner_type, v.owner_id, v.metric, v.month, v.batch_id DESC
                    """
                )
                cursor.execute("DROP TABLE undo_cells")

        self.write(principal, "undo", f"batch {batch_id} ({kind})", work)
        return self.batch(batch_id)



# kinds whose reads resolve the newest batch that is not reverted (deal snapshots), so that
# marking the batch is all an undo needs
_UNDONE_BY_MARK = ("deals",)

_ACTUAL_COLUMNS_FROM_V = (
    "v.row_key, v.batch_id, v.line, v.sale_date, v.rep_id, v.territory, v.revenue, v.cost, v.profit, "
    "v.order_id, v.order_line, v.customer, v.product"
)

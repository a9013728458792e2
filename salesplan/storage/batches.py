"""Upload batches: recording them, listing them per role, their rejected rows, and undo."""

from __future__ import annotations

from typing import cast

import pandas as pd

from salesplan import policy
from salesplan.errors import (
    BadInput,
    NotFound,
)
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import BatchCounts, StoreBase
from salesplan.storage.records import BatchRecord
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
        # a file name is the user's text and is shown in terminals and pages: no control characters
        file_name = None if file_name is None else without_controls(file_name)
        # the id from the sequence and the row in one statement (every write of a batch pays each one)
        return int(cursor.execute(
            "INSERT INTO upload_batches (batch_id, kind, file_name, sha256, uploaded_by, uploaded_at, "
            "rows_inserted, rows_updated, rows_unchanged, rows_rejected, valid_only, reason, "
            "uploader_role, uploader_rep_id) "
            "VALUES (nextval('batch_seq'), ?, ?, ?, ?, localtimestamp, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING batch_id",
            [
                kind, file_name, sha256, principal.email, counts.inserted, counts.updated,
                counts.unchanged, counts.rejected, valid_only, reason, principal.role, principal.rep_id,
            ],
        ).fetchall()[0][0])

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
            self._batch_in_scope(principal, cast(BatchRecord, {str(key): value for key, value in row.items()}), team)
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
    def _batch_in_scope(principal: Principal, info: BatchRecord, team: set[str]) -> bool:
        """Whether the batch was uploaded by the principal or their team, by the uploader's role
        and rep_id recorded with the batch (never by email alone: see policy.batch_in_scope)."""
        return policy.batch_in_scope(
            principal, uploaded_by=str(info["uploaded_by"]), uploader_role=info.get("uploader_role"),
            uploader_rep_id=info.get("uploader_rep_id"), team=team,
        )

    def batch(self, batch_id: int) -> BatchRecord:
        with self.cursor() as cursor:
            result = cursor.execute("SELECT * FROM upload_batches WHERE batch_id = ?", [batch_id])
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
        row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"There is no upload batch {batch_id}.")
        return cast(BatchRecord, dict(zip(columns, row, strict=True)))

    def rejected_rows(self, principal: Principal, batch_id: int) -> pd.DataFrame:
        """The rows a valid-only import left out, with their problems, for download."""
        self._require_batch_access(principal, batch_id)
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT line, problems, record FROM rejected_rows WHERE batch_id = ? ORDER BY line", [batch_id]
            ).df()

    def _require_batch_access(self, principal: Principal, batch_id: int, *, undo: bool = False) -> BatchRecord:
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
                        SELECT row_key FROM actual_versions WHERE batch_id = ?
                        -- the keys it held unchanged (docs/decisions.md) are touched by its undo too
                        UNION SELECT v.row_key FROM actual_batch_holds h
                              JOIN actual_versions v ON v.batch_id = h.source_batch_id WHERE h.batch_id = ?
                        UNION SELECT row_key FROM actual_key_holds WHERE batch_id = ?)
                    UNION
                    SELECT owner_id FROM target_versions WHERE batch_id = ? AND owner_type = 'rep'
                    UNION
                    SELECT rep_id FROM deal_snapshot_reps WHERE batch_id = ?
                    """,
                    [batch_id, batch_id, batch_id, batch_id, batch_id],
                ).fetchall()}
            policy.require(principal, "undo_batch", batch_id=batch_id, in_scope=True, touched_outside=touched - visible)
        return info

    def undo(self, principal: Principal, batch_id: int) -> BatchRecord:
        """Revert a batch: each key it held goes back to the newest batch still holding it.

        An actuals batch holds the keys it wrote a version of and the keys it found unchanged
        (docs/decisions.md); a key no batch still holds leaves the ledger.

        Nothing is deleted from the version tables. Returns the batch (as :meth:`batch`) plus
        ``kept_by_newer``, how many of its keys (actual rows, target cells, reps of a deals
        snapshot) a newer batch not undone still holds, so their current values do not change,
        and ``newer_batches``, those batches' ids. Raises NotFound, NotAllowed, or BadInput when
        the batch is already reverted or is of a kind that cannot be undone (reps, holidays).
        """
        info = self._require_batch_access(principal, batch_id, undo=True)
        policy.require(principal, "undo_batch", batch_id=batch_id, in_scope=True)
        if info["reverted_at"] is not None:
            raise BadInput.single("uploads", f"batch {batch_id} was already undone at {info['reverted_at']}")
        kind = info["kind"]
        if kind not in ("actuals", "targets", "rates", *_UNDONE_BY_MARK):
            raise BadInput.single(
                "uploads", f"batch {batch_id} imported {kind}; such imports cannot be undone: import the previous file again"
            )

        def work(cursor: Cursor) -> tuple[int, list[int]]:
            # checked again inside the transaction: two sessions may press "undo" at once
            reverted = cursor.execute("SELECT reverted_at FROM upload_batches WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
            if reverted is not None:
                raise BadInput.single("uploads", f"batch {batch_id} was already undone at {reverted}")
            cursor.execute(
                "UPDATE upload_batches SET reverted_at = localtimestamp, reverted_by = ? WHERE batch_id = ?",
                [principal.email, batch_id],
            )
            if kind in _UNDONE_BY_MARK:
                # reads skip reverted batches: the mark above is the whole undo
                return _held_by_newer(cursor, batch_id, _NEWER_SNAPSHOT_HOLDS)
            if kind == "actuals":
                # the keys the batch holds: those it wrote a version of and those it found
                # unchanged (recorded as holds, see ledger.apply_actuals)
                cursor.temp_table(
                    "undo_keys",
                    """
                    SELECT row_key FROM actual_versions WHERE batch_id = ?
                    UNION SELECT v.row_key FROM actual_batch_holds h JOIN actual_versions v ON v.batch_id = h.source_batch_id
                          WHERE h.batch_id = ?
                    UNION SELECT row_key FROM actual_key_holds WHERE batch_id = ?
                    """,
                    [batch_id, batch_id, batch_id],
                )
                held = _held_by_newer(cursor, batch_id, _NEWER_ACTUAL_HOLDS)
                # each key takes the values of the newest batch still holding it, whether that batch
                # wrote them or held them unchanged (then they are the held version's values): that
                # version becomes the current one (migration 80), by flags, nothing copied
                cursor.temp_table(
                    "undo_current",
                    """
                    SELECT DISTINCT ON (v.row_key) v.row_key, v.batch_id
                    FROM (
                        SELECT v.batch_id AS holder, v.row_key, v.batch_id FROM actual_versions v
                        WHERE v.row_key IN (SELECT row_key FROM undo_keys)
                        UNION ALL
                        SELECT h.batch_id AS holder, v.row_key, v.batch_id FROM actual_batch_holds h
                        JOIN actual_versions v ON v.batch_id = h.source_batch_id
                        WHERE v.row_key IN (SELECT row_key FROM undo_keys)
                        UNION ALL
                        SELECT k.batch_id AS holder, v.row_key, v.batch_id FROM actual_key_holds k
                        JOIN actual_versions v ON v.batch_id = k.source_batch_id AND v.row_key = k.row_key
                        WHERE k.row_key IN (SELECT row_key FROM undo_keys)
                    ) v
                    JOIN upload_batches b ON b.batch_id = v.holder
                    WHERE b.reverted_at IS NULL
                    ORDER BY v.row_key, v.holder DESC
                    """,
                )
                # only the flags that change are written; a key no batch still holds has no current
                # version, so it leaves the ledger
                cursor.execute(
                    "UPDATE actual_versions SET is_current = false WHERE is_current "
                    "AND row_key IN (SELECT row_key FROM undo_keys) AND NOT EXISTS (SELECT 1 FROM undo_current u "
                    "WHERE u.row_key = actual_versions.row_key AND u.batch_id = actual_versions.batch_id)"
                )
                cursor.execute(
                    "UPDATE actual_versions SET is_current = true WHERE NOT is_current "
                    "AND row_key IN (SELECT row_key FROM undo_current) AND EXISTS (SELECT 1 FROM undo_current u "
                    "WHERE u.row_key = actual_versions.row_key AND u.batch_id = actual_versions.batch_id)"
                )
                cursor.execute("DROP TABLE undo_current")
                cursor.execute("DROP TABLE undo_keys")
            elif kind == "rates":
                # rates.py builds on this module
                from salesplan.storage.rates import undo_rates

                undo_rates(cursor, batch_id)
                held = (0, [])  # a rate undone goes back to the newest earlier version, said by rates.py
            else:
                cursor.temp_table(
                    "undo_cells",
                    "SELECT DISTINCT owner_type, owner_id, metric, month FROM target_versions WHERE batch_id = ?",
                    [batch_id],
                )
                held = _held_by_newer(cursor, batch_id, _NEWER_TARGET_HOLDS)
                cursor.execute(
                    "DELETE FROM targets t USING undo_cells u WHERE t.owner_type = u.owner_type "
                    "AND t.owner_id = u.owner_id AND t.metric = u.metric AND t.month = u.month"
                )
                cursor.execute(
                    """
                    INSERT INTO targets
                    SELECT DISTINCT ON (v.owner_type, v.owner_id, v.metric, v.month)
                           v.owner_type, v.owner_id, v.metric, v.month, v.amount, v.batch_id, v.currency
                    FROM target_versions v
                    JOIN upload_batches b USING (batch_id)
                    JOIN undo_cells u USING (owner_type, owner_id, metric, month)
                    WHERE b.reverted_at IS NULL
                    ORDER BY v.owner_type, v.owner_id, v.metric, v.month, v.batch_id DESC
                    """
                )
                cursor.execute("DROP TABLE undo_cells")
            return held

        kept, holders = self.write(principal, "undo", f"batch {batch_id} ({kind})", work)
        result = self.batch(batch_id)
        # what the page says: keys still held by a newer batch keep their current values
        result["kept_by_newer"] = kept
        result["newer_batches"] = holders
        return result



# the keys (actual rows, target cells, reps of a deals snapshot) of the undone batch (?) that a
# newer batch not undone also wrote: their current values do not change with the undo
# a newer batch holds a key when it wrote a version of it or found it unchanged (its holds, see
# ledger.apply_actuals and docs/decisions.md)
_NEWER_ACTUAL_HOLDS = """
    SELECT v.row_key AS k, v.batch_id FROM actual_versions v JOIN upload_batches b USING (batch_id)
    WHERE b.reverted_at IS NULL AND v.batch_id > ? AND v.row_key IN (SELECT row_key FROM undo_keys)
    UNION
    SELECT sv.row_key AS k, h.batch_id FROM actual_batch_holds h
    JOIN actual_versions sv ON sv.batch_id = h.source_batch_id
    JOIN upload_batches b ON b.batch_id = h.batch_id
    WHERE b.reverted_at IS NULL AND h.batch_id > ? AND sv.row_key IN (SELECT row_key FROM undo_keys)
    UNION
    SELECT kh.row_key AS k, kh.batch_id FROM actual_key_holds kh
    JOIN upload_batches b ON b.batch_id = kh.batch_id
    WHERE b.reverted_at IS NULL AND kh.batch_id > ? AND kh.row_key IN (SELECT row_key FROM undo_keys)
"""
_NEWER_TARGET_HOLDS = """
    SELECT v.owner_type || '|' || v.owner_id || '|' || v.metric || '|' || CAST(v.month AS VARCHAR) AS k, v.batch_id
    FROM target_versions v JOIN upload_batches b USING (batch_id)
    JOIN undo_cells u ON u.owner_type = v.owner_type AND u.owner_id = v.owner_id AND u.metric = v.metric
                     AND u.month = v.month
    WHERE b.reverted_at IS NULL AND v.batch_id > ?
"""
_NEWER_SNAPSHOT_HOLDS = """
    SELECT mine.rep_id AS k, later.batch_id FROM deal_snapshot_reps mine
    JOIN deal_snapshot_reps later ON later.rep_id = mine.rep_id
    JOIN upload_batches b ON b.batch_id = later.batch_id
    WHERE b.reverted_at IS NULL AND mine.batch_id = ?
      AND (later.snapshot_date > mine.snapshot_date
           OR (later.snapshot_date = mine.snapshot_date AND later.batch_id > mine.batch_id))
"""


def _held_by_newer(cursor: Cursor, batch_id: int, holds_sql: str) -> tuple[int, list[int]]:
    """How many keys of the batch a newer batch still holds, and those batches' ids."""
    params = [batch_id] * holds_sql.count("?")
    row = cursor.execute(f"SELECT count(DISTINCT k) FROM ({holds_sql}) h", params).fetchall()[0]
    batches = cursor.execute(f"SELECT DISTINCT batch_id FROM ({holds_sql}) h ORDER BY batch_id", params).fetchall()
    return int(row[0]), [int(b[0]) for b in batches]


# kinds whose reads resolve the newest batch that is not reverted (deal snapshots), so that
# marking the batch is all an undo needs
_UNDONE_BY_MARK = ("deals",)

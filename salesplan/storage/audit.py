"""The audit log, table counts and snapshots, and remembered column mappings of uploads."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from salesplan import policy
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import StoreBase


class AuditStore(StoreBase):
    """The audit log, table counts and snapshots, and remembered column mappings of uploads."""

    # ------------------------------------------------------------------ audit
    def audit_log(self, principal: Principal, *, limit: int = 500) -> pd.DataFrame:
        policy.require(principal, "read_audit")
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT logged_at, actor, action, detail FROM audit_log ORDER BY logged_at DESC LIMIT ?", [limit]
            ).df()

    def table_counts(self) -> dict[str, int]:
        """Row counts of every table: used by tests to prove an import changed nothing."""
        with self.cursor() as cursor:
            names = cursor.table_names()
            return {name: int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]) for name in names}

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table except the audit log, sorted: for exact before/after comparisons in tests."""
        with self.cursor() as cursor:
            names = [name for name in cursor.table_names() if name != "audit_log"]
            return {name: sorted(cursor.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}

    # ------------------------------------------------------------------ remembered column mappings
    @staticmethod
    def header_signature(header: list[str]) -> str:
        """The key a mapping is remembered under: the file's headers, normalised, in order."""
        from salesplan.files import normalise_header  # not at import: the report command needs no file reading

        return "|".join(normalise_header(name) for name in header)

    def save_column_map(self, principal: Principal, kind: str, header: list[str], mapping: dict[str, str]) -> None:
        """Remember, for this user only, how a file with these headers maps to fields, for their next
        upload of its kind. Raises NotAllowed for a leader (read-only)."""
        policy.require(principal, "save_column_map")
        signature = self.header_signature(header)
        payload = json.dumps(mapping, sort_keys=True)

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO column_maps (saved_by, kind, header_signature, mapping, saved_at) "
                "VALUES (?, ?, ?, ?, localtimestamp) ON CONFLICT (saved_by, kind, header_signature) "
                "DO UPDATE SET mapping = excluded.mapping, saved_at = excluded.saved_at",
                [principal.email.strip().lower(), kind, signature, payload],
            )

        self.write(principal, "save column mapping", f"{kind}: {signature}", work, changes_data=False)

    def column_map(self, principal: Principal, kind: str, header: list[str]) -> dict[str, str] | None:
        """The mapping this user remembered for files of this kind with exactly these headers, if
        any. Another user's mapping is never applied: it would silently re-read someone's upload."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT mapping FROM column_maps WHERE saved_by = ? AND kind = ? AND header_signature = ?",
                [principal.email.strip().lower(), kind, self.header_signature(header)],
            ).fetchall()
        return json.loads(rows[0][0]) if rows else None

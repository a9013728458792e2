"""The audit log, table counts and snapshots, and remembered column mappings of uploads."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from salesplan import policy
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import StoreBase, data_names


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
            names = data_names(cursor)
            return {name: int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]) for name in names}

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table except the audit log, sorted: for exact before/after comparisons in tests."""
        with self.cursor() as cursor:
            names = [name for name in data_names(cursor) if name != "audit_log"]
            # every table's count in one statement, then the rows of those that have any: most
            # tables of a small store are empty, and each statement has a fixed cost
            counts = dict(cursor.execute(
                " UNION ALL ".join(f"SELECT '{name}', count(*) FROM \"{name}\"" for name in names)
            ).fetchall()) if names else {}
            return {
                name: sorted(cursor.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) if counts.get(name) else []
                for name in names
            }

    # ------------------------------------------------------------------ remembered column mappings
    @staticmethod
    def header_signature(header: list[str]) -> str:
        """The key a mapping is remembered under: the file's headers, normalised, in order."""
        from salesplan.files import normalise_header  # not at import: the report command needs no file reading

        return "|".join(normalise_header(name) for name in header)

    def save_column_map(self, principal: Principal, kind: str, header: list[str], mapping: dict[str, str], *,
                        date_format: str | None = None, decimal: str | None = None) -> None:
        """Remember, for this user only, how a file with these headers maps to fields, and the date
        format and decimal separator ("point" or "comma") they stated for it (None: recognise it),
        for their next upload of its kind. Raises NotAllowed for a leader (read-only)."""
        policy.require(principal, "save_column_map")
        signature = self.header_signature(header)
        payload = json.dumps(mapping, sort_keys=True)

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO column_maps (saved_by, kind, header_signature, mapping, saved_at, date_format, "
                "decimal_separator) VALUES (?, ?, ?, ?, localtimestamp, ?, ?) "
                "ON CONFLICT (saved_by, kind, header_signature) DO UPDATE SET mapping = excluded.mapping, "
                "saved_at = excluded.saved_at, date_format = excluded.date_format, "
                "decimal_separator = excluded.decimal_separator",
                [principal.email.strip().lower(), kind, signature, payload, date_format, decimal],
            )

        self.write(principal, "save column mapping", f"{kind}: {signature}", work, changes_data=False)

    def _column_map_row(self, principal: Principal, kind: str, header: list[str]) -> tuple[Any, ...] | None:
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT mapping, date_format, decimal_separator FROM column_maps "
                "WHERE saved_by = ? AND kind = ? AND header_signature = ?",
                [principal.email.strip().lower(), kind, self.header_signature(header)],
            ).fetchall()
        return tuple(rows[0]) if rows else None

    def column_map(self, principal: Principal, kind: str, header: list[str]) -> dict[str, str] | None:
        """The mapping this user remembered for files of this kind with exactly these headers, if
        any. Another user's mapping is never applied: it would silently re-read someone's upload."""
        row = self._column_map_row(principal, kind, header)
        return json.loads(row[0]) if row else None

    def column_choices(self, principal: Principal, kind: str, header: list[str]) -> dict[str, str | None] | None:
        """The date format and decimal separator this user stated with the mapping of files of this
        kind with exactly these headers (``{"date_format": ..., "decimal": ...}``, None where they
        let the file decide), or None when they saved nothing for it. Raises nothing of its own."""
        row = self._column_map_row(principal, kind, header)
        return {"date_format": row[1], "decimal": row[2]} if row else None

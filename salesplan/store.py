"""The store: the only place that talks to the database.

One DuckDB connection per process; every call takes its own ``cursor()`` (DuckDB's cursors are
separate connections to the same database, safe to use from the calling thread); every write runs
in one transaction through :meth:`Store.write`, which retries DuckDB's write-write conflicts.

Every read and write takes the acting :class:`~salesplan.principal.Principal`; what each role may
see or change is decided in ``_scope`` and ``_require`` here, nowhere else.

A PostgreSQL store will implement the same public methods; callers never see SQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa

from salesplan import auth
from salesplan.files import normalise_header
from salesplan.errors import BadInput, DatabaseLocked, NotAllowed, NotFound, Problem, SalesplanError
from salesplan.inputs import EngineInputs
from salesplan.migrations import MIGRATIONS
from salesplan.principal import Principal
from salesplan.settings import WEEKDAY_NAMES, Settings

T = TypeVar("T")

DEFAULT_DB = Path("data") / "salesplan.duckdb"
WRITE_RETRIES = 8
PLAN_STATUSES = ("draft", "submitted", "agreed")
ACTION_STATUSES = ("planned", "in_progress", "done", "dropped")
OPEN_ACTION_STATUSES = ("planned", "in_progress")


def resolve_db_path(cli_db: str | os.PathLike[str] | None = None) -> Path:
    """SPEC §8: ``--db``, else ``$SALESPLAN_DB``, else ``data/salesplan.duckdb``."""
    if cli_db:
        return Path(cli_db)
    env = os.environ.get("SALESPLAN_DB")
    if env:
        return Path(env)
    return DEFAULT_DB


@dataclass(frozen=True)
class BatchCounts:
    inserted: int
    updated: int
    unchanged: int
    rejected: int


def _is_lock_error(error: Exception) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


def _is_conflict(error: Exception) -> bool:
    return isinstance(error, duckdb.TransactionException) or "conflict" in str(error).lower()


class Store:
    """Persistent state of one organisation in a DuckDB file (or ``:memory:``)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: str):
        self._connection = connection
        self.path = path
        self._write_lock = threading.RLock()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, migrate: bool = True) -> "Store":
        """Open (creating if needed) the database file and bring its schema up to date.

        Raises DatabaseLocked when another process holds the file.
        """
        target = str(path) if path is not None else str(resolve_db_path())
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = duckdb.connect(target)
        except duckdb.IOException as error:
            if _is_lock_error(error):
                raise DatabaseLocked(
                    f"The database {target} is in use by another process (probably the running "
                    "dashboard). Stop it, or use the dashboard for this, or point --db / "
                    "SALESPLAN_DB at another file."
                ) from error
            raise SalesplanError(f"Cannot open the database {target}: {error}") from error
        store = cls(connection, target)
        if migrate:
            store.migrate()
        return store

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor for one call; never shared between threads."""
        cursor = self._connection.cursor()
        cursor.execute("SET enable_progress_bar = false")
        try:
            yield cursor
        finally:
            cursor.close()

    @contextmanager
    def atomic(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on a fresh cursor: committed on success, rolled back on any error."""
        with self.cursor() as cursor:
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")

    def write(
        self,
        principal: Principal,
        action: str,
        detail: str,
        work: Callable[[duckdb.DuckDBPyConnection], T],
        *,
        changes_data: bool = True,
    ) -> T:
        """Run ``work`` in one transaction, bump the data version and record an audit line.

        DuckDB reports write-write conflicts as TransactionException; the whole transaction is
        retried a few times with a short back-off before the error is passed on.
        """
        delay = 0.01
        for attempt in range(WRITE_RETRIES):
            try:
                # one writer at a time per process: threads (browser sessions) sharing this Store
                # queue here instead of failing each other's transactions; a second process cannot
                # open the file at all, so this makes write-write conflicts impossible
                with self._write_lock, self.atomic() as cursor:
                    result = work(cursor)
                    if changes_data:
                        cursor.execute("UPDATE meta SET value = value + 1 WHERE key = 'data_version'")
                    if action:
                        cursor.execute(
                            "INSERT INTO audit_log VALUES (current_timestamp, ?, ?, ?)",
                            [principal.email, action, detail],
                        )
                return result
            except duckdb.Error as error:
                if _is_conflict(error) and attempt < WRITE_RETRIES - 1:
                    time.sleep(delay)
                    delay *= 2
                    continue
                if isinstance(error, duckdb.ConstraintException):
                    raise BadInput.single(action, f"refused by the database: {error}") from error
                raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ migrations
    def migrate(self) -> list[int]:
        """Apply the migrations not yet recorded, in order, each in one transaction."""
        with self.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            done = {row[0] for row in cursor.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            with self.atomic() as cursor:
                cursor.execute(sql)
                cursor.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)", [version, name]
                )
            applied.append(version)
        return applied

    def schema_version(self) -> int:
        with self.cursor() as cursor:
            return int(cursor.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0])

    def data_version(self) -> int:
        """A number that changes with every write: the cache key of every cached read."""
        with self.cursor() as cursor:
            return int(cursor.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchall()[0][0])

    # ------------------------------------------------------------------ roles
    def _require_admin(self, principal: Principal, what: str) -> None:
        if not principal.may_administer:
            raise NotAllowed(f"{what} needs the admin role; {principal.email} is {principal.role}.")

    def visible_rep_ids(self, principal: Principal) -> set[str] | None:
        """The rep_ids this principal may read, or None for everyone.

        A manager sees the reps under them, directly or through other managers, and themself.
        """
        if principal.sees_everything:
            return None
        if principal.rep_id is None:
            return set()
        if principal.role == "rep":
            return {principal.rep_id}
        with self.cursor() as cursor:
            rows = cursor.execute(
                """
                WITH RECURSIVE team(rep_id) AS (
                    SELECT ?::VARCHAR
                    UNION
                    SELECT r.rep_id FROM reps r JOIN team t ON r.manager = t.rep_id
                )
                SELECT rep_id FROM team
                """,
                [principal.rep_id],
            ).fetchall()
        return {row[0] for row in rows}

    def require_rep_access(self, principal: Principal, rep_id: str, *, write: bool = False) -> None:
        """Raise NotAllowed unless the principal may read (or write) this rep's data."""
        if write and principal.role == "leader":
            raise NotAllowed(f"{principal.email} is a leader and may only read.")
        visible = self.visible_rep_ids(principal)
        if visible is not None and rep_id not in visible:
            raise NotAllowed(f"{principal.email} may not {'change' if write else 'see'} rep {rep_id}.")

    # ------------------------------------------------------------------ settings
    def settings(self) -> Settings:
        with self.cursor() as cursor:
            values = dict(cursor.execute("SELECT key, value FROM settings").fetchall())
        defaults = Settings()
        weekdays = values.get("working_weekdays")
        return Settings(
            fy_start_month=int(values.get("fy_start_month", defaults.fy_start_month)),
            working_weekdays=(
                tuple(WEEKDAY_NAMES.index(name) for name in weekdays.split(",") if name)
                if weekdays
                else defaults.working_weekdays
            ),
            window=int(values.get("window", defaults.window)),
            at_risk=float(values.get("at_risk", defaults.at_risk)),
            grace=float(values.get("grace", defaults.grace)),
            upload_limit_mb=int(values.get("upload_limit_mb", defaults.upload_limit_mb)),
        )

    def save_settings(self, principal: Principal, **changes: Any) -> Settings:
        """Change settings; raises BadInput on an out-of-range value, NotAllowed unless admin."""
        self._require_admin(principal, "Changing settings")
        stored = validate_settings(**changes)

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            for key, value in stored.items():
                cursor.execute(
                    "INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )

        if stored:
            self.write(principal, "settings", ", ".join(f"{k}={v}" for k, v in stored.items()), work)
        return self.settings()

    # ------------------------------------------------------------------ reference data
    def reps(self, principal: Principal) -> pd.DataFrame:
        """Reps the principal may see, with their territory and region."""
        visible = self.visible_rep_ids(principal)
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT rep_id, name, email, territory, region, manager, start_date, end_date "
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

    # ------------------------------------------------------------------ batches
    def _new_batch(
        self,
        cursor: duckdb.DuckDBPyConnection,
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
        cursor.execute(
            "INSERT INTO upload_batches (batch_id, kind, file_name, sha256, uploaded_by, uploaded_at, "
            "rows_inserted, rows_updated, rows_unchanged, rows_rejected, valid_only, reason) "
            "VALUES (?, ?, ?, ?, ?, current_timestamp, ?, ?, ?, ?, ?, ?)",
            [
                batch_id, kind, file_name, sha256, principal.email, counts.inserted, counts.updated,
                counts.unchanged, counts.rejected, valid_only, reason,
            ],
        )
        return batch_id

    def batches(self, principal: Principal) -> pd.DataFrame:
        """Upload batches, newest first. Reps see their own uploads, managers their team's."""
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT batch_id, kind, file_name, sha256, uploaded_by, uploaded_at, rows_inserted, "
                "rows_updated, rows_unchanged, rows_rejected, valid_only, reason, reverted_at, reverted_by "
                "FROM upload_batches ORDER BY batch_id DESC"
            ).df()
        if principal.sees_everything:
            return frame
        visible = self.visible_rep_ids(principal) or set()
        with self.cursor() as cursor:
            emails = {
                row[0]
                for row in cursor.execute("SELECT lower(email) FROM reps WHERE email IS NOT NULL AND rep_id IN (SELECT unnest(?))", [sorted(visible)]).fetchall()
            }
        emails.add(principal.email.lower())
        return frame[frame["uploaded_by"].str.lower().isin(emails)].reset_index(drop=True)

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

    def _require_batch_access(self, principal: Principal, batch_id: int) -> dict[str, Any]:
        info = self.batch(batch_id)
        if principal.sees_everything:
            return info
        mine = self.batches(principal)
        if batch_id not in set(mine["batch_id"].tolist()):
            raise NotAllowed(f"{principal.email} may not see or undo batch {batch_id}.")
        return info

    def undo(self, principal: Principal, batch_id: int) -> dict[str, Any]:
        """Revert a batch: each key it held goes back to the newest batch still holding it.

        Nothing is deleted from the version tables. Raises NotFound, NotAllowed, or BadInput when
        the batch is already reverted or is of a kind that cannot be undone (reps, holidays).
        """
        info = self._require_batch_access(principal, batch_id)
        if principal.role == "leader":
            raise NotAllowed(f"{principal.email} is a leader and may only read.")
        if info["reverted_at"] is not None:
            raise BadInput.single("uploads", f"batch {batch_id} was already undone at {info['reverted_at']}")
        kind = info["kind"]
        if kind not in ("actuals", "targets"):
            raise BadInput.single(
                "uploads", f"batch {batch_id} imported {kind}; such imports cannot be undone: import the previous file again"
            )

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            # checked again inside the transaction: two sessions may press "undo" at once
            reverted = cursor.execute("SELECT reverted_at FROM upload_batches WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
            if reverted is not None:
                raise BadInput.single("uploads", f"batch {batch_id} was already undone at {reverted}")
            cursor.execute(
                "UPDATE upload_batches SET reverted_at = current_timestamp, reverted_by = ? WHERE batch_id = ?",
                [principal.email, batch_id],
            )
            if kind == "actuals":
                cursor.execute(
                    "CREATE OR REPLACE TEMP TABLE undo_keys AS "
                    "SELECT DISTINCT row_key FROM actual_versions WHERE batch_id = ?",
                    [batch_id],
                )
                cursor.execute("DELETE FROM actuals WHERE row_key IN (SELECT row_key FROM undo_keys)")
                cursor.execute(
                    f"""
                    INSERT INTO actuals
                    SELECT {_ACTUAL_COLUMNS_FROM_V}
                    FROM actual_versions v
                    JOIN upload_batches b USING (batch_id)
                    WHERE b.reverted_at IS NULL AND v.row_key IN (SELECT row_key FROM undo_keys)
                    QUALIFY row_number() OVER (PARTITION BY v.row_key ORDER BY v.batch_id DESC) = 1
                    """
                )
                cursor.execute("DROP TABLE undo_keys")
            else:
                cursor.execute(
                    "CREATE OR REPLACE TEMP TABLE undo_cells AS SELECT DISTINCT owner_type, owner_id, metric, month "
                    "FROM target_versions WHERE batch_id = ?",
                    [batch_id],
                )
                cursor.execute(
                    "DELETE FROM targets t USING undo_cells u WHERE t.owner_type = u.owner_type "
                    "AND t.owner_id = u.owner_id AND t.metric = u.metric AND t.month = u.month"
                )
                cursor.execute(
                    """
                    INSERT INTO targets
                    SELECT v.owner_type, v.owner_id, v.metric, v.month, v.amount, v.batch_id
                    FROM target_versions v
                    JOIN upload_batches b USING (batch_id)
                    JOIN undo_cells u USING (owner_type, owner_id, metric, month)
                    WHERE b.reverted_at IS NULL
                    QUALIFY row_number() OVER (PARTITION BY v.owner_type, v.owner_id, v.metric, v.month
                                               ORDER BY v.batch_id DESC) = 1
                    """
                )
                cursor.execute("DROP TABLE undo_cells")

        self.write(principal, "undo", f"batch {batch_id} ({kind})", work)
        return self.batch(batch_id)

    # ------------------------------------------------------------------ applying imports
    def apply_reps(
        self,
        principal: Principal,
        reps: pd.DataFrame,
        *,
        file_name: str | None,
        sha256: str | None,
    ) -> tuple[int, BatchCounts]:
        """Upsert validated reps (columns of inputs.REPS_COLUMNS) and derive territories/regions."""
        self._require_admin(principal, "Importing reps")
        incoming = reps[["rep_id", "name", "email", "territory", "region", "manager", "start_date", "end_date"]].copy()

        def work(cursor: duckdb.DuckDBPyConnection) -> tuple[int, BatchCounts]:
            cursor.register("incoming_reps", incoming)
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
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), 0)
            batch_id = self._new_batch(
                cursor, kind="reps", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=False,
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
            cursor.execute(
                """
                INSERT INTO territories
                SELECT territory, any_value(region) FROM incoming_reps
                WHERE territory IS NOT NULL GROUP BY territory
                ON CONFLICT (territory) DO UPDATE SET region = coalesce(excluded.region, territories.region)
                """
            )
            cursor.execute(
                "INSERT INTO regions SELECT DISTINCT region FROM territories WHERE region IS NOT NULL "
                "ON CONFLICT DO NOTHING"
            )
            cursor.unregister("incoming_reps")
            return batch_id, counts

        return self.write(principal, "import reps", file_name or "", work)

    def apply_holidays(
        self, principal: Principal, holidays: pd.DataFrame, *, file_name: str | None, sha256: str | None
    ) -> tuple[int, BatchCounts]:
        """Upsert validated holidays (date, name, territory with '' = org-wide)."""
        self._require_admin(principal, "Importing holidays")
        incoming = holidays[["date", "name", "territory"]].copy()
        incoming["territory"] = incoming["territory"].fillna("")

        def work(cursor: duckdb.DuckDBPyConnection) -> tuple[int, BatchCounts]:
            cursor.register("incoming_holidays", incoming)
            inserted, updated, unchanged = cursor.execute(
                """
                SELECT count(*) FILTER (WHERE h.holiday_date IS NULL),
                       count(*) FILTER (WHERE h.holiday_date IS NOT NULL AND i.name IS DISTINCT FROM h.name),
                       count(*) FILTER (WHERE h.holiday_date IS NOT NULL AND i.name IS NOT DISTINCT FROM h.name)
                FROM incoming_holidays i
                LEFT JOIN holidays h ON h.holiday_date = i.date::DATE AND h.territory = i.territory
                """
            ).fetchall()[0]
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), 0)
            batch_id = self._new_batch(
                cursor, kind="holidays", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=False,
            )
            cursor.execute(
                "INSERT INTO holidays SELECT date::DATE, territory, name, ? FROM incoming_holidays "
                "ON CONFLICT (holiday_date, territory) DO UPDATE SET name = excluded.name, batch_id = excluded.batch_id",
                [batch_id],
            )
            cursor.unregister("incoming_holidays")
            return batch_id, counts

        return self.write(principal, "import holidays", file_name or "", work)

    def delete_holiday(self, principal: Principal, holiday_date: date, territory: str | None) -> None:
        self._require_admin(principal, "Changing the calendar")

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            cursor.execute(
                "DELETE FROM holidays WHERE holiday_date = ? AND territory = ?", [holiday_date, territory or ""]
            )

        self.write(principal, "delete holiday", f"{holiday_date} {territory or 'org'}", work)

    def apply_targets(
        self,
        principal: Principal,
        cells: pd.DataFrame,
        *,
        file_name: str | None,
        sha256: str | None,
        reason: str | None,
    ) -> tuple[int, BatchCounts]:
        """Replace the target cells given (owner_type, owner_id, metric, month, amount, reason).

        Every cell is written as a version of this batch with its previous amount, so the
        history says who, when and why; an unchanged cell is counted as unchanged.
        Raises NotAllowed when the principal may not set a target for one of the owners.
        """
        self._require_target_write(principal, cells)
        incoming = cells[["owner_type", "owner_id", "metric", "month", "amount", "reason"]].copy()

        def work(cursor: duckdb.DuckDBPyConnection) -> tuple[int, BatchCounts]:
            cursor.register("incoming_targets", incoming)
            cursor.execute(
                """
                CREATE OR REPLACE TEMP TABLE staged_targets AS
                SELECT i.owner_type, i.owner_id, i.metric, i.month::DATE AS month,
                       i.amount::DECIMAL(18,4) AS amount, i.reason, t.amount AS previous_amount
                FROM incoming_targets i
                LEFT JOIN targets t ON t.owner_type = i.owner_type AND t.owner_id = i.owner_id
                    AND t.metric = i.metric AND t.month = i.month::DATE
                """
            )
            cursor.unregister("incoming_targets")
            inserted, updated, unchanged = cursor.execute(
                "SELECT count(*) FILTER (WHERE previous_amount IS NULL), "
                "count(*) FILTER (WHERE previous_amount IS NOT NULL AND previous_amount <> amount), "
                "count(*) FILTER (WHERE previous_amount = amount) FROM staged_targets"
            ).fetchall()[0]
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), 0)
            batch_id = self._new_batch(
                cursor, kind="targets", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=False, reason=reason,
            )
            cursor.execute(
                "INSERT INTO target_versions SELECT ?, owner_type, owner_id, metric, month, amount, "
                "previous_amount, reason FROM staged_targets",
                [batch_id],
            )
            cursor.execute(
                "DELETE FROM targets t USING staged_targets s WHERE t.owner_type = s.owner_type "
                "AND t.owner_id = s.owner_id AND t.metric = s.metric AND t.month = s.month"
            )
            cursor.execute(
                "INSERT INTO targets SELECT owner_type, owner_id, metric, month, amount, ? FROM staged_targets",
                [batch_id],
            )
            cursor.execute("DROP TABLE staged_targets")
            return batch_id, counts

        return self.write(principal, "set targets", f"{file_name or 'editor'}: {len(incoming)} cells; {reason or ''}", work)

    def _require_target_write(self, principal: Principal, cells: pd.DataFrame) -> None:
        if principal.may_administer:
            return
        if principal.role not in ("manager",):
            raise NotAllowed(f"{principal.email} ({principal.role}) may not set targets.")
        visible = self.visible_rep_ids(principal) or set()
        # a manager sets targets for the reps under them, never their own
        team = visible - {principal.rep_id}
        rep_owners = set(cells.loc[cells["owner_type"] == "rep", "owner_id"])
        outside = sorted(rep_owners - team)
        if outside or (cells["owner_type"] != "rep").any():
            raise NotAllowed(
                f"{principal.email} may set targets only for the reps under them; not for "
                f"{', '.join(outside) if outside else 'territories'}."
            )

    def apply_actuals(
        self,
        principal: Principal,
        rows: pd.DataFrame | pa.Table,
        rejected: pd.DataFrame,
        *,
        file_name: str | None,
        sha256: str | None,
        valid_only: bool,
    ) -> tuple[int, BatchCounts]:
        """Write one batch of validated actual rows (keyed by ``row_key``) atomically.

        Keys new to the ledger are inserted, keys whose values differ are updated (the old
        version stays in actual_versions), equal ones are unchanged. ``rejected`` (line, record,
        problems) is stored with the batch when the user chose valid rows only.
        """
        if principal.role == "leader":
            raise NotAllowed(f"{principal.email} is a leader and may only read.")
        columns = [
            "row_key", "line", "sale_date", "rep_id", "territory", "revenue", "cost", "profit",
            "order_id", "order_line", "customer", "product",
        ]
        incoming = rows.select(columns) if isinstance(rows, pa.Table) else rows[columns]
        rejected_frame = rejected[["line", "record", "problems"]]

        def work(cursor: duckdb.DuckDBPyConnection) -> tuple[int, BatchCounts]:
            cursor.register("incoming_actuals", incoming)
            cursor.execute(
                """
                CREATE OR REPLACE TEMP TABLE staged_actuals AS
                SELECT row_key, line::BIGINT AS line, sale_date::DATE AS sale_date, rep_id, territory,
                       revenue::DECIMAL(18,4) AS revenue, cost::DECIMAL(18,4) AS cost,
                       profit::DECIMAL(18,4) AS profit, order_id, order_line, customer, product
                FROM incoming_actuals
                """
            )
            cursor.unregister("incoming_actuals")
            # compare with the ledger once; unchanged keys are recorded in this batch's versions
            # (undo must know the batch holds them) but their ledger rows are not rewritten
            cursor.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE staged_status AS
                SELECT s.row_key,
                       CASE WHEN a.row_key IS NULL THEN 'new' WHEN {_ACTUAL_DIFFERS} THEN 'changed' ELSE 'same' END AS status
                FROM staged_actuals s LEFT JOIN actuals a USING (row_key)
                """
            )
            inserted, updated, unchanged = cursor.execute(
                "SELECT count(*) FILTER (WHERE status = 'new'), count(*) FILTER (WHERE status = 'changed'), "
                "count(*) FILTER (WHERE status = 'same') FROM staged_status"
            ).fetchall()[0]
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), len(rejected_frame))
            batch_id = self._new_batch(
                cursor, kind="actuals", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=valid_only,
            )
            cursor.execute(
                "INSERT INTO actual_versions SELECT ?, row_key, line, sale_date, rep_id, territory, revenue, "
                "cost, profit, order_id, order_line, customer, product FROM staged_actuals",
                [batch_id],
            )
            if updated:
                cursor.execute(
                    "DELETE FROM actuals WHERE row_key IN (SELECT row_key FROM staged_status WHERE status = 'changed')"
                )
            if inserted or updated:
                cursor.execute(
                    "INSERT INTO actuals SELECT s.row_key, ?, s.line, s.sale_date, s.rep_id, s.territory, s.revenue, "
                    "s.cost, s.profit, s.order_id, s.order_line, s.customer, s.product "
                    "FROM staged_actuals s JOIN staged_status t USING (row_key) WHERE t.status <> 'same'",
                    [batch_id],
                )
            cursor.execute("DROP TABLE staged_status")
            if len(rejected_frame):
                cursor.register("incoming_rejected", rejected_frame)
                cursor.execute(
                    "INSERT INTO rejected_rows SELECT ?, line, record, problems FROM incoming_rejected", [batch_id]
                )
                cursor.unregister("incoming_rejected")
            cursor.execute("DROP TABLE staged_actuals")
            return batch_id, counts

        return self.write(principal, "import actuals", f"{file_name or ''}: {len(incoming)} rows", work)

    # ------------------------------------------------------------------ reads for the engine
    def actual_totals(self, principal: Principal) -> dict[str, float]:
        """Row count and sums of the current ledger the principal may see (for checks and summaries)."""
        where, params = self._rep_filter(principal, "rep_id")
        with self.cursor() as cursor:
            count, revenue, profit = cursor.execute(
                f"SELECT count(*), coalesce(sum(revenue), 0)::DOUBLE, coalesce(sum(profit), 0)::DOUBLE "
                f"FROM actuals WHERE {where}",
                params,
            ).fetchall()[0]
        return {"rows": int(count), "revenue": float(revenue), "profit": float(profit)}

    def actuals(self, principal: Principal, *, limit: int | None = None) -> pd.DataFrame:
        where, params = self._rep_filter(principal, "rep_id")
        sql = (
            "SELECT row_key, batch_id, line, sale_date, rep_id, territory, revenue::DOUBLE AS revenue, "
            "cost::DOUBLE AS cost, profit::DOUBLE AS profit, order_id, order_line, customer, product "
            f"FROM actuals WHERE {where} ORDER BY sale_date, row_key"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.cursor() as cursor:
            return cursor.execute(sql, params).df()

    def targets(self, principal: Principal) -> pd.DataFrame:
        """Current target cells the principal may see (territory targets: everyone who sees a rep of it)."""
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT owner_type, owner_id, metric, month, amount::DOUBLE AS amount, batch_id "
                "FROM targets ORDER BY owner_type, owner_id, metric, month"
            ).df()
        visible = self.visible_rep_ids(principal)
        if visible is not None:
            frame = frame[(frame["owner_type"] == "rep") & frame["owner_id"].isin(visible)].reset_index(drop=True)
        return frame

    def target_history(self, principal: Principal, owner_type: str, owner_id: str) -> pd.DataFrame:
        """Every version of an owner's target cells: amount, previous amount, who, when, why."""
        if owner_type == "rep":
            self.require_rep_access(principal, owner_id)
        elif not principal.sees_everything:
            raise NotAllowed(f"{principal.email} may not see territory targets.")
        with self.cursor() as cursor:
            return cursor.execute(
                """
                SELECT v.metric, v.month, v.amount::DOUBLE AS amount, v.previous_amount::DOUBLE AS previous_amount,
                       v.reason, b.uploaded_by AS changed_by, b.uploaded_at AS changed_at, b.batch_id,
                       b.reverted_at IS NOT NULL AS reverted
                FROM target_versions v JOIN upload_batches b USING (batch_id)
                WHERE v.owner_type = ? AND v.owner_id = ?
                ORDER BY v.metric, v.month, b.batch_id DESC
                """,
                [owner_type, owner_id],
            ).df()

    def _rep_filter(self, principal: Principal, column: str) -> tuple[str, list[Any]]:
        visible = self.visible_rep_ids(principal)
        if visible is None:
            return "true", []
        return f"{column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(visible)]

    def engine_inputs(self, principal: Principal) -> EngineInputs:
        """Everything the engine needs, as frames, limited to what the principal may see.

        Daily actuals are summed per (date, rep, territory) inside DuckDB, so the engine never
        sees order lines.
        """
        where, params = self._rep_filter(principal, "rep_id")
        with self.cursor() as cursor:
            # through Arrow: half the peak memory of .df() on millions of rows
            daily = cursor.sql(
                f"""
                SELECT sale_date::TIMESTAMP AS date, rep_id, territory,
                       sum(revenue)::DOUBLE AS revenue, coalesce(sum(profit), 0)::DOUBLE AS profit
                FROM actuals WHERE {where}
                GROUP BY ALL
                """,
                params=params or None,
            ).to_arrow_table().to_pandas()
            open_actions = cursor.execute(
                f"""
                SELECT rep_id, fy, sum(expected_impact)::DOUBLE AS open_impact
                FROM actions WHERE status IN ({', '.join(repr(x) for x in OPEN_ACTION_STATUSES)}) AND {where}
                GROUP BY ALL
                """,
                params,
            ).df()
        reps = self.reps(principal)
        for column in ("start_date", "end_date"):
            reps[column] = pd.to_datetime(reps[column])
        holidays = self.holidays(principal)
        holidays["date"] = pd.to_datetime(holidays["date"])
        targets = self.targets(principal)[["owner_type", "owner_id", "metric", "month", "amount"]].copy()
        targets["month"] = pd.to_datetime(targets["month"])
        territories = self.territories(principal)
        if not principal.sees_everything:
            territories = territories[territories["territory"].isin(set(reps["territory"].dropna()))]
        return EngineInputs(
            settings=self.settings(),
            reps=reps,
            territories=territories.reset_index(drop=True),
            holidays=holidays,
            targets=targets,
            daily_actuals=daily,
            open_actions=open_actions,
        )

    # ------------------------------------------------------------------ plans
    def plan(self, principal: Principal, rep_id: str, fy: int) -> dict[str, Any]:
        """The rep's plan for a FY: header, obstacles, actions and check-ins (empty when none yet)."""
        self.require_rep_access(principal, rep_id)
        with self.cursor() as cursor:
            header = cursor.execute(
                "SELECT status, summary, updated_by, updated_at FROM plans WHERE rep_id = ? AND fy = ?", [rep_id, fy]
            ).fetchall()
            header = header[0] if header else None
            obstacles = cursor.execute(
                "SELECT obstacle_id, description, likelihood, revenue_at_risk::DOUBLE AS revenue_at_risk "
                "FROM obstacles WHERE rep_id = ? AND fy = ? ORDER BY obstacle_id",
                [rep_id, fy],
            ).df()
            actions = cursor.execute(
                "SELECT action_id, description, owner, due_date, status, expected_impact::DOUBLE AS expected_impact, "
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
        """Create or update a plan header. Only a manager (or admin) may set ``agreed``."""
        self.require_rep_access(principal, rep_id, write=True)
        if status not in PLAN_STATUSES:
            raise BadInput.single("plan", f"status must be one of {', '.join(PLAN_STATUSES)}, not {status!r}", column="status")
        if status == "agreed" and not (principal.may_administer or (principal.role == "manager" and principal.rep_id != rep_id)):
            raise NotAllowed("Only the rep's manager (or an admin) may mark a plan agreed.")

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            cursor.execute(
                "INSERT INTO plans VALUES (?, ?, ?, ?, ?, current_timestamp) ON CONFLICT (rep_id, fy) DO UPDATE "
                "SET status = excluded.status, summary = excluded.summary, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at",
                [rep_id, fy, status, summary, principal.email],
            )

        self.write(principal, "save plan", f"{rep_id} FY{fy} {status}", work)

    def add_obstacle(
        self, principal: Principal, rep_id: str, fy: int, *, description: str, likelihood: int, revenue_at_risk: float
    ) -> int:
        self.require_rep_access(principal, rep_id, write=True)
        problems = []
        if not str(description).strip():
            problems.append(("description", "an obstacle needs a description"))
        if not (isinstance(likelihood, int) or float(likelihood).is_integer()) or not 1 <= int(likelihood) <= 5:
            problems.append(("likelihood", f"likelihood must be a whole number from 1 to 5, not {likelihood!r}"))
        if float(revenue_at_risk) < 0:
            problems.append(("revenue_at_risk", "revenue at risk cannot be negative"))
        _raise_form_problems("obstacle", problems)

        def work(cursor: duckdb.DuckDBPyConnection) -> int:
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO obstacles VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp)",
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
        self.require_rep_access(principal, rep_id, write=True)
        problems = []
        if not str(description).strip():
            problems.append(("description", "an action needs a description"))
        if status not in ACTION_STATUSES:
            problems.append(("status", f"status must be one of {', '.join(ACTION_STATUSES)}, not {status!r}"))
        if float(expected_impact) < 0:
            problems.append(("expected_impact", "expected impact cannot be negative"))
        _raise_form_problems("action", problems)

        def work(cursor: duckdb.DuckDBPyConnection) -> int:
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO actions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
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

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            cursor.execute(
                "UPDATE actions SET status = ?, updated_by = ?, updated_at = current_timestamp WHERE action_id = ?",
                [status, principal.email, action_id],
            )

        self.write(principal, "update action", f"{action_id} {status}", work)

    def add_checkin(
        self, principal: Principal, rep_id: str, fy: int, *, checkin_date: date, author: str, note: str
    ) -> int:
        self.require_rep_access(principal, rep_id, write=True)
        _raise_form_problems("check-in", [("note", "a check-in needs a note")] if not str(note).strip() else [])

        def work(cursor: duckdb.DuckDBPyConnection) -> int:
            self._ensure_plan(cursor, principal, rep_id, fy)
            new_id = int(cursor.execute("SELECT nextval('plan_item_seq')").fetchall()[0][0])
            cursor.execute(
                "INSERT INTO checkins VALUES (?, ?, ?, ?, ?, ?, current_timestamp)",
                [new_id, rep_id, fy, checkin_date, author, note],
            )
            return new_id

        return self.write(principal, "add check-in", f"{rep_id} FY{fy}", work)

    @staticmethod
    def _ensure_plan(cursor: duckdb.DuckDBPyConnection, principal: Principal, rep_id: str, fy: int) -> None:
        cursor.execute(
            "INSERT INTO plans VALUES (?, ?, 'draft', '', ?, current_timestamp) ON CONFLICT DO NOTHING",
            [rep_id, fy, principal.email],
        )

    # ------------------------------------------------------------------ audit
    def audit_log(self, principal: Principal, *, limit: int = 500) -> pd.DataFrame:
        self._require_admin(principal, "Reading the audit log")
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT logged_at, actor, action, detail FROM audit_log ORDER BY logged_at DESC LIMIT ?", [limit]
            ).df()

    def table_counts(self) -> dict[str, int]:
        """Row counts of every table: used by tests to prove an import changed nothing."""
        with self.cursor() as cursor:
            names = [row[0] for row in cursor.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name"
            ).fetchall()]
            return {name: int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]) for name in names}

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table except the audit log, sorted: for exact before/after comparisons in tests."""
        with self.cursor() as cursor:
            names = [row[0] for row in cursor.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND table_name <> 'audit_log' ORDER BY table_name"
            ).fetchall()]
            return {name: sorted(cursor.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}


    # ------------------------------------------------------------------ remembered column mappings
    @staticmethod
    def header_signature(header: list[str]) -> str:
        """The key a mapping is remembered under: the file's headers, normalised, in order."""
        return "|".join(normalise_header(name) for name in header)

    def save_column_map(self, principal: Principal, kind: str, header: list[str], mapping: dict[str, str]) -> None:
        """Remember how a file with these headers maps to fields, for the next upload of its kind."""
        if principal.role == "leader":
            raise NotAllowed(f"{principal.email} is a leader and may only read.")
        signature = self.header_signature(header)
        payload = json.dumps(mapping, sort_keys=True)

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            cursor.execute(
                "INSERT INTO column_maps VALUES (?, ?, ?, ?, current_timestamp) ON CONFLICT (kind, header_signature) "
                "DO UPDATE SET mapping = excluded.mapping, saved_by = excluded.saved_by, saved_at = excluded.saved_at",
                [kind, signature, payload, principal.email],
            )

        self.write(principal, "save column mapping", f"{kind}: {signature}", work, changes_data=False)

    def column_map(self, principal: Principal, kind: str, header: list[str]) -> dict[str, str] | None:
        """The mapping remembered for files of this kind with exactly these headers, if any."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT mapping FROM column_maps WHERE kind = ? AND header_signature = ?",
                [kind, self.header_signature(header)],
            ).fetchall()
        return json.loads(rows[0][0]) if rows else None

    # ------------------------------------------------------------------ users and sign-in
    def users(self, principal: Principal) -> pd.DataFrame:
        """Every account (never the password hashes). Admin only."""
        self._require_admin(principal, "Managing users")
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT email, role, rep_id, disabled, password_hash IS NOT NULL AS has_password, failed_attempts, "
                "locked_until, created_at, last_sign_in FROM users ORDER BY email"
            ).df()

    def has_admin(self) -> bool:
        """Whether an admin account was ever created (disabled ones count: disabling every admin
        must not reopen the first-admin form to anyone; recover with ``salesplan user add``)."""
        with self.cursor() as cursor:
            return bool(cursor.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchall()[0][0])

    def add_user(
        self, principal: Principal, email: str, role: str, *, rep_id: str | None = None, password: str | None = None
    ) -> None:
        """Create an account. Raises NotAllowed unless admin (or creating the very first admin),
        BadInput on an invalid email, role, unknown rep_id or an existing account."""
        first_admin = role == "admin" and not self.has_admin()
        if not first_admin:
            self._require_admin(principal, "Managing users")
        email = self._check_user_fields(email, role, rep_id)
        if password is not None and len(password) < 4:
            raise BadInput.single("user", "the password is too short (at least 4 characters)", column="password")
        password_hash = auth.hash_password(password) if password else None

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            if first_admin and not principal.may_administer and cursor.execute(
                "SELECT count(*) FROM users WHERE role = 'admin'"
            ).fetchall()[0][0]:
                # two visitors raced to create the first admin: the second is refused
                raise NotAllowed("An admin account exists already; ask an admin.")
            if cursor.execute("SELECT count(*) FROM users WHERE email = ?", [email]).fetchall()[0][0]:
                raise BadInput.single("user", f"{email} already has an account", column="email")
            cursor.execute(
                "INSERT INTO users (email, role, rep_id, password_hash, created_at) VALUES (?, ?, ?, ?, current_timestamp)",
                [email, role, rep_id, password_hash],
            )

        self.write(principal, "add user", f"{email} as {role}", work, changes_data=False)

    def set_user_role(self, principal: Principal, email: str, role: str, *, rep_id: str | None = None) -> None:
        self._require_admin(principal, "Managing users")
        email = self._check_user_fields(email, role, rep_id)
        self._update_user(principal, email, "set role", f"{email} to {role}",
                          "UPDATE users SET role = ?, rep_id = ? WHERE email = ?", [role, rep_id, email])

    def disable_user(self, principal: Principal, email: str, *, disabled: bool = True) -> None:
        """Disable (or enable) an account. Raises BadInput for the last enabled admin."""
        self._require_admin(principal, "Managing users")
        email = email.strip().lower()
        if disabled:
            with self.cursor() as cursor:
                admins = [row[0] for row in cursor.execute(
                    "SELECT email FROM users WHERE role = 'admin' AND NOT disabled").fetchall()]
            if admins == [email]:
                raise BadInput.single("user", f"{email} is the last enabled admin; add another admin first", column="email")
        self._update_user(principal, email, "disable user" if disabled else "enable user", email,
                          "UPDATE users SET disabled = ?, sessions_valid_after = ? WHERE email = ?",
                          [disabled, _utc_now(), email])

    def set_password(self, principal: Principal, email: str, password: str) -> None:
        """Admins set anyone's password; a user sets their own. Clears a lock-out."""
        email = email.strip().lower()
        if principal.email.lower() != email:
            self._require_admin(principal, "Setting another user's password")
        if len(password) < 4:
            raise BadInput.single("user", "the password is too short (at least 4 characters)", column="password")
        self._update_user(principal, email, "set password", email,
                          "UPDATE users SET password_hash = ?, failed_attempts = 0, locked_until = NULL, "
                          "sessions_valid_after = ? WHERE email = ?",
                          [auth.hash_password(password), _utc_now(), email])

    def _update_user(self, principal: Principal, email: str, action: str, detail: str, sql: str, params: list[Any]) -> None:
        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            if not cursor.execute("SELECT count(*) FROM users WHERE email = ?", [email]).fetchall()[0][0]:
                raise NotFound(f"There is no account {email}.")
            cursor.execute(sql, params)

        self.write(principal, action, detail, work, changes_data=False)

    def _check_user_fields(self, email: str, role: str, rep_id: str | None) -> str:
        from salesplan.principal import ROLES

        email = str(email).strip().lower()
        problems = []
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            problems.append(Problem("user", None, "email", f"{email!r} is not an email address"))
        if role not in ROLES:
            problems.append(Problem("user", None, "role", f"role must be one of {', '.join(ROLES)}, not {role!r}"))
        if role in ("manager", "rep") and not rep_id:
            problems.append(Problem("user", None, "rep_id", f"a {role} account needs the rep_id it belongs to"))
        if rep_id:
            with self.cursor() as cursor:
                if not cursor.execute("SELECT count(*) FROM reps WHERE rep_id = ?", [rep_id]).fetchall()[0][0]:
                    problems.append(Problem("user", None, "rep_id", f"unknown rep_id {rep_id!r}"))
        if problems:
            raise BadInput(problems)
        return email

    def server_secret(self, name: str = "session") -> str:
        """A random secret kept in the database (created on first use), e.g. to sign sign-in
        cookies so that a session survives a page refresh and a restart of the dashboard."""
        key = f"secret:{name}"
        with self.cursor() as cursor:
            rows = cursor.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()
        if rows:
            return rows[0][0]
        import secrets as _secrets

        value = _secrets.token_urlsafe(32)

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            cursor.execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO NOTHING", [key, value])

        self.write(Principal("system", "system"), "", "", work, changes_data=False)
        with self.cursor() as cursor:
            return cursor.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()[0][0]

    def sessions_valid_after(self, email: str) -> datetime | None:
        """Sign-in sessions (cookies) of this account issued before this moment (naive UTC) are
        void: set when its password changes or it is disabled."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT sessions_valid_after FROM users WHERE email = ?", [str(email).strip().lower()]
            ).fetchall()
        return rows[0][0] if rows else None

    def principal_for_email(self, email: str) -> Principal | None:
        """The principal of an enabled account, e.g. for an email signed in through OIDC."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT email, role, rep_id FROM users WHERE email = ? AND NOT disabled", [str(email).strip().lower()]
            ).fetchall()
        return Principal(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def authenticate(self, email: str, password: str, *, now: datetime | None = None) -> Principal:
        """Check a built-in account's password.

        Raises NotAllowed with the same message for an unknown email or a wrong password (no
        account enumeration), and a lock-out message after ``auth.MAX_FAILED_ATTEMPTS`` failures
        in a row, for ``auth.LOCKOUT_MINUTES`` minutes.
        """
        email = str(email).strip().lower()
        moment = now or datetime.now()
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT role, rep_id, password_hash, disabled, failed_attempts, locked_until FROM users WHERE email = ?",
                [email],
            ).fetchall()
        if not rows:
            auth.waste_time_like_a_check(password)
            raise NotAllowed(auth.WRONG_CREDENTIALS)
        role, rep_id, password_hash, disabled, failed, locked_until = rows[0]
        if locked_until is not None and locked_until > moment:
            raise NotAllowed(auth.locked_message(locked_until))
        if disabled or not password_hash or not auth.verify_password(password_hash, password):
            failed = (failed or 0) + 1
            lock = moment + auth.LOCKOUT if failed >= auth.MAX_FAILED_ATTEMPTS else None

            def record_failure(cursor: duckdb.DuckDBPyConnection) -> None:
                cursor.execute(
                    "UPDATE users SET failed_attempts = ?, locked_until = ? WHERE email = ?",
                    [0 if lock else failed, lock, email],
                )

            self.write(Principal(email, "system"), "sign-in locked" if lock else "", email, record_failure,
                       changes_data=False)
            raise NotAllowed(auth.locked_message(lock) if lock else auth.WRONG_CREDENTIALS)

        def record_success(cursor: duckdb.DuckDBPyConnection) -> None:
            cursor.execute(
                "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_sign_in = ? WHERE email = ?",
                [moment, email],
            )

        self.write(Principal(email, role), "", email, record_success, changes_data=False)
        return Principal(email, role, rep_id)

    # ------------------------------------------------------------------ backup and restore
    def backup(self, principal: Principal, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """Write a consistent snapshot: one Parquet file per table plus ``manifest.json`` with
        row counts, SHA-256 checksums, sequence positions and the schema version.

        All tables are read inside one transaction, so concurrent writers never tear the
        snapshot; readers are not blocked. Raises NotAllowed unless admin, BadInput when the
        folder already holds a backup.
        """
        self._require_admin(principal, "Backing up")
        target = Path(folder)
        if (target / "manifest.json").exists():
            raise BadInput.single(str(target), "this folder already holds a backup; choose an empty folder")
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BadInput.single(str(target), f"cannot write the backup here: {error}") from error
        manifest: dict[str, Any] = {"format": 1, "created_at": datetime.now().isoformat(timespec="seconds"),
                                    "tables": {}, "sequences": {}}
        with self.atomic() as cursor:
            manifest["schema_version"] = int(cursor.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0])
            names = [row[0] for row in cursor.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name").fetchall()]
            for name in names:
                path = target / f"{name}.parquet"
                cursor.execute(f"COPY (SELECT * FROM \"{name}\") TO '{_sql_path(path)}' (FORMAT parquet)")
                rows = int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
                manifest["tables"][name] = {"file": path.name, "rows": rows, "sha256": _file_sha256(path)}
            for name, value in cursor.execute("SELECT sequence_name, last_value FROM duckdb_sequences()").fetchall():
                manifest["sequences"][name] = None if value is None else int(value)
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return manifest

    def restore(self, principal: Principal, folder: str | os.PathLike[str]) -> dict[str, Any]:
        """Rebuild this (empty) database from a backup folder, checking every file's checksum and
        row count first. Raises BadInput on a damaged or foreign backup or a non-empty database."""
        self._require_admin(principal, "Restoring")
        source = Path(folder)
        try:
            manifest = json.loads((source / "manifest.json").read_text())
        except (OSError, ValueError) as error:
            raise BadInput.single(str(source), f"not a salesplan backup: cannot read manifest.json ({error})") from error
        entries = manifest.get("tables") if isinstance(manifest, dict) else None
        if not isinstance(entries, dict) or not isinstance(manifest.get("sequences"), dict) or not all(
            isinstance(entry, dict) and {"file", "rows", "sha256"} <= entry.keys() for entry in entries.values()
        ):
            raise BadInput.single(str(source / "manifest.json"), "not a salesplan backup: manifest.json is incomplete")
        if manifest.get("schema_version", 0) > self.schema_version():
            raise BadInput.single(str(source), "the backup comes from a newer salesplan; upgrade first")
        problems = []
        for name, entry in manifest["tables"].items():
            path = source / entry["file"]
            if not path.exists():
                problems.append(f"{entry['file']} is missing")
            elif _file_sha256(path) != entry["sha256"]:
                problems.append(f"{entry['file']} does not match its checksum")
        if problems:
            raise BadInput.single(str(source / "manifest.json"), "; ".join(problems))
        counts = self.table_counts()
        if any(counts.get(name, 0) for name in counts if name not in ("schema_migrations", "meta")):
            raise BadInput.single(self.path, "restore needs an empty database; this one holds data")

        def work(cursor: duckdb.DuckDBPyConnection) -> None:
            for name, entry in manifest["tables"].items():
                path = source / entry["file"]
                cursor.execute(f'DELETE FROM "{name}"')
                cursor.execute(f"INSERT INTO \"{name}\" SELECT * FROM read_parquet('{_sql_path(path)}')")
                restored = int(cursor.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
                if restored != entry["rows"]:
                    raise BadInput.single(entry["file"], f"holds {restored} rows, the manifest says {entry['rows']}")
            for name, value in manifest["sequences"].items():
                if value is not None and name.isidentifier():
                    cursor.execute(f"CREATE OR REPLACE SEQUENCE {name} START {int(value) + 1}")

        # not through write(): the restored meta and audit_log must equal the backup's exactly
        with self.atomic() as cursor:
            work(cursor)
        return manifest

_ACTUAL_COLUMNS_FROM_V = (
    "v.row_key, v.batch_id, v.line, v.sale_date, v.rep_id, v.territory, v.revenue, v.cost, v.profit, "
    "v.order_id, v.order_line, v.customer, v.product"
)
_ACTUAL_DIFFERS = (
    "(s.sale_date IS DISTINCT FROM a.sale_date OR s.rep_id IS DISTINCT FROM a.rep_id "
    "OR s.territory IS DISTINCT FROM a.territory OR s.revenue IS DISTINCT FROM a.revenue "
    "OR s.cost IS DISTINCT FROM a.cost OR s.profit IS DISTINCT FROM a.profit "
    "OR s.customer IS DISTINCT FROM a.customer OR s.product IS DISTINCT FROM a.product)"
)


def _raise_form_problems(form: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise BadInput([Problem(form, None, column, reason) for column, reason in problems])


def validate_settings(**changes: Any) -> dict[str, str]:
    """The stored text of each given setting (None values skipped); raises BadInput naming every
    out-of-range value, before anything is written."""
    stored: dict[str, str] = {}
    problems = []
    for key, value in changes.items():
        if value is None:
            continue
        try:
            stored[key] = _validate_setting(key, value)
        except ValueError as error:
            problems.append(f"--{key.replace('_', '-')}: {error}")
    if problems:
        raise BadInput.single("settings", "; ".join(problems))
    return stored


def _validate_setting(key: str, value: Any) -> str:
    """Check one setting and return its stored text; raises ValueError with the reason."""
    if key == "fy_start_month":
        month = int(value)
        if not 1 <= month <= 12:
            raise ValueError(f"must be a month number 1-12, not {value}")
        return str(month)
    if key == "working_weekdays":
        names = [part.strip().title()[:3] for part in str(value).split(",") if part.strip()]
        unknown = [name for name in names if name not in WEEKDAY_NAMES]
        if unknown or not names:
            raise ValueError(f"use weekday names like Mon,Tue,Wed; not {value!r}")
        return ",".join(sorted(set(names), key=WEEKDAY_NAMES.index))
    if key == "window":
        window = int(value)
        if not 1 <= window <= 520:
            raise ValueError(f"must be 1-520 working days, not {value}")
        return str(window)
    if key in ("at_risk", "grace"):
        fraction = float(value)
        if not 0 <= fraction <= 1:
            raise ValueError(f"must be a fraction between 0 and 1 (0.9, not 90), not {value}")
        return repr(fraction)
    if key == "upload_limit_mb":
        limit = int(value)
        if not 1 <= limit <= 10_000:
            raise ValueError(f"must be 1-10000 MB, not {value}")
        return str(limit)
    raise ValueError(f"unknown setting {key}")



def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _utc_now() -> datetime:
    """Now in UTC without a time zone, as the sign-in tokens' timestamps are compared."""
    from datetime import timezone

    return datetime.now(timezone.utc).replace(tzinfo=None)

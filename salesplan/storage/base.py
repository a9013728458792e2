"""The store's foundation: opening the database, cursors, transactions with retries,
migrations, the data version and role scoping."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar

import duckdb

from salesplan.errors import (
    BadInput,
    DatabaseLocked,
    NotAllowed,
    SalesplanError,
)
from salesplan.migrations import MIGRATIONS
from salesplan.principal import Principal

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


class StoreBase:
    """Connection, transactions, migrations and role scoping shared by every part of the store."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: str):
        self._connection = connection
        self.path = path
        self._write_lock = threading.RLock()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, migrate: bool = True) -> Self:
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

    def __enter__(self) -> Self:
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

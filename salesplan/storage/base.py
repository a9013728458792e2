"""The store's foundation: opening the database, cursors, transactions with retries,
migrations, the data version and role scoping.

Which database runs the SQL is a :class:`~salesplan.storage.backends.Backend`: an embedded DuckDB
file (opened per operation, so other processes can use it in between) or a PostgreSQL server.
"""

from __future__ import annotations

import math
import itertools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Self, TypeVar

from salesplan import policy
from salesplan.errors import SalesplanError
from salesplan.migrations import MIGRATIONS
from salesplan.principal import Principal
from salesplan.storage.backends import Backend, Cursor, is_server_url, open_backend
from salesplan.storage.workspace import ImportWorkspace

T = TypeVar("T")

DEFAULT_DB = Path("data") / "salesplan.duckdb"
WRITE_RETRIES = 8
PLAN_STATUSES = ("draft", "submitted", "agreed")
ACTION_STATUSES = ("planned", "in_progress", "done", "dropped")
OPEN_ACTION_STATUSES = ("planned", "in_progress")


# the largest amount the ledger's DECIMAL(18,4) columns hold with room to add them up
MAX_AMOUNT = 1e14
METRICS = ("revenue", "profit")
# views that read as tables did (migration 80: the current ledger of actuals, a view of the
# flagged versions): counted, compared and backed up like tables; a restore checks them
LEDGER_VIEWS = ("actuals",)


def data_names(cursor: Cursor) -> list[str]:
    """The tables and the ledger views, sorted: what a backup writes and a snapshot compares."""
    return sorted(set(cursor.table_names()) | set(LEDGER_VIEWS))


def amount_problem(value: object, what: str) -> str | None:
    """Why ``value`` is not an amount the store keeps (a finite number from 0 to MAX_AMOUNT), or
    None. Checked before writing, so that a driver's conversion error never reaches the user."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{what} must be a number, not {value!r}"
    if not math.isfinite(number) or not 0 <= number <= MAX_AMOUNT:
        return f"{what} must be a number from 0 to {MAX_AMOUNT:,.0f}, not {value!r}"
    return None


def month_problem(value: object) -> str | None:
    """Why ``value`` is not the first day of a real month (a date or 'YYYY-MM-01'), or None."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            return f"the month must be a date 'YYYY-MM-01', not {value!r}"
    if value.day != 1 or not 1900 <= value.year <= 2999:
        return f"the month must be the first day of a month from 1900 to 2999, not {value.isoformat()}"
    return None


def resolve_db_path(cli_db: str | os.PathLike[str] | None = None) -> Path | str:
    """``--db``, else ``$SALESPLAN_DB``, else ``data/salesplan.duckdb`` (docs/storage.md).

    A file is returned as a Path; a ``postgresql://`` URL as the string itself.
    """
    chosen = cli_db or os.environ.get("SALESPLAN_DB")
    if not chosen:
        return DEFAULT_DB
    return str(chosen) if is_server_url(chosen) else Path(chosen)


@dataclass(frozen=True)
class BatchCounts:
    inserted: int
    updated: int
    unchanged: int
    rejected: int


class DatabaseBusy(SalesplanError):
    """A read did not fit in the memory this process may use while a large upload is written (an
    embedded DuckDB file); nothing changed, and the same read works once the upload is written."""


class StoreBase:
    """Connection, transactions, migrations and role scoping shared by every part of the store."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self.path = backend.path
        self.dialect = backend.dialect
        self._write_lock = backend.write_lock
        # writes of this process that changed data (thread-safe: next() of a count is atomic);
        # lets a caller that memoised data_version() know when to read it again
        self._writes_counter = itertools.count(1)
        self.writes_made = 0

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, migrate: bool = True) -> Self:
        """Open (creating if needed) the database and bring its schema up to date.

        ``path`` is a DuckDB file, ``:memory:`` or a ``postgresql://`` URL (default: see
        :func:`resolve_db_path`). Raises DatabaseLocked when another process holds a DuckDB file
        for longer than the lock wait, SalesplanError when the database cannot be opened.
        """
        target = str(path) if path is not None else str(resolve_db_path())
        store = cls(open_backend(target))
        if migrate:
            try:
                store.migrate()
            except BaseException:
                store.close()
                raise
        return store

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def cursor(self) -> Iterator[Cursor]:
        """A fresh cursor (its own connection) for one call (a read); never shared between threads.

        Raises DatabaseBusy when what runs on it does not fit in the memory this process may use
        while a large upload is written (an embedded DuckDB file: see Store.write's ``memory_mb``),
        DatabaseLocked or SalesplanError when the database cannot be reached; other driver errors
        pass through."""
        with self._cursor(reads=True) as cursor:
            yield cursor

    @contextmanager
    def _cursor(self, *, reads: bool) -> Iterator[Cursor]:
        """A fresh cursor; ``reads``: a driver's error that says the database is busy (a read that
        did not fit beside a large upload's write) becomes DatabaseBusy at the store's boundary,
        as a write's errors become the project's in :meth:`write`."""
        with self._backend.cursor() as cursor:
            if not reads:
                yield cursor
                return
            try:
                yield cursor
            except Exception as error:
                busy = self._backend.translate_read(error)
                if busy is None:
                    raise
                raise busy from error

    @contextmanager
    def atomic(self, *, snapshot: bool = False) -> Iterator[Cursor]:
        """One transaction on a fresh cursor: committed on success, rolled back on any error.

        ``snapshot``: a read-only transaction that sees one consistent state (backups); raises
        DatabaseBusy as :meth:`cursor` does. A writing one raises the driver's errors (Store.write
        translates them).
        """
        with self._cursor(reads=snapshot) as cursor:
            cursor.execute(self._backend.begin_sql(snapshot))
            try:
                yield cursor
            except BaseException:
                # on a broken connection the rollback fails too: the original error matters
                with suppress(Exception):
                    cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")

    def import_workspace(self, memory_mb: int) -> AbstractContextManager[ImportWorkspace | None]:
        """A context manager yielding a workspace in the store's own DuckDB for an import to parse
        a file in, whose tables the store's write then reads where they are (an embedded DuckDB
        store; :mod:`salesplan.storage.workspace`); None on a server, where an import parses in a
        DuckDB of its own. ``memory_mb`` caps what the parse holds in this process's memory (past
        it, it spills to disk). Its tables are let go when it closes. Raises SalesplanError when
        DuckDB cannot make it or let it go."""
        return self._backend.import_workspace(memory_mb)

    def write(
        self,
        principal: Principal,
        action: str,
        detail: str,
        work: Callable[[Cursor], T],
        *,
        changes_data: bool = True,
        exclusive: bool = True,
        audited_by_work: bool = False,
        memory_mb: int | None = None,
    ) -> T:
        """Run ``work`` in one transaction, bump the data version and record an audit line.

        ``memory_mb``: the most the write may hold in this process's memory, past which an
        embedded DuckDB spills to disk (a large import's write); the limit is set once the write
        has its turn, so that a write still queued behind another limits nothing.

        ``audited_by_work``: ``work`` records the audit lines itself (a call that stands for
        several writes, one line each); ``action`` then only names the write in errors.

        ``exclusive`` writes are serialised across processes (a PostgreSQL advisory lock; a DuckDB
        file is held by one process at a time anyway); single-row bookkeeping such as sign-in
        counters passes False. Conflicts and deadlocks are retried a few times with a short
        back-off. Raises BadInput when the database refuses a value (a constraint), the errors of
        ``work``, and SalesplanError when the database fails.
        """
        delay = 0.01
        for attempt in range(WRITE_RETRIES):
            try:
                # one writer at a time per process: threads (browser sessions) sharing this Store
                # queue here instead of failing each other's transactions
                with self._write_lock, self._backend.limited_memory(memory_mb), self.atomic() as cursor:
                    if exclusive:
                        self._backend.lock_writes(cursor)
                    result = work(cursor)
                    if changes_data:
                        cursor.execute("UPDATE meta SET value = value + 1 WHERE key = 'data_version'")
                    if action and not audited_by_work:
                        cursor.execute(
                            "INSERT INTO audit_log VALUES (localtimestamp, ?, ?, ?)",
                            [principal.email, action, detail],
                        )
                if changes_data:
                    # after the commit: a reader that sees the new count reads the new version
                    self.writes_made = next(self._writes_counter)
                return result
            except SalesplanError:
                raise
            except Exception as error:
                if self._backend.is_retryable(error) and attempt < WRITE_RETRIES - 1:
                    time.sleep(delay)
                    delay *= 2
                    continue
                translated = self._backend.translate(error, action)
                if translated is not None:
                    raise translated from error
                raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ migrations
    def migrate(self) -> list[int]:
        """Apply the migrations not yet recorded, in order, each in one transaction.

        Safe when several processes start at once: each migration is checked again under the
        write lock inside its transaction. A database that has every migration already is told by
        one read, without a transaction or the write lock (every process opens an up-to-date
        database; a migration is only ever added, so nothing can undo one meanwhile). Raises the
        driver's error when a migration fails (nothing of it stays).
        """
        if self._recorded_migrations() >= {version for version, _, _ in MIGRATIONS}:
            return []
        with self.atomic() as cursor:
            self._backend.lock_writes(cursor)
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
        with self.cursor() as cursor:
            done = {row[0] for row in cursor.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            with self.atomic() as cursor:
                self._backend.lock_writes(cursor)
                if cursor.execute("SELECT count(*) FROM schema_migrations WHERE version = ?", [version]).fetchall()[0][0]:
                    continue  # another process applied it meanwhile
                cursor.execute(self._backend.migration_sql(version, sql))
                cursor.execute("INSERT INTO schema_migrations VALUES (?, ?, localtimestamp)", [version, name])
            applied.append(version)
        return applied

    def _recorded_migrations(self) -> set[int]:
        """The versions recorded in schema_migrations; none when it cannot be read (a new
        database has no such table: the full path of :meth:`migrate` then creates it, and
        raises any other error under the write lock). Raises DatabaseLocked or SalesplanError
        when the database cannot be reached."""
        with self.cursor() as cursor:
            try:
                return {int(row[0]) for row in cursor.execute("SELECT version FROM schema_migrations").fetchall()}
            except Exception:  # noqa: BLE001 - a missing table's error differs by driver; any other comes back below
                return set()

    def schema_version(self) -> int:
        with self.cursor() as cursor:
            return int(cursor.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0])

    def data_version(self) -> int:
        """A number that changes with every write: the cache key of every cached read."""
        with self.cursor() as cursor:
            return int(cursor.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchall()[0][0])

    # ------------------------------------------------------------------ roles
    def visible_rep_ids(self, principal: Principal) -> set[str] | None:
        """The rep_ids this principal may read, or None for everyone.

        A manager sees the reps under them, directly or through other managers, and themself.
        """
        scope = policy.read_scope(principal)
        if scope == "all":
            return None
        if scope == "none" or principal.rep_id is None:
            return set()
        if scope == "self":
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
        action = "write_rep" if write else "read_rep"
        policy.require_role(principal, action)  # no team lookup for a role that may never
        policy.require(principal, action, rep_id=rep_id, team=self.visible_rep_ids(principal))

"""Sharing one DuckDB file between processes: hold it only while working, and take turns.

DuckDB lets one process at a time open a database file for writing. So that a command-line import,
backup or user command can run while the dashboard serves, every process holds the file only while
it works:

* The first operation of a process opens the file; operations running meanwhile (other threads)
  share that connection through cheap cursors (one hold per file and process).
* A file is opened by attaching it to the process's one in-memory DuckDB database
  (:func:`files_database`) and closed by detaching it (which checkpoints it: the file is complete,
  without a write-ahead log, when it is not held): creating a DuckDB database costs ~35 ms of CPU
  and closing one ~25 ms, an attach and detach of a small file ~7 ms together. Each cursor is
  pointed at the file with ``USE``, so the store's SQL names its tables without the file's alias.
* When the last operation ends the file stays open for :data:`LINGER_SECONDS` more (a dashboard
  page makes several calls in a row), then it is closed.
* A process that finds the file held retries with back-off for at most the lock wait (30 s by
  default, ``$SALESPLAN_LOCK_WAIT``; then DatabaseLocked) and, while it waits, writes its pid into
  ``<file>.wait``. A holder that sees a fresh wait file lets its running operations finish, closes
  the file at once, and gives the waiter :data:`TURN_SECONDS` to take it before opening it again,
  so a busy dashboard cannot starve an import, nor the other way round.

The longest a process waits is therefore the longest single operation of the other process (a big
import or backup), capped by the lock wait.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb

from salesplan.errors import DatabaseLocked, SalesplanError

LINGER_SECONDS = 0.25
TURN_SECONDS = 1.0
WAIT_FRESH_SECONDS = 2.0
POLL_SECONDS = 0.1


def _is_lock_error(error: BaseException) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


_files_lock = threading.Lock()
_files_databases: dict[int, duckdb.DuckDBPyConnection] = {}
_aliases = itertools.count(1)


def files_database(first_file: str | None = None) -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB database that the store files are attached to, created on
    first use and kept. A child process made by fork makes its own (DuckDB's threads do not
    survive a fork). Raises duckdb.Error when DuckDB cannot start.

    Work that does not fit in memory spills to ``<first_file>.tmp``, next to the first file the
    process attaches, as it did when each file was a database of its own (DuckDB creates the
    folder when it first spills). An in-memory database's default would be ``.tmp`` in the
    current directory: a dashboard started in ``/`` or a read-only checkout could not spill, and
    one started in a shared folder would spill where anyone may have made that folder."""
    pid = os.getpid()
    with _files_lock:
        database = _files_databases.get(pid)
        if database is None:
            config: dict[str, str | bool | int | float | list[str]] = (
                {"temp_directory": f"{os.path.abspath(first_file)}.tmp"} if first_file else {}
            )
            database = _files_databases[pid] = duckdb.connect(":memory:", config=config)
        return database


def files_cursor(first_file: str) -> duckdb.DuckDBPyConnection:
    """A new connection of this process's files database (:func:`files_database`), in its own
    in-memory catalog (no file is used or held by it). Raises duckdb.Error when DuckDB cannot start."""
    database = files_database(first_file)
    with _files_lock:  # a connection is never used by two threads at once, even to make a cursor
        return database.cursor()


# the memory budgets of the limited writes running in this process (limited_memory)
_limit_lock = threading.Lock()
_budgets: list[int] = []


@contextmanager
def limited_memory(megabytes: int) -> Iterator[None]:
    """While open, this process's files database (:func:`files_database`) holds at most
    ``megabytes`` in memory, plus the budget of every other limited write running at the same
    time, and spills the rest to its temp folder: a large import's comparison with the ledger and
    its insert spill instead of growing with the file (DuckDB's default is 80 % of the machine's
    memory). DuckDB's default is set back when the last one ends (the files database is made
    without a limit of its own, and nothing else sets one). DuckDB's memory limit belongs
    to the database, not to a connection, so reads running meanwhile share it (they spill too).
    Where the limit cannot be lowered (more is held than it allows and cannot be let go) the work
    runs unlimited, as before. Raises nothing of its own."""
    database = _files_databases.get(os.getpid())
    if database is None:  # no file attached in this process yet: nothing to limit
        yield
        return
    with _files_lock:
        connection = database.cursor()
    try:
        with _limit_lock:
            _budgets.append(int(megabytes))
            _set_memory_limit(connection, f"{sum(_budgets)}MiB")
        try:
            yield
        finally:
            with _limit_lock:
                _budgets.remove(int(megabytes))
                if _budgets:
                    _set_memory_limit(connection, f"{sum(_budgets)}MiB")
                else:
                    connection.execute("RESET memory_limit")
    finally:
        connection.close()


# the budgets shared by the work of one name running at once (shared_limited_memory): name -> its
# users and the budget they hold; one lock orders them, held while the first enters the budget so
# that no other starts before the limit is set (never taken inside _files_lock or _limit_lock)
_shared_lock = threading.Lock()
_shared_users: dict[str, int] = {}
_shared_budgets: dict[str, AbstractContextManager[None]] = {}


@contextmanager
def shared_limited_memory(name: str, megabytes: int) -> Iterator[None]:
    """:func:`limited_memory` for work that shares one budget of ``megabytes`` with the other work
    of the same ``name`` running in the process at the same time (the uploads' parses: one budget
    for them all, as the parser database's memory limit is): the first to start adds it, the last
    to end takes it away (the first one's ``megabytes`` is the budget: the others' are not looked
    at); one that starts while the first is setting it waits for the limit. When the first cannot
    set it, it raises and the next one to start tries. Raises nothing of its own."""
    with _shared_lock:
        if _shared_users.get(name, 0) == 0:
            budget = limited_memory(megabytes)
            budget.__enter__()
            _shared_budgets[name] = budget
        _shared_users[name] = _shared_users.get(name, 0) + 1
    try:
        yield
    finally:
        with _shared_lock:
            _shared_users[name] -= 1
            if _shared_users[name] == 0:
                del _shared_users[name]
                _shared_budgets.pop(name).__exit__(None, None, None)


def _set_memory_limit(connection: duckdb.DuckDBPyConnection, limit: str) -> None:
    try:
        connection.execute(f"SET memory_limit = {_sql_text(limit)}")
    except duckdb.Error:
        pass  # more is held than the limit allows and cannot be let go: the limit stays as it was


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_bar_off_in_new_cursors: bool | None = None  # found once per process (see _cursors_start_without_bar)


def _cursors_start_without_bar(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether a new cursor of the process's files database starts with the progress bar off (a
    property of the DuckDB version: asked once per process, not at every attach). Raises
    duckdb.Error."""
    global _bar_off_in_new_cursors
    if _bar_off_in_new_cursors is None:
        probe = connection.cursor()
        try:
            _bar_off_in_new_cursors = probe.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
        finally:
            probe.close()
    return _bar_off_in_new_cursors


class FileHold:
    """This process's hold on one DuckDB file (see the module docstring)."""

    def __init__(self, path: str, lock_wait: Callable[[], float]):
        self.path = path
        # the name the file is attached under in the process's database (unique in the process)
        self.alias = f"salesplan_file_{next(_aliases)}"
        self._pid = os.getpid()
        self._lock_wait = lock_wait
        self._wait_file = Path(f"{path}.wait")
        self._cond = threading.Condition()
        # one writer at a time per file and process, whichever Store object it uses
        self.write_lock = threading.RLock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._users = 0
        # operations running per thread: a thread inside an operation never waits for the
        # operations to end (it would wait for itself until the other process gives up)
        self._running: dict[int, int] = {}
        self._idle_since = 0.0
        self._turn_given_until = 0.0
        self._timer: threading.Timer | None = None
        self._cursor_setup = ""  # set by _attach
        self._stale: list[str] = []  # names whose detach failed (see _close)

    # ---------------------------------------------------------------- the other processes
    def _others_waiting(self) -> bool:
        try:
            stat = self._wait_file.stat()
            if time.time() - stat.st_mtime > WAIT_FRESH_SECONDS:
                return False
            return self._wait_file.read_text().strip() != str(os.getpid())
        except (OSError, ValueError):
            return False

    def _announce_waiting(self) -> None:
        try:
            self._wait_file.write_text(str(os.getpid()))
        except OSError:
            pass  # a read-only folder: we still get the file, only perhaps later

    def _stop_announcing(self) -> None:
        try:
            if self._wait_file.read_text().strip() == str(os.getpid()):
                self._wait_file.unlink()
        except OSError:
            pass

    # ---------------------------------------------------------------- open and close
    def _connect(self) -> duckdb.DuckDBPyConnection:
        wait = self._lock_wait()
        deadline = time.monotonic() + wait
        delay = 0.01
        waited = False
        try:
            while True:
                try:
                    return self._attach()
                except duckdb.IOException as error:
                    if not _is_lock_error(error):
                        raise SalesplanError(f"Cannot open the database {self.path}: {error}") from error
                    if time.monotonic() >= deadline:
                        raise DatabaseLocked(
                            f"The database {self.path} stayed in use by another process for more than "
                            f"{wait:.0f} s (a long import or backup?). Try again when it has finished, "
                            "or use another database file."
                        ) from error
                    self._announce_waiting()
                    waited = True
                    time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                    delay = min(delay * 2, POLL_SECONDS)
                except duckdb.Error as error:
                    raise SalesplanError(f"Cannot open the database {self.path}: {error}") from error
        finally:
            if waited:
                self._stop_announcing()

    def _attach(self) -> duckdb.DuckDBPyConnection:
        """A connection of the process's database with the file attached (and in use); raises
        duckdb.Error when it cannot be attached (held by another process, not a DuckDB file)."""
        database = files_database(self.path)
        # a fresh name at every attach: were a detach ever to fail half-way, the old name would
        # still be taken in the process's database and no later attach could use it
        self.alias = f"salesplan_file_{next(_aliases)}"
        with _files_lock:  # a connection is never used by two threads at once, even to make a cursor
            connection = database.cursor()
        try:
            while self._stale:  # a detach that failed (see _close) is done before attaching again
                connection.execute(f"DETACH DATABASE IF EXISTS {self._stale[-1]}")
                self._stale.pop()
            connection.execute(f"ATTACH {_sql_text(self.path)} AS {self.alias}")
            connection.execute(f"USE {self.alias}")
            # what every operation's cursor runs first. DuckDB 2.0's cursors start with the
            # progress bar off (their parent connection has it on), so that SET is left out when a
            # new cursor shows it off: it was half of the ~0.7 ms each operation paid (~4 % of a
            # dashboard page's run); a version whose cursors start with it on still gets it
            self._cursor_setup = f"USE {self.alias}" + ("" if _cursors_start_without_bar(connection) else "; SET enable_progress_bar = false")
        except BaseException:
            connection.close()
            raise
        return connection

    def _close(self, *, give_turn: bool) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                # detaching checkpoints the file and lets its lock go; the connection must first
                # stop using it
                connection.execute(f"USE memory; DETACH {self.alias}")
            except BaseException:
                self._stale.append(self.alias)  # still attached: the next attach detaches it first
                raise
            finally:
                connection.close()
        if give_turn:
            self._turn_given_until = time.monotonic() + TURN_SECONDS

    def _close_when_idle(self) -> None:
        """The linger timer's work, on a thread of its own: close the file once no operation used
        it for LINGER_SECONDS. Raises nothing: a close whose checkpoint fails (it needs memory,
        and a large upload's write may limit this process's to less, duckfile.limited_memory)
        leaves the file's changes in its write-ahead log, which the next attach replays; the
        name that may still be attached is detached again a moment later or at the next attach."""
        with self._cond:
            self._timer = None
            if self._users:
                return
            if self._connection is None:
                self._detach_stale()
                return
            left = self._idle_since + LINGER_SECONDS - time.monotonic()
            if left > 0:
                self._schedule(left)
                return
            try:
                self._close(give_turn=False)
            except Exception:  # noqa: BLE001 - a thread has no caller to tell; see the docstring
                self._schedule(TURN_SECONDS)

    def _detach_stale(self) -> None:
        """Detach the names whose detach failed (see _close) while the file is not held; on a
        failure again, try once more a moment later. Raises nothing (a timer thread runs it)."""
        if not self._stale or self._pid != os.getpid():
            return
        try:
            with _files_lock:
                connection = files_database(self.path).cursor()
        except Exception:  # noqa: BLE001 - the next attach detaches them first anyway
            return
        try:
            while self._stale:
                connection.execute(f"DETACH DATABASE IF EXISTS {self._stale[-1]}")
                self._stale.pop()
        except Exception:  # noqa: BLE001 - still too little memory: later, or at the next attach
            self._schedule(TURN_SECONDS)
        finally:
            connection.close()

    def _schedule(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._close_when_idle)
        self._timer.daemon = True
        self._timer.start()

    # ---------------------------------------------------------------- one operation
    def acquire(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the file for one operation (using it, without the progress bar); raises
        DatabaseLocked after the lock wait, SalesplanError when the file cannot be opened."""
        thread = threading.get_ident()
        with self._cond:
            if self._pid != os.getpid():
                # a child process made by fork: the parent's connection is not ours to use or close
                self._pid, self._connection, self._users, self._running, self._timer = os.getpid(), None, 0, {}, None
            nested = self._running.get(thread, 0) > 0 and self._connection is not None
            # another process waits: let the running operations finish, then hand the file over
            while not nested and self._connection is not None and self._others_waiting():
                if self._users == 0:
                    self._close(give_turn=True)
                else:
                    self._cond.wait(POLL_SECONDS)
            while (self._connection is None and time.monotonic() < self._turn_given_until
                   and self._others_waiting()):
                self._cond.wait(POLL_SECONDS)
            if self._connection is None:
                self._connection = self._connect()
            self._users += 1
            self._running[thread] = self._running.get(thread, 0) + 1
            try:
                cursor = self._connection.cursor()
                try:
                    cursor.execute(self._cursor_setup)
                except BaseException:
                    cursor.close()
                    raise
                return cursor
            except BaseException:
                self._end_operation(thread)
                raise

    def _end_operation(self, thread: int) -> None:
        self._users -= 1
        left = self._running.get(thread, 0) - 1
        if left > 0:
            self._running[thread] = left
        else:
            self._running.pop(thread, None)

    def release(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """End one operation; the file is closed when no other one needs it for a moment."""
        cursor.close()
        with self._cond:
            self._end_operation(threading.get_ident())
            if self._users == 0:
                if self._others_waiting():
                    self._close(give_turn=True)
                else:
                    self._idle_since = time.monotonic()
                    if self._timer is None:
                        self._schedule(LINGER_SECONDS)
            self._cond.notify_all()

    def close(self) -> None:
        """Close the file now if no operation runs (the store is closed)."""
        with self._cond:
            if self._users == 0:
                self._close(give_turn=False)


_holds: dict[str, FileHold] = {}
_holds_lock = threading.Lock()


def close_idle_holds() -> None:
    """Close every file this process holds but does not use, and stop their linger timers.

    Runs at interpreter exit: a linger timer is a daemon thread, and one closing a DuckDB
    connection while Python finalises dies inside DuckDB's C++ code, which aborts the process
    ("terminate called after throwing ... exception not rethrown", exit 134) after all its work
    is done. Raises nothing.
    """
    with _holds_lock:
        holds = list(_holds.values())
    for hold in holds:
        with hold._cond:
            if hold._timer is not None:
                hold._timer.cancel()
                hold._timer = None
            if hold._users == 0:
                hold._close(give_turn=False)


atexit.register(close_idle_holds)


def hold_for(path: str, lock_wait: Callable[[], float]) -> FileHold:
    """The one hold of this process on the file at ``path``."""
    key = os.path.realpath(path)
    with _holds_lock:
        if key not in _holds:
            _holds[key] = FileHold(path, lock_wait)
        return _holds[key]

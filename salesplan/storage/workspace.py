"""A workspace in the store's own DuckDB for an import to parse a file in (the embedded default).

An import parses its file with SQL in DuckDB. On a PostgreSQL store it does so in a private
in-memory DuckDB of its own (``salesplan.files.quiet_connection``) and hands the store its rows
as Arrow, or, for a large file, as a Parquet file the store reads. On an embedded DuckDB store the
rows would then be written twice more than they need: encoded into that file, decoded from it.
So on that backend the store lends the import a workspace instead: a fresh in-memory database
attached to the very DuckDB instance that holds the store's file (``ATTACH ':memory:'``), and a
connection pointed at it. What the import leaves there is handed back as a
:class:`WorkspaceTable`, which the store's write reads where it is, in the same instance: no
copy, no file (docs/decisions.md, "One DuckDB for a large import's parse and write").

A large parse kept in the workspace is held to the import's memory setting, one budget shared by
the parses running at once, as the parser database's limit is (DuckDB's memory limit belongs to
the whole instance: the dashboard's reads meanwhile share it and spill too, as they do during a
large write), from the read of a file that may be kept there on; any other import sets no limit. The import ends it
(:meth:`ImportWorkspace.end_parse`) before its write, which sets its own once it has its turn.
Past the limit the workspace's tables spill to the files database's spill folder (beside the first
DuckDB file the process opened). The attached database is
detached, and its tables let go, when the workspace closes.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import duckdb

_names = itertools.count(1)
_WORKSPACE_RELATION = re.compile(r'salesplan_import_[0-9]+\.main\."[A-Za-z_][A-Za-z0-9_]*"')
_names_lock = threading.Lock()
# workspaces whose detach failed: detached before the next workspace is made
_stale: list[str] = []


@dataclass(frozen=True)
class WorkspaceTable:
    """Rows an import left in its workspace, for the store's write to read in place.

    ``relation`` is the table's or view's qualified, quoted name in the store's DuckDB instance;
    ``columns`` its column names; ``num_rows`` its row count when it was handed over."""

    relation: str
    columns: tuple[str, ...]
    num_rows: int

    def __post_init__(self) -> None:
        # the relation is pasted into the store's SQL (Cursor.stage): only a workspace's own
        # table, named as ImportWorkspace.qualified names it, is accepted, never other SQL or the
        # store's own tables
        if not _WORKSPACE_RELATION.fullmatch(self.relation):
            raise TypeError(f"not a table of an import workspace: {self.relation!r}")


class ImportWorkspace:
    """An in-memory database attached to the store's DuckDB instance for one import, and a
    connection using it (``connection``: unqualified tables it creates go there; temporary tables
    stay the connection's own). Made by ``Store.import_workspace``; never shared by threads.

    ``memory`` makes the budget of the import's parse (:meth:`limit_memory`): entered only once
    the import keeps a large parse in the workspace, so that a small import never lowers the
    memory of the whole instance, which the dashboard's reads share."""

    def __init__(self, new_cursor: Callable[[], duckdb.DuckDBPyConnection],
                 memory: Callable[[], AbstractContextManager[None]]):
        # (the name is new at every workspace: two imports at once each have their own)
        with _names_lock:
            self.name = f"salesplan_import_{next(_names)}"
            stale, _stale[:] = list(_stale), []
        self._new_cursor = new_cursor
        self._memory = memory
        self._budget: AbstractContextManager[None] | None = None
        self._attached = False
        self.connection = new_cursor()
        try:
            for name in stale:
                try:
                    self._detach(self.connection, name)
                except duckdb.Error:
                    with _names_lock:
                        _stale.append(name)  # (tried again by the next one)
            self.connection.execute(f"ATTACH ':memory:' AS {self.name}")
            self._attached = True
            self.connection.execute(f"USE {self.name}")
            self.connection.execute("SET enable_progress_bar = false")
        except BaseException:
            self.close()
            raise

    def qualified(self, table: str) -> str:
        """The name of a table of the workspace (a plain identifier) as any connection of the
        instance reads it."""
        return f'{self.name}.main."{table}"'

    def table(self, name: str) -> WorkspaceTable:
        """The table or view ``name`` of the workspace (made on :attr:`connection`) as rows to
        hand to the store. Raises duckdb.Error when there is no such relation."""
        qualified = self.qualified(name)
        cursor = self._new_cursor()
        try:
            columns = tuple(column[0] for column in cursor.execute(f"SELECT * FROM {qualified} LIMIT 0").description)
            rows = int(cursor.execute(f"SELECT count(*) FROM {qualified}").fetchall()[0][0])
        finally:
            cursor.close()
        return WorkspaceTable(qualified, columns, rows)

    def limit_memory(self) -> None:
        """Hold the parse to the import's memory setting from now until :meth:`end_parse` (past
        it, the workspace's tables spill to disk): called when the import keeps a large parse in
        the workspace. Calling it again does nothing. Raises nothing of its own."""
        if self._budget is None:
            budget = self._memory()
            budget.__enter__()
            self._budget = budget

    def end_parse(self) -> None:
        """The import is done parsing: its connection is closed (its temporary tables go) and its
        memory budget ends; the workspace's tables stay for the write. Calling it again does nothing.
        Raises duckdb.Error when the connection cannot be closed (the budget ends all the same)."""
        try:
            self.connection.close()
        finally:
            if self._budget is not None:
                budget, self._budget = self._budget, None
                budget.__exit__(None, None, None)

    def close(self) -> None:
        """Let the workspace go: its connection, its memory budget and the attached database with
        every table in it. A database that cannot be detached now is detached when the next
        workspace is made: the import's own result or error is what the caller sees. Raises
        duckdb.Error when the connection cannot be closed."""
        try:
            self.end_parse()
        finally:
            if self._attached:
                self._attached = False
                try:
                    cursor = self._new_cursor()
                    try:
                        self._detach(cursor, self.name)
                    finally:
                        cursor.close()
                except duckdb.Error:
                    with _names_lock:
                        _stale.append(self.name)

    @staticmethod
    def _detach(cursor: duckdb.DuckDBPyConnection, name: str) -> None:
        cursor.execute(f"DETACH DATABASE IF EXISTS {name}")

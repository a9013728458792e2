"""The workspace an embedded DuckDB store lends an actuals import (storage/workspace.py; docs/decisions.md,
"One DuckDB for a large import's parse and write"): each import has its own, imports at once do not
see each other's tables, the store's other connections keep their settings, and nothing of it is
left behind, whether the import succeeds or fails."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pytest

from salesplan import imports
from salesplan.errors import BadInput, SalesplanError
from salesplan.files import PARSER_MEMORY_MB
from salesplan.principal import SYSTEM
from salesplan.storage import WorkspaceTable, backends, duckfile, workspace
from salesplan.store import Store
from tests.helpers.actuals import LARGE_ROWS, actuals, attached_workspaces
from tests.helpers.actuals import large_file as _file

N = LARGE_ROWS


def _settled(store: Store) -> tuple[list[str], str]:
    """The import workspaces attached to the store's DuckDB now, and its memory limit."""
    with store.cursor() as cursor:
        return attached_workspaces(store), str(cursor.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


@pytest.fixture
def store(reps_store, monkeypatch):
    """A file-backed store with reps (``reps_store``), every actuals file taking the large path."""
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0)
    return reps_store


def test_two_large_imports_at_once_each_parse_in_a_workspace_of_their_own(store, monkeypatch):
    before = _settled(store)
    handed: list[str] = []
    both_parsed = threading.Barrier(2, timeout=60)
    apply = store.apply_actuals

    def meet_then_apply(principal, rows, rejected, **options):
        # both imports have parsed and hold their rows in their workspaces at the same time
        assert isinstance(rows, WorkspaceTable)
        handed.append(rows.relation)
        both_parsed.wait()
        return apply(principal, rows, rejected, **options)

    monkeypatch.setattr(store, "apply_actuals", meet_then_apply)
    results: dict[str, object] = {}

    def run(prefix: str, amount: float) -> None:
        try:
            results[prefix] = actuals(store, _file(prefix, amount))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below, not lost in the thread
            results[prefix] = error

    threads = [threading.Thread(target=run, args=args) for args in (("A", 0.25), ("B", 0.5))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [getattr(results[prefix], "inserted", results[prefix]) for prefix in "AB"] == [N, N]
    assert len(set(handed)) == 2  # two workspaces, not one shared
    written = store.actuals(SYSTEM)
    for prefix, amount in (("A", 0.25), ("B", 0.5)):
        mine = written[written["order_id"].str.startswith(prefix)]
        assert len(mine) == N and mine["revenue"].sum() == pytest.approx(sum(i + amount for i in range(N)))
    assert _settled(store) == before


def test_a_refused_file_leaves_no_workspace_and_the_memory_limit_as_it_was(store):
    before = _settled(store)
    text = _file("A", 0.25).replace("2025-03-04,R002,A1,1,1.25", "2025-03-04,R002,A1,1,abc")
    with pytest.raises(BadInput, match="letters"):
        actuals(store, text)
    assert _settled(store) == before
    assert store.actuals(SYSTEM).empty


@pytest.mark.parametrize("large", [False, True], ids=["small file", "large file"])
def test_only_a_large_parse_holds_the_store_to_the_imports_memory(reps_store, monkeypatch, large):
    # DuckDB's limit is the whole instance's (the dashboard's reads share it): a small import
    # never lowers it; a large one does while it parses, then its write sets its own
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0 if large else 1e9)
    seen: dict[str, str] = {}
    opened = reps_store
    unlimited = _settled(opened)[1]
    register = imports.actuals._collect
    read_table = imports.flow.read_table

    def read_and_look(*args, connection, **kwargs):  # (the read of the file: held to it as well)
        seen["read"] = str(connection.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        return read_table(*args, connection=connection, **kwargs)

    monkeypatch.setattr(imports.flow, "read_table", read_and_look)

    def collect_and_look(parser, valid_only):  # (the parse's last checks run under its budget)
        seen["parse"] = str(parser.connection.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        return register(parser, valid_only)

    monkeypatch.setattr(imports.actuals, "_collect", collect_and_look)
    assert actuals(opened, _file("A", 0.25)).inserted == N
    assert seen["parse"] == seen["read"] == (f"{PARSER_MEMORY_MB}.0 MiB" if large else unlimited)
    assert _settled(opened) == ([], unlimited)


def test_two_large_parses_at_once_share_one_budget(store, monkeypatch):
    # as the parser database's one limit: two uploads parsing at once hold the instance to the
    # setting once, not twice
    before = _settled(store)
    seen: list[str] = []
    both = threading.Barrier(2, timeout=60)
    collect = imports.actuals._collect

    def look(parser, valid_only):  # (both parses are at their last checks at the same time)
        both.wait()
        seen.append(str(parser.connection.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]))
        both.wait()
        return collect(parser, valid_only)

    monkeypatch.setattr(imports.actuals, "_collect", look)
    inserted: dict[str, int] = {}
    threads = [threading.Thread(target=lambda p=p: inserted.__setitem__(p, actuals(store, _file(p, 0.25)).inserted))
               for p in "AB"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert inserted == {"A": N, "B": N}
    assert seen == [f"{PARSER_MEMORY_MB}.0 MiB"] * 2
    assert _settled(store) == before


def test_a_workspace_that_cannot_be_detached_is_detached_by_the_next(store, monkeypatch):
    detach = workspace.ImportWorkspace._detach
    failing = [True]

    def fails_once(cursor, name):
        if failing.pop() if failing else False:
            raise duckdb.IOException("cannot detach now")
        return detach(cursor, name)

    monkeypatch.setattr(workspace.ImportWorkspace, "_detach", staticmethod(fails_once))
    # the import's own result is what its caller sees, not the failed detach
    assert actuals(store, _file("A", 0.25)).inserted == N
    assert len(_settled(store)[0]) == 1
    with store.import_workspace(PARSER_MEMORY_MB) as lent:  # the next one detaches it first
        assert _settled(store)[0] == [lent.name]
    assert _settled(store)[0] == []


def test_a_workspace_is_detached_when_its_budget_cannot_be_set(store, monkeypatch):
    before = _settled(store)
    ended: list[bool] = []

    class Refused:
        """A budget that cannot be set (its limit is refused), and tells whether it was ended."""

        def __enter__(self):
            raise duckdb.OutOfMemoryException("no budget")

        def __exit__(self, *exc):
            ended.append(True)

    monkeypatch.setattr(backends, "shared_limited_memory", lambda name, megabytes: Refused())
    # the large file's import stops (refused as too large to check), and leaves nothing behind
    with pytest.raises(BadInput, match="too large to check"):
        actuals(store, _file("A", 0.25))
    assert _settled(store) == before and store.actuals(SYSTEM).empty
    assert ended == [] and duckfile._shared_users == {}  # (a budget never set is never ended)
    with store.import_workspace(PARSER_MEMORY_MB) as lent:
        lent.end_parse()
        lent.end_parse()  # (twice: nothing more)
    assert _settled(store) == before


def test_a_workspace_that_cannot_be_made_is_the_stores_error_not_the_drivers(store, monkeypatch):
    def refused(path):
        raise duckdb.IOException("no more connections")

    with monkeypatch.context() as patched:
        patched.setattr(backends, "files_cursor", refused)
        with pytest.raises(SalesplanError, match="Cannot make a workspace for the import") as caught:
            actuals(store, _file("A", 0.25))
    assert not isinstance(caught.value, duckdb.Error)
    assert _settled(store)[0] == [] and store.actuals(SYSTEM).empty


def test_only_a_workspaces_own_table_can_be_handed_to_the_store():
    # (its name is pasted into the store's SQL: never other SQL, nor the store's own tables)
    assert WorkspaceTable('salesplan_import_7.main."rows_written"', ("row_key",), 1).num_rows == 1
    for relation in ("main.actual_versions", 'salesplan_import_7.main."x" UNION SELECT * FROM users',
                     'salesplan_file_1.main."actual_versions"', "(SELECT 1)"):
        with pytest.raises(TypeError, match="not a table of an import workspace"):
            WorkspaceTable(relation, ("row_key",), 1)


def test_letting_a_workspace_go_never_hides_the_imports_own_error(store, monkeypatch):
    close = workspace.ImportWorkspace.close

    def fails(self):
        close(self)  # (let go all the same, so that nothing is left behind by the test)
        raise duckdb.IOException("cannot close")

    monkeypatch.setattr(workspace.ImportWorkspace, "close", fails)
    # the import's own problem, not the failure to let its workspace go
    with pytest.raises(BadInput, match="letters"):
        actuals(store, _file("A", 0.25).replace(",A1,1,1.25", ",A1,1,abc"))
    # a workspace that cannot be let go after the import's work: the store's error, not the driver's
    with pytest.raises(SalesplanError, match="Cannot let the import's workspace go") as caught:
        with store.import_workspace(PARSER_MEMORY_MB):
            pass
    assert not isinstance(caught.value, duckdb.Error)


def test_the_stores_own_connections_keep_duckdbs_arrow_output(store):
    # the parse's connection gives DECIMAL(18,4) as decimal64; that setting is its session's only
    assert actuals(store, _file("A", 0.25)).inserted == N
    with store.cursor() as cursor:
        fetched = cursor.arrow("SELECT revenue FROM actual_versions LIMIT 1")
    assert fetched.schema.field("revenue").type == pa.decimal128(18, 4)

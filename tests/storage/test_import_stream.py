"""A large actuals import hands the store its rows where they are (in the workspace an embedded
DuckDB store lends it) or as a file (PostgreSQL), and the store writes within the import's memory
setting (docs/decisions.md, "The import's fast paths" and "One DuckDB for a large import's parse
and write"; BENCHMARKS.md, issue 17): the rows are never whole in Python memory, the workspace or
the file goes whatever happens, and nothing is written when the write fails."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.files import PARSER_MEMORY_MB
from salesplan.principal import SYSTEM
from salesplan.storage import WorkspaceTable, duckfile, postgres, workspace
from salesplan.storage.backends import DuckDBBackend
from tests.helpers.actuals import LARGE_ROWS, actuals, attached_workspaces, large_file

N = LARGE_ROWS


@pytest.fixture
def spilled(monkeypatch):
    """Every file takes the large file's path (its parse kept in DuckDB: the workspace an embedded
    store lends, else the parser database)."""
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0)


def _spy(monkeypatch, store, fail: bool = False) -> list[dict]:
    """Record what the import hands the store (and, with ``fail``, fail the write in its
    transaction after the rows were staged and compared)."""
    seen: list[dict] = []
    apply = store.apply_actuals

    def spy(principal, rows, rejected, **options):
        files = list(rows.files) if isinstance(rows, ds.FileSystemDataset) else []
        # a workspace's rows, as the store reads them (its connections are of the same DuckDB)
        in_workspace = _count(store, rows.relation) if isinstance(rows, WorkspaceTable) else None
        seen.append({"rows": rows, "files": files, "exists": [os.path.exists(f) for f in files],
                     "in_workspace": in_workspace, **options})
        if fail:
            # the write's work runs whole (batch, versions, keys written in its transaction), then
            # the write fails: what it wrote must go with the rollback
            write = store.write

            def write_then_fail(principal, action, detail, work, **kwargs):
                def work_then_fail(cursor):
                    work(cursor)
                    assert cursor.execute("SELECT count(*) FROM actual_versions").fetchall()[0][0] > 0
                    raise BadInput.single("sales.csv", "the write failed half-way")

                return write(principal, action, detail, work_then_fail, **kwargs)

            monkeypatch.setattr(store, "write", write_then_fail)
        return apply(principal, rows, rejected, **options)

    monkeypatch.setattr(store, "apply_actuals", spy)
    return seen


def _count(store, relation: str) -> int:
    with store.cursor() as cursor:
        return int(cursor.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0])


def _handed_over(store, given: dict) -> None:
    """The rows were handed over where they are: a DuckDB store reads them in the workspace it lent
    (no file); a server gets one Parquet file in the parser's private spill folder."""
    if store.dialect == "duckdb":
        assert isinstance(given["rows"], WorkspaceTable) and given["files"] == []
        assert given["in_workspace"] == given["rows"].num_rows
        assert given["rows"].relation.startswith("salesplan_import_")
    else:
        assert isinstance(given["rows"], ds.FileSystemDataset) and isinstance(given["rows"].format, ds.ParquetFileFormat)
        assert given["exists"] == [True] and os.path.basename(given["files"][0]).startswith("salesplan-rows-")


def _gone(store, given: dict) -> None:
    """The workspace or the file went with the import."""
    assert attached_workspaces(store) == []
    assert not any(os.path.exists(file) for file in given["files"])
    if isinstance(given["rows"], WorkspaceTable):
        with pytest.raises(duckdb.Error):
            _count(store, given["rows"].relation)


def test_a_large_import_hands_the_store_its_rows_in_place_then_lets_them_go(any_store, reps_file, monkeypatch, spilled):
    reps_file(any_store)
    seen = _spy(monkeypatch, any_store)
    result = actuals(any_store, large_file())
    assert (result.inserted, result.rejected) == (N, 0)
    [given] = seen
    _handed_over(any_store, given)
    assert given["in_workspace"] == (N if any_store.dialect == "duckdb" else None)
    # the store's write gets the import's memory setting
    assert given["memory_mb"] == PARSER_MEMORY_MB
    _gone(any_store, given)
    frame = any_store.actuals(SYSTEM)
    assert len(frame) == N and frame["revenue"].sum() == pytest.approx(sum(i + 0.25 for i in range(N)))
    assert result.overview.rows == N and result.overview.reps == ["R001", "R002"]
    # the same file again, through the same path: every row unchanged, nothing written
    again = actuals(any_store, large_file())
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, N)
    _handed_over(any_store, seen[-1])
    _gone(any_store, seen[-1])


def test_a_write_failing_half_way_writes_nothing_and_lets_the_rows_go(any_store, reps_file, monkeypatch, spilled):
    reps_file(any_store)
    batches_before = len(any_store.batches(SYSTEM))
    seen = _spy(monkeypatch, any_store, fail=True)
    with pytest.raises(BadInput, match="failed half-way"):
        actuals(any_store, large_file())
    _handed_over(any_store, seen[0])
    _gone(any_store, seen[0])
    assert any_store.actuals(SYSTEM).empty
    assert len(any_store.batches(SYSTEM)) == batches_before


def test_compact_rows_from_several_batches_are_written_as_given(any_store, reps_file):
    # dictionary-encoded texts whose dictionaries differ from batch to batch, and 64-bit decimals
    # (PostgreSQL decodes them a batch at a time for COPY; DuckDB scans them as they are)
    reps_file(any_store)
    frames = []
    for part, reps in enumerate((["R001", "R002"], ["R002", "R001"])):
        keys = [f"o|O{part}-{i}|1" for i in range(3)]
        frames.append(pa.table({
            "row_key": keys, "line": pa.array([part * 3 + i + 2 for i in range(3)], pa.int64()),
            "sale_date": pa.array([pd.Timestamp("2025-03-03").date()] * 3, pa.date32()),
            "rep_id": pc.dictionary_encode(pa.array([reps[i % 2] for i in range(3)])),
            "territory": pc.dictionary_encode(pa.array([None, "Nordics", None][:3], pa.string())),
            "revenue": pa.array([10, 20, 30], pa.decimal128(18, 4)).cast(pa.decimal64(18, 4)),
            "cost": pa.array([None, 1, None], pa.decimal128(18, 4)).cast(pa.decimal64(18, 4)),
            "profit": pa.array([10, 19, 30], pa.decimal128(18, 4)).cast(pa.decimal64(18, 4)),
            "order_id": [f"O{part}-{i}" for i in range(3)],
            "order_line": pc.dictionary_encode(pa.array(["1"] * 3)),
            "customer": pc.dictionary_encode(pa.array([f"C{part}", "C9", None])),
            "product": pc.dictionary_encode(pa.array(["P", None, f"Q{part}"])),
            "currency": pc.dictionary_encode(pa.array([None] * 3, pa.string())),
            "territory_from_file": [False, True, False],
        }))
    rows = _concat(frames)
    rejected = pd.DataFrame({"line": [], "record": [], "problems": []})
    _, counts = any_store.apply_actuals(SYSTEM, rows, rejected, file_name="compact", sha256=None, valid_only=False)
    assert counts.inserted == 6
    stored = any_store.actuals(SYSTEM).sort_values("row_key").reset_index(drop=True)
    assert stored["rep_id"].tolist() == ["R001", "R002", "R001", "R002", "R001", "R002"]
    def texts(column: str) -> list[str | None]:
        return [None if pd.isna(value) else value for value in stored[column]]

    assert texts("customer") == ["C0", "C9", None, "C1", "C9", None]
    assert texts("product") == ["P", None, "Q0", "P", None, "Q1"]
    assert stored["revenue"].tolist() == [10, 20, 30] * 2 and stored["cost"].isna().tolist() == [True, False, True] * 2


def _concat(frames: list[pa.Table]) -> pa.Table:
    """Two tables whose dictionary columns have different dictionaries, as one table of two chunks."""
    schema = frames[0].schema
    return pa.Table.from_batches([b for frame in frames for b in frame.to_batches()], schema=schema)


def test_copy_batches_decode_one_batch_at_a_time():
    texts = pc.dictionary_encode(pa.array([f"t{i % 7}" for i in range(10)]))
    table = pa.table({"text": texts, "amount": pa.array(range(10), pa.decimal128(18, 4)).cast(pa.decimal64(18, 4))})
    schema, batches = postgres._batches(table)
    assert schema.field("text").type == pa.string()
    decoded = list(batches)
    assert all(batch.schema == schema for batch in decoded)
    assert sum(batch.num_rows for batch in decoded) == 10
    assert [v for batch in decoded for v in batch.column("text").to_pylist()] == [f"t{i % 7}" for i in range(10)]


def test_the_write_is_capped_at_the_budgets_of_the_limited_writes_running(tmp_path):
    store_path = str(tmp_path / "cap.duckdb")
    backend = DuckDBBackend(store_path)
    try:
        with backend.cursor() as cursor:  # the process's files database now exists
            before = cursor.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

        def limit() -> str:
            with backend.cursor() as cursor:
                return cursor.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

        with backend.limited_memory(300):
            assert limit() == "300.0 MiB"
            with duckfile.limited_memory(200):  # a second write at the same time: both budgets
                assert limit() == "500.0 MiB"
            assert limit() == "300.0 MiB"
        assert limit() == before
        with backend.limited_memory(None):
            assert limit() == before
    finally:
        backend.close()


def test_the_parses_at_once_share_one_budget_beside_the_writes(tmp_path):
    # the uploads' parses in the store's DuckDB are held to one budget together, as the parser
    # database's limit is; a large write's budget is its own, added to theirs
    backend = DuckDBBackend(str(tmp_path / "shared.duckdb"))
    try:
        def limit() -> str:
            with backend.cursor() as cursor:
                return cursor.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

        before = limit()
        with duckfile.shared_limited_memory("parse", 300):
            assert limit() == "300.0 MiB"
            with duckfile.shared_limited_memory("parse", 300):  # a second upload's parse
                assert limit() == "300.0 MiB"
                with duckfile.limited_memory(200):  # a large write meanwhile
                    assert limit() == "500.0 MiB"
            assert limit() == "300.0 MiB"  # (the first parse still runs)
        assert limit() == before
    finally:
        backend.close()


def test_a_write_out_of_memory_is_refused_with_a_message():
    backend = DuckDBBackend(":memory:")
    try:
        refused = backend.translate(duckdb.OutOfMemoryException("could not allocate"), "import actuals")
    finally:
        backend.close()
    assert isinstance(refused, BadInput)
    assert "did not fit in the memory allowed while a large upload is written" in refused.problems[0].reason


def test_a_large_files_write_holds_the_imports_memory_only_once_it_has_its_turn(tmp_path, reps_file, monkeypatch, spilled):
    # the limit belongs to the process's whole files database: an import still queued behind
    # another write must not lower it under that write, and the import's own write runs within it
    import threading

    from salesplan.store import Store

    with Store.open(tmp_path / "org.duckdb") as store:
        reps_file(store)

        def memory_limit(cursor) -> str:
            return str(cursor.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])

        with store.cursor() as cursor:
            unlimited = memory_limit(cursor)
        seen_in_import: list[str] = []
        new_batch = store._new_batch

        def spy(cursor, **options):
            seen_in_import.append(memory_limit(cursor))
            return new_batch(cursor, **options)

        monkeypatch.setattr(store, "_new_batch", spy)
        import_waiting, seen_by_other = threading.Event(), []
        apply = store.apply_actuals

        def apply_then_queue(*args, **options):
            import_waiting.set()  # the import has its rows and goes to the store's write
            return apply(*args, **options)

        monkeypatch.setattr(store, "apply_actuals", apply_then_queue)

        importer = threading.Thread(target=lambda: actuals(store, large_file()))
        import_at_lock = threading.Event()
        lock = store._write_lock

        class Turn:
            """The store's write lock, telling when the import asks for it."""

            def __enter__(self):
                if threading.current_thread() is importer:
                    import_at_lock.set()
                return lock.__enter__()

            def __exit__(self, *exc):
                return lock.__exit__(*exc)

        def other_write(cursor) -> None:
            import_waiting.wait(60)
            import_at_lock.wait(60)  # the import is queued for its turn: a limit set before it is set now
            seen_by_other.append(memory_limit(cursor))

        with lock:  # the other write has the turn before the import reaches the store
            monkeypatch.setattr(store, "_write_lock", Turn())
            importer.start()
            writer = threading.Thread(target=lambda: store.write(SYSTEM, "", "", other_write, changes_data=False))
            writer.start()
        writer.join(60)
        importer.join(60)
        assert seen_by_other == [unlimited]
        assert seen_in_import == [f"{PARSER_MEMORY_MB}.0 MiB"]
        assert store.actuals(SYSTEM).shape[0] == N
        with store.cursor() as cursor:
            assert memory_limit(cursor) == unlimited


@pytest.mark.parametrize("backend", ["duckdb"])  # (only an embedded store lends a workspace)
def test_a_failure_between_the_workspace_and_the_store_lets_the_workspace_go(any_store, reps_file, monkeypatch, spilled):
    duck_store = any_store
    reps_file(duck_store)
    made: list[str] = []
    table = workspace.ImportWorkspace.table

    def unreadable(self, name):
        made.append(table(self, name).relation)  # the rows were left in the workspace...
        raise duckdb.IOException("the workspace cannot be read")  # ...and cannot be handed over

    monkeypatch.setattr(workspace.ImportWorkspace, "table", unreadable)
    with pytest.raises(duckdb.IOException, match="cannot be read"):
        actuals(duck_store, large_file())
    assert len(made) == 1 and attached_workspaces(duck_store) == []
    assert duck_store.actuals(SYSTEM).empty


@pytest.mark.parametrize("backend", ["postgres"])  # (a DuckDB store lends a workspace: no rows file, see above)
def test_a_failure_between_the_rows_file_and_the_store_removes_the_file(any_store, reps_file, monkeypatch, spilled):
    reps_file(any_store)
    written: list[str] = []
    write_rows_file = imports.actuals._write_rows_file

    def recorded(*args):
        written.append(write_rows_file(*args))
        return written[-1]

    def unreadable(*args, **kwargs):
        raise OSError("the rows file cannot be opened")

    monkeypatch.setattr(imports.actuals, "_write_rows_file", recorded)
    monkeypatch.setattr(imports.actuals.ds, "dataset", unreadable)
    with pytest.raises(OSError, match="cannot be opened"):
        actuals(any_store, large_file())
    assert len(written) == 1 and not os.path.exists(written[0])
    assert any_store.actuals(SYSTEM).empty

"""Store files are attached to one DuckDB database per process instead of each opening a database
of its own (salesplan.storage.duckfile; docs/decisions.md, "Store files attached to one DuckDB")."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import duckdb

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.storage import duckfile
from salesplan.store import Store
from tests.helpers import templates

ROOT = Path(__file__).resolve().parents[2]
REPS = b"rep_id,name\nR1,Ann One\nR2,Bob Two\n"


def test_opening_a_store_again_and_again_makes_no_new_duckdb_database(tmp_path, monkeypatch):
    path = templates.duckdb_copy(tmp_path / "org.duckdb", templates.MIGRATED)
    Store.open(path).close()  # the process's database exists from here on
    made = []
    plain = duckdb.connect

    def counted(*args, **kwargs):
        made.append(args)
        return plain(*args, **kwargs)

    monkeypatch.setattr(duckfile.duckdb, "connect", counted)
    for _ in range(3):
        with Store.open(path) as store:
            assert store.data_version() >= 0
    assert made == []


def test_a_closed_store_leaves_a_complete_file_another_process_can_open(tmp_path):
    path = templates.duckdb_copy(tmp_path / "org.duckdb", templates.MIGRATED)
    with Store.open(path) as store:
        imports.import_file(store, "reps", REPS, file_name="reps.csv")
    assert not os.path.exists(f"{path}.wal")  # detaching checkpointed it
    code = f"import duckdb; print(duckdb.connect({str(path)!r}).execute('SELECT count(*) FROM reps').fetchall()[0][0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "2", out.stderr


def test_two_files_open_at_once_keep_their_own_tables_and_sequences(tmp_path):
    first = Store.open(templates.duckdb_copy(tmp_path / "first.duckdb", templates.MIGRATED))
    second = Store.open(templates.duckdb_copy(tmp_path / "second.duckdb", templates.MIGRATED))
    try:
        imports.import_file(first, "reps", REPS, file_name="reps.csv")
        with first.cursor() as one, second.cursor() as other:  # both files attached at this moment
            one.execute("CREATE SEQUENCE only_in_first")
            assert "only_in_first" in first._backend.sequences(one)
            assert "only_in_second" not in first._backend.sequences(one)
            other.execute("CREATE SEQUENCE only_in_second")
            assert "only_in_first" not in second._backend.sequences(other)
            assert one.table_names() == other.table_names()  # each lists its own tables, once
        assert len(first.reps(SYSTEM)) == 2
        assert len(second.reps(SYSTEM)) == 0
    finally:
        first.close()
        second.close()


def test_a_process_spills_next_to_its_database_not_into_the_current_directory(tmp_path):
    """The process's database takes its spill folder from the first file it attaches (the old
    default of a file database), not DuckDB's in-memory default ``.tmp`` in the current directory:
    a dashboard started in ``/`` or a read-only checkout could not spill, and one started in a
    shared folder would spill where anyone may have made ``.tmp``."""
    path = templates.duckdb_copy(tmp_path / "org.duckdb", templates.MIGRATED)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    script = (
        "import sys; from salesplan.store import Store\n"
        "with Store.open(sys.argv[1]) as store, store.cursor() as cursor:\n"
        "    print(cursor.execute(\"SELECT current_setting('temp_directory')\").fetchall()[0][0])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{path}.tmp"


def test_a_detach_that_failed_is_done_before_the_next_attach(tmp_path):
    """Were a detach to fail half-way, the file would stay attached under its name; the next take
    of the file detaches it first, instead of failing at every call until the process restarts."""
    path = str(templates.duckdb_copy(tmp_path / "org.duckdb", templates.MIGRATED))
    hold = duckfile.FileHold(path, lambda: 1.0)
    hold.release(hold.acquire())
    real = hold._connection

    class DetachFails:  # the process's connection, except that its detach raises
        def execute(self, sql, *args):
            if "DETACH" in sql:
                raise duckdb.InterruptException("interrupted during the checkpoint")
            return real.execute(sql, *args)

        def close(self):
            real.close()

    hold._connection = DetachFails()
    try:
        hold.close()
    except duckdb.InterruptException:
        pass
    cursor = hold.acquire()
    try:
        assert cursor.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0
    finally:
        hold.release(cursor)
    with closing(duckfile.files_database().cursor()) as catalog:
        names = {row[0] for row in catalog.execute("SELECT database_name FROM duckdb_databases() WHERE path = ?", [path]).fetchall()}
    assert names == {hold.alias}, "the file is attached once, under its new name"
    hold.close()

"""Store files are attached to one DuckDB database per process instead of each opening a database
of its own (salesplan.storage.duckfile; docs/decisions.md, "Store files attached to one DuckDB")."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.storage import duckfile
from salesplan.store import Store
from tests.helpers import templates

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

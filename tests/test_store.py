"""The store on a DuckDB file: migrations, retries of a conflict, account commands.

What every backend must do is in test_storage_contract.py."""

from __future__ import annotations

import duckdb
import pytest

from salesplan import imports
from salesplan.migrations import MIGRATIONS
from salesplan.principal import SYSTEM
from salesplan.store import Store


@pytest.fixture
def org(tmp_path):
    store = Store.open(tmp_path / "org.duckdb")
    imports.import_file(store, "reps", b"rep_id,name\nR1,Ann One\n", file_name="reps.csv")
    yield store
    store.close()


def test_migrations_are_recorded_once_each(tmp_path):
    path = tmp_path / "m.duckdb"
    with Store.open(path) as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
        assert store.migrate() == []  # nothing left to apply
    with duckdb.connect(str(path)) as connection:
        rows = connection.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(version, name) for version, name, _ in MIGRATIONS]


def test_failed_migration_leaves_no_record(tmp_path, monkeypatch):
    from salesplan.storage import base as store_module

    broken = MIGRATIONS + [(MIGRATIONS[-1][0] + 1, "broken", "CREATE TABLE half (x INT); SELECT * FROM no_such_table;")]
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    with pytest.raises(duckdb.Error):
        Store.open(tmp_path / "b.duckdb")
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS)
    with Store.open(tmp_path / "b.duckdb") as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
        assert "half" not in store.table_counts()  # rolled back with its record


def test_write_retries_a_conflict_then_succeeds(org):
    attempts = []

    def work(cursor):
        attempts.append(1)
        if len(attempts) < 3:
            raise duckdb.TransactionException("Transaction conflict: cannot update a table that has been altered")
        cursor.execute("INSERT INTO settings VALUES ('probe', 'x')")
        return "done"

    assert org.write(SYSTEM, "probe", "", work) == "done"
    assert len(attempts) == 3


def test_init_creates_no_account(tmp_path):
    from salesplan.cli import main

    db = tmp_path / "fresh.duckdb"
    assert main(["--db", str(db), "init"]) == 0
    with Store.open(db) as store:
        assert store.users(SYSTEM).empty


def test_cli_user_commands(tmp_path, capsys):
    from salesplan.cli import main

    db = str(tmp_path / "u.duckdb")
    assert main(["--db", db, "user", "add", "Root@X.test", "--role", "admin", "--password", "pw12"]) == 0
    assert main(["--db", db, "user", "add", "lead@x.test", "--role", "leader"]) == 0
    out = capsys.readouterr().out
    generated = out.split("generated password (shown once): ")[1].strip()
    with Store.open(db) as store:
        assert store.authenticate("lead@x.test", generated).role == "leader"
    assert main(["--db", db, "user", "set-role", "lead@x.test", "admin"]) == 0
    assert main(["--db", db, "user", "disable", "lead@x.test"]) == 0
    assert main(["--db", db, "user", "set-role", "lead@x.test", "rep"]) == 1  # a rep needs a rep_id
    capsys.readouterr()
    assert main(["--db", db, "user", "list"]) == 0
    listing = capsys.readouterr().out
    assert "root@x.test" in listing and "lead@x.test" in listing and "argon2" not in listing

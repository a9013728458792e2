"""The store: migrations, transactions, retries, data version, role scoping, plans."""

from __future__ import annotations

import threading

import duckdb
import pytest

from salesplan import imports
from salesplan.errors import BadInput, NotAllowed
from salesplan.migrations import MIGRATIONS
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store

REPS = (
    "rep_id,name,email,territory,region,manager\n"
    "VP,Vera Chief,vera@x.test,,,\n"
    "M1,Max Lead,max@x.test,Nordics,North,VP\n"
    "R1,Ann One,ann@x.test,Nordics,North,M1\n"
    "R2,Bob Two,bob@x.test,Nordics,North,M1\n"
    "M2,Mia Lead,mia@x.test,Benelux,West,VP\n"
    "R3,Cem Three,cem@x.test,Benelux,West,M2\n"
)


@pytest.fixture
def org(tmp_path):
    store = Store.open(tmp_path / "org.duckdb")
    imports.import_file(store, "reps", REPS.encode(), file_name="reps.csv")
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


def test_every_write_bumps_the_data_version(org):
    before = org.data_version()
    imports.import_file(org, "actuals", b"date,rep,amount\n2025-01-02,R1,100\n", file_name="a.csv")
    assert org.data_version() == before + 1
    org.save_settings(SYSTEM, window=20)
    assert org.data_version() == before + 2


def test_refused_import_does_not_bump_the_data_version(org):
    before = org.data_version()
    with pytest.raises(BadInput):
        imports.import_file(org, "actuals", b"date,rep,amount\n2025-01-02,NOBODY,100\n", file_name="a.csv")
    assert org.data_version() == before


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


def test_concurrent_writers_from_threads_all_land(org):
    errors = []

    def upload(n: int) -> None:
        try:
            rows = "".join(f"2025-02-{(n % 20) + 1:02d},R1,{n}.{i},ORD-{n}-{i}\n" for i in range(50))
            imports.import_file(org, "actuals", ("date,rep,amount,order_id\n" + rows).encode(), file_name=f"{n}.csv")
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert org.actual_totals(SYSTEM)["rows"] == 300
    assert len(org.batches(SYSTEM).query("kind == 'actuals'")) == 6


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


def test_column_mapping_is_remembered_per_kind_and_headers(org):
    header = ["Booked On", "Seller", "Net"]
    manager = Principal("max@x.test", "manager", "M1")
    assert org.column_map(manager, "actuals", header) is None
    org.save_column_map(manager, "actuals", header, {"Booked On": "date", "Seller": "rep", "Net": "revenue"})
    # same headers written differently hit the same mapping; other kinds and headers do not
    assert org.column_map(manager, "actuals", ["booked_on", "SELLER", "net"]) == {"Booked On": "date", "Seller": "rep", "Net": "revenue"}
    assert org.column_map(manager, "targets", header) is None
    assert org.column_map(manager, "actuals", header + ["Extra"]) is None
    # a mapping belongs to who saved it: nobody else's upload is silently re-read with it
    assert org.column_map(SYSTEM, "actuals", header) is None
    result = imports.import_file(org, "actuals", b"Booked On,Seller,Net\n2025-01-02,R1,10\n",
                                 column_map=org.column_map(manager, "actuals", header), file_name="odd.csv")
    assert result.inserted == 1


def test_last_admin_cannot_be_disabled_and_bootstrap_stays_closed(org):
    org.add_user(SYSTEM, "one@x.test", "admin", password="pw12")
    with pytest.raises(BadInput, match="last enabled admin"):
        org.disable_user(SYSTEM, "one@x.test")
    org.add_user(SYSTEM, "two@x.test", "admin", password="pw12")
    org.disable_user(SYSTEM, "one@x.test")
    # demoting the last enabled admin is refused like disabling it
    with pytest.raises(BadInput, match="last enabled admin"):
        org.set_user_role(SYSTEM, "two@x.test", "leader")
    # the database had accounts: a visitor may not claim the first-admin form
    assert org.has_ever_had_account()
    with pytest.raises(NotAllowed):
        org.add_user(Principal("visitor@x.test", "rep"), "visitor@x.test", "admin", password="pw12")

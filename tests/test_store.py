"""The store: migrations, transactions, retries, data version, role scoping, plans."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import date

import duckdb
import pytest

from salesplan import imports
from salesplan.errors import BadInput, DatabaseLocked, NotAllowed
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


def test_second_process_gets_a_plain_message_after_the_lock_wait(tmp_path, monkeypatch):
    # a process that holds the file for longer than the lock wait (here 1 s) gets a message, not a traceback
    monkeypatch.setenv("SALESPLAN_LOCK_WAIT", "1")
    path = tmp_path / "held.duckdb"
    Store.open(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseLocked, match="in use by another process"):
            Store.open(path)
    finally:
        holder.kill()
        holder.wait()


def test_settings_round_trip_and_refuse_bad_values(org):
    settings = org.save_settings(SYSTEM, fy_start_month=7, working_weekdays="sun,mon,tue,wed,thu", window=40, at_risk=0.8, grace=0.2)
    assert settings.fy_start_month == 7
    assert settings.working_weekdays == (0, 1, 2, 3, 6)
    assert (settings.window, settings.at_risk, settings.grace) == (40, 0.8, 0.2)
    assert org.settings() == settings  # read back from the database, not only returned
    with pytest.raises(BadInput, match="fy-start-month"):
        org.save_settings(SYSTEM, fy_start_month=13)
    with pytest.raises(BadInput, match="0.9, not 90"):
        org.save_settings(SYSTEM, at_risk=90)
    assert org.settings().fy_start_month == 7  # unchanged by the refused call


def test_manager_sees_their_whole_chain_rep_sees_self(org):
    vp = Principal("vera@x.test", "manager", "VP")
    lead = Principal("max@x.test", "manager", "M1")
    rep = Principal("ann@x.test", "rep", "R1")
    assert org.visible_rep_ids(vp) == {"VP", "M1", "R1", "R2", "M2", "R3"}
    assert org.visible_rep_ids(lead) == {"M1", "R1", "R2"}
    assert org.visible_rep_ids(rep) == {"R1"}
    assert org.visible_rep_ids(Principal("l@x.test", "leader")) is None
    assert set(org.reps(lead)["rep_id"]) == {"M1", "R1", "R2"}


def test_rep_upload_with_other_reps_rows_is_refused(org):
    rep = Principal("ann@x.test", "rep", "R1")
    before = org.snapshot()
    with pytest.raises(BadInput) as caught:
        imports.import_file(org, "actuals", b"date,rep,amount\n2025-01-02,R1,100\n2025-01-02,R3,50\n",
                            principal=rep, file_name="mine.csv")
    problem = caught.value.problems[0]
    assert (problem.line, problem.reason) == (3, "this row belongs to rep R3: a rep may upload only their own actuals")
    assert org.snapshot() == before


def test_leader_may_not_write_and_rep_may_not_import_reps(org):
    leader = Principal("l@x.test", "leader")
    with pytest.raises(NotAllowed):
        imports.import_file(org, "actuals", b"date,rep,amount\n2025-01-02,R1,100\n", principal=leader)
    with pytest.raises(NotAllowed):
        imports.import_file(org, "reps", REPS.encode(), principal=Principal("ann@x.test", "rep", "R1"))
    with pytest.raises(NotAllowed):
        org.save_settings(leader, window=10)


def test_plan_items_and_agreement_rules(org):
    rep = Principal("ann@x.test", "rep", "R1")
    manager = Principal("max@x.test", "manager", "M1")
    org.save_plan(rep, "R1", 2025, status="submitted", summary="Win back Acme")
    obstacle = org.add_obstacle(rep, "R1", 2025, description="Budget freeze at Acme", likelihood=4, revenue_at_risk=30000)
    org.add_action(rep, "R1", 2025, description="Offer phased rollout", owner="R1", due_date=date(2025, 4, 30),
                   status="planned", expected_impact=12000, obstacle_id=obstacle)
    org.add_checkin(manager, "R1", 2025, checkin_date=date(2025, 3, 1), author="max@x.test", note="Looks right")
    with pytest.raises(NotAllowed, match="manager"):
        org.save_plan(rep, "R1", 2025, status="agreed", summary="Win back Acme")
    org.save_plan(manager, "R1", 2025, status="agreed", summary="Win back Acme")
    plan = org.plan(manager, "R1", 2025)
    assert plan["status"] == "agreed"
    assert plan["obstacles"]["likelihood"].tolist() == [4]
    assert plan["actions"]["obstacle_id"].tolist() == [obstacle]
    assert plan["checkins"]["note"].tolist() == ["Looks right"]
    with pytest.raises(NotAllowed):
        org.plan(Principal("cem@x.test", "rep", "R3"), "R1", 2025)
    with pytest.raises(BadInput) as caught:
        org.add_obstacle(rep, "R1", 2025, description="", likelihood=7, revenue_at_risk=-1)
    assert {p.column for p in caught.value.problems} == {"description", "likelihood", "revenue_at_risk"}


def test_open_actions_reach_the_engine_inputs(org):
    rep = Principal("ann@x.test", "rep", "R1")
    org.add_action(rep, "R1", 2025, description="a", owner="R1", due_date=None, status="planned", expected_impact=100)
    org.add_action(rep, "R1", 2025, description="b", owner="R1", due_date=None, status="in_progress", expected_impact=50)
    org.add_action(rep, "R1", 2025, description="c", owner="R1", due_date=None, status="done", expected_impact=999)
    inputs = org.engine_inputs(SYSTEM)
    assert inputs.open_actions.set_index("rep_id").loc["R1", "open_impact"] == 150


def test_audit_log_records_who_did_what(org):
    imports.import_file(org, "actuals", b"date,rep,amount\n2025-01-02,R1,100\n", file_name="a.csv",
                        principal=Principal("max@x.test", "manager", "M1"))
    log = org.audit_log(SYSTEM)
    assert ("max@x.test", "import actuals") in set(zip(log["actor"], log["action"]))
    with pytest.raises(NotAllowed):
        org.audit_log(Principal("max@x.test", "manager", "M1"))


# ---------------------------------------------------------------- accounts (issue 5 core)
from datetime import datetime, timedelta  # noqa: E402

from salesplan import auth  # noqa: E402


def test_password_is_hashed_with_argon2_and_checked(org):
    org.add_user(SYSTEM, "Ann@X.test", "rep", rep_id="R1", password="s3cret!")
    with org.cursor() as cursor:
        stored = cursor.execute("SELECT password_hash FROM users WHERE email = 'ann@x.test'").fetchall()[0][0]
    assert stored.startswith("$argon2id$") and "s3cret!" not in stored
    assert org.authenticate("ann@x.test", "s3cret!") == Principal("ann@x.test", "rep", "R1")
    with pytest.raises(NotAllowed, match="Wrong email or password"):
        org.authenticate("ann@x.test", "wrong")
    with pytest.raises(NotAllowed, match="Wrong email or password"):
        org.authenticate("nobody@x.test", "s3cret!")


def test_lock_out_after_repeated_failures_then_expiry(org):
    org.add_user(SYSTEM, "max@x.test", "manager", rep_id="M1", password="right")
    start = datetime(2026, 1, 5, 9, 0)
    for attempt in range(auth.MAX_FAILED_ATTEMPTS - 1):
        with pytest.raises(NotAllowed, match="Wrong email"):
            org.authenticate("max@x.test", "wrong", now=start)
    with pytest.raises(NotAllowed, match="locked until 09:15"):
        org.authenticate("max@x.test", "wrong", now=start)
    # even the right password is refused while locked
    with pytest.raises(NotAllowed, match="locked"):
        org.authenticate("max@x.test", "right", now=start + timedelta(minutes=5))
    assert org.authenticate("max@x.test", "right", now=start + timedelta(minutes=16)).role == "manager"


def test_disabled_account_cannot_sign_in_and_accounts_are_admin_only(org):
    org.add_user(SYSTEM, "boss@x.test", "admin", password="pw12")
    boss = org.authenticate("boss@x.test", "pw12")
    org.add_user(boss, "cem@x.test", "rep", rep_id="R3", password="pw34")
    with pytest.raises(NotAllowed):
        org.add_user(Principal("cem@x.test", "rep", "R3"), "evil@x.test", "admin", password="pw56")
    org.disable_user(boss, "cem@x.test")
    with pytest.raises(NotAllowed, match="Wrong email or password"):
        org.authenticate("cem@x.test", "pw34")
    assert org.principal_for_email("CEM@x.test") is None
    with pytest.raises(BadInput) as caught:
        org.add_user(boss, "new@x.test", "manager")  # a manager needs its rep_id
    assert caught.value.problems[0].column == "rep_id"


def test_first_admin_may_be_created_by_anyone_only_once(org):
    nobody = Principal("visitor@x.test", "rep")
    org.add_user(nobody, "first@x.test", "admin", password="pw12")
    with pytest.raises(NotAllowed):
        org.add_user(nobody, "second@x.test", "admin", password="pw12")


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
    assert org.column_map(SYSTEM, "actuals", header) is None
    org.save_column_map(Principal("max@x.test", "manager", "M1"), "actuals", header,
                        {"Booked On": "date", "Seller": "rep", "Net": "revenue"})
    # same headers written differently hit the same mapping; other kinds and headers do not
    assert org.column_map(SYSTEM, "actuals", ["booked_on", "SELLER", "net"]) == {"Booked On": "date", "Seller": "rep", "Net": "revenue"}
    assert org.column_map(SYSTEM, "targets", header) is None
    assert org.column_map(SYSTEM, "actuals", header + ["Extra"]) is None
    result = imports.import_file(org, "actuals", b"Booked On,Seller,Net\n2025-01-02,R1,10\n",
                                 column_map=org.column_map(SYSTEM, "actuals", header), file_name="odd.csv")
    assert result.inserted == 1


def test_last_admin_cannot_be_disabled_and_bootstrap_stays_closed(org):
    org.add_user(SYSTEM, "one@x.test", "admin", password="pw12")
    with pytest.raises(BadInput, match="last enabled admin"):
        org.disable_user(SYSTEM, "one@x.test")
    org.add_user(SYSTEM, "two@x.test", "admin", password="pw12")
    org.disable_user(SYSTEM, "one@x.test")
    org.set_user_role(SYSTEM, "two@x.test", "leader")
    # no enabled admin is left, yet a visitor may not claim the first-admin form
    assert org.has_admin()
    with pytest.raises(NotAllowed):
        org.add_user(Principal("visitor@x.test", "rep"), "visitor@x.test", "admin", password="pw12")

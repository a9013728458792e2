"""The storage contract: every test here runs on each backend (DuckDB file, PostgreSQL server).

Settings, people and role scoping, targets with versions, actuals (idempotent re-import, updates,
undo, rejected rows), plans, accounts and lock-out, audit, remembered column mappings,
backup/restore, and concurrent uploads with exact totals. The PostgreSQL cases start a real
server (tests/helpers/pg_server.py); see tests/helpers/storage_fixtures.py for how they skip or fail without one.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest

from salesplan import auth, imports
from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store
from tests.helpers.storage_fixtures import CONTRACT_REPS as REPS

EXPORT_1 = (
    "date,rep,amount,order id,line\n"
    "2025-03-03,R1,100,SO-1,1\n"
    "2025-03-03,R1,50,SO-1,2\n"
    "2025-03-04,R2,200,SO-2,1\n"
    "2025-03-05,R3,300,SO-3,1\n"
)
# the next export: SO-2 changed, SO-3 unchanged, SO-4 new (two lines), SO-1 line 2 not in it
EXPORT_2 = (
    "date,rep,amount,order id,line\n"
    "2025-03-03,R1,100,SO-1,1\n"
    "2025-03-04,R2,250,SO-2,1\n"
    "2025-03-05,R3,300,SO-3,1\n"
    "2025-03-06,R1,70,SO-4,1\n"
    "2025-03-06,R1,30,SO-4,2\n"
)




def upload(store, text: str, file_name: str = "a.csv", **options):
    return imports.import_file(store, "actuals", text.encode(), file_name=file_name, **options)


def counts(result) -> tuple[int, int, int, int]:
    return (result.inserted, result.updated, result.unchanged, result.rejected)


def by_order(store) -> dict[tuple[str, str], float]:
    return {(r.order_id, r.order_line): r.revenue for r in store.actuals(SYSTEM).itertuples()}


def totals(store) -> tuple[int, float]:
    summary = store.actual_totals(SYSTEM)
    return summary["rows"], summary["revenue"]


# ---------------------------------------------------------------- the database itself
def test_migrations_reach_the_same_version_and_open_twice_changes_nothing(db_target):
    from salesplan.migrations import MIGRATIONS

    with Store.open(db_target) as first:
        assert first.schema_version() == MIGRATIONS[-1][0]
    with Store.open(db_target) as again:
        assert again.migrate() == []
        assert again.table_counts()["schema_migrations"] == len(MIGRATIONS)


def test_every_write_bumps_the_data_version_and_a_refused_one_does_not(org):
    before = org.data_version()
    upload(org, "date,rep,amount\n2025-01-02,R1,100\n")
    assert org.data_version() == before + 1
    with pytest.raises(BadInput):
        upload(org, "date,rep,amount\n2025-01-02,NOBODY,100\n")
    assert org.data_version() == before + 1


def test_a_constraint_refused_by_the_database_is_bad_input(org):
    def work(cursor):
        cursor.execute("INSERT INTO settings VALUES ('probe', 'x')")
        cursor.execute("INSERT INTO settings VALUES ('probe', 'y')")

    before = org.snapshot()
    with pytest.raises(BadInput, match="refused by the database"):
        org.write(SYSTEM, "probe", "", work)
    assert org.snapshot() == before


# ---------------------------------------------------------------- actuals and undo
def test_reimport_is_idempotent_and_a_changed_row_is_updated(org):
    first = upload(org, EXPORT_1)
    assert counts(first) == (4, 0, 0, 0)
    assert counts(upload(org, EXPORT_1, "again.csv")) == (0, 0, 4, 0)
    assert totals(org) == (4, 650.0)
    second = upload(org, EXPORT_2, "b.csv")
    assert counts(second) == (2, 1, 2, 0)
    assert by_order(org) == {("SO-1", "1"): 100.0, ("SO-1", "2"): 50.0, ("SO-2", "1"): 250.0,
                             ("SO-3", "1"): 300.0, ("SO-4", "1"): 70.0, ("SO-4", "2"): 30.0}
    with org.cursor() as cursor:
        versions = cursor.execute("SELECT count(*) FROM actual_versions").fetchall()[0][0]
    # every upload keeps the rows it inserted or changed; nothing is overwritten, and unchanged
    # rows are held, not copied (docs/decisions.md)
    assert versions == 4 + 0 + 3


def test_undo_restores_the_previous_values_and_twice_is_refused(org):
    first = upload(org, EXPORT_1)
    before = org.snapshot()["actuals"]
    second = upload(org, EXPORT_2, "b.csv")
    info = org.undo(SYSTEM, second.batch_id)
    assert info["reverted_at"] is not None and info["reverted_by"] == "system"
    assert org.snapshot()["actuals"] == before
    assert totals(org) == (4, 650.0)
    assert set(org.actuals(SYSTEM)["batch_id"]) == {first.batch_id}
    with pytest.raises(BadInput, match="already undone"):
        org.undo(SYSTEM, second.batch_id)
    org.undo(SYSTEM, first.batch_id)
    assert totals(org) == (0, 0.0)
    assert counts(upload(org, EXPORT_1, "c.csv")) == (4, 0, 0, 0)


def test_valid_only_import_keeps_the_rejected_rows_with_the_batch(org):
    text = "date,rep,amount,order id\n2025-03-03,R1,10,A\n2025-03-03,Nobody,11,B\n2025-03-04,R2,12,C\n"
    result = upload(org, text, valid_only=True)
    assert counts(result) == (2, 0, 0, 1)
    rejected = org.rejected_rows(SYSTEM, result.batch_id)
    assert rejected["line"].tolist() == [3]
    assert "Nobody" in rejected["record"].iloc[0]
    assert "rep" in rejected["problems"].iloc[0]
    with pytest.raises(NotAllowed):
        org.rejected_rows(Principal("cem@x.test", "rep", "R3"), result.batch_id)


# a valid-only import of each kind below with one good row and two bad ones (file, rows left out)
VALID_ONLY_FILES = {
    "reps": b"rep_id,name,email,territory,region,manager\nR7,Eve Seven,eve@x.test,Nordics,North,M1\n"
            b"R8,,r8@x.test,Nordics,North,M1\nR9,Nia Nine,not-an-email,Nordics,North,M1\n",
    "holidays": b"date,name,territory\n2025-12-25,Christmas,\nnot a date,Oops,\n2025-13-01,Nope,\n",
    "targets": b"owner,month,amount\nR1,2025-01,20000\nR1,2025-02,lots\nNobody,2025-03,5\n",
    "rates": b"currency,month,rate\nUSD,2025-03,0.9\nUSD,2025-04,-1\nXYZ,2025-05,0.5\n",
}


@pytest.mark.parametrize("kind", sorted(VALID_ONLY_FILES))
def test_a_valid_only_import_records_the_rows_it_left_out_in_its_batch(org, kind):
    # the upload history's Rejected column reads rows_rejected: before, only actuals and deals
    # batches recorded their count, the other kinds always 0 while the import said 2
    org.save_settings(SYSTEM, base_currency="EUR")
    result = imports.import_file(org, kind, VALID_ONLY_FILES[kind], file_name=f"{kind}.csv", valid_only=True)
    assert result.rejected == 2
    batch = org.batches(SYSTEM).set_index("batch_id").loc[result.batch_id]
    assert int(batch["rows_rejected"]) == 2
    assert bool(batch["valid_only"])


def test_batches_are_scoped_to_the_uploader_and_their_team(org):
    mine = upload(org, "date,rep,amount\n2025-01-02,R1,100\n", principal=Principal("ann@x.test", "rep", "R1"))
    upload(org, "date,rep,amount\n2025-01-02,R3,100\n", principal=Principal("cem@x.test", "rep", "R3"))
    assert org.batches(Principal("ann@x.test", "rep", "R1"))["batch_id"].tolist() == [mine.batch_id]
    assert mine.batch_id in org.batches(Principal("max@x.test", "manager", "M1"))["batch_id"].tolist()
    assert len(org.batches(SYSTEM)) == 3  # the reps import too
    with pytest.raises(NotAllowed):
        org.undo(Principal("cem@x.test", "rep", "R3"), mine.batch_id)


# ---------------------------------------------------------------- targets
def test_targets_keep_every_version_and_undo_restores_the_previous(org):
    first = imports.import_file(org, "targets", b"owner,month,amount,reason\nR1,2025-01,20000,kick-off\nR1,2025-02,21000,kick-off\n",
                                file_name="t.csv")
    second = imports.import_file(org, "targets", b"owner,month,amount\nR1,2025-01,25000\n", file_name="t2.csv",
                                 reason="new product line")
    assert counts(second) == (0, 1, 0, 0)
    cells = {(r.owner_id, str(r.month)[:7]): r.amount for r in org.targets(SYSTEM).itertuples()}
    assert cells == {("R1", "2025-01"): 25000.0, ("R1", "2025-02"): 21000.0}
    history = org.target_history(SYSTEM, "rep", "R1")
    january = history[history["month"].astype(str).str.startswith("2025-01")]
    assert january["amount"].tolist() == [25000.0, 20000.0]
    assert january["previous_amount"].tolist()[0] == 20000.0
    assert january["reason"].tolist() == ["new product line", "kick-off"]
    assert january["batch_id"].tolist() == [second.batch_id, first.batch_id]
    org.undo(SYSTEM, second.batch_id)
    cells = {(r.owner_id, str(r.month)[:7]): r.amount for r in org.targets(SYSTEM).itertuples()}
    assert cells == {("R1", "2025-01"): 20000.0, ("R1", "2025-02"): 21000.0}
    with pytest.raises(NotAllowed):
        org.target_history(Principal("cem@x.test", "rep", "R3"), "rep", "R1")


def test_holidays_import_and_delete(org):
    imports.import_file(org, "holidays", b"date,name,territory\n2025-12-25,Christmas,\n2025-06-24,Midsummer,Nordics\n",
                        file_name="h.csv")
    frame = org.holidays(SYSTEM)
    assert [(str(d)[:10], n, t if isinstance(t, str) else None) for d, n, t in frame.itertuples(index=False)] == [
        ("2025-06-24", "Midsummer", "Nordics"), ("2025-12-25", "Christmas", None)]
    org.delete_holiday(SYSTEM, date(2025, 12, 25), None)
    assert org.holidays(SYSTEM)["name"].tolist() == ["Midsummer"]


# ---------------------------------------------------------------- backup and restore on the same backend
def test_backup_then_restore_into_an_empty_database_is_identical(org, tmp_path, restore_target):
    upload(org, EXPORT_1)
    upload(org, EXPORT_2, "b.csv")
    org.save_plan(SYSTEM, "R1", 2025, status="submitted", summary="Plan")
    org.add_user(SYSTEM, "boss@x.test", "admin", password="pw12")
    manifest = org.backup(SYSTEM, tmp_path / "snap")
    assert manifest["tables"]["actual_versions"]["rows"] == 4 + 3  # the second upload: 2 inserted, 1 changed (2 unchanged are held)
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "snap")
        assert restored.snapshot() == org.snapshot()
        assert restored.audit_log(SYSTEM)["action"].tolist() == org.audit_log(SYSTEM)["action"].tolist()
        # sequences go on after the restored ids
        assert upload(restored, "date,rep,amount\n2025-01-02,R1,1\n").batch_id > max(
            row[0] for row in org.snapshot()["upload_batches"])
        with pytest.raises(BadInput, match="empty database"):
            restored.restore(SYSTEM, tmp_path / "snap")


# ---------------------------------------------------------------- concurrency
def test_eight_writers_upload_overlapping_files_at_once_with_exact_totals(org, db_target):
    """Eight Store objects (as eight processes would: own pools, own write locks) upload at once.

    Upload n holds orders 40n .. 40n+99, each order's amount fixed by its number, so the files
    overlap and some are uploaded twice; the ledger must hold every order exactly once.
    """
    # org: the organisation's reps are in the database at db_target
    stores = [Store.open(db_target) for _ in range(8)]
    errors: list[Exception] = []
    results = []
    start = threading.Barrier(len(stores))

    def run(n: int) -> None:
        rows = "".join(f"2025-02-{(k % 27) + 1:02d},R{1 + k % 3},{k}.25,ORD-{k},1\n" for k in range(40 * n, 40 * n + 100))
        text = "date,rep,amount,order id,line\n" + rows
        try:
            start.wait()
            for repeat in range(2 if n % 3 == 0 else 1):
                results.append(upload(stores[n], text, f"upload-{n}-{repeat}.csv"))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    orders = range(40 * 7 + 100)
    with Store.open(db_target) as check:
        assert totals(check) == (len(orders), sum(k + 0.25 for k in orders))
        with check.cursor() as cursor:
            distinct = cursor.execute("SELECT count(DISTINCT row_key) FROM actuals").fetchall()[0][0]
            versions = cursor.execute("SELECT count(*) FROM actual_versions").fetchall()[0][0]
        assert distinct == len(orders)
        assert versions == sum(r.inserted + r.updated for r in results)
    assert len(results) == 11
    assert sum(r.inserted for r in results) == len(orders)  # nothing counted as new twice
    assert sum(r.updated for r in results) == 0
    assert sum(r.unchanged for r in results) == 100 * len(results) - len(orders)


# ---------------------------------------------------------------- settings, roles, plans, audit, accounts, column maps
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
    assert (problem.line, problem.reason) == (3, "not a rep you may upload for: a rep may upload only their own actuals")
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


# ---------------------------------------------------------------- errors at the boundary
def test_an_unreachable_server_is_a_plain_error_without_the_password():
    from salesplan.errors import SalesplanError

    with pytest.raises(SalesplanError) as caught:
        Store.open("postgresql://salesplan:s3cret-pw@127.0.0.1:1/nowhere")
    message = str(caught.value)
    assert "Cannot reach the database postgresql://salesplan:***@127.0.0.1:1/nowhere" in message
    assert "s3cret-pw" not in message


def test_the_database_named_by_the_environment_or_db_option(monkeypatch, tmp_path):
    from pathlib import Path

    from salesplan.store import resolve_db_path

    monkeypatch.setenv("SALESPLAN_DB", "postgresql://u@db.internal/sales")
    assert resolve_db_path() == "postgresql://u@db.internal/sales"  # a URL stays a string
    assert resolve_db_path(str(tmp_path / "x.duckdb")) == tmp_path / "x.duckdb"
    monkeypatch.delenv("SALESPLAN_DB")
    assert resolve_db_path() == Path("data") / "salesplan.duckdb"

"""Attacks on accounts (issue: an anonymous visitor becomes admin; sign-out and lock-out do not
hold): each test reproduces one and checks it is now refused."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from salesplan import auth, migrations
from salesplan.cli import main
from salesplan.errors import BadInput, NotAllowed, NotFound
from salesplan.principal import SYSTEM, Principal
from salesplan.storage import Store, base
from tests.helpers import templates
from tests.helpers.storage_fixtures import forked_processes

ADMIN = Principal("root@x.test", "admin")


def _accounts(store: Store) -> None:
    store.add_user(SYSTEM, "root@x.test", "admin", password="root-pw")
    store.add_user(SYSTEM, "lead@x.test", "leader", password="lead-pw")


@pytest.fixture
def db(tmp_path):
    """A database file of the test's own holding an admin (root) and a leader (lead): a copy of
    that database, built once per run (tests/helpers/templates.py)."""
    return templates.duckdb_copy(tmp_path / "accounts.duckdb", "accounts-root-lead", _accounts)


# ---------------------------------------------------------------- the last admin
def test_set_role_cannot_demote_the_last_admin_from_the_command_line(db, capsys):
    # today: `salesplan user set-role` demotes the last admin, then the sign-in page offers
    # "Create the first admin" to anyone
    assert main(["--db", str(db), "user", "set-role", "root@x.test", "leader"]) == 1
    assert "root@x.test is the last enabled admin" in capsys.readouterr().err
    with Store.open(db) as store:
        assert store.principal_for_email("root@x.test").role == "admin"
        with pytest.raises(NotAllowed):
            store.add_user(Principal("visitor@x.test", "rep"), "visitor@x.test", "admin", password="pw12")


def test_no_path_leaves_the_organisation_without_an_enabled_admin(db):
    with Store.open(db) as store:
        with pytest.raises(BadInput, match="last enabled admin"):
            store.set_user_role(ADMIN, "root@x.test", "leader")  # demoting oneself
        with pytest.raises(BadInput, match="last enabled admin"):
            store.disable_user(ADMIN, "root@x.test")
        store.add_user(ADMIN, "second@x.test", "admin", password="pw12")
        store.disable_user(ADMIN, "second@x.test")
        # a disabled admin does not count: root is still the last enabled one
        with pytest.raises(BadInput, match="last enabled admin"):
            store.set_user_role(ADMIN, "root@x.test", "leader")
        store.disable_user(ADMIN, "second@x.test", disabled=False)
        store.set_user_role(ADMIN, "root@x.test", "leader")  # now allowed: second is an enabled admin
        assert store.principal_for_email("root@x.test").role == "leader"


def test_two_admins_demoting_each_other_at_once_leave_one(db):
    with Store.open(db) as store:
        store.add_user(ADMIN, "second@x.test", "admin", password="pw12")
        outcomes: list[str] = []

        def demote(email: str) -> None:
            try:
                store.set_user_role(ADMIN, email, "leader")
                outcomes.append("done")
            except BadInput:
                outcomes.append("refused")

        threads = [threading.Thread(target=demote, args=(email,)) for email in ("root@x.test", "second@x.test")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["done", "refused"]
        admins = store.users(SYSTEM).query("role == 'admin' and not disabled")
        assert len(admins) == 1


def test_the_first_admin_form_is_only_for_a_database_that_never_had_an_account(tmp_path):
    with Store.open(templates.duckdb_copy(tmp_path / "fresh.duckdb", templates.MIGRATED)) as store:
        assert not store.has_ever_had_account()
        store.add_user(SYSTEM, "only@x.test", "leader", password="pw12")
        assert store.has_ever_had_account()
        # no admin was ever made, yet an account exists: nobody may make themself admin
        assert not store.has_admin()
        with pytest.raises(NotAllowed):
            store.add_user(Principal("visitor@x.test", "rep"), "visitor@x.test", "admin", password="pw12")
        store.disable_user(SYSTEM, "only@x.test")
        assert store.has_ever_had_account()


def test_the_very_first_admin_can_still_be_created(tmp_path):
    with Store.open(templates.duckdb_copy(tmp_path / "fresh.duckdb", templates.MIGRATED)) as store:
        store.add_user(Principal("me@x.test", "rep"), "me@x.test", "admin", password="pw12")
        assert store.principal_for_email("me@x.test").role == "admin"
        with pytest.raises(NotAllowed):
            store.add_user(Principal("late@x.test", "rep"), "late@x.test", "admin", password="pw12")


def test_a_role_change_ends_the_accounts_sessions(db):
    with Store.open(db) as store:
        before = store.sessions_valid_after("lead@x.test")
        store.set_user_role(ADMIN, "lead@x.test", "admin")
        after = store.sessions_valid_after("lead@x.test")
        assert after is not None and (before is None or after > before)


# ---------------------------------------------------------------- sessions survive a restart
def test_a_signed_out_session_stays_revoked_after_a_restart(db):
    expires = datetime.now(UTC) + timedelta(hours=8)
    with Store.open(db) as store:
        assert not store.is_session_revoked("digest-1")
        store.revoke_session("digest-1", expires)
    with Store.open(db) as reopened:  # a restart of the dashboard
        assert reopened.is_session_revoked("digest-1")
        assert not reopened.is_session_revoked("digest-2")
        # expired revocations are purged (their cookies are refused by their age anyway)
        reopened.revoke_session("old", datetime.now(UTC) - timedelta(minutes=1))
        reopened.revoke_session("digest-3", expires)
        assert not reopened.is_session_revoked("old")
        assert reopened.is_session_revoked("digest-1") and reopened.is_session_revoked("digest-3")
        with pytest.raises(BadInput):
            reopened.revoke_session("", expires)


def test_sessions_valid_after_survives_a_restart(db):
    with Store.open(db) as store:
        store.set_password(ADMIN, "lead@x.test", "new-pw")
        moment = store.sessions_valid_after("lead@x.test")
    assert moment is not None
    with Store.open(db) as reopened:
        assert reopened.sessions_valid_after("lead@x.test") == moment


# ---------------------------------------------------------------- lock-out
def test_twelve_parallel_wrong_passwords_lock_the_account(db):
    # today: each attempt reads the count, then writes count + 1: 12 at once lock nothing
    with Store.open(db) as store:
        barrier = threading.Barrier(12)
        answers: list[str] = []

        def attempt() -> None:
            barrier.wait()
            try:
                store.authenticate("lead@x.test", "wrong")
            except NotAllowed as error:
                answers.append(str(error))

        threads = [threading.Thread(target=attempt) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(answers) == 12
        with pytest.raises(NotAllowed, match="locked until"):
            store.authenticate("lead@x.test", "lead-pw")
        assert "sign-in locked" in set(store.audit_log(SYSTEM)["action"])


def _wrong_attempts(path: str, count: int) -> None:
    with Store.open(path) as store:
        for _ in range(count):
            try:
                store.authenticate("lead@x.test", "wrong")
            except NotAllowed:
                pass


def test_wrong_passwords_from_several_processes_lock_the_account(db):
    context = forked_processes()  # processes of their own, without starting Python again in each
    workers = [context.Process(target=_wrong_attempts, args=(str(db), 2)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    with Store.open(db) as store, pytest.raises(NotAllowed, match="locked until"):
        store.authenticate("lead@x.test", "lead-pw")


def test_unknown_and_real_emails_answer_alike(db, monkeypatch):
    checks: list[str] = []
    real_verify = auth.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    with Store.open(db) as store:
        store.disable_user(ADMIN, "lead@x.test")
        answers = {}
        for email in ("lead@x.test", "nobody@x.test", "root@x.test"):
            with pytest.raises(NotAllowed) as refused:
                store.authenticate(email, "wrong")
            answers[email] = str(refused.value)
        # a disabled account, an unknown email and a wrong password: one answer, one argon2 check each
        assert set(answers.values()) == {auth.WRONG_CREDENTIALS}
        assert len(checks) == 3
        # an unknown email is locked after as many failures as an account: the lock-out tells nothing
        for _ in range(auth.MAX_FAILED_ATTEMPTS - 2):
            with pytest.raises(NotAllowed):
                store.authenticate("nobody@x.test", "wrong")
            with pytest.raises(NotAllowed):
                store.authenticate("root@x.test", "wrong")
        with pytest.raises(NotAllowed) as unknown:
            store.authenticate("nobody@x.test", "wrong")
        with pytest.raises(NotAllowed) as known:
            store.authenticate("root@x.test", "wrong")
        assert "locked until" in str(unknown.value)
        assert str(unknown.value) == str(known.value)


def test_an_admin_clears_a_lock_out(db):
    with Store.open(db) as store:
        for _ in range(auth.MAX_FAILED_ATTEMPTS):
            with pytest.raises(NotAllowed):
                store.authenticate("lead@x.test", "wrong")
        with pytest.raises(NotAllowed, match="locked until"):
            store.authenticate("lead@x.test", "lead-pw")
        with pytest.raises(NotAllowed):
            store.clear_lockout(Principal("lead@x.test", "leader"), "lead@x.test")
        with pytest.raises(NotFound):
            store.clear_lockout(ADMIN, "nobody@x.test")
        store.clear_lockout(ADMIN, "Lead@X.test")
        assert store.authenticate("lead@x.test", "lead-pw").role == "leader"
        log = store.audit_log(SYSTEM)
        assert ((log["action"] == "clear lock-out") & (log["actor"] == "root@x.test")).any()


# ---------------------------------------------------------------- remembered column mappings
def test_a_mapping_is_applied_only_to_its_owners_uploads(db):
    header = ["When", "Who", "How much"]
    rep_a, rep_b = Principal("a@x.test", "admin"), Principal("b@x.test", "admin")
    with Store.open(db) as store:
        store.save_column_map(rep_a, "actuals", header, {"When": "date", "Who": "rep", "How much": "revenue"})
        assert store.column_map(rep_a, "actuals", header) == {"When": "date", "Who": "rep", "How much": "revenue"}
        assert store.column_map(rep_b, "actuals", header) is None  # today: a's mapping is applied to b's file
        store.save_column_map(rep_b, "actuals", header, {"When": "date", "Who": "rep", "How much": "cost"})
        assert store.column_map(rep_a, "actuals", header)["How much"] == "revenue"


def test_migration_keeps_each_saved_mapping_with_its_saver(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(base, "MIGRATIONS", migrations.MIGRATIONS[:4])
    with Store.open(path) as old:
        old.add_user(SYSTEM, "root@x.test", "admin", password="pw12")
        with old.cursor() as cursor:
            cursor.execute("INSERT INTO column_maps VALUES ('actuals', 'a|b', '{\"a\": \"date\"}', 'Max@X.test', localtimestamp)")
    monkeypatch.setattr(base, "MIGRATIONS", migrations.MIGRATIONS)
    with Store.open(path) as store:
        assert store.schema_version() >= 5
        assert store.column_map(Principal("max@x.test", "rep", "R1"), "actuals", ["a", "b"]) == {"a": "date"}
        assert store.column_map(SYSTEM, "actuals", ["a", "b"]) is None
        assert store.has_ever_had_account()


def test_the_command_line_unlocks_an_account(db, capsys):
    with Store.open(db) as store:
        for _ in range(auth.MAX_FAILED_ATTEMPTS):
            with pytest.raises(NotAllowed):
                store.authenticate("lead@x.test", "wrong")
    assert main(["--db", str(db), "user", "unlock", "lead@x.test"]) == 0
    assert "account lead@x.test unlocked" in capsys.readouterr().out
    with Store.open(db) as store:
        assert store.authenticate("lead@x.test", "lead-pw").role == "leader"
    assert main(["--db", str(db), "user", "unlock", "nobody@x.test"]) == 1

"""`salesplan demo` (and only it) creates the five demo accounts with the password `demo`."""

from __future__ import annotations

from salesplan.cli import main
from salesplan.principal import SYSTEM
from salesplan.store import Store


def test_demo_creates_the_documented_accounts_linked_to_the_org(tmp_path):
    db = str(tmp_path / "d.duckdb")
    assert main(["--db", db, "demo", "--reps", "10", "--today", "2026-03-02"]) == 0
    with Store.open(db) as store:
        rep_emails = dict(zip(store.reps(SYSTEM)["email"], store.reps(SYSTEM)["rep_id"]))
        roles = {}
        for email in ("admin@demo.test", "leader@demo.test", "manager1@demo.test", "rep1@demo.test", "rep2@demo.test"):
            principal = store.authenticate(email, "demo")
            roles[email] = principal.role
            if principal.role in ("manager", "rep"):
                assert principal.rep_id == rep_emails[email]
        assert roles == {"admin@demo.test": "admin", "leader@demo.test": "leader", "manager1@demo.test": "manager",
                         "rep1@demo.test": "rep", "rep2@demo.test": "rep"}
        manager = store.principal_for_email("manager1@demo.test")
        team = store.visible_rep_ids(manager)
        assert store.principal_for_email("rep1@demo.test").rep_id in team
        assert len(team) > 2
    # loading the demo again keeps one account each: checked on the second load of
    # tests/core/test_demo.py::test_load_demo_through_the_store (a load costs seconds)

"""Second round of attacks inside the organisation (store level): each test fails on main 5428cff."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from salesplan import imports
from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.storage_fixtures import CONTRACT_REPS as REPS  # VP > M1 > R1, R2; VP > M2 > R3
from tests.helpers.storage_fixtures import import_contract_reps

ANN = Principal("ann@x.test", "rep", "R1")
MAX = Principal("max@x.test", "manager", "M1")
MIA = Principal("mia@x.test", "manager", "M2")
DEALS = "deal_id,owner,amount,probability,expected_close\n"


def _import_ops_reps(store: Store) -> None:
    imports.import_file(store, "reps", OPS_REPS.encode(), file_name="reps.csv")


@pytest.fixture
def org(tmp_path):
    """The contract suite's organisation (DuckDB only here): a copy of the run's template."""
    with Store.open(templates.duckdb_copy(tmp_path / "org.duckdb", "contract-reps", import_contract_reps)) as store:
        yield store


def upload(store, text, principal, kind="actuals", **options):
    return imports.import_file(store, kind, text.encode(), file_name="f.csv", principal=principal, **options)


# F1
def test_the_store_refuses_new_sales_of_a_rep_outside_the_uploaders_scope(org):
    upload(org, "date,rep,amount,order_id,line\n2025-03-03,R1,5,SO-1,1\n", ANN)
    rows = org.actuals(SYSTEM).assign(rep_id="R2", row_key="o|FAKE|1", order_id="FAKE", order_line="1")
    before = org.snapshot()
    with pytest.raises((NotAllowed, BadInput)):
        org.apply_actuals(ANN, rows, rows.iloc[0:0].assign(record="", problems=""), file_name="x.csv",
                          sha256=None, valid_only=False)
    assert org.snapshot() == before


# F2
def test_a_rep_does_not_see_the_details_of_a_batch_that_also_set_another_reps_targets(org):
    cells = pd.DataFrame({"owner_type": ["rep", "rep"], "owner_id": ["R1", "R2"], "metric": ["revenue"] * 2,
                          "month": ["2025-01-01"] * 2, "amount": [10.0, 20.0], "reason": ["r"] * 2})
    org.apply_targets(MAX, cells, file_name="bob-performance-plan.csv", sha256=None, reason="Bob is on a PIP")
    seen = org.batches(ANN)
    assert "Bob is on a PIP" not in seen["reason"].astype(str).tolist()
    assert "bob-performance-plan.csv" not in seen["file_name"].astype(str).tolist()


# F3
@pytest.mark.parametrize("kind, text", [
    ("actuals", "date,rep,amount\n2025-03-03,bob@x.test,1\n"),
    ("deals", DEALS + "D1,Bob Two,100,0.5,2025-06-01\n"),
])
def test_a_refused_row_does_not_tell_a_rep_the_rep_id_behind_an_email_or_name(org, kind, text):
    with pytest.raises(BadInput) as refused:
        upload(org, text, ANN, kind=kind)
    assert "R2" not in str(refused.value)


# F4
def test_a_check_in_is_authored_by_who_writes_it(org):
    checkin = org.add_checkin(ANN, "R1", 2025, checkin_date=date(2025, 1, 1), author="max@x.test", note="Bonus agreed")
    rows = org.plan(SYSTEM, "R1", 2025)["checkins"]
    assert rows.set_index("checkin_id").loc[checkin, "author"] == "ann@x.test"


# F5
def test_a_manager_cannot_undo_a_deals_snapshot_covering_a_rep_now_outside_their_team(org):
    upload(org, DEALS + "D1,R1,100,0.5,2025-06-01\n", MAX, "deals", as_of=date(2025, 1, 1))
    latest = upload(org, DEALS + "D2,R1,999,0.5,2025-06-01\n", MAX, "deals", as_of=date(2025, 2, 1))
    moved = REPS.replace("R1,Ann One,ann@x.test,Nordics,North,M1", "R1,Ann One,ann@x.test,Benelux,West,M2")
    imports.import_file(org, "reps", moved.encode(), file_name="reps-2.csv")  # Ann now reports to Mia
    with pytest.raises(NotAllowed):
        org.undo(MAX, latest.batch_id)
    assert org.open_deals(MIA, date(2025, 3, 1))["deal_id"].tolist() == ["D2"]


# F13
@pytest.mark.parametrize("amount", [float("inf"), float("nan"), 1e30])
def test_an_impossible_plan_amount_is_bad_input_not_a_driver_error(org, amount):
    before = org.snapshot()
    with pytest.raises(BadInput):
        org.add_action(ANN, "R1", 2025, description="x", owner="o", due_date=None, expected_impact=amount)
    with pytest.raises(BadInput):
        org.add_obstacle(ANN, "R1", 2025, description="x", likelihood=3, revenue_at_risk=amount)
    assert org.snapshot() == before


@pytest.mark.parametrize("change", [{"amount": 1e30}, {"amount": -5.0}, {"month": "1999-13-01"}, {"metric": "bogus"}])
def test_the_store_refuses_impossible_target_cells_with_a_message(org, change):
    cells = pd.DataFrame({"owner_type": ["rep"], "owner_id": ["R1"], "metric": ["revenue"], "month": ["2025-01-01"],
                          "amount": [10.0], "reason": ["r"]}).assign(**change)
    before = org.snapshot()
    with pytest.raises(BadInput):
        org.apply_targets(MAX, cells, file_name=None, sha256=None, reason="r")
    assert org.snapshot() == before


# F15: sales ops - Ola is an admin who also sells, as R2 in Max's team (her reps row carries her account's email)
OPS_REPS = (
    "rep_id,name,email,territory,region,manager\n"
    "M1,Max Lead,max@x.test,Nordics,North,\n"
    "R1,Ann One,ann@x.test,Nordics,North,M1\n"
    "R2,Ola Ops,ola@x.test,Nordics,North,M1\n"
    "M2,Mia Lead,mia@x.test,Benelux,West,\n"
    "R3,Cem Three,cem@x.test,Benelux,West,M2\n"
)
OLA = Principal("ola@x.test", "admin", "R2")


@pytest.fixture
def ops(tmp_path):
    """The sales-ops organisation (OPS_REPS): a copy of a database built once per run."""
    with Store.open(templates.duckdb_copy(tmp_path / "ops.duckdb", "scope-round2-ops", _import_ops_reps)) as store:
        yield store


def test_a_manager_does_not_read_the_rejected_rows_of_an_admins_org_wide_upload(ops):
    result = upload(ops, "date,rep,amount\n2025-03-03,R3,5\n2025-03-03,R3,oops\n", OLA, valid_only=True)
    with pytest.raises(NotAllowed):
        ops.rejected_rows(MAX, result.batch_id)


def test_a_manager_cannot_undo_an_admins_org_wide_deals_snapshot(ops):
    result = upload(ops, DEALS + "D1,R3,100,0.5,2025-06-01\nD2,R1,50,0.5,2025-06-01\n", OLA, "deals",
                    as_of=date(2025, 1, 1))
    with pytest.raises(NotAllowed):
        ops.undo(MAX, result.batch_id)
    assert sorted(ops.open_deals(SYSTEM, date(2025, 2, 1))["deal_id"]) == ["D1", "D2"]


def test_migration_60_records_the_uploaders_of_older_batches_from_their_accounts(db_target, monkeypatch):
    from salesplan import migrations
    from salesplan.storage import base

    monkeypatch.setattr(base, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 60])
    with Store.open(db_target) as old:
        with old.cursor() as cursor:  # the reps of OPS_REPS (an import would record a batch the new way)
            for rep_id, name, email, manager in (("M1", "Max", "max@x.test", None), ("R1", "Ann", "ann@x.test", "M1"),
                                                 ("R2", "Ola", "ola@x.test", "M1")):
                cursor.execute("INSERT INTO reps (rep_id, name, email, manager) VALUES (?, ?, ?, ?)",
                               [rep_id, name, email, manager])
        old.add_user(SYSTEM, "ola@x.test", "admin", rep_id="R2", password="pw-ola-12")
        old.add_user(SYSTEM, "ann@x.test", "rep", rep_id="R1", password="pw-ann-12")
        with old.cursor() as cursor:
            for batch_id, who in ((101, "Ola@X.test"), (102, "ann@x.test"), (103, "gone@x.test")):
                cursor.execute("INSERT INTO upload_batches (batch_id, kind, uploaded_by, uploaded_at) "
                               "VALUES (?, 'actuals', ?, localtimestamp)", [batch_id, who])
    monkeypatch.setattr(base, "MIGRATIONS", migrations.MIGRATIONS)
    with Store.open(db_target) as store:
        with store.cursor() as cursor:
            rows = cursor.execute("SELECT batch_id, uploader_role, uploader_rep_id FROM upload_batches "
                                  "WHERE batch_id > 100 ORDER BY batch_id").fetchall()
        assert rows == [(101, "admin", "R2"), (102, "rep", "R1"), (103, None, None)]
        assert [b for b in store.batches(MAX)["batch_id"] if b > 100] == [102]  # not the admin's, nor the unknown's


def test_a_conversion_error_that_reaches_a_backend_is_a_message(org):
    with pytest.raises(BadInput, match="cannot hold"):
        org.write(SYSTEM, "probe", "", lambda cursor: cursor.execute("SELECT 'x'::INTEGER"))

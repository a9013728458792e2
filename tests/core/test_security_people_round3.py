"""Third round of attacks through the Upload page's people features (core level): each test
fails on main 3145957."""

from __future__ import annotations

import pytest

from salesplan import imports, people_import, upload_flow
from salesplan.principal import Principal
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.storage_fixtures import CONTRACT_REPS  # VP > M1 > R1, R2; VP > M2 > R3

ANN = Principal("ann@x.test", "rep", "R1")


def _import_reps(store: Store) -> None:
    imports.import_file(store, "reps", CONTRACT_REPS.encode(), file_name="reps.csv")


@pytest.fixture
def org(tmp_path):
    """A store of its own holding CONTRACT_REPS (a copy of a database built once per run)."""
    with templates.open_copy(templates.template("people_round3_org", _import_reps), tmp_path / "org.duckdb") as store:
        yield store


# G3: the rep lookup's suggestions named the rep_id behind any e-mail or territory, so a rep
# learnt the ids the imports take care not to tell them (docs/security.md)
def test_the_rep_lookup_suggests_no_rep_outside_the_users_scope(org):
    orders = ("Order Date,Owner,Sales\n2025-03-03,bob@x.test,1\n2025-03-03,Benelux,2\n"
              "2025-03-03,cem@x.test,3\n2025-03-03,ann@x.test,4\n")
    values = people_import.lookup_values(org, orders.encode(), "Owner", file_name="o.csv", principal=ANN)
    suggested = dict(zip(values["value"], values["rep_id"]))
    assert suggested == {"bob@x.test": None, "Benelux": None, "cem@x.test": None, "ann@x.test": "R1"}


# G7: the Upload page's import ran a people file for anyone: its rep ids were looked up by
# e-mail first, and the store's refusal ("R2 already exist") told a manager the id behind bob's
def test_the_upload_flow_imports_only_the_kinds_the_user_may_upload(org):
    manager = Principal("max@x.test", "manager", "M1")
    people = b"name,email,territory,region,manager\nBob Two,bob@x.test,,,M1\n"
    before = org.snapshot()
    outcome = upload_flow.run_import(org, manager, "reps", people, file_name="p.csv", sha="x",
                                     header=["name", "email", "territory", "region", "manager"], column_map=None,
                                     valid_only=False)
    assert outcome.error and not outcome.imported
    assert "R2" not in outcome.error
    assert org.snapshot() == before

"""People from the exports: unknown reps listed and created in one step, and a rep taken from
another column through a confirmed lookup."""

from __future__ import annotations

import pytest

from salesplan import imports, people_import
from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store
from tests.helpers import templates

REPS = (
    "rep_id,name,email,territory,region,manager\n"
    "R001,Max Lead,max@x.test,Nordics,North,\n"
    "R002,Ann One,ann@x.test,Nordics,North,R001\n"
    "R010,Cem Ten,cem@x.test,Benelux,West,\n"
    "R011,Dan Eleven,dan@x.test,Benelux,West,R010\n"
)
CRM = (
    "Close Date,Opportunity Owner,Owner Email,Amount\n"
    "2025-03-03,Ann One,ann@x.test,100\n"
    "2025-03-03,Zoe New,zoe.new@x.test,200\n"
    "2025-03-04,Zoe New,zoe.new@x.test,300\n"
    "2025-03-04,yan.lee@x.test,,50\n"
    "2025-03-05,R001,,10\n"
)
MANAGER = Principal("max@x.test", "manager", "R001")


def _import_reps(store: Store) -> None:
    imports.import_file(store, "reps", REPS.encode(), file_name="reps.csv")


@pytest.fixture
def org(tmp_path):
    """A store of its own holding REPS (a copy of a database built once per run)."""
    with templates.open_copy(templates.template("people_from_exports", _import_reps), tmp_path / "p.duckdb") as store:
        yield store


def test_unknown_people_are_listed_with_their_email(org):
    found = people_import.unknown_reps(org, CRM.encode(), file_name="crm.csv", email_column="Owner Email")
    assert found.to_dict("records") == [
        {"rep_text": "Zoe New", "name": "Zoe New", "email": "zoe.new@x.test", "rows": 2},
        {"rep_text": "yan.lee@x.test", "name": "Yan Lee", "email": "yan.lee@x.test", "rows": 1},
    ]


def test_confirmed_people_are_created_in_one_step_and_the_file_then_imports(org):
    found = people_import.unknown_reps(org, CRM.encode(), file_name="crm.csv", email_column="Owner Email")
    result = people_import.create_reps(org, SYSTEM, found, territory="Nordics", region="North", manager="R001")
    assert result.inserted == 2 and "new reps: R012 Zoe New, R013 Yan Lee" in result.notes
    owner = {"Opportunity Owner": "rep"}  # the mapping step: the owner's name, not their e-mail
    assert people_import.unknown_reps(org, CRM.encode(), file_name="crm.csv", column_map=owner).empty
    assert imports.import_file(org, "actuals", CRM.encode(), file_name="crm.csv", column_map=owner).inserted == 5
    reps = org.rep_lookup().set_index("rep_id")
    assert reps.loc["R012", ["name", "email", "manager"]].tolist() == ["Zoe New", "zoe.new@x.test", "R001"]


def test_a_manager_creates_new_reps_only_under_themself(org):
    found = people_import.unknown_reps(org, CRM.encode(), file_name="crm.csv", email_column="Owner Email")
    people_import.create_reps(org, MANAGER, found.head(1), manager="R010")  # the manager's own id wins
    assert org.rep_lookup().set_index("rep_id").loc["R012", "manager"] == "R001"
    with pytest.raises(NotAllowed):
        people_import.create_reps(org, Principal("ann@x.test", "rep", "R002"), found.tail(1))
    with pytest.raises(NotAllowed):  # the reps import itself stays admin-only for a manager's changes
        imports.import_file(org, "reps", b"rep_id,name\nR002,Ann Renamed\n", principal=MANAGER, file_name="r.csv")
    with pytest.raises(NotAllowed):
        imports.import_file(org, "reps", b"rep_id,name,manager\nR099,Someone,R010\n", principal=MANAGER, file_name="r.csv")


def test_an_email_another_rep_has_creates_nobody(org):
    before = len(org.rep_lookup())
    with pytest.raises(BadInput, match="belongs to another rep"):
        people_import.create_reps(org, SYSTEM, __import__("pandas").DataFrame({"name": ["Dup"], "email": ["ann@x.test"]}))
    assert len(org.rep_lookup()) == before


ORDERS = (
    "Order Date,Region,Sales\n"
    "2025-03-03,North,100\n"
    "2025-03-03,West,200\n"
    "2025-03-04,Benelux,300\n"
    "2025-03-04,South,5\n"
)


def test_a_rep_from_another_column_through_a_confirmed_lookup(org):
    values = people_import.lookup_values(org, ORDERS.encode(), "Region", file_name="orders.csv", principal=SYSTEM)
    suggested = dict(zip(values["value"], values["rep_id"]))
    assert suggested == {"North": None, "West": None, "Benelux": "R010", "South": None}
    lookup = {"North": "R001", "West": "cem@x.test", "Benelux": "R010"}
    data = people_import.apply_rep_lookup(org, ORDERS.encode(), "Region", lookup, file_name="orders.csv")
    with pytest.raises(BadInput) as error:
        imports.import_file(org, "actuals", data, file_name="orders.csv")
    assert [(p.line, p.column) for p in error.value.problems] == [(5, "rep")]  # South has no rep
    result = imports.import_file(org, "actuals", data, file_name="orders.csv", valid_only=True)
    assert result.inserted == 3 and result.overview.reps == ["R001", "R010"]
    with pytest.raises(BadInput, match="unknown rep 'Nobody'"):
        people_import.apply_rep_lookup(org, ORDERS.encode(), "Region", {"North": "Nobody"}, file_name="orders.csv")


def test_a_looked_up_file_keeps_the_line_numbers_of_the_users_file(org):
    # title lines and a blank line above the header, a blank line between records and a note over
    # two lines: the file the lookup writes must not renumber them, or the problems name lines the
    # user cannot find in their file
    titled = ("Orders export\nRun on 2025-03-31\n\nOrder Date,Region,Sales,Note\n2025-03-03,North,100,\n\n"
              '2025-03-03,West,200,"two\nlines"\n2025-03-04,South,5,\n2025-02-30,North,8,\n')
    lines = titled.split("\n")
    assert lines[9 - 1] == "2025-03-04,South,5," and lines[10 - 1] == "2025-02-30,North,8,"
    lookup = {"North": "R001", "West": "R010"}
    data = people_import.apply_rep_lookup(org, titled.encode(), "Region", lookup, file_name="orders.csv")
    with pytest.raises(BadInput) as error:
        imports.import_file(org, "actuals", data, file_name="orders.csv")
    assert [(p.line, p.column) for p in error.value.problems] == [(9, "rep"), (10, "Order Date")]
    result = imports.import_file(org, "actuals", data, file_name="orders.csv", valid_only=True)
    assert result.rejected == 2 and result.inserted == 2
    assert org.rejected_rows(SYSTEM, result.batch_id)["line"].tolist() == [9, 10]

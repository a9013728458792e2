"""Third round of attacks inside the organisation (store level, on every backend: the ``org``
fixture's organisation, VP > M1 > R1, R2; VP > M2 > R3): the people and rates features of the
Upload and Admin pages. Each test fails on main 3145957."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal

MAX = Principal("max@x.test", "manager", "M1")
MIA = Principal("mia@x.test", "manager", "M2")


# G1: the add_reps check looked only at each new rep's latest row; an earlier row (in effect
# today when the latest starts in the future) put the rep in another manager's team
def test_a_manager_cannot_put_a_new_rep_in_another_team_through_an_earlier_history_row(org):
    people = ("rep_id,name,email,territory,region,manager,effective_from\n"
              "N1,New One,n1@x.test,,,M2,2020-01-01\n"
              "N1,New One,n1@x.test,,,M1,2199-01-01\n")
    before = org.snapshot()
    with pytest.raises(NotAllowed):
        imports.import_file(org, "reps", people.encode(), file_name="p.csv", principal=MAX)
    assert org.snapshot() == before
    assert "N1" not in org.visible_rep_ids(MIA)


# G2: a manager account without a rep_id (no team at all) passed "only under themself" with
# reps under nobody
def test_a_manager_without_a_rep_id_cannot_add_reps(org):
    nobody = Principal("zed@x.test", "manager", None)
    before = org.snapshot()
    with pytest.raises(NotAllowed):
        imports.import_file(org, "reps", b"rep_id,name,email,territory,region,manager\nN2,Two,n2@x.test,,,\n",
                            file_name="p.csv", principal=nobody)
    assert org.snapshot() == before


# G4: a manager's new rep with a known territory and another region moved that territory to the
# new region, changing every region roll-up; in another team's territory (or a new one), the
# manager's uploads for the rep counted in that territory's figures
@pytest.mark.parametrize("row", [b"N1,New One,n1@x.test,Nordics,West,M1\n", b"N1,New One,n1@x.test,Benelux,West,M1\n",
                                 b"N1,New One,n1@x.test,Benelux,North,M1\n", b"N1,New One,n1@x.test,Atlantis,,M1\n"])
def test_a_manager_adding_a_rep_cannot_move_or_leave_their_teams_territories(org, row):
    before = org.snapshot()
    with pytest.raises(NotAllowed, match="Nordics|Benelux|Atlantis"):
        imports.import_file(org, "reps", b"rep_id,name,email,territory,region,manager\n" + row,
                            file_name="p.csv", principal=MAX)
    assert org.snapshot() == before


def test_a_manager_adds_reps_in_their_teams_territory_or_none(org):
    # the territory's own region, or none, is fine
    imports.import_file(org, "reps", b"rep_id,name,email,territory,region,manager\n"
                        b"N1,New One,n1@x.test,Nordics,North,M1\nN2,New Two,n2@x.test,Nordics,,M1\n"
                        b"N3,New Three,,,,M1\n",
                        file_name="p.csv", principal=MAX)
    assert dict(org.territories(MAX).itertuples(index=False, name=None)) == {"Benelux": "West", "Nordics": "North"}


# G5: a manager's new rep named like another team's rep made that name ambiguous, so every
# upload naming that rep (another manager's CRM export) was refused from then on
def test_a_manager_cannot_add_a_rep_with_another_reps_name(org):
    before = org.snapshot()
    with pytest.raises(NotAllowed, match="Cem Three"):
        imports.import_file(org, "reps", b"rep_id,name,email,territory,region,manager\n"
                            b"N1,Cem Three,,,,M1\n", file_name="p.csv", principal=MAX)
    assert org.snapshot() == before
    result = imports.import_file(org, "actuals", b"date,rep,amount\n2025-03-03,Cem Three,5\n", file_name="a.csv",
                                 principal=MIA)
    assert result.inserted == 1


# G6: the store took an infinite rate ("above 0"), turning every converted amount into infinity
def test_the_store_refuses_an_infinite_rate(org):
    org.save_settings(SYSTEM, base_currency="EUR")
    before = org.snapshot()
    with pytest.raises(BadInput, match="finite"):
        org.set_rate(SYSTEM, "USD", "2025-01", float("inf"))
    assert org.snapshot() == before

"""Imports of open-deals snapshots (docs/pipeline.md): probabilities, refusals, scope, undo.

Every expected number is worked out by hand from the small files below.
"""

from __future__ import annotations

from datetime import date

import pytest

from salesplan import cli, imports
from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store
from tests.helpers import templates

# a head (H0) with two managers: M1 (reps A1, A2) and M2 (rep B1)
TEAMS_CSV = (
    "rep_id,name,email,territory,region,manager\n"
    "H0,Hana Head,hana@example.com,,,\n"
    "M1,Max One,max@example.com,North,N,H0\n"
    "A1,Ada Ant,ada@example.com,North,N,M1\n"
    "A2,Abe Ant,abe@example.com,North,N,M1\n"
    "M2,Mo Two,mo@example.com,South,S,H0\n"
    "B1,Bea Bee,bea@example.com,South,S,M2\n"
)
MANAGER_1 = Principal("max@example.com", "manager", "M1")
REP_A1 = Principal("ada@example.com", "rep", "A1")
D1, D2, D3 = date(2025, 3, 3), date(2025, 3, 10), date(2025, 3, 17)


@pytest.fixture(scope="module")
def teams_template(tmp_path_factory):
    """A database holding the reps of TEAMS_CSV, imported once per module."""
    path = templates.duckdb_copy(tmp_path_factory.mktemp("deals") / "teams.duckdb", templates.MIGRATED)
    with Store.open(path) as store:
        imports.import_file(store, "reps", TEAMS_CSV.encode(), file_name="reps.csv", principal=SYSTEM)
    return path


@pytest.fixture
def teams(tmp_path, teams_template):
    """A store of the test's own holding the reps of TEAMS_CSV."""
    with templates.open_copy(teams_template, tmp_path / "test.duckdb") as store:
        yield store


def load(store, text: str, as_of: date, *, principal: Principal = SYSTEM, valid_only: bool = False, name="deals.csv"):
    return imports.import_file(store, "deals", text.encode(), file_name=name, principal=principal, as_of=as_of,
                               valid_only=valid_only)


def open_on(store, day: date, principal: Principal = SYSTEM) -> dict[str, tuple[str, float, float]]:
    frame = store.open_deals(principal, day)
    return {row.deal_id: (row.rep_id, row.amount, row.probability) for row in frame.itertuples()}


def problems(error: pytest.ExceptionInfo[BadInput]) -> list[tuple[int | None, str | None, str]]:
    return [(p.line, p.column, p.reason) for p in error.value.problems]


# ------------------------------------------------------------------ probabilities
def test_stage_probabilities_fill_in_where_the_file_gives_none(teams):
    teams.save_settings(SYSTEM, stage_probabilities={"Proposal": 0.4, "Negotiation": "75%"})
    text = (
        "Opportunity ID,Opportunity Owner,Opportunity Name,Deal Stage,Probability,Amount,Expected Close Date\n"
        "O-1,A1,Acme,Proposal,,1000,2025-04-30\n"          # stage: 0.4
        "O-2,ada@example.com,Globex,negotiation ,,2000,2025-05-31\n"  # stage matched loosely: 0.75
        "O-3,Bea Bee,Initech,Proposal,0.9,3000,2025-06-30\n"  # the file's value wins over the stage's
    )
    result = load(teams, text, D1)
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == (3, 0, 0, 0)
    assert open_on(teams, D1) == {"O-1": ("A1", 1000.0, 0.4), "O-2": ("A1", 2000.0, 0.75), "O-3": ("B1", 3000.0, 0.9)}
    history = teams.deal_history(SYSTEM).set_index("deal_id")
    assert history.loc["O-3", "name"] == "Initech" and history.loc["O-2", "stage"] == "negotiation"


def test_percent_probabilities_with_and_without_the_sign(teams):
    text = (
        "Deal ID,Deal Owner,Amount,Close Date,Probability (%)\n"
        "P-1,A1,100,2025-04-01,40\n"    # the column has values over 1: percent
        "P-2,A1,100,2025-04-01,100\n"
        "P-3,A1,100,2025-04-01,0\n"
        "P-4,A1,100,2025-04-01,12.5 %\n"
    )
    load(teams, text, D1)
    assert {k: v[2] for k, v in open_on(teams, D1).items()} == {"P-1": 0.4, "P-2": 1.0, "P-3": 0.0, "P-4": 0.125}
    # a column of fractions stays fractions; a sign still means percent
    load(teams, "deal_id,owner,amount,expected_close,probability\nF-1,A2,100,2025-04-01,0.4\nF-2,A2,100,2025-04-01,1\n"
                "F-3,A2,100,2025-04-01,60%\n", D2)
    assert {k: v[2] for k, v in open_on(teams, D2).items()} == {"F-1": 0.4, "F-2": 1.0, "F-3": 0.6}


def test_a_missing_probability_is_refused_with_the_stage_named(teams):
    teams.save_settings(SYSTEM, stage_probabilities={"Proposal": 0.4})
    before = teams.snapshot()
    text = "deal_id,owner,stage,amount,expected_close\nX-1,A1,Proposal,10,2025-04-01\nX-2,A1,Discovery,10,2025-04-01\nX-3,A1,,10,2025-04-01\n"
    with pytest.raises(BadInput) as error:
        load(teams, text, D1)
    assert problems(error) == [
        (3, "stage", "no probability: add a probability column or set a probability for stage Discovery"),
        (4, "stage", "no probability: add a probability column, or a stage column with a probability set for each "
                     "stage in the settings"),
    ]
    assert teams.snapshot() == before


# ------------------------------------------------------------------ refusals
def test_bad_rows_are_refused_with_line_and_column_and_nothing_changes(teams):
    load(teams, "deal_id,owner,amount,expected_close,probability\nK-1,A1,10,2025-04-01,0.5\n", D1)
    before = teams.snapshot()
    text = (
        "Deal ID,Owner,Amount,Close Date,Probability (%)\n"
        "B-1,Nobody,100,2025-04-01,50\n"       # unknown owner
        "B-2,A1,100,2025-02-30,50\n"           # impossible date
        "B-3,A1,-5,2025-04-01,50\n"            # negative amount
        "B-4,A1,100,2025-04-01,150\n"          # probability out of range
        "B-5,A1,100,2025-04-01,20\n"           # fine
        "B-5,A1,200,2025-04-01,20\n"           # the same deal with other values
    )
    with pytest.raises(BadInput) as error:
        load(teams, text, D2)
    assert problems(error) == [
        (2, "Owner", "unknown owner 'Nobody': not a rep_id, email or name in the reps list (import the reps first)"),
        (3, "Close Date", "'2025-02-30' is not a real date"),
        (4, "Amount", "a deal amount cannot be negative (-5)"),
        (5, "Probability (%)", "probability '150' is out of range (read as percent, as other values of the column are over 1)"),
        (7, "Deal ID", "deal B-5 is also on line 6 with other values"),
    ]
    assert teams.snapshot() == before
    assert open_on(teams, D2) == {"K-1": ("A1", 10.0, 0.5)}


def test_out_of_range_fraction_and_mixed_currencies(teams):
    with pytest.raises(BadInput) as error:
        load(teams, "deal_id,owner,amount,expected_close,probability,currency\nC-1,A1,1,2025-04-01,-0.1,EUR\n"
                    "C-2,A1,1,2025-04-01,0.3,usd\n", D1)
    assert problems(error) == [
        (2, "probability", "probability '-0.1' is out of range (use 0-1 or 0-100 %)"),
        (3, "currency", "this amount is in USD but the file's first amounts are in EUR: amounts in different "
                        "currencies are never added up; set a base currency in the settings and import rates"),
    ]


def test_fractions_in_a_column_of_percentages_are_refused_as_ambiguous(teams):
    with pytest.raises(BadInput) as error:
        load(teams, "deal_id,owner,amount,expected_close,probability\nM-1,A1,1,2025-04-01,40\n"
                    "M-2,A1,1,2025-04-01,0.5\nM-3,A1,1,2025-04-01,1\nM-4,A1,1,2025-04-01,0.5%\n", D1)
    # 1 is 1 % and 0.5% says percent itself: only the bare 0.5 is ambiguous
    assert problems(error) == [
        (3, "probability", "'0.5' looks like a fraction, but other values of the column are percentages (over 1): "
                           "write them all as 0-1 or all as 0-100"),
    ]


def test_valid_only_keeps_the_good_rows_and_stores_the_rejected_ones(teams):
    result = load(teams, "deal_id,owner,amount,expected_close,probability\nV-1,A1,10,2025-04-01,0.5\n"
                         "V-2,Ghost,10,2025-04-01,0.5\n", D1, valid_only=True)
    assert (result.inserted, result.rejected) == (1, 1)
    assert set(open_on(teams, D1)) == {"V-1"}
    rejected = teams.rejected_rows(SYSTEM, result.batch_id)
    assert rejected["line"].tolist() == [3] and "unknown owner 'Ghost'" in rejected["problems"][0]


def test_valid_only_with_no_valid_row_closes_nothing(teams):
    load(teams, FIRST, D1)
    before = teams.snapshot()
    with pytest.raises(BadInput, match="no valid deal rows to import"):
        load(teams, "deal_id,owner,amount,expected_close,probability\nV-2,Ghost,10,2025-04-01,0.5\n", D2, valid_only=True)
    assert teams.snapshot() == before
    assert set(open_on(teams, D2)) == {"D-1", "D-2", "D-3"}


def test_the_snapshot_date_must_be_in_range(teams):
    with pytest.raises(BadInput, match="out of range"):
        load(teams, "deal_id,owner,amount,expected_close,probability\nV-1,A1,10,2025-04-01,0.5\n", date(1899, 12, 31))


# ------------------------------------------------------------------ snapshots
FIRST = (
    "deal_id,owner,amount,expected_close,probability\n"
    "D-1,A1,1000,2025-04-30,0.5\n"
    "D-2,A1,2000,2025-05-31,0.25\n"
    "D-3,B1,3000,2025-06-30,0.1\n"
)


def test_importing_the_same_snapshot_again_changes_nothing(teams):
    first = load(teams, FIRST, D1)
    again = load(teams, FIRST, D1)
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert open_on(teams, D1) == {"D-1": ("A1", 1000.0, 0.5), "D-2": ("A1", 2000.0, 0.25), "D-3": ("B1", 3000.0, 0.1)}
    assert len(teams.deal_history(SYSTEM)) == 3  # one set of rows per (rep, date), not two


def test_a_newer_snapshot_drops_a_deal_that_vanished(teams):
    load(teams, FIRST, D1)
    newer = load(teams, "deal_id,owner,amount,expected_close,probability\nD-1,A1,1500,2025-04-30,0.5\n"
                        "D-3,B1,3000,2025-06-30,0.1\n", D2)
    # D-1 changed amount, D-3 is the same, D-2 is no longer open (won, lost or removed)
    assert (newer.inserted, newer.updated, newer.unchanged) == (0, 1, 1)
    assert "1 deal(s) open before are no longer open" in newer.summary()
    assert open_on(teams, D2) == {"D-1": ("A1", 1500.0, 0.5), "D-3": ("B1", 3000.0, 0.1)}
    # the earlier snapshot is kept: the days before the newer one still see it
    assert set(open_on(teams, date(2025, 3, 9))) == {"D-1", "D-2", "D-3"}
    assert open_on(teams, date(2025, 3, 2)) == {}


def test_a_managers_snapshot_replaces_only_their_teams_deals(teams):
    load(teams, FIRST + "D-4,A2,400,2025-04-15,0.5\n", D1)
    result = load(teams, "deal_id,owner,amount,expected_close,probability\nD-5,A1,500,2025-05-15,0.3\n", D2,
                  principal=MANAGER_1)
    # M1's scope is M1, A1, A2: D-1, D-2 (A1) and D-4 (A2) are no longer open; B1's D-3 stays open
    assert "3 deal(s) open before are no longer open" in result.summary()
    assert open_on(teams, D2) == {"D-5": ("A1", 500.0, 0.3), "D-3": ("B1", 3000.0, 0.1)}
    # the manager sees only their team's deals
    assert open_on(teams, D2, MANAGER_1) == {"D-5": ("A1", 500.0, 0.3)}


def test_a_snapshot_dated_earlier_does_not_change_later_days(teams):
    load(teams, FIRST, D2)
    load(teams, "deal_id,owner,amount,expected_close,probability\nE-1,A1,9,2025-04-30,0.5\n", D1)
    assert set(open_on(teams, D1)) == {"E-1"}
    assert set(open_on(teams, D3)) == {"D-1", "D-2", "D-3"}


def test_reps_upload_only_their_own_deals_and_leaders_none(teams):
    before = teams.snapshot()
    with pytest.raises(BadInput) as error:
        load(teams, "deal_id,owner,amount,expected_close,probability\nR-1,A1,10,2025-04-01,0.5\nR-2,B1,10,2025-04-01,0.5\n",
             D1, principal=REP_A1)
    assert problems(error) == [(3, "owner", "not a rep you may upload for: a rep may upload only their own deals")]
    with pytest.raises(NotAllowed):
        load(teams, FIRST, D1, principal=Principal("lead@example.com", "leader"))
    assert teams.snapshot() == before
    # a rep's snapshot covers only that rep
    load(teams, FIRST, D1)
    load(teams, "deal_id,owner,amount,expected_close,probability\nR-1,A1,10,2025-04-01,0.5\n", D2, principal=REP_A1)
    assert set(open_on(teams, D2)) == {"R-1", "D-3"}


def test_undo_of_a_snapshot_brings_back_the_one_before(teams):
    load(teams, FIRST, D1)
    newer = load(teams, "deal_id,owner,amount,expected_close,probability\nD-9,B1,10,2025-04-01,0.5\n", D2)
    assert set(open_on(teams, D3)) == {"D-9"}
    teams.undo(SYSTEM, newer.batch_id)
    assert set(open_on(teams, D3)) == {"D-1", "D-2", "D-3"}
    assert teams.batch(newer.batch_id)["reverted_at"] is not None
    with pytest.raises(BadInput, match="already undone"):
        teams.undo(SYSTEM, newer.batch_id)


def test_header_synonyms_of_crm_exports(teams):
    text = "Record ID,Deal Owner,Deal Name,Deal Stage,Amount,Close Date,Deal probability,Company name\n" \
           "123,A1,Renewal,Contract sent,5000,2025-04-30,0.8,Acme\n"
    load(teams, text, D1)
    row = teams.deal_history(SYSTEM).iloc[0]
    assert tuple(row[["deal_id", "name", "stage", "customer", "amount", "probability"]]) == \
        ("123", "Renewal", "Contract sent", "Acme", 5000.0, 0.8)


# ------------------------------------------------------------------ command line
def test_the_command_line_imports_deals_and_sets_stage_probabilities(tmp_path, capsys):
    db = str(templates.duckdb_copy(tmp_path / "cli.duckdb", templates.MIGRATED))
    (tmp_path / "reps.csv").write_text(TEAMS_CSV)
    (tmp_path / "deals.csv").write_text("deal_id,owner,stage,amount,expected_close\nQ-1,A1,Proposal,100,2025-04-01\n")
    assert cli.main(["--db", db, "import", "reps", str(tmp_path / "reps.csv")]) == 0
    assert cli.main(["--db", db, "import", "deals", str(tmp_path / "deals.csv"), "--as-of", "2025-03-03"]) == 1
    assert "no probability" in capsys.readouterr().err
    assert cli.main(["--db", db, "settings", "--stage-probability", "Proposal=40%", "Closing=0.9"]) == 0
    assert "stage_probabilities Closing=0.9, Proposal=0.4" in capsys.readouterr().out
    assert cli.main(["--db", db, "settings", "--stage-probability", "closing="]) == 0  # removes Closing
    assert "stage_probabilities Proposal=0.4\n" in capsys.readouterr().out
    assert cli.main(["--db", db, "settings", "--stage-probability", "Proposal=2"]) == 1
    assert "--stage-probability: the probability of stage 'Proposal' must be between 0 and 1" in capsys.readouterr().err
    assert cli.main(["--db", db, "import", "deals", str(tmp_path / "deals.csv"), "--as-of", "2025-03-03"]) == 0
    assert "open deals as of 2025-03-03: 1 for 6 rep(s) in scope" in capsys.readouterr().out
    assert cli.main(["--db", db, "import", "reps", str(tmp_path / "reps.csv"), "--as-of", "2025-03-03"]) == 2

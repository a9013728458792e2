"""Undo says how many keys a newer batch still holds (their current values do not change)."""

from __future__ import annotations

from datetime import date

import pytest

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers.storage_fixtures import from_template

REPS = "rep_id,name,email,territory,region,manager\nR1,Ann One,ann@x.test,Nordics,North,\nR2,Bob Two,bob@x.test,Nordics,North,\n"


def _reps(store: Store) -> None:
    imports.import_file(store, "reps", REPS.encode(), file_name="reps.csv")


@pytest.fixture
def org(db_target, request):
    """The two reps on the backend under test: a copy of that database, built once per run."""
    with Store.open(from_template(request, db_target, "undo-held-reps", _reps)) as store:
        yield store


def _up(store, kind, text, name, **options):
    return imports.import_file(store, kind, text.encode(), file_name=name, **options)


def test_undoing_an_older_actuals_batch_reports_the_rows_a_newer_one_holds(org):
    old = _up(org, "actuals", "date,rep,order id,amount\n2025-03-03,R1,A,10\n2025-03-03,R1,B,20\n2025-03-04,R2,C,30\n", "a.csv")
    new = _up(org, "actuals", "date,rep,order id,amount\n2025-03-03,R1,A,15\n2025-03-04,R2,C,30\n2025-03-05,R2,D,5\n", "b.csv")
    result = org.undo(SYSTEM, old.batch_id)
    assert result["kept_by_newer"] == 2 and result["newer_batches"] == [new.batch_id]
    assert org.actual_totals(SYSTEM)["revenue"] == pytest.approx(15 + 30 + 5)  # only B went away
    assert org.undo(SYSTEM, new.batch_id)["kept_by_newer"] == 0


def test_undoing_the_newest_batch_reports_nothing_kept(org):
    _up(org, "actuals", "date,rep,order id,amount\n2025-03-03,R1,A,10\n", "a.csv")
    new = _up(org, "actuals", "date,rep,order id,amount\n2025-03-03,R1,A,15\n", "b.csv")
    result = org.undo(SYSTEM, new.batch_id)
    assert result["kept_by_newer"] == 0 and result["newer_batches"] == []
    assert org.actual_totals(SYSTEM)["revenue"] == pytest.approx(10)


def test_targets_and_deals_report_the_cells_and_reps_a_newer_batch_holds(org):
    old = _up(org, "targets", "owner,month,amount\nR1,2025-01,100\nR1,2025-02,100\n", "t1.csv")
    new = _up(org, "targets", "owner,month,amount\nR1,2025-01,200\n", "t2.csv")
    result = org.undo(SYSTEM, old.batch_id)
    assert (result["kept_by_newer"], result["newer_batches"]) == (1, [new.batch_id])
    deals = "deal_id,owner,stage,probability,amount,expected_close\nD1,R1,Proposal,0.4,1000,2025-06-30\n"
    first = _up(org, "deals", deals + "D2,R2,Proposal,0.4,500,2025-06-30\n", "d1.csv", as_of=date(2025, 3, 1))
    later = _up(org, "deals", deals, "d2.csv", as_of=date(2025, 3, 8))
    result = org.undo(SYSTEM, first.batch_id)
    # the later snapshot covers every rep of the uploader's scope (R2 has no open deals in it)
    assert (result["kept_by_newer"], result["newer_batches"]) == (2, [later.batch_id])
    assert org.undo(SYSTEM, later.batch_id)["kept_by_newer"] == 0


def test_last_sale_date_is_the_newest_visible_sale(org):
    from salesplan.principal import Principal

    assert org.last_sale_date(SYSTEM) is None
    _up(org, "actuals", "date,rep,amount\n2025-03-03,R1,10\n2025-04-07,R2,5\n", "a.csv")
    assert org.last_sale_date(SYSTEM) == date(2025, 4, 7)
    assert org.last_sale_date(Principal("ann@x.test", "rep", "R1")) == date(2025, 3, 3)

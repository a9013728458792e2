"""A sale whose key comes out as the key of an earlier file's sale of another order or line is
refused, not taken for an update of it (salesplan/storage/refusals.py): the import's key is made
of the order id and line, so order A without a line (its first row ``o|A|#1``) and order A line
``#1`` are one key, as are order ``A|1`` line 2 and order ``A`` line ``1|2``. Within one file the
import refuses the later row (tests/core/test_import_key_collisions.py); across files only the
ledger can tell. Both write paths (the typed copy and the view), both backends."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.storage import ledger
from salesplan.store import Store
from tests.helpers.ledger_writes import _state
from tests.helpers.storage_fixtures import from_template, import_contract_reps

# (a cost on every row: the state compared holds no NaN, which equals nothing)
NO_LINE = "date,rep,amount,cost,order id\n2025-03-03,R1,10,1,A\n2025-03-04,R1,11,1,B\n"
LINE_HASH_1 = "date,rep,amount,cost,order id,line\n2025-03-05,R1,20,1,A,#1\n"
BAR_IN_ID = "date,rep,amount,cost,order id,line\n2025-03-03,R1,10,1,A|1,2\n"
BAR_IN_LINE = "date,rep,amount,cost,order id,line\n2025-03-04,R2,30,1,A,1|2\n"


def _import(store: Store, text: str):
    return imports.import_file(store, "actuals", text.encode(), file_name="sales.csv")


@pytest.mark.parametrize("view_rows", [0, 10**12], ids=["view", "copy"])
@pytest.mark.parametrize(("first", "second", "line", "named"), [
    (NO_LINE, LINE_HASH_1, 2, ("order A line #1", "order A (no line)")),
    (LINE_HASH_1, NO_LINE, 2, ("order A (no line)", "order A line #1")),
    (BAR_IN_ID, BAR_IN_LINE, 2, ("order A line 1|2", "order A|1 line 2")),
], ids=["no line, then #1", "#1, then no line", "bar in the id, then in the line"])
def test_a_later_files_sale_with_an_earlier_sales_key_is_refused(first, second, line, named, view_rows, request,
                                                                  db_target, monkeypatch):
    monkeypatch.setattr(ledger, "_VIEW_ROWS", view_rows)
    target = from_template(request, db_target, "contract-reps", import_contract_reps)
    with Store.open(target) as store:
        _import(store, first)
        before = _state(store)
        with pytest.raises(BadInput) as refused:
            _import(store, second)
        problem = refused.value.problems[0]
        assert (problem.file, problem.line, problem.column) == ("sales.csv", line, "order_id")
        assert named[0] in problem.reason and named[1] in problem.reason
        assert _state(store) == before  # nothing written, the earlier sale kept


@pytest.mark.parametrize("view_rows", [0, 10**12], ids=["view", "copy"])
def test_files_without_a_line_and_with_odd_lines_import_and_reimport_as_before(view_rows, request, db_target,
                                                                               monkeypatch):
    # the rows the check looks at (no line, a line with # or |) are refused only for a collision:
    # the same files again are unchanged, a changed amount an update
    monkeypatch.setattr(ledger, "_VIEW_ROWS", view_rows)
    target = from_template(request, db_target, "contract-reps", import_contract_reps)
    odd = "date,rep,amount,cost,order id,line\n2025-03-05,R1,20,1,C,#1\n2025-03-05,R1,21,1,D|x,1|2\n"
    with Store.open(target) as store:
        assert (_import(store, NO_LINE).inserted, _import(store, odd).inserted) == (2, 2)
        assert _import(store, NO_LINE).unchanged == 2 and _import(store, odd).unchanged == 2
        changed = _import(store, NO_LINE.replace(",10,1,A", ",15,1,A"))
        assert (changed.updated, changed.unchanged) == (1, 1)

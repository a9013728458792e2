"""A small actuals file skips the work that cannot change its result (docs/decisions.md, "The
import's parse of a small file"): the full rules of a column whose cells the usual rules all read,
the totals-row check when every row has a date or a rep, the currency checks when no row can name
another currency, the repeated-key checks when no (order, line) repeats, the numbering of a kind of
key no row has. These tests import crafted files through the small path and through the large
file's path (every rule and check: ``_SMALL_FILE_ROWS`` set to 0) and compare everything: the
problems (file, line, column, reason, in order), the counts, the overview, the rows written with
their keys and the rows refused."""

from __future__ import annotations

import pytest

from salesplan.errors import BadInput
from salesplan.imports import actuals as actuals_module
from salesplan.imports import parser as parser_module
from salesplan.imports import problems as problems_module
from salesplan.principal import SYSTEM

from tests.helpers import templates
from tests.helpers.actuals import actuals

FILES = {
    # a suspect row whose date and amount the usual rules read (only its rep is unknown)
    "unknown rep": "date,rep,order_id,amount\n2025-03-03,R001,A,10\n2025-03-04,NOPE,B,11\n",
    # the full rules for the date only, both kinds of occurrence key
    "date needs full rules": "date,rep,order_id,amount,cost\n14/03/2025,R001,A,10,2\n2025-03-05,R002,,11,1\n2025-03-05,R002,,11,1\n",
    # the full rules for the cost only: it names a currency, the revenue does not
    "cost names a currency": "date,rep,amount,cost\n2025-03-03,R001,10,USD 2\n2025-03-04,R002,11,1\n",
    "totals row": "date,rep,amount\n2025-03-03,R001,10\n2025-03-04,R002,5\nTotal,,15\n",
    "only an amount": "date,rep,amount,customer\n2025-03-03,R001,10,x\n,,10,\n",
    "repeated keys": (
        "date,rep,order_id,line,amount\n2025-03-03,R001,A,1,10\n2025-03-03,R001,A,1,10\n"
        "2025-03-04,R002,B,1,5\n2025-03-05,R002,B,1,6\n2025-03-06,R003,C,1,x\n2025-03-06,R003,C,1,7\n"
    ),
    "occurrence keys": (
        "date,rep,order_id,amount\n2025-03-03,R001,A,10\n2025-03-03,R001,A,10\n2025-03-04,R002,,5\n"
        "2025-03-04,R002,,5\n03/14/2025,R003,A,7\n2025-03-07,Ava Berg,,(3)\n"
    ),
    "padded cells": "date,rep,amount,profit\n 2025-03-03 , R001 , 10 , 1\n2025-03-04,R001,  ,\n2025-03-05 ,R002, 7 , x\n",
    "decimal comma": 'date,rep,amount\n2025-03-03,R001,"1.234,50"\n2025-03-04,R002,"2,5"\n2025-03-05,R002,"3,25"\n',
    "currency column": "date,rep,amount,currency\n2025-03-03,R001,10,EUR\n2025-03-04,R002,5,XXX\n2025-03-05,R002,$5,EUR\n",
    "bad date and amount": "order_id,date,rep,amount\nB1,2025-01-15,R001,10\nB2,2025-13-45,R002,20\nB3,2025-01-17,R003,abc\n",
    "out of range": "date,rep,amount\n1800-01-01,R001,10\n2025-03-03,R001,x\n2025-03-04,R002,4\n",
    "clean": "date,rep,order_id,line,amount,territory\n2025-03-03,R001,A,1,10,Nordics\n2025-03-04,R002,A,2,5,\n",
}


def _outcome(store, text: str, valid_only: bool):
    try:
        result = actuals(store, text, valid_only=valid_only)
    except BadInput as refused:
        return ("refused", refused.problems)
    written = store.actuals(SYSTEM).drop(columns=["batch_id"]).sort_values("line").reset_index(drop=True)
    rejected = store.rejected_rows(SYSTEM, result.batch_id)[["line", "record", "problems"]]
    counts = (result.inserted, result.updated, result.unchanged, result.rejected)
    return ("imported", result.problems, counts, result.overview, written, rejected)


# what each file is for, checked on its all-or-nothing import (the comparison below means something
# only if the files are refused and read as intended): the problems' (line, column), or a part of
# the first problem's reason; [] for a file that imports whole
REACHES = {
    "unknown rep": [(3, "rep")],
    "date needs full rules": [],
    "cost names a currency": [],
    "totals row": "totals row",
    "only an amount": "only an amount",
    "repeated keys": [(5, "order_id"), (6, "amount")],  # (B, 1) with other values, C's amount
    "occurrence keys": [],
    "padded cells": None,  # refused or not, the two paths must agree (compared below)
    "decimal comma": [],
    "currency column": [(3, "currency"), (4, "amount")],
    "bad date and amount": [(3, "date"), (4, "amount")],
    "out of range": "out of range",
    "clean": [],
}


@pytest.mark.parametrize("valid_only", [False, True], ids=["all or nothing", "valid only"])
@pytest.mark.parametrize("name", list(FILES))
def test_the_small_path_gives_what_the_full_rules_give(reps_template, tmp_path, monkeypatch, name, valid_only):
    outcomes = []
    for path, small_rows in (("small", actuals_module._SMALL_FILE_ROWS), ("large", 0)):
        # every module that reads the threshold, so that the large path is the large path everywhere
        for module in (actuals_module, parser_module, problems_module):
            monkeypatch.setattr(module, "_SMALL_FILE_ROWS", small_rows)
        with templates.open_copy(reps_template, tmp_path / f"{path}.duckdb") as store:
            outcomes.append(_outcome(store, FILES[name], valid_only))
    small, large = outcomes
    assert small[:4] == large[:4]
    # the rows written (keys included) and refused, compared as frames (an empty amount is NaN)
    for small_frame, large_frame in zip(small[4:], large[4:]):
        assert small_frame.equals(large_frame)
    expected = REACHES[name]
    if not valid_only and expected is not None:
        problems = small[1]
        if isinstance(expected, str):
            assert small[0] == "refused" and expected in problems[0].reason
        else:
            assert (small[0] == "imported") == (expected == [])
            assert [(p.line, p.column) for p in problems] == expected

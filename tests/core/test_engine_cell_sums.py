"""The engine sums each (owner, day) cell exactly when that cell's amounts allow it, whatever the
other cells hold: one huge or converted amount elsewhere no longer makes every sum depend on
the order of the lines (salesplan/engine/prep.py, _cell_sums)."""

import datetime as dt

import numpy as np
import pytest

from salesplan import engine
from tests.helpers.engine import make_inputs, row

D = dt.date
AS_OF = D(2025, 1, 31)
REPS = [("r1", "Ann", "North"), ("r2", "Bob", "North")]
TERR = [("North", "East")]
R1_LINES = [(D(2025, 1, 6), "r1", "North", v) for v in (0.1, 0.2, 0.3)]


def _report(other_line, r1_lines, level="rep"):
    inputs = make_inputs(reps=REPS, territories=TERR, targets=[("rep", "r1", "2025-01", 1000.0)],
                         actuals=[*r1_lines, other_line])
    return engine.report(inputs, AS_OF, level=level)


@pytest.mark.parametrize("other", [
    1e12,  # the ledger's absolute total is beyond what a double sums exactly
    1 / 3,  # a converted amount: not a whole number of ten-thousandths
], ids=["huge", "converted"])
def test_a_cell_is_exact_in_any_order_whatever_another_cell_holds(other):
    other_line = (D(2025, 1, 6), "r2", "North", other)
    forward = row(_report(other_line, R1_LINES), "r1")["actual_to_date"]
    backward = row(_report(other_line, R1_LINES[::-1]), "r1")["actual_to_date"]
    # in float order 0.1 + 0.2 + 0.3 is 0.6000000000000001, 0.3 + 0.2 + 0.1 is 0.6
    assert forward == backward == 0.6


def test_a_cell_that_cannot_be_exact_sums_its_lines_in_their_order():
    lines = [(D(2025, 1, 6), "r1", "North", v) for v in (0.1, 0.2, 1 / 3)]
    inputs = make_inputs(reps=REPS, territories=TERR, actuals=lines)
    got = row(engine.report(inputs, AS_OF), "r1")["actual_to_date"]
    assert got == (0.1 + 0.2) + 1 / 3
    # the territory's cell holds the same lines: the same order, the same sum
    assert row(engine.report(inputs, AS_OF, level="territory"), "North")["actual_to_date"] == got


def test_the_huge_cell_itself_keeps_every_line():
    other_line = (D(2025, 1, 6), "r2", "North", 1e12)
    r2 = row(_report(other_line, R1_LINES), "r2")["actual_to_date"]
    assert r2 == 1e12
    org = row(_report(other_line, R1_LINES, level="org"))["actual_to_date"]
    assert np.isclose(org, 1e12 + 0.6, rtol=0, atol=1e-3)

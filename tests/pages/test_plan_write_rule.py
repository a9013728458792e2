"""The Plan page keeps the engine's cached numbers after a plan write whose open actions' impacts
are as they were (``salesplan.ui.data.plan_write``). That rule restates what the engine reads of a
plan: ``_open_impacts`` must give, for every plan, the sum the store hands the engine
(``engine_inputs().open_actions``). Were the store to read more of a plan, this fails."""

from __future__ import annotations

import math

from salesplan.principal import SYSTEM
from salesplan.ui import data

from tests.helpers.pages import open_store


def test_the_kept_numbers_rule_reads_what_the_engine_reads_of_a_plan(read_only_demo):
    store = open_store(read_only_demo)
    try:
        engine_reads = {
            (row.rep_id, int(row.fy)): float(row.open_impact)
            for row in store.engine_inputs(SYSTEM).open_actions.itertuples()
        }
        assert engine_reads, "the demo has open actions: the comparison below compares something"
        # every rep in every year with open actions: a plan the engine reads nothing of gives 0
        years = {fy for _, fy in engine_reads}
        for rep_id, fy in sorted((rep, fy) for rep in store.reps(SYSTEM)["rep_id"] for fy in years):
            impacts = data._open_impacts(store.plan(SYSTEM, rep_id, fy))
            assert impacts is not None
            assert math.isclose(sum(impacts), engine_reads.get((rep_id, fy), 0.0), rel_tol=1e-12, abs_tol=1e-9), (rep_id, fy)
    finally:
        store.close()

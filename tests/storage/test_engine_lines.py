"""The engine's actuals as the store hands them over in a one-currency organisation: one row per
stored line (not summed per date, rep and territory in the database), on every backend.

The report must be the same, bit for bit, as the report of the same actuals summed per (date,
rep, territory) with exact decimals (what the store handed over before), and must not depend on
the order of the lines (which differs between backends).
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal

import pandas as pd
import pytest

from salesplan.inputs import DAILY_ACTUALS_COLUMNS
from salesplan.principal import SYSTEM, Principal
from tests.helpers.engine_lines import actuals_file, assert_same, organisation_reports, reports

MAX = Principal("max@x.test", "manager", "M1")


def _expected_territories() -> dict[tuple[str, str], int]:
    """Lines per (rep, territory) worked out from the file: a blank territory is the rep's on the
    sale date (R1 North, South from 2025-03-15; R2 South; R3 West)."""
    home = {"R2": "South", "R3": "West"}
    counts: dict[tuple[str, str], int] = {}
    for line in actuals_file().splitlines()[1:]:
        day, rep, territory = line.split(",")[:3]
        if not territory:
            territory = home.get(rep) or ("South" if day >= "2025-03-15" else "North")
        counts[(rep, territory)] = counts.get((rep, territory), 0) + 1
    return counts


def _grouped(daily: pd.DataFrame) -> pd.DataFrame:
    """The lines summed per (date, rep, territory) as exact decimals, then as floats."""
    frame = daily.astype({"rep_id": object, "territory": object}).copy()
    frame["territory"] = frame["territory"].fillna("")
    out = []
    for (date, rep, territory), group in frame.groupby(["date", "rep_id", "territory"], sort=True):
        sums = [float(sum((Decimal(repr(v)) for v in group[c]), Decimal(0))) for c in ("revenue", "profit")]
        out.append((date, rep, territory or None, *sums))
    return pd.DataFrame(out, columns=DAILY_ACTUALS_COLUMNS)


def test_the_lines_give_the_report_of_the_summed_actuals_bit_for_bit_in_any_order(lines_org):
    store = lines_org
    inputs = store.engine_inputs(SYSTEM)
    daily = inputs.daily_actuals
    assert list(daily.columns) == DAILY_ACTUALS_COLUMNS
    assert len(daily) == store.actual_totals(SYSTEM)["rows"]  # one row per stored line
    assert isinstance(daily["rep_id"].dtype, pd.CategoricalDtype)
    # the territory of a line without one is the rep's on the sale date (R1 moved on 2025-03-15)
    assert daily["territory"].notna().all()
    got = daily.groupby(["rep_id", "territory"], observed=True).size().to_dict()
    assert got == _expected_territories()
    expected = organisation_reports(inputs)  # this backend's, or the same reports from the other backend's lines
    assert_same(expected, reports(dataclasses.replace(inputs, daily_actuals=_grouped(daily))))
    shuffled = daily.sample(frac=1.0, random_state=11).reset_index(drop=True)
    assert_same(expected, reports(dataclasses.replace(inputs, daily_actuals=shuffled)))


def test_a_managers_lines_hold_only_their_reps(lines_org):
    store = lines_org
    daily = store.engine_inputs(MAX).daily_actuals
    assert set(daily["rep_id"].unique()) == {"R1", "R2"}
    assert set(daily["rep_id"].cat.categories) <= {"M1", "R1", "R2"}
    # only the territories the lines name (the territories list holds every one)
    assert set(daily["territory"].cat.categories) == set(daily["territory"].dropna().unique())
    everyone = store.engine_inputs(SYSTEM).daily_actuals
    # (fsum: the lines come in the database's own order, which differs between backends)
    assert math.fsum(daily["revenue"]) == math.fsum(everyone.loc[everyone["rep_id"].isin(["R1", "R2"]), "revenue"])


@pytest.mark.parametrize("keys", ["none", "own"])
def test_a_line_outside_the_lists_is_read_with_every_distinct_code(lines_org, keys):
    """The codes come from the reps and territories lists; a stored line naming a territory in
    neither (no import makes one) is still handed over with its own territory, whether it was
    written without keys (an older salesplan) or with a key of its own (migration 82)."""
    store = lines_org
    before = store.engine_inputs(SYSTEM).daily_actuals
    with store.atomic() as cursor:
        if keys == "own":
            cursor.execute("INSERT INTO actual_keys SELECT 'Elsewhere', max(key_id) + 1 FROM actual_keys")
        key = "(SELECT key_id FROM actual_keys WHERE name = 'Elsewhere')" if keys == "own" else "NULL"
        cursor.execute(f"UPDATE actual_versions SET territory = 'Elsewhere', territory_key = {key} "
                       "WHERE order_id = 'O5' AND is_current")
    daily = store.engine_inputs(SYSTEM).daily_actuals
    assert len(daily) == len(before)
    assert (daily["territory"] == "Elsewhere").sum() == 1
    assert math.fsum(daily["revenue"]) == math.fsum(before["revenue"])

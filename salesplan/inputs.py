"""What the engine reads: plain frames handed over by the store (the engine never runs SQL).

Every frame uses the column names below; dates are ``datetime64[ns]`` (midnight), amounts float.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from salesplan.settings import Settings

REPS_COLUMNS = ["rep_id", "name", "email", "territory", "region", "manager", "start_date", "end_date"]
TERRITORIES_COLUMNS = ["territory", "region"]
HOLIDAYS_COLUMNS = ["date", "name", "territory"]  # territory None/NaN = org-wide
TARGETS_COLUMNS = ["owner_type", "owner_id", "metric", "month", "amount"]  # month = first day of calendar month
# one or more rows per (date, rep, territory), in any order: the engine sums them. The store hands
# over one row per stored line in a one-currency organisation (rep_id and territory categorical),
# the lines summed per (date, rep, territory) in the base currency otherwise. Each (owner, day) cell
# whose amounts are all whole ten-thousandths (and whose absolute sum stays below 2^52
# ten-thousandths) is summed exactly, so its number does not depend on the order or the grouping
# of the rows; other cells are summed in row order (salesplan/engine/prep.py)
DAILY_ACTUALS_COLUMNS = ["date", "rep_id", "territory", "revenue", "profit"]
OPEN_ACTIONS_COLUMNS = ["rep_id", "fy", "open_impact"]  # Σ expected impact of planned/in_progress actions
# every stored deals snapshot row: amount in the base currency, probability 0..1 (the file's, else
# the stage's), expected_close a date; one row per (snapshot_date, deal_id)
DEALS_COLUMNS = ["snapshot_date", "deal_id", "rep_id", "amount", "probability", "expected_close"]
# which reps each snapshot covered (the uploader's scope), whether or not it held a deal of theirs
DEAL_SCOPES_COLUMNS = ["snapshot_date", "rep_id"]
# a rep's territory and manager from effective_from on (until the rep's next row); docs/people.md
REP_HISTORY_COLUMNS = ["rep_id", "effective_from", "territory", "manager"]


@dataclass(frozen=True)
class EngineInputs:
    settings: Settings
    reps: pd.DataFrame
    territories: pd.DataFrame
    holidays: pd.DataFrame
    targets: pd.DataFrame
    daily_actuals: pd.DataFrame
    open_actions: pd.DataFrame
    # Optional (docs/numbers.md, "Pipeline"). None: no pipeline columns. deal_scopes None: every
    # snapshot covered every rep.
    deals: pd.DataFrame | None = None
    deal_scopes: pd.DataFrame | None = None
    # Optional (docs/people.md). None: every rep was always in reps.territory. Used for bottom-up
    # territory targets (the reps in the territory on the month's first day); the daily actuals
    # already carry the territory of their sale date.
    rep_history: pd.DataFrame | None = None

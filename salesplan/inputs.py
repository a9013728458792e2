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
DAILY_ACTUALS_COLUMNS = ["date", "rep_id", "territory", "revenue", "profit"]  # summed per (date, rep, territory)
OPEN_ACTIONS_COLUMNS = ["rep_id", "fy", "open_impact"]  # Σ expected impact of planned/in_progress actions


@dataclass(frozen=True)
class EngineInputs:
    settings: Settings
    reps: pd.DataFrame
    territories: pd.DataFrame
    holidays: pd.DataFrame
    targets: pd.DataFrame
    daily_actuals: pd.DataFrame
    open_actions: pd.DataFrame

"""Everything the engine needs, read in one place and scoped to the principal."""

from __future__ import annotations

import pandas as pd

from salesplan import policy
from salesplan.inputs import EngineInputs
from salesplan.principal import Principal
from salesplan.storage.base import OPEN_ACTION_STATUSES
from salesplan.storage.ledger import LedgerStore
from salesplan.storage.people import PeopleStore
from salesplan.storage.settings import SettingsStore


class EngineReads(LedgerStore, PeopleStore, SettingsStore):
    """Everything the engine needs, read in one place and scoped to the principal."""

    def engine_inputs(self, principal: Principal) -> EngineInputs:
        """Everything the engine needs, as frames, limited to what the principal may see.

        Daily actuals are summed per (date, rep, territory) inside the database, so the engine
        never sees order lines; rows come in one order on every backend, so the engine's float
        sums are the same too.
        """
        where, params = self._rep_filter(principal, "rep_id")
        with self.cursor() as cursor:
            # through Arrow: half the peak memory of .df() on millions of rows
            daily = cursor.frame(
                f"""
                SELECT sale_date::TIMESTAMP AS date, rep_id, territory,
                       sum(revenue)::DOUBLE PRECISION AS revenue, coalesce(sum(profit), 0)::DOUBLE PRECISION AS profit
                FROM actuals WHERE {where}
                GROUP BY sale_date, rep_id, territory
                ORDER BY sale_date, rep_id, territory NULLS FIRST
                """,
                params,
            )
            open_actions = cursor.execute(
                f"""
                SELECT rep_id, fy, sum(expected_impact)::DOUBLE PRECISION AS open_impact
                FROM actions WHERE status IN ({', '.join(repr(x) for x in OPEN_ACTION_STATUSES)}) AND {where}
                GROUP BY rep_id, fy
                ORDER BY rep_id, fy
                """,
                params,
            ).df()
        reps = self.reps(principal)
        for column in ("start_date", "end_date"):
            reps[column] = pd.to_datetime(reps[column])
        holidays = self.holidays(principal)
        holidays["date"] = pd.to_datetime(holidays["date"])
        targets = self.targets(principal)[["owner_type", "owner_id", "metric", "month", "amount"]].copy()
        targets["month"] = pd.to_datetime(targets["month"])
        territories = self.territories(principal)
        if not policy.may(principal, "read_all"):
            territories = territories[territories["territory"].isin(set(reps["territory"].dropna()))]
        return EngineInputs(
            settings=self.settings(),
            reps=reps,
            territories=territories.reset_index(drop=True),
            holidays=holidays,
            targets=targets,
            daily_actuals=daily,
            open_actions=open_actions,
        )

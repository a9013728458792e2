"""Everything the engine needs, read in one place and scoped to the principal."""

from __future__ import annotations

import pandas as pd

from salesplan import policy
from salesplan.errors import BadInput
from salesplan.inputs import REP_HISTORY_COLUMNS, EngineInputs
from salesplan.principal import Principal
from salesplan.storage.base import OPEN_ACTION_STATUSES
from salesplan.storage.deals import DealStore
from salesplan.storage.ledger import LedgerStore
from salesplan.storage.people import PeopleStore
from salesplan.storage.people_history import PeopleHistoryStore, history_join
from salesplan.storage.rates import IN_BASE, RatesStore, rate_join, unpriced
from salesplan.storage.settings import SettingsStore


class EngineReads(DealStore, LedgerStore, RatesStore, PeopleStore, PeopleHistoryStore, SettingsStore):
    """Everything the engine needs, read in one place and scoped to the principal."""

    def engine_inputs(self, principal: Principal) -> EngineInputs:
        """Everything the engine needs, as frames, limited to what the principal may see.

        Daily actuals are summed per (date, rep, territory) inside the database, so the engine
        never sees order lines; rows come in one order on every backend, so the engine's float
        sums are the same too.
        """
        where, params = self._rep_filter(principal, "a.rep_id")
        base = self.settings().base_currency
        # amounts stay in their own currency in the ledger and are converted here at the current
        # rate of their month, so that new or undone rates re-price them (docs/currencies.md);
        # base-currency amounts are summed as exact decimals, the others converted
        converted = "\n".join(
            f"""coalesce(sum(a.{column}) FILTER (WHERE {IN_BASE}), 0)::DOUBLE PRECISION
                + coalesce(sum(a.{column}::DOUBLE PRECISION * x.rate) FILTER (WHERE NOT {IN_BASE}), 0)
                AS {column},"""
            for column in ("revenue", "profit")
        )
        rates, unpriced_rows, currency_params = rate_join("a.sale_date"), f"count(*) FILTER (WHERE NOT {IN_BASE} AND x.rate IS NULL)", [base] * 10
        if not base:
            # one currency: every amount is in base (IN_BASE holds for every row), so the same
            # sums without the rate join and the filters (a quarter of the read at 1M rows)
            converted = "\n".join(f"coalesce(sum(a.{column}), 0)::DOUBLE PRECISION AS {column}," for column in ("revenue", "profit"))
            rates, unpriced_rows, currency_params = "", "0", []
        with self.cursor() as cursor:
            # through Arrow: half the peak memory of .df() on millions of rows
            daily = cursor.frame(
                f"""
                SELECT a.sale_date::TIMESTAMP AS date, a.rep_id,
                       -- a territory the file did not name: the one of the rep on the sale date (docs/people.md)
                       CASE WHEN a.territory_from_file THEN a.territory
                            ELSE coalesce(h.territory, a.territory) END AS territory,
                       {converted}
                       {unpriced_rows} AS unpriced
                FROM actuals a {rates} {history_join('a.rep_id', 'a.sale_date')}
                WHERE {where}
                GROUP BY 1, 2, 3
                ORDER BY 1, 2, 3 NULLS FIRST
                """,
                currency_params + params,  # IN_BASE five times, two placeholders each
            )
            if daily["unpriced"].sum():
                # never reached through the imports, the settings or undo, which all refuse it
                raise BadInput.single("actuals", "; ".join(unpriced(cursor, base)) or "stored amounts without a rate")
            daily = daily.drop(columns="unpriced")
            where, params = self._rep_filter(principal, "rep_id")
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
        targets = self._engine_targets(principal, base)
        territories = self.territories(principal)
        if not policy.may(principal, "read_all"):
            territories = territories[territories["territory"].isin(set(reps["territory"].dropna()))]
        # the open-deals snapshots (docs/pipeline.md): each rep's deals per snapshot date and the
        # reps every snapshot covered (a covered rep without deals has none open); both fields are
        # optional in EngineInputs, so they are handed over only where it has them
        pipeline = {
            name: read(principal)
            for name, read in (("deals", self.deal_history), ("deal_scopes", self.deal_snapshots))
            if name in EngineInputs.__dataclass_fields__
        }
        return EngineInputs(
            **pipeline,
            settings=self.settings(),
            reps=reps,
            territories=territories.reset_index(drop=True),
            holidays=holidays,
            targets=targets,
            daily_actuals=daily,
            open_actions=open_actions,
            rep_history=self._engine_rep_history(principal),
        )

    def _engine_targets(self, principal: Principal, base: str) -> pd.DataFrame:
        """Current target cells in the base currency at their month's rate, without a rep's
        cells of months that start after the rep's end_date (docs/people.md)."""
        with self.cursor() as cursor:
            frame = cursor.execute(
                f"""
                SELECT a.owner_type, a.owner_id, a.metric, a.month::TIMESTAMP AS month,
                       CASE WHEN {IN_BASE} THEN a.amount::DOUBLE PRECISION
                            ELSE a.amount::DOUBLE PRECISION * x.rate END AS amount
                FROM targets a {rate_join('a.month')}
                LEFT JOIN reps r ON a.owner_type = 'rep' AND r.rep_id = a.owner_id
                WHERE r.end_date IS NULL OR a.month <= r.end_date
                ORDER BY a.owner_type, a.owner_id, a.metric, a.month
                """,
                [base, base],
            ).df()
        if frame["amount"].isna().any():
            with self.cursor() as cursor:
                raise BadInput.single("targets", "; ".join(unpriced(cursor, base)) or "stored targets without a rate")
        visible = self.visible_rep_ids(principal)
        if visible is not None:
            frame = frame[(frame["owner_type"] == "rep") & frame["owner_id"].isin(visible)].reset_index(drop=True)
        return frame

    def _engine_rep_history(self, principal: Principal) -> pd.DataFrame:
        """inputs.REP_HISTORY_COLUMNS of the reps the principal may see."""
        frame = self.rep_history(principal)[REP_HISTORY_COLUMNS].copy()
        frame["effective_from"] = pd.to_datetime(frame["effective_from"])
        return frame

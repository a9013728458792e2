"""Storage interfaces of currencies and people over time (docs/currencies.md, docs/people.md)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

import pandas as pd

from salesplan.principal import Principal
from salesplan.storage.base import BatchCounts


class RatesStorage(Protocol):
    """Monthly exchange rates into the base currency, as versioned, undoable batches."""

    def rates(self, principal: Principal) -> pd.DataFrame:
        """Current rates (currency, month, rate, batch_id). Raises nothing of its own."""
        ...

    def stored_currencies(self) -> list[str]:
        """The currencies stored actuals, targets and open deals name, sorted. Raises nothing of its own."""
        ...

    def rate_history(self, principal: Principal, currency: str) -> pd.DataFrame:
        """Every version of a currency's rates (month, rate, previous_rate, batch_id, changed_by,
        changed_at, reverted). Raises nothing of its own."""
        ...

    def set_rate(self, principal: Principal, currency: str, month: str, rate: float) -> tuple[int, BatchCounts]:
        """One rate ('YYYY-MM') as its own batch. Raises BadInput (code, month, rate, no base
        currency), NotAllowed unless admin."""
        ...

    def apply_rates(self, principal: Principal, rates: pd.DataFrame, *, file_name: str | None, sha256: str | None, rejected: int = 0) -> tuple[int, BatchCounts]:
        """Store validated rates (currency, month, rate) as one batch. Raises BadInput, NotAllowed.
        ``rejected`` is how many rows of the file a valid-only import left out; the batch records it (the upload history's Rejected column) and counts as valid-only when it is above 0."""
        ...


class PeopleHistoryStorage(Protocol):
    """Each rep's territory and manager over time."""

    def rep_history(self, principal: Principal, rep_id: str | None = None) -> pd.DataFrame:
        """History rows (rep_id, effective_from, effective_to, territory, manager, batch_id).
        Raises NotAllowed for a rep the principal may not see."""
        ...

    def set_rep_history(self, principal: Principal, rep_id: str, effective_from: date, territory: str | None, manager: str | None) -> None:
        """Add or replace the rep's row of that day. Raises BadInput (unknown rep, territory or
        manager; own manager; date out of range), NotAllowed unless admin."""
        ...

    def delete_rep_history(self, principal: Principal, rep_id: str, effective_from: date) -> None:
        """Remove one row (never a rep's only one). Raises BadInput, NotAllowed unless admin."""
        ...

    def set_rep_end_date(self, principal: Principal, rep_id: str, end_date: date | None) -> None:
        """A leaver's last day (None: not leaving). Raises BadInput (unknown rep, date out of range
        or before the start date), NotAllowed unless admin."""
        ...

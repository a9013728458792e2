"""The pipeline's storage interface (docs/pipeline.md): dated snapshots of open deals. Implemented by
:class:`~salesplan.storage.deals.DealStore`; the general rules on errors are those of
:mod:`salesplan.storage.interfaces`."""

from __future__ import annotations

from datetime import date
from typing import Protocol

import pandas as pd

from salesplan.principal import Principal
from salesplan.storage.base import BatchCounts


class DealStorage(Protocol):
    """Open deals as dated snapshots, per rep and the uploader's scope."""

    def deal_scope(self, principal: Principal) -> list[str]:
        """The reps whose open deals an upload by this principal replaces (every rep for an admin,
        a manager's team and themself, a rep's own). Raises NotAllowed for a leader or an account
        without a rep."""
        ...

    def apply_deals(
        self,
        principal: Principal,
        deals: pd.DataFrame,
        rejected: pd.DataFrame,
        *,
        as_of: date,
        file_name: str | None,
        sha256: str | None,
        valid_only: bool,
    ) -> tuple[int, BatchCounts, int]:
        """Record one snapshot of open deals as of ``as_of`` for every rep in the principal's scope;
        returns (batch id, counts, deals no longer open). Raises NotAllowed (a leader, a deal of a
        rep outside the scope), BadInput (refused by the database)."""
        ...

    def deal_snapshots(self, principal: Principal) -> pd.DataFrame:
        """(snapshot_date, rep_id) of every snapshot (not undone) covering a rep the principal may
        see. Raises nothing of its own."""
        ...

    def deal_history(self, principal: Principal) -> pd.DataFrame:
        """The open deals of every visible rep on every snapshot date covering them. Raises nothing
        of its own."""
        ...

    def open_deals(self, principal: Principal, as_of: date) -> pd.DataFrame:
        """The deals open on ``as_of`` of the reps the principal may see. Raises nothing of its own."""
        ...

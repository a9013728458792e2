"""The store: one object composed of per-job parts, the only place that talks to the database.

Each part (people, ledger, plans, accounts, ...) lives in its own module of this package; ``Store``
joins them so that callers keep one object with every method.
"""

from __future__ import annotations

from salesplan.storage.accounts import AccountStore
from salesplan.storage.backup import BackupStore
from salesplan.storage.plans import PlanStore
from salesplan.storage.reads import EngineReads


class Store(EngineReads, PlanStore, AccountStore, BackupStore):
    """Persistent state of one organisation in a DuckDB file (or ``:memory:``)."""

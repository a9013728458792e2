"""The store, re-exported: ``from salesplan.store import Store`` keeps working.

The implementation lives in the package :mod:`salesplan.storage`, one module per job.
"""

from salesplan.storage import (
    ACTION_STATUSES,
    DEFAULT_DB,
    OPEN_ACTION_STATUSES,
    PLAN_STATUSES,
    WRITE_RETRIES,
    BatchCounts,
    Store,
    resolve_db_path,
    validate_settings,
)

__all__ = [
    "ACTION_STATUSES", "DEFAULT_DB", "OPEN_ACTION_STATUSES", "PLAN_STATUSES", "WRITE_RETRIES",
    "BatchCounts", "Store", "resolve_db_path", "validate_settings",
]

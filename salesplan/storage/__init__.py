"""The storage layer: every database access of salesplan, split by job (see docs/storage.md)."""

from salesplan.storage.base import (
    ACTION_STATUSES,
    DEFAULT_DB,
    OPEN_ACTION_STATUSES,
    PLAN_STATUSES,
    WRITE_RETRIES,
    BatchCounts,
    DatabaseBusy,
    resolve_db_path,
)
from salesplan.storage.settings import validate_settings
from salesplan.storage.store import Store
from salesplan.storage.workspace import ImportWorkspace, WorkspaceTable

__all__ = [
    "ACTION_STATUSES", "DEFAULT_DB", "OPEN_ACTION_STATUSES", "PLAN_STATUSES", "WRITE_RETRIES",
    "BatchCounts", "DatabaseBusy", "ImportWorkspace", "Store", "WorkspaceTable", "resolve_db_path", "validate_settings",
]

"""The storage layer's interfaces: one ``typing.Protocol`` per job.

Imports, the command line and the pages depend on these, never on a database driver; the
:class:`~salesplan.storage.store.Store` implements all of them (checked by tests/test_storage_interfaces.py).
Besides what each docstring names, every method may raise DatabaseLocked (a DuckDB file held by
another process for longer than the lock wait) and SalesplanError (the database cannot be
reached or fails); a value the database refuses (a constraint) is BadInput. Driver errors never
cross this boundary untranslated except for programming errors in the SQL itself.

Frames stay pandas DataFrames where the engine and the pages work on frames; their columns are
named in each method's docstring or in docs/storage.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from salesplan.inputs import EngineInputs
from salesplan.principal import Principal
from salesplan.settings import Settings
from salesplan.storage.base import BatchCounts
from salesplan.storage.interfaces_admin import (
    AccountStorage,
    AuditStorage,
    BackupStorage,
    ScopeStorage,
)
from salesplan.storage.interfaces_deals import DealStorage
from salesplan.storage.interfaces_notify import NotificationStorage
from salesplan.storage.workspace import ImportWorkspace, WorkspaceTable
from salesplan.storage.records import ActualTotals, BatchRecord, NewPlan, PlanRecord, PlansAdded
from salesplan.storage.interfaces_money import PeopleHistoryStorage, RatesStorage


class SettingsStorage(Protocol):
    """Organisation settings."""

    def settings(self) -> Settings:
        """The organisation's settings (defaults for the ones never set). Raises nothing of its own."""
        ...

    def save_settings(self, principal: Principal, **changes: Any) -> Settings:
        """Change settings; raises BadInput on an out-of-range value, NotAllowed unless admin."""
        ...

class PeopleStorage(Protocol):
    """Reps, territories, regions and holidays."""

    def reps(self, principal: Principal) -> pd.DataFrame:
        """Reps the principal may see, with their territory and region.

        Raises nothing of its own (an out-of-scope rep is simply not listed).
        """
        ...

    def territories(self, principal: Principal) -> pd.DataFrame:
        """Every territory with its region (territory, region). Raises nothing of its own."""
        ...

    def holidays(self, principal: Principal) -> pd.DataFrame:
        """Holidays (date, name, territory; territory empty = org-wide). Raises nothing of its own."""
        ...

    def rep_lookup(self) -> pd.DataFrame:
        """All reps with the keys an import may name them by (rep_id, email, name).

        Used only by imports to resolve and validate rows; not scoped, never shown.
        Raises nothing of its own.
        """
        ...

    def territory_names(self) -> list[str]:
        """The names of every territory, for validating imports. Raises nothing of its own."""
        ...

    def apply_reps(self, principal: Principal, reps: pd.DataFrame, *, file_name: str | None, sha256: str | None, rejected: int = 0) -> tuple[int, BatchCounts]:
        """Upsert validated reps (columns of inputs.REPS_COLUMNS) and derive territories/regions.
        ``rejected`` is how many rows of the file a valid-only import left out; the batch records it (the upload history's Rejected column) and counts as valid-only when it is above 0.

        Raises NotAllowed unless admin, or a manager adding only new reps under themself
        (policy ``add_reps``); BadInput when the database refuses a value.
        """
        ...

    def apply_holidays(self, principal: Principal, holidays: pd.DataFrame, *, file_name: str | None, sha256: str | None, rejected: int = 0) -> tuple[int, BatchCounts]:
        """Upsert validated holidays (date, name, territory with '' = org-wide).
        ``rejected`` is how many rows of the file a valid-only import left out; the batch records it (the upload history's Rejected column) and counts as valid-only when it is above 0.

        Raises NotAllowed unless admin; BadInput when the database refuses a value.
        """
        ...

    def delete_holiday(self, principal: Principal, holiday_date: date, territory: str | None) -> None:
        """Remove one holiday (territory None = org-wide). Raises NotAllowed unless admin."""
        ...

class LedgerStorage(Protocol):
    """Upload batches, target cells and actual rows with their versions, undo."""

    def batches(self, principal: Principal) -> pd.DataFrame:
        """Upload batches, newest first. Reps see their own uploads, managers their team's, and
        both see every batch that changed a sale or target of a rep in their scope, whoever
        uploaded it: a manager re-crediting a sale from one rep to another shows in both reps'
        history.
        Raises nothing of its own.
        """
        ...

    def batch(self, batch_id: int) -> BatchRecord:
        """One upload batch's row (unscoped: callers check access). Raises NotFound."""
        ...

    def rejected_rows(self, principal: Principal, batch_id: int) -> pd.DataFrame:
        """The rows a valid-only import left out, with their problems, for download.

        Raises NotFound (no such batch), NotAllowed (not the uploader's or their manager's).
        """
        ...

    def undo(self, principal: Principal, batch_id: int) -> BatchRecord:
        """Revert a batch: each key it held goes back to the newest batch still holding it.

        Nothing is deleted from the version tables. Returns the batch (as :meth:`batch`) plus
        ``kept_by_newer``, how many of its keys (actual rows, target cells, reps of a deals
        snapshot) a newer batch not undone still holds, so their current values do not change,
        and ``newer_batches``, those batches' ids. Raises NotFound, NotAllowed, or BadInput when
        the batch is already reverted or is of a kind that cannot be undone (reps, holidays).
        """
        ...

    def apply_targets(self, principal: Principal, cells: pd.DataFrame, *, file_name: str | None, sha256: str | None, reason: str | None, rejected: int = 0) -> tuple[int, BatchCounts]:
        """Replace the target cells given (owner_type, owner_id, metric, month, amount, reason).

        Every cell is written as a version of this batch with its previous amount, so the
        history says who, when and why; an unchanged cell is counted as unchanged.
        ``rejected`` is how many rows of the file a valid-only import left out; the batch records it (the upload history's Rejected column) and counts as valid-only when it is above 0.
        Raises NotAllowed when the principal may not set a target for one of the owners.
        """
        ...

    def apply_actuals(self, principal: Principal, rows: pd.DataFrame | pa.Table | ds.Dataset | WorkspaceTable, rejected: pd.DataFrame, *, file_name: str | None, sha256: str | None, valid_only: bool, memory_mb: int | None = None) -> tuple[int, BatchCounts]:
        """Write one batch of validated actual rows (keyed by ``row_key``) atomically.

        Keys new to the ledger are inserted, keys whose values differ are updated (the old
        version stays in actual_versions, no longer flagged current), equal ones are unchanged;
        each inserted or changed row is written once, as a version flagged current (the ledger
        ``actuals`` is a view of those, migration 80). ``rejected`` (line, record,
        problems) is stored with the batch when the user chose valid rows only. Raises NotAllowed
        for a leader, BadInput (nothing written) when a row would change a sale of a rep outside
        the principal's scope (the import refuses those rows first; this holds against a race) or
        when the write does not fit in ``memory_mb`` even spilling to disk. ``rows`` may be a
        dataset (a Parquet file: a large import's rows, read as scanned, never whole in memory) or a
        table of the import's workspace (:meth:`import_workspace`, read where it is);
        ``memory_mb`` caps what the write holds in this process (an embedded DuckDB file; the
        import passes its memory setting), past which it spills to disk; None: no cap.
        """
        ...

    def import_workspace(self, memory_mb: int) -> AbstractContextManager[ImportWorkspace | None]:
        """A context manager yielding a workspace in the store's own DuckDB for an import to parse
        a file in (an embedded DuckDB store; None on a server), whose tables :meth:`apply_actuals`
        then reads where they are; ``memory_mb`` caps the parse's memory. Raises SalesplanError when
        DuckDB cannot make it or let it go."""
        ...

    def foreign_actual_keys(self, principal: Principal, row_keys: Sequence[str]) -> set[str]:
        """Those of ``row_keys`` whose current sale belongs to a rep outside the principal's scope
        (always empty for who sees everything). An import refuses such rows: an order id reused
        by one rep must never move another rep's sale. Raises nothing.
        """
        ...

    def last_sale_date(self, principal: Principal) -> date | None:
        """The newest sale date the principal may see (None without sales). Raises nothing of its own."""
        ...

    def actual_totals(self, principal: Principal) -> ActualTotals:
        """Row count and sums of the current ledger the principal may see (for checks and summaries).

        Raises nothing of its own.
        """
        ...

    def actuals(self, principal: Principal, *, limit: int | None = None) -> pd.DataFrame:
        """The current ledger rows the principal may see, by sale date. Raises nothing of its own."""
        ...

    def targets(self, principal: Principal) -> pd.DataFrame:
        """Current target cells the principal may see (territory targets: everyone who sees a rep of it).

        Raises nothing of its own.
        """
        ...

    def target_history(self, principal: Principal, owner_type: str, owner_id: str) -> pd.DataFrame:
        """Every version of an owner's target cells: amount, previous amount, who, when, why.

        Raises NotAllowed for a rep out of scope, or territory targets for a manager or rep.
        """
        ...

class EngineReadStorage(Protocol):
    """What the engine needs, scoped to the principal."""

    def engine_inputs(self, principal: Principal) -> EngineInputs:
        """Everything the engine needs, as frames, limited to what the principal may see.

        Daily actuals: in a one-currency organisation one row per stored line (rep_id and
        territory categorical), with a base currency the lines summed per (date, rep, territory)
        in the base currency; the engine sums the rows exactly, so the numbers are the same on
        every backend whatever the row order.
        Raises nothing of its own (what the principal may not see is left out).
        """
        ...

class PlanStorage(Protocol):
    """Achievement plans."""

    def plan(self, principal: Principal, rep_id: str, fy: int) -> PlanRecord:
        """The rep's plan for a FY: header, obstacles, actions and check-ins (empty when none yet).

        Raises NotAllowed for a rep out of scope.
        """
        ...

    def save_plan(self, principal: Principal, rep_id: str, fy: int, *, status: str = 'draft', summary: str = '') -> str:
        """Create or update a plan header; returns the status the plan now has.

        Only the rep's manager (not for their own plan) or an admin may set ``agreed``, and only
        they may change the status of an agreed plan. Anyone else who changes the summary of an
        agreed plan (passing ``agreed`` or ``submitted``) sends it back to ``submitted``.
        Raises NotAllowed for those and for reps out of scope (and leaders), BadInput for an
        unknown status.
        """
        ...

    def add_obstacle(self, principal: Principal, rep_id: str, fy: int, *, description: str, likelihood: int, revenue_at_risk: float) -> int:
        """Add an obstacle to a rep's plan; returns its id. Raises NotAllowed (rep out of scope, leader), BadInput (empty description, likelihood not 1-5, negative revenue at risk)."""
        ...

    def add_action(self, principal: Principal, rep_id: str, fy: int, *, description: str, owner: str, due_date: date | None, status: str = 'planned', expected_impact: float = 0.0, obstacle_id: int | None = None) -> int:
        """Add an action to a rep's FY plan, optionally against one of that plan's obstacles.
        Raises NotAllowed for reps out of scope, BadInput for invalid fields or an obstacle that
        is not one of this plan's.
        """
        ...

    def update_action_status(self, principal: Principal, action_id: int, status: str) -> None:
        """Change an action's status. Raises BadInput (unknown status), NotFound (no such action), NotAllowed."""
        ...

    def add_checkin(self, principal: Principal, rep_id: str, fy: int, *, checkin_date: date, author: str | None = None, note: str) -> int:
        """Add a check-in note to a rep's plan; returns its id. The author is the principal's email
        (``author`` counts only for the system principal). Raises NotAllowed, BadInput (empty note)."""
        ...

    def add_plans(self, principal: Principal, plans: Sequence[NewPlan]) -> PlansAdded:
        """Write whole new plans (header, obstacles, actions, check-ins) in one transaction, with the
        rows and audit lines of save_plan, add_obstacle, add_action, add_checkin called one by one
        (and save_plan again for an agreed plan); a plan that exists already is kept untouched.
        Raises NotAllowed (rep out of scope, leader, agreeing without the right), BadInput (every
        invalid status or item, an action's obstacle_key not of its plan, a plan listed twice);
        nothing is written then."""
        ...

    def update_obstacle(self, principal: Principal, obstacle_id: int, *, description: str, likelihood: int, revenue_at_risk: float) -> None:
        """Change an obstacle (number kept, audited with its values before); an agreed plan goes back
        to submitted. Raises NotFound, NotAllowed (out of scope, leader), BadInput (invalid fields)."""
        ...

    def delete_obstacle(self, principal: Principal, obstacle_id: int) -> None:
        """Delete an obstacle (kept in the audit detail; its actions stay, unlinked); an agreed plan
        goes back to submitted. Raises NotFound, NotAllowed (out of scope, leader)."""
        ...

    def update_action(self, principal: Principal, action_id: int, *, description: str, owner: str, due_date: date | None, status: str, expected_impact: float, obstacle_id: int | None) -> None:
        """Change an action (number kept, audited with its values before); a change of anything but
        its status sends an agreed plan back to submitted. Raises NotFound, NotAllowed (out of
        scope, leader), BadInput (invalid fields, an obstacle of another plan)."""
        ...

    def delete_action(self, principal: Principal, action_id: int) -> None:
        """Delete an action (kept in the audit detail); an agreed plan goes back to submitted.
        Raises NotFound, NotAllowed (out of scope, leader)."""
        ...

    def plan_queue(self, principal: Principal) -> pd.DataFrame:
        """Plans waiting for this principal's agreement (status submitted, reps whose plan they may
        agree; never their own): rep_id, name, fy, summary, updated_by, updated_at, oldest first.
        Raises nothing of its own (empty for leaders and reps)."""
        ...

class FullStorage(
    SettingsStorage, PeopleStorage, LedgerStorage, EngineReadStorage, PlanStorage, AuditStorage,
    AccountStorage, BackupStorage, ScopeStorage, NotificationStorage, DealStorage, RatesStorage,
    PeopleHistoryStorage, Protocol,
):
    """Everything the store offers (what imports and the command line use)."""


__all__ = [
    "AccountStorage", "AuditStorage", "BackupStorage", "DealStorage", "EngineReadStorage", "FullStorage", "LedgerStorage",
    "NotificationStorage", "PeopleHistoryStorage", "PeopleStorage", "PlanStorage", "RatesStorage", "ScopeStorage",
    "SettingsStorage",
]

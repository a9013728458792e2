"""Typed records the store returns. They are TypedDicts: typed for mypy and the reader, and still
plain dicts for the callers that index them (pages, tests, the command line)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NotRequired, TypedDict

import pandas as pd


class BatchRecord(TypedDict):
    """One upload batch (a row of upload_batches)."""

    batch_id: int
    kind: str  # reps, holidays, targets, actuals
    file_name: str | None
    sha256: str | None
    uploaded_by: str
    uploaded_at: datetime
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_rejected: int
    valid_only: bool
    reason: str | None
    reverted_at: datetime | None
    reverted_by: str | None
    # who uploaded it, as recorded with the batch (migration 60): their role and rep then
    uploader_role: NotRequired[str | None]
    uploader_rep_id: NotRequired[str | None]
    # undo only: how many of the batch's keys a newer batch (not undone) still holds, and which
    kept_by_newer: NotRequired[int]
    newer_batches: NotRequired[list[int]]


class ActualTotals(TypedDict):
    """Row count and sums of the current ledger a principal may see."""

    rows: int
    revenue: float
    profit: float


class PlanRecord(TypedDict):
    """A rep's plan for one fiscal year (``exists`` False: nothing saved yet, defaults shown)."""

    rep_id: str
    fy: int
    exists: bool
    status: str  # draft, submitted, agreed
    summary: str
    updated_by: str | None
    updated_at: datetime | None
    obstacles: pd.DataFrame  # obstacle_id, description, likelihood, revenue_at_risk
    actions: pd.DataFrame  # action_id, description, owner, due_date, status, expected_impact, obstacle_id
    checkins: pd.DataFrame  # checkin_id, checkin_date, author, note


class NewObstacle(TypedDict):
    """An obstacle of a new plan (``add_plans``); ``key`` names it for the plan's actions."""

    key: str
    description: str
    likelihood: int
    revenue_at_risk: float


class NewAction(TypedDict):
    """An action of a new plan (``add_plans``), against the plan's obstacle ``obstacle_key`` or none."""

    description: str
    owner: str
    due_date: date | None
    status: str  # planned, in_progress, done, dropped
    expected_impact: float
    obstacle_key: str | None


class NewCheckin(TypedDict):
    """A check-in of a new plan (``add_plans``); ``author`` counts only for the system principal."""

    checkin_date: date
    author: str | None
    note: str


class NewPlan(TypedDict):
    """A whole plan to write at once (``add_plans``): header, obstacles, actions and check-ins."""

    rep_id: str
    fy: int
    status: str  # draft, submitted, agreed
    summary: str
    obstacles: list[NewObstacle]
    actions: list[NewAction]
    checkins: list[NewCheckin]


class PlansAdded(TypedDict):
    """What ``add_plans`` wrote: plans written, plans kept (they existed), and their items."""

    plans: int
    kept: int
    obstacles: int
    actions: int
    checkins: int


class Manifest(TypedDict):
    """A backup's manifest.json."""

    format: int
    created_at: str
    schema_version: int
    tables: dict[str, dict[str, Any]]  # table -> {file, rows, sha256}
    sequences: dict[str, int | None]

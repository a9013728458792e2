"""Plain helpers of the plan flow for the pages (no storage, no streamlit): overdue actions and
the display labels of numbered obstacles and actions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd

from salesplan.store import OPEN_ACTION_STATUSES

__all__ = ["flag_overdue", "for_people", "item_label", "overdue_count"]


def flag_overdue(actions: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """A copy of ``actions`` (a plan's actions frame) with a boolean ``overdue`` column: an open
    action (planned or in progress) whose due date is before ``as_of``. Done and dropped actions
    and actions without a due date are never overdue. Raises KeyError when the frame lacks the
    ``due_date`` or ``status`` column."""
    out = actions.copy()
    due = pd.to_datetime(out["due_date"], errors="coerce")
    out["overdue"] = (out["status"].isin(OPEN_ACTION_STATUSES) & due.notna() & (due < pd.Timestamp(as_of))).astype(bool)
    return out


def overdue_count(actions: pd.DataFrame, as_of: date) -> int:
    """How many of ``actions`` are overdue on ``as_of`` (see :func:`flag_overdue`). Raises KeyError
    like it."""
    return int(flag_overdue(actions, as_of)["overdue"].sum()) if len(actions) else 0


def item_label(kind: str, number: int | None) -> str:
    """How a numbered obstacle or action is named on the pages: "Obstacle 2", "Action 5". Raises
    ValueError for a kind other than obstacle or action."""
    if kind not in ("obstacle", "action"):
        raise ValueError(f"kind must be obstacle or action, not {kind!r}")
    return f"{kind.capitalize()} {number}" if number is not None else kind.capitalize()


def for_people(actions: pd.DataFrame, rep_names: Mapping[str, str]) -> pd.DataFrame:
    """A copy of ``actions`` to show: an owner that is a rep id named by ``rep_names`` (rep_id ->
    name) shows the rep's name, and the status reads "in progress" instead of ``in_progress``.
    Raises KeyError when the frame lacks the ``owner`` or ``status`` column."""
    out = actions.copy()
    out["owner"] = out["owner"].map(lambda owner: rep_names.get(owner, owner) if isinstance(owner, str) else owner)
    out["status"] = out["status"].astype(str).str.replace("_", " ")
    return out

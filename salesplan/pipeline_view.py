"""The pipeline on the pages, without the screen: the gap bridge of one owner, the deals behind
their pipeline, the sentence that names the uncovered gap, and the pipeline's trend across
snapshots (docs/pipeline.md).

Every amount is the engine's (:func:`salesplan.engine.report` rows) or a deal's own; this module
only orders them. Plain Python: the pages draw what it returns.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from salesplan import engine
from salesplan.inputs import EngineInputs

BRIDGE_STEPS = ("Target", "Actual to date", "Weighted pipeline", "Open plan actions", "Uncovered gap")


def _num(value: Any) -> float:
    """A float, 0.0 for an empty cell (NaN, None, NA)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return 0.0
    value = float(value)
    return 0.0 if math.isnan(value) else value


def open_action_impact(year: pd.Series) -> float:
    """The expected impact of the owner's open plan actions, read back from the engine's year row:
    action_coverage = impact ÷ (T − A), so impact = action_coverage × (T − A); 0 when the
    coverage is empty (no gap left, or not a rep's year row)."""
    need = _num(year["target"]) - _num(year["actual_to_date"])
    coverage = year["action_coverage"]
    return 0.0 if need <= 0 or _num(coverage) == 0.0 else float(coverage) * need


def bridge(year: pd.Series) -> pd.DataFrame:
    """The gap bridge of an engine year row: from the target, what the actual, the weighted pipeline
    and the open plan actions each cover, and the gap none of them covers.

    Columns ``step`` (:data:`BRIDGE_STEPS`), ``amount`` (the step's own amount: the target, the
    actual, the weighted pipeline, the open actions' impact, the uncovered gap), ``covers`` (the part
    of the gap the step closes: each step closes at most what the steps before it left open, so the
    bars never go below zero) and ``left`` (the gap still open after the step). The last row's
    ``left`` is max(T − A − weighted_pipeline − open actions, 0); the engine's ``uncovered_gap``
    (before actions) is the ``left`` of the pipeline row.
    """
    T, A = _num(year["target"]), _num(year["actual_to_date"])
    weighted, actions = _num(year["weighted_pipeline"]), open_action_impact(year)
    rows = [("Target", T, T, T)]
    left = T
    for step, amount in (("Actual to date", A), ("Weighted pipeline", weighted), ("Open plan actions", actions)):
        covers = min(max(amount, 0.0), left)
        left -= covers
        rows.append((step, amount, covers, left))
    rows.append(("Uncovered gap", left, left, left))
    return pd.DataFrame(rows, columns=["step", "amount", "covers", "left"])


def deals_table(open_deals: pd.DataFrame, rep_ids: Iterable[str], year: pd.Series) -> pd.DataFrame:
    """The open deals of ``rep_ids`` (``store.open_deals`` at the row's as-of date) with what the
    engine makes of each for the year row's period (docs/pipeline.md, "The numbers"):

    ``weighted`` = amount × probability; ``when`` is ``overdue`` (expected close on or before
    e = min(as-of, period end) and not before the period's start: still open, it needs a new date),
    ``in period`` (e < expected close ≤ period end: in the pipeline), ``earlier`` (closing before
    the period started) or ``after period``. Sorted overdue first, then by expected close.
    Columns: when, days_overdue, deal_id, name, customer, stage, probability, amount, weighted,
    expected_close, snapshot_date.
    """
    start, end = pd.Timestamp(year["period_start"]), pd.Timestamp(year["period_end"])
    e = min(pd.Timestamp(year["as_of"]), end)
    deals = open_deals[open_deals["rep_id"].isin(set(rep_ids))].copy()
    close = pd.to_datetime(deals["expected_close"])
    deals["weighted"] = deals["amount"].astype(float) * deals["probability"].astype(float)
    deals["when"] = "after period"
    deals.loc[close <= end, "when"] = "in period"
    deals.loc[close <= e, "when"] = "overdue"
    deals.loc[close < start, "when"] = "earlier"
    deals["days_overdue"] = pd.array([(e - c).days if w == "overdue" else None for c, w in zip(close, deals["when"])],
                                     dtype="Int64")
    deals["expected_close"] = close.dt.date
    deals["snapshot_date"] = pd.to_datetime(deals["snapshot_date"]).dt.date
    order = {"overdue": 0, "in period": 1, "after period": 2, "earlier": 3}
    deals = deals.assign(_order=deals["when"].map(order)).sort_values(["_order", "expected_close", "deal_id"])
    columns = ["when", "days_overdue", "deal_id", "name", "customer", "stage", "probability", "amount", "weighted",
               "expected_close", "snapshot_date"]
    return deals[columns].reset_index(drop=True)


def _money(value: float) -> str:
    return f"{value:,.0f}"


def gap_sentence(row: Any, money: Callable[[float], str] = _money) -> str:
    """What the pipeline does for an engine row's gap, in words, naming the uncovered gap:
    'The weighted pipeline of 12,000 (40 % of 30,000 in open deals) covers 40 % of the 30,000 still
    to sell: 18,000 is not covered by any deal.' Empty when there is no gap left or no snapshot.
    ``money`` writes the amounts (the pages pass theirs, which shows the base currency's symbol)."""
    T, A = _num(row["target"]), _num(row["actual_to_date"])
    need = T - A
    if need <= 0 or pd.isna(row["weighted_coverage"]):
        return ""
    weighted, total = _num(row["weighted_pipeline"]), _num(row["pipeline"])
    uncovered = _num(row["uncovered_gap"])
    head = (f"The weighted pipeline of {money(weighted)} ({money(total)} in open deals closing in the period) "
            f"covers {float(row['weighted_coverage']) * 100:,.0f} % of the {money(need)} still to sell")
    if uncovered > 0:
        return f"{head}: {money(uncovered)} is not covered by any deal."
    return f"{head}: the deals cover the rest of the target if they close as weighted."


def snapshot_dates(snapshots: pd.DataFrame, rep_ids: Iterable[str] | None, start: dt.date, end: dt.date) -> list[dt.date]:
    """The distinct snapshot dates (``store.deal_snapshots``) in [start, end] that covered any of
    ``rep_ids`` (None: any rep), oldest first."""
    covered = snapshots if rep_ids is None else snapshots[snapshots["rep_id"].isin(set(rep_ids))]
    dates = sorted({pd.Timestamp(d).date() for d in covered["snapshot_date"]})
    return [d for d in dates if start <= d <= end]


def trend(inputs: EngineInputs, dates: Iterable[dt.date], owner_type: str, owner_id: str, *, fy: int,
          metric: str = "revenue") -> pd.DataFrame:
    """The owner's full-year pipeline as the engine computed it at each snapshot date: columns
    snapshot_date, pipeline, weighted_pipeline, remaining (T − A then), pipeline_coverage,
    weighted_coverage, uncovered_gap. One ``engine.report`` per date (a handful of dates).

    Raises BadInput as :func:`salesplan.engine.report` does."""
    rows = []
    for day in dates:
        year = engine.report(inputs, day, fy=fy, level=owner_type, metric=metric)
        mine = year[year["owner_id"] == owner_id]
        if mine.empty:
            continue
        row = mine.iloc[0]
        rows.append({"snapshot_date": day, "pipeline": row["pipeline"], "weighted_pipeline": row["weighted_pipeline"],
                     "remaining": row["remaining"], "pipeline_coverage": row["pipeline_coverage"],
                     "weighted_coverage": row["weighted_coverage"], "uncovered_gap": row["uncovered_gap"]})
    return pd.DataFrame(rows, columns=["snapshot_date", "pipeline", "weighted_pipeline", "remaining",
                                       "pipeline_coverage", "weighted_coverage", "uncovered_gap"])


def trend_direction(points: pd.DataFrame) -> str:
    """'growing', 'shrinking' or 'flat' by the weighted coverage of the first and last snapshot
    (by the weighted pipeline when the coverage is empty); '' with fewer than two snapshots."""
    if len(points) < 2:
        return ""
    column = "weighted_coverage" if points["weighted_coverage"].notna().all() else "weighted_pipeline"
    first, last = _num(points[column].iloc[0]), _num(points[column].iloc[-1])
    if math.isclose(first, last, rel_tol=0.02, abs_tol=1e-9):
        return "flat"
    return "growing" if last > first else "shrinking"

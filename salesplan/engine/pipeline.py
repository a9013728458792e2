"""The pipeline columns (docs/numbers.md, "Pipeline"): what the open deals may still bring.

The store hands over every deals snapshot (``EngineInputs.deals``: snapshot_date, deal_id, rep_id,
amount, probability, expected_close; amounts in the base currency, probability 0..1) and,
optionally, which reps each snapshot covered (``EngineInputs.deal_scopes``: snapshot_date, rep_id).

Which deals are open at as-of date d, per rep: the rep's snapshot is the latest snapshot dated ≤ d
that covered the rep; its open deals are that snapshot's rows of the rep (none when the snapshot
held no deal of it: the rep's deals were closed or lost). A snapshot that covered a rep replaces
every older deal of that rep, whatever those said. Without ``deal_scopes``, every snapshot covers
every rep (an organisation-wide upload). An owner with no covered member rep at d has all seven
columns empty.

Everything is a handful of vector operations over the deal rows: no loop over deals or owners.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesplan.calendar import Period, to_d64

from salesplan.inputs import DEAL_SCOPES_COLUMNS, DEALS_COLUMNS  # noqa: F401  (re-exported)
_NAT = np.iinfo(np.int64).min


@dataclass
class _Deals:
    """Deal rows reduced to arrays: the rep position of each row, its snapshot and close days (as
    int days since 1970), amount and probability; scope rows as (rep position, snapshot day)."""

    n_reps: int
    rep_owner: np.ndarray  # owner position of each rep (-1: none at this level)
    rep: np.ndarray
    snap: np.ndarray
    close: np.ndarray
    amount: np.ndarray
    prob: np.ndarray
    scope_rep: np.ndarray
    scope_snap: np.ndarray
    cache: dict

    def open_at(self, d: dt.date) -> tuple[np.ndarray, np.ndarray]:
        """(mask of the deal rows open at ``d``, mask of the reps covered by a snapshot ≤ ``d``)."""
        # the preparation holding this object is shared (prep.py): read the cache once and
        # return the local value, so another thread replacing it in between changes nothing
        found = self.cache.get(d)
        if found is None:
            day = int(to_d64(d).astype(np.int64))
            latest = np.full(self.n_reps, _NAT, dtype=np.int64)
            ok = self.scope_snap <= day
            np.maximum.at(latest, self.scope_rep[ok], self.scope_snap[ok])
            rows = (self.snap <= day) & (self.snap == latest[self.rep])
            found = (rows, latest > _NAT)
            self.cache = {d: found}  # one as-of date at a time is enough
        return found


def _days(series: pd.Series) -> np.ndarray:
    values = pd.to_datetime(series, errors="coerce").to_numpy().astype("datetime64[D]")
    out = values.astype(np.int64)
    out[np.isnat(values)] = _NAT
    return out


def prepare_deals(inputs: Any, rep_codes: Any, rep_owner: np.ndarray) -> _Deals | None:
    """Arrays of ``inputs.deals`` for one level; ``rep_codes(series)`` maps rep ids to rep
    positions (-1: unknown rep, dropped), ``rep_owner`` maps rep positions to owner positions.
    None when there is no deals frame (every pipeline column then stays empty)."""
    deals = getattr(inputs, "deals", None)
    if deals is None:
        return None
    n_reps = len(rep_owner)
    rep = rep_codes(deals["rep_id"]) if len(deals) else np.zeros(0, dtype=np.int64)
    snap = _days(deals["snapshot_date"]) if len(deals) else np.zeros(0, dtype=np.int64)
    close = _days(deals["expected_close"]) if len(deals) else np.zeros(0, dtype=np.int64)
    amount = pd.to_numeric(deals["amount"], errors="coerce").to_numpy(dtype=float) if len(deals) else np.zeros(0)
    prob = pd.to_numeric(deals["probability"], errors="coerce").to_numpy(dtype=float) if len(deals) else np.zeros(0)
    keep = (rep >= 0) & (snap != _NAT) & (close != _NAT) & ~np.isnan(amount)
    rep, snap, close, amount, prob = rep[keep], snap[keep], close[keep], amount[keep], np.nan_to_num(prob[keep])
    scopes = getattr(inputs, "deal_scopes", None)
    if scopes is not None:
        scope_rep = rep_codes(scopes["rep_id"]) if len(scopes) else np.zeros(0, dtype=np.int64)
        scope_snap = _days(scopes["snapshot_date"]) if len(scopes) else np.zeros(0, dtype=np.int64)
        ok = (scope_rep >= 0) & (scope_snap != _NAT)
        scope_rep, scope_snap = scope_rep[ok], scope_snap[ok]
    else:  # every snapshot covers every rep
        days = np.unique(snap)
        scope_rep = np.tile(np.arange(n_reps), len(days))
        scope_snap = np.repeat(days, n_reps)
    return _Deals(n_reps, rep_owner, rep, snap, close, amount, prob, scope_rep, scope_snap, {})


def pipeline_columns(prep: Any, P: Period, as_of: dt.date, *, T: np.ndarray, A: np.ndarray,
                     tol: np.ndarray) -> dict[str, np.ndarray]:
    """The seven pipeline columns of period ``P`` at ``as_of`` for every owner of ``prep``
    (e = min(as_of, P.end)); empty (NaN) for an owner none of whose reps a snapshot ≤ as_of
    covered, and for every owner when there are no deals at all."""
    n = len(T)
    deals: _Deals | None = prep.deals
    cols = {k: np.full(n, np.nan) for k in (
        "pipeline", "weighted_pipeline", "overdue_pipeline", "pipeline_coverage", "weighted_coverage",
        "projection_with_pipeline", "uncovered_gap")}
    if deals is None:
        return cols
    rows, covered_rep = deals.open_at(as_of)
    covered = np.zeros(n, dtype=bool)
    ro = deals.rep_owner
    covered[ro[covered_rep & (ro >= 0)]] = True
    if not covered.any():
        return cols
    e = min(as_of, P.end)
    e_day, start_day, end_day = (int(to_d64(x).astype(np.int64)) for x in (e, P.start, P.end))
    owner = ro[deals.rep]
    rows = rows & (owner >= 0)
    ahead = rows & (deals.close > e_day) & (deals.close <= end_day)
    overdue = rows & (deals.close >= start_day) & (deals.close <= e_day)
    pipeline = np.bincount(owner[ahead], weights=deals.amount[ahead], minlength=n)
    weighted = np.bincount(owner[ahead], weights=(deals.amount * deals.prob)[ahead], minlength=n)
    late = np.bincount(owner[overdue], weights=deals.amount[overdue], minlength=n)
    gap = T - A
    open_gap = (gap > tol) & (e < P.end)  # coverage is empty when nothing is missing or P is over
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(open_gap, pipeline / gap, np.nan)
        weighted_coverage = np.where(open_gap, weighted / gap, np.nan)
    values = {
        "pipeline": pipeline, "weighted_pipeline": weighted, "overdue_pipeline": late,
        "pipeline_coverage": coverage, "weighted_coverage": weighted_coverage,
        "projection_with_pipeline": A + weighted, "uncovered_gap": np.maximum(gap - weighted, 0.0),
    }
    for key, value in values.items():
        cols[key] = np.where(covered, value, np.nan)
    return cols

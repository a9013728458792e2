"""chance_to_reach: how likely an owner is to reach its target by the period's end (docs/numbers.md,
"Chance to reach").

Method (an empirical, scale-free analogue forecast, in the spirit of bootstrap / empirical
prediction intervals): to reach T from where it stands, the owner must sell ``T - A`` in the ``W``
working days left, i.e. ``q = (T - A) / (c × W)`` times what its current run-rate ``c`` would
bring. The history says how often that happened: for every owner of the same level and every past
fiscal year, the same period (same quarter, month or week number) is replayed at the same share of
its working days elapsed (and at a few working days either side), and the rest-of-period ratio
``k = (actual from there to the period's end) / (c there × working days left there)`` is recorded.
The chance is the share of those positions with ``k ≥ q``. It is free of scale (a ratio of an
owner's own sales), follows seasonality (the same part of the year), growth and lumpiness (a big
order makes a large k) as they showed in the past.

Own history and peers: the share over all owners of the level (peers) is blended with the
owner's own share, the owner's past periods weighing as many as they are against ``PEER_WEIGHT``
periods of the peers: chance = (n_own × own share + PEER_WEIGHT × peer share) ÷ (n_own +
PEER_WEIGHT). An owner without history of its own gets the peers' share.

Not estimable (empty) when fewer than ``MIN_SAMPLES`` past positions exist at the level, when the
current run-rate c is not positive, or when no working day is left (then the caller sets 0 for a
miss). Uses only actuals dated ≤ the as-of date (past periods end before it), so a database cut at
the as-of date gives the same chance. Deterministic: no random numbers.

Vectorised: loops run over calendars, past fiscal years and periods only, never over owners or days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from salesplan.calendar import Period, fiscal_year_of, periods, to_d64

TOO_LATE_CHANCE = 0.05  # too_late needs a chance below this where the chance is known
MIN_SAMPLES = 20  # fewer past positions at the level: no chance
PEER_WEIGHT = 5  # the peers count as this many past periods of the owner's own
OFFSETS = np.arange(-10, 11, 2)  # working days either side of the matched position
MAX_YEARS_BACK = 10


@dataclass
class ChanceEstimate:
    """Per owner: the chance (NaN: not estimable), the peers' positions and how many reached the
    target from there, and the owner's own positions and hits."""

    chance: np.ndarray
    n: np.ndarray
    hits: np.ndarray
    own_n: np.ndarray
    own_hits: np.ndarray


def _matching_period(P: Period, fy: int, fy_start_month: int) -> Period | None:
    """The period of FY ``fy`` in the same place as ``P`` (same quarter, month or week number)."""
    suffix = P.label.split("-", 1)[1] if "-" in P.label else ""
    for Q in periods(fy, fy_start_month, P.grain):
        if (Q.label.split("-", 1)[1] if "-" in Q.label else "") == suffix:
            return Q
    return None


def history_ratios(prep: Any, P: Period, as_of: dt.date, elapsed: np.ndarray, left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, year): K is owners x positions of rest-of-period ratios k (NaN where the position is
    not usable), ``year`` the past fiscal year of each position column."""
    n = len(prep.owners.ids)
    sm = prep.settings.fy_start_month
    d0 = prep.d0
    first_fy = fiscal_year_of(d0.astype(dt.date), sm)
    years = [y for y in range(prep.fy - 1, max(first_fy, prep.fy - MAX_YEARS_BACK) - 1, -1)]
    L = prep.L
    s0 = prep.s0
    cols, col_year = [], []
    for y in years:
        Q = _matching_period(P, y, sm)
        if Q is None or Q.end > as_of:
            continue
        jqs = int((to_d64(Q.start) - d0).astype(np.int64))
        jqe = int((to_d64(Q.end) - d0).astype(np.int64))
        if jqe < 0 or jqe >= prep.ndays:
            continue
        m = len(OFFSETS)
        cutoff = np.zeros((n, m), dtype=np.int64)  # last day of "so far" at each position
        wstart = np.zeros((n, m), dtype=np.int64)  # first day of the run-rate window there
        left_q = np.ones((n, m))  # working days left there
        usable = np.zeros((n, m), dtype=bool)
        for g in prep.groups:  # scalar work per calendar; the sums below are one step for all
            og = g.owners
            if len(og) == 0:
                continue
            iq0 = int(np.searchsorted(g.wdays, max(jqs, 0)))
            iq1 = int(np.searchsorted(g.wdays, jqe, side="right")) - 1
            total = iq1 - iq0 + 1
            if total <= 0:
                continue
            o0 = og[0]
            f = elapsed[o0] / max(elapsed[o0] + left[o0], 1)
            ks = int(round(f * total)) + OFFSETS
            ic = iq0 + ks - 1  # working-day index of the check day (k = 0: the day before Q)
            ok = (ks >= 0) & (ks <= total - 1) & (ic - L + 1 >= 0)
            if not ok.any():
                continue
            icc = np.clip(ic, L - 1, len(g.wdays) - 1)
            cutoff[og] = np.maximum(g.wdays[icc], jqs - 1)
            wstart[og] = g.wdays[icc - L + 1]
            left_q[og] = np.maximum(total - ks, 1)
            usable[og] = ok[None, :] & ((ic - L + 1)[None, :] >= g.fb[:, None])
        rows = np.arange(n)[:, None]
        at_cut = s0[rows, cutoff + 1]
        c = (at_cut - s0[rows, wstart]) / L
        rest = s0[:, [jqe + 1]] - at_cut
        usable &= c > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            block = np.where(usable, rest / (c * left_q), np.nan)
        cols.append(block)
        col_year += [y] * len(OFFSETS)
    if not cols:
        return np.full((n, 0), np.nan), np.zeros(0, dtype=np.int64)
    return np.concatenate(cols, axis=1), np.array(col_year, dtype=np.int64)


def chance_to_reach(prep: Any, P: Period, as_of: dt.date, *, T: np.ndarray, A: np.ndarray,
                    c: np.ndarray, elapsed: np.ndarray, left: np.ndarray) -> ChanceEstimate:
    """The chance of every owner of ``prep`` to reach ``T`` by ``P.end`` (see the module text)."""
    n = len(T)
    K, year = history_ratios(prep, P, as_of, elapsed, left)
    valid = ~np.isnan(K)
    pool = np.sort(K[valid])
    W = left.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where((c > 0) & (W > 0), (T - A) / (c * W), np.nan)
    known = ~np.isnan(q)
    N = len(pool)
    hits = np.zeros(n, dtype=np.int64)
    if N:
        hits[known] = N - np.searchsorted(pool, q[known], side="left")
    own_valid = valid & known[:, None]
    own_hit = own_valid & (K >= np.where(known, q, np.inf)[:, None])
    own_n = own_valid.sum(axis=1)
    own_hits = own_hit.sum(axis=1)
    # the owner's own past periods (fiscal years with at least one usable position)
    own_years = np.zeros(n)
    for y in np.unique(year):
        own_years += own_valid[:, year == y].any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        peer = np.where(known & (N >= MIN_SAMPLES), hits / max(N, 1), np.nan)
        own = np.where(own_n > 0, own_hits / np.maximum(own_n, 1), 0.0)
        chance = (own_years * own + PEER_WEIGHT * peer) / (own_years + PEER_WEIGHT)
    chance = np.clip(chance, 0.0, 1.0)
    n_out = np.where(known, N, 0).astype(np.int64)
    return ChanceEstimate(chance, n_out, hits, own_n.astype(np.int64), own_hits.astype(np.int64))


def explain(chance: float, similar: int, reached: int, own_similar: int, own_reached: int) -> str:
    """The "see the math" sentence of one report row (counts as returned by :func:`chance_details`
    of the engine)."""
    if chance is None or chance != chance:  # NaN
        if similar == 0:
            return "No chance is given: there are not enough similar positions in past years to compare with."
        return "No chance is given here."
    text = (f"In {similar:,} similar positions in past years (same point of the period, every owner of "
            f"this level), {reached:,} reached the target from there.")
    if own_similar:
        text += f" In this owner's own {own_similar:,} similar positions, {own_reached:,} did."
    return text + f" Chance: {chance:.0%}."

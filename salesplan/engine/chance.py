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

Small histories: the positions of one owner in one past year are nearly one outcome, so the
peers' share is shrunk towards one half by Laplace's rule of succession with as many trials as
distinct owner-years behind it: (share × n + 1) ÷ (n + 2). With a thousand owner-years this
changes nothing; with a dozen it keeps the chance from claiming a near-certain miss (below 0.05
needs at least 19 owner-years), which is what the too_late rule relies on.

Own history and peers: the (shrunk) share over all owners of the level is blended with the
owner's own share, the owner's past periods weighing as many as they are against ``PEER_WEIGHT``
periods of the peers: chance = (n_own × own share + PEER_WEIGHT × peer share) ÷ (n_own +
PEER_WEIGHT). An owner without history of its own gets the peers' share.

Not estimable (empty) when fewer than ``MIN_SAMPLES`` past positions exist at the level, when the
current run-rate c is not positive, or when no working day is left (then the caller sets 0 for a
miss). Uses only actuals dated ≤ the as-of date (past periods end before it), so a database cut at
the as-of date gives the same chance. Deterministic: no random numbers. More actual never lowers
it (q only falls), which is why positions are not matched on anything that a sale moves.

Vectorised: loops run over calendars, past fiscal years and periods only, never over owners or days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from salesplan.calendar import Period, fiscal_year_of, periods, to_d64

TOO_LATE_CHANCE = 0.05  # too_late needs a chance below this where the chance is known
MIN_SAMPLES = 5  # fewer past positions at the level: no chance (few positions give a cautious one)
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


def _calendars(prep: Any) -> dict[str, np.ndarray]:
    """Every calendar group's working days stacked (groups x max working days, padded), the
    group of each owner, each owner's first-actual bucket and a representative owner per group:
    so the positions of all calendars are found in one step."""
    if "calendars" not in prep.cache:
        n = len(prep.owners.ids)
        G = len(prep.groups)
        width = max([len(g.wdays) for g in prep.groups] + [1])
        wdays = np.full((G, width), prep.ndays - 1, dtype=np.int64)
        bidx = np.zeros((G, prep.ndays), dtype=np.int64)
        group_of = np.zeros(n, dtype=np.int64)
        fb = np.zeros(n, dtype=np.int64)
        first = np.zeros(G, dtype=np.int64)
        count = np.zeros(G, dtype=np.int64)
        for gi, g in enumerate(prep.groups):
            wdays[gi, :len(g.wdays)] = g.wdays
            count[gi] = len(g.wdays)
            bidx[gi] = g.bidx
            group_of[g.owners] = gi
            fb[g.owners] = g.fb
            first[gi] = g.owners[0] if len(g.owners) else 0
        for array in (wdays, bidx, group_of, fb, first, count):  # kept with the shared preparation
            array.flags.writeable = False
        prep.cache["calendars"] = dict(wdays=wdays, bidx=bidx, group_of=group_of, fb=fb, first=first, count=count)
    return prep.cache["calendars"]


def history_ratios(prep: Any, P: Period, as_of: dt.date, elapsed: np.ndarray,
                   left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    if n == 0 or not prep.groups:
        return np.full((n, 0), np.nan), np.zeros(0, dtype=np.int64)
    cal = _calendars(prep)
    G = len(prep.groups)
    rep = cal["first"]
    f = elapsed[rep] / np.maximum(elapsed[rep] + left[rep], 1)  # share elapsed, per calendar
    rows = np.arange(n)[:, None]
    gix = np.arange(G)[:, None]
    if cal["wdays"].shape[1] < L:
        # no calendar has a whole window of working days on the axis (a young history: the
        # fiscal year's first weeks, no earlier actuals): no position is usable, and the
        # lookups below need L working days
        return np.full((n, 0), np.nan), np.zeros(0, dtype=np.int64)
    for y in years:
        Q = _matching_period(P, y, sm)
        if Q is None or Q.end > as_of:
            continue
        jqs = int((to_d64(Q.start) - d0).astype(np.int64))
        jqe = int((to_d64(Q.end) - d0).astype(np.int64))
        if jqe < 0 or jqe >= prep.ndays:
            continue
        # working-day index of Q's first and last working day, per calendar. A past period may
        # start before the first day of the day axis (D0: the history's first day, or the working
        # day on or before the fiscal year's first day): its working days before D0 get negative
        # indexes, so that positions are still shares of the whole period (no data exists before
        # D0, and a window reaching there is not usable below)
        if jqs >= 1:
            iq0 = cal["bidx"][:, jqs - 1] + 1
        elif jqs == 0:
            iq0 = np.zeros(G, dtype=np.int64)
        else:
            iq0 = -np.array([np.busday_count(to_d64(Q.start), d0, busdaycal=g.cal.busdaycal)
                             for g in prep.groups], dtype=np.int64)
        iq1 = cal["bidx"][:, jqe]
        total = iq1 - iq0 + 1
        ks = np.round(f * total).astype(np.int64)[:, None] + OFFSETS[None, :]
        ic = iq0[:, None] + ks - 1  # working-day index of the check day (k = 0: the day before Q)
        ok = (total[:, None] > 0) & (ks >= 0) & (ks <= total[:, None] - 1) & (ic - L + 1 >= 0)
        icc = np.clip(ic, L - 1, np.maximum(cal["count"][:, None] - 1, L - 1))
        cutoff_g = np.maximum(cal["wdays"][gix, icc], jqs - 1)
        wstart_g = cal["wdays"][gix, icc - L + 1]
        go = cal["group_of"]
        cutoff, wstart = cutoff_g[go], wstart_g[go]
        left_q = np.maximum(total[:, None] - ks, 1)[go].astype(float)
        usable = ok[go] & ((ic - L + 1)[go] >= cal["fb"][:, None])
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
    W = left.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where((c > 0) & (W > 0), (T - A) / (c * W), np.nan)
    known = ~np.isnan(q)
    pool = np.sort(K[valid])
    N = len(pool)
    counts = np.where(known, N, 0).astype(np.int64)
    hits = np.zeros(n, dtype=np.int64)
    if N:
        hits[known] = N - np.searchsorted(pool, q[known], side="left")
    own_valid = valid & known[:, None]
    own_hit = own_valid & (K >= np.where(known, q, np.inf)[:, None])
    own_n = own_valid.sum(axis=1)
    own_hits = own_hit.sum(axis=1)
    # the owner's own past periods (fiscal years with at least one usable position), and the
    # distinct owner-years of the whole pool
    own_years = np.zeros(n)
    owner_years_pool = 0
    for y in np.unique(year):
        own_years += own_valid[:, year == y].any(axis=1)
        owner_years_pool += int(valid[:, year == y].any(axis=1).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        # the positions of one owner-year are nearly one outcome: the share is shrunk towards
        # one half by Laplace's rule of succession (a uniform Beta(1, 1) prior) with as many
        # trials as distinct owner-years behind it, so a short history cannot claim a
        # near-certain miss: below 0.05 needs at least 19 owner-years
        share = hits / np.maximum(counts, 1)
        n_eff = owner_years_pool * counts / max(N, 1)
        peer = np.where(known & (counts >= MIN_SAMPLES), (share * n_eff + 1.0) / (n_eff + 2.0), np.nan)
        own = np.where(own_n > 0, own_hits / np.maximum(own_n, 1), 0.0)
        chance = (own_years * own + PEER_WEIGHT * peer) / (own_years + PEER_WEIGHT)
    chance = np.clip(chance, 0.0, 1.0)
    return ChanceEstimate(chance, counts, hits, own_n.astype(np.int64), own_hits.astype(np.int64))


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

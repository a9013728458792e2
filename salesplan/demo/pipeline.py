"""The pipeline of open deals (docs/pipeline.md): weekly snapshots per active quota carrier."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd

from salesplan.demo.common import DOMAIN, _add_months, _fy_start, _month_end, _persons, _round_to
from salesplan.demo.org import _customers

# the pipeline of open deals (docs/pipeline.md): stages and their probabilities (the demo's
# stage_probabilities setting), weekly snapshots over the last weeks so that a trend shows
DEAL_STAGES = (("Qualification", 0.1), ("Discovery", 0.2), ("Proposal", 0.4), ("Negotiation", 0.6), ("Commit", 0.8))
DEAL_SNAPSHOTS = 4  # weekly, the last one dated today
# unweighted pipeline closing this FY as a multiple of the rep's remaining gap, by story: rep1
# ("behind") has thin coverage, the hopeless rep hardly any
PIPELINE_COVERAGE = {"ahead": 3.6, "on_track": 3.6, "at_risk": 2.6, "behind": 0.9, "hopeless": 0.3,
                     "discounter": 3.2, "new_hire": 2.2}


def _pipelines(people, rep_info, ytd, fy, today, seed) -> dict[date, pd.DataFrame]:
    """The open deals of every active quota carrier on each weekly snapshot date, as a CRM export.

    Per rep a pool of deals: each appears on some snapshot and stays open until it closes (then it
    is missing from the later snapshots), advances through the stages, and some slip (their close
    date moves out) or sit overdue (a close date in the past that nobody updated). The pool's size
    follows the rep's story (PIPELINE_COVERAGE); rep1's pipeline also shrinks over the weeks.
    """
    days = [today - timedelta(days=7 * (DEAL_SNAPSHOTS - 1 - k)) for k in range(DEAL_SNAPSHOTS)]
    fy_end = _month_end(_add_months(_fy_start(fy), 11))
    rows: list[dict[str, Any]] = []
    persons = _persons(people)
    for idx, info in rep_info.items():
        p = persons[idx]
        if p.story == "leaver" or p.start_date > today or (p.end_date is not None and p.end_date <= today):
            continue
        rng = np.random.default_rng([seed, 7000 + int(idx)])
        gap = max(info["T"] - float(ytd.get(p.rep_id, 0.0)), 0.2 * info["T"])
        size = _round_to(max(info["T"] * 0.035, 3000.0) * rng.uniform(0.8, 1.25), 500)
        open_total = gap * PIPELINE_COVERAGE.get(p.story, 2.5)
        n = int(np.clip(round(open_total / size), 2, 28))
        amounts = np.maximum(np.round(rng.lognormal(0, 0.5, n) * open_total / n / 500) * 500, 500)
        first = rng.integers(0, DEAL_SNAPSHOTS, n)            # the snapshot a deal first appears on
        shrink = p.email == f"rep1@{DOMAIN}"  # rep1's pipeline dries up: deals close, none come in
        first[: n if shrink else max(1, n // 2)] = 0           # half of them are there from the start
        closes_at = np.where(rng.random(n) < (0.55 if shrink else 0.25),
                             first + rng.integers(1, DEAL_SNAPSHOTS, n), DEAL_SNAPSHOTS)  # missing from then on
        horizon = max((fy_end - today).days, 30)
        close_in = rng.integers(5, horizon + 60, n)            # some close after the FY end
        overdue = rng.random(n) < 0.12
        close_in[overdue] = -rng.integers(3, 40, overdue.sum())
        slips = np.where(rng.random(n) < 0.2, rng.integers(1, DEAL_SNAPSHOTS, n), DEAL_SNAPSHOTS)
        stage0 = rng.integers(0, 3, n)
        advance = rng.random(n) < 0.35
        customers = _customers(seed, p.territory, 600)
        names = rng.choice(("renewal", "expansion", "new logo", "upgrade", "pilot", "framework agreement"), n)
        for k, day in enumerate(days):
            for j in np.flatnonzero((first <= k) & (closes_at > k)):
                close = today + timedelta(days=int(close_in[j])) + (timedelta(days=35) if k >= slips[j] else timedelta())
                stage = min(int(stage0[j]) + (k - int(first[j]) if advance[j] else 0), len(DEAL_STAGES) - 1)
                customer = customers[(7 * j + 3) % len(customers)]
                rows.append({
                    "snapshot": day, "Deal ID": f"DL-{p.rep_id}-{j + 1:03d}",
                    "Deal Name": f"{customer.split(' ')[0]} {names[j]}", "Company": customer, "Deal Owner": p.email,
                    "Deal Stage": DEAL_STAGES[stage][0], "Amount": f"{amounts[j]:.2f}",
                    "Close Date": close.isoformat(),
                    # the rep's own judgement on a few deals; the rest take the stage's probability
                    "Probability (%)": str(int(90 if stage == len(DEAL_STAGES) - 1 else 15)) if j % 9 == 4 else "",
                })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return {}
    # the snapshot column holds dates, so the group keys are dates
    return {cast(date, day): group.drop(columns="snapshot").reset_index(drop=True)
            for day, group in frame.groupby("snapshot", sort=True)}

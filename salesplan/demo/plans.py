"""The demo plans: obstacles, actions and check-ins that fit each rep's story."""

from __future__ import annotations

import calendar
from datetime import timedelta
from typing import Any

import numpy as np

from salesplan.demo.common import (
    DOMAIN, WEEKMASK, _add_months, _d64, _floor_to, _fy_start, _month_end, _persons, _round_to,
)

OBSTACLES = {
    "hopeless": [
        ("Lost key account {key} to a low-cost competitor in {lost_month}", 5),
        ("No replacement pipeline above 50k in {territory}", 4),
        ("Two renewals at {cust2} under review after the {key} loss", 3),
    ],
    "behind": [
        ("Decision at {cust1} slipped to next quarter after a procurement change", 4),
        ("Price pressure from a low-cost competitor in {territory}", 4),
        ("Pipeline for H2 is thin: too few new opportunities since spring", 5),
        ("Budget freeze at {cust2}", 3),
        ("Public-sector tender at {cust3} delayed by an appeal", 3),
    ],
    "at_risk": [
        ("Large renewal at {cust1} may shrink by a third", 3),
        ("Summer slowdown longer than planned in {territory}", 2),
        ("Hardware delivery delays push Edge Gateway revenue out", 3),
    ],
    "fine": [
        ("Renewal at {cust1} depends on a new budget owner", 2),
        ("Competitor launch may slow Analytics add-on deals", 2),
        ("Year-end deals concentrated in December", 1),
    ],
    "new_hire": [
        ("Building a pipeline from scratch in a new patch", 3),
        ("Accounts handed over late from the previous owner", 2),
    ],
    "discounter": [
        ("Discounts above 15 % to win deals against a price-led competitor erode margin", 4),
        ("Hardware-heavy mix lowers gross margin", 3),
    ],
}
ACTIONS = {
    "hopeless": [
        ("Win back {key} with a three-year price lock", "dropped"),
        ("Escalate the {key} loss review with {manager_name}", "done"),
        ("Prospecting blitz: 40 calls a week to mid-size accounts in {territory}", "open"),
        ("Cross-sell the Analytics add-on to {cust2}", "open"),
    ],
    "behind": [
        ("Joint visit with {manager_name} to the {cust1} CFO", "open"),
        ("Offer {cust2} a multi-year deal to pull revenue into this FY", "open"),
        ("Cross-sell the Analytics add-on to the top 10 accounts", "open"),
        ("Bring in a partner for the {cust3} tender", "open"),
        ("Weekly pipeline review with {manager_name}", "done"),
        ("Trade-fair follow-up campaign in {territory}", "dropped"),
    ],
    "fine": [
        ("Launch an upgrade campaign to Standard-licence customers", "open"),
        ("Book the {cust1} renewal before the summer", "open"),
        ("Quarterly business review with {cust2}", "done"),
        ("Introduce Premium support to {cust3}", "open"),
    ],
    "new_hire": [
        ("Meet the top 15 accounts of the patch within six weeks", "open"),
        ("Shadow {manager_name} on two customer meetings a week", "open"),
        ("Build a pipeline of three times the ramped quota", "open"),
    ],
    "discounter": [
        ("Discount approval above 10 % by {manager_name} only", "open"),
        ("Shift the mix towards licences and support", "open"),
        ("Renegotiate the {cust1} frame agreement at list price", "done"),
    ],
}
SUMMARIES = {
    "ahead": "Ahead of plan on the back of a strong {cust1} expansion; protect margin and pull the Q4 renewals forward.",
    "on_track": "On plan. Weekly pipeline hygiene; the Q4 renewals cover most of the second half.",
    "at_risk": "Slightly behind after a slow quarter; the {cust1} renewal decides whether we close the gap.",
    "behind": "Behind since spring after {cust1} slipped; rebuilding the pipeline with cross-sell and partner deals.",
    "hopeless": "Lost {key}, our largest account, in {lost_month}. The target cannot be reached this FY without a new anchor customer.",
    "new_hire": "Ramp-up plan: learn the accounts, build pipeline, first deals by the end of the quarter.",
    "discounter": "Revenue on plan, but discounts have eroded the margin; profit target at risk.",
}
CHECKIN_NOTES = {
    "ahead": ["Strong month, pipeline healthy.", "Great progress; watch discount levels.", "Keep the pace into Q4."],
    "on_track": ["On plan, no concerns.", "Reviewed pipeline; renewals look safe.", "Steady; keep it up."],
    "at_risk": ["Slightly behind; agreed to focus on the {cust1} renewal.", "Gap is small but growing."],
    "behind": ["Behind plan; asked for more pipeline coverage.", "Actions do not cover the gap yet; update the plan.",
               "{cust1} slipped again; escalate."],
    "hopeless": ["The {key} loss is final; plan needs a new anchor customer.", "No realistic path to target this year; "
                 "discussed re-scoping."],
    "discounter": ["Revenue fine, margin too low; tighter discount rules agreed.", "Margin still below plan."],
    "new_hire": ["Onboarding going well."],
}


def _plans(people, rep_info, ytd, fy, today, seed, actuals) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, 4])
    fy0 = _fy_start(fy)
    fy_end = _month_end(_add_months(fy0, 11))
    by_id = people.set_index("rep_id")
    plans: list[dict[str, Any]] = []
    top_customers = (actuals[actuals["_rev"] > 0].groupby(["rep", "customer"])["_rev"].sum()
                     .reset_index().sort_values(["rep", "_rev", "customer"], ascending=[True, False, True]))
    tops = {r: g["customer"].tolist() for r, g in top_customers.groupby("rep")}
    persons = _persons(people)
    for idx, info in rep_info.items():
        p = persons[idx]
        label = p.story
        if label == "leaver" or p.start_date > today:
            continue
        if label == "on_track" and rng.random() < 0.25:
            continue  # not everyone has written a plan
        T, E = info["T"], info["E"]
        A = float(ytd.get(p.rep_id, 0.0))
        proj = A * T / E if E > 0 else T
        shortfall = max(T - proj, 0.0)
        gap_to_date = max(E - A, 0.0)
        gap = max(shortfall, gap_to_date)
        mgr = by_id.loc[p.manager] if p.manager else None
        custs = tops.get(p.rep_id, []) + ["a new customer"] * 4
        key = custs[0]
        fill = dict(key=key, cust1=custs[1] if label == "hopeless" else custs[0], cust2=custs[1], cust3=custs[2],
                    territory=p.territory, manager_name=mgr["name"] if mgr is not None else "the VP",
                    lost_month=calendar.month_name[_add_months(fy0, 1).month])
        group = label if label in ("hopeless", "behind", "at_risk", "new_hire", "discounter") else "fine"
        if group == "at_risk":
            ob_pool, ac_pool = OBSTACLES["at_risk"], ACTIONS["fine"]
        else:
            ob_pool, ac_pool = OBSTACLES[group], ACTIONS[group]

        # obstacles
        n_ob = 3 if label == "hopeless" else int(rng.integers(1, min(3, len(ob_pool)) + 1))
        ob_idx = list(range(n_ob)) if label == "hopeless" else sorted(rng.choice(len(ob_pool), n_ob, replace=False))
        risk_base = gap if group in ("hopeless", "behind") else max(shortfall, 0.04 * T)
        shares = rng.dirichlet(np.ones(n_ob) * 2) if n_ob > 1 else np.ones(1)
        if label == "hopeless":
            shares = np.sort(shares)[::-1]  # the lost key account is the biggest risk
        obstacles = []
        for j, (oi, share) in enumerate(zip(ob_idx, shares)):
            text, lik = ob_pool[oi]
            if group not in ("hopeless",):
                lik = int(np.clip(lik + rng.integers(-1, 2), 1, 5))
            obstacles.append(dict(key=f"O{j + 1}", description=text.format(**fill), likelihood=int(lik),
                                  revenue_at_risk=max(_round_to(risk_base * share * rng.uniform(0.9, 1.2), 1000), 1000.0)))

        # actions: open ones cover the gap only for the on-track reps
        if label == "hopeless":
            chosen = list(range(len(ac_pool)))
        else:
            n_ac = int(rng.integers(1, min(4, len(ac_pool)) + 1))
            if p.email in (f"rep1@{DOMAIN}", f"rep2@{DOMAIN}"):
                n_ac = min(3, len(ac_pool))  # the sign-in demo accounts get a fuller plan
            chosen = sorted(rng.choice(len(ac_pool), n_ac, replace=False))
            if all(ac_pool[c][1] != "open" for c in chosen):
                chosen[0] = next(c for c, a in enumerate(ac_pool) if a[1] == "open")
                chosen = sorted(set(chosen))
        if label == "hopeless":
            open_total = min(0.15 * gap, 0.5 * gap_to_date) if gap_to_date > 0 else 0.15 * gap
        elif label == "behind":
            open_total = rng.uniform(0.35, 0.65) * gap
        else:
            open_total = rng.uniform(1.1, 1.8) * max(shortfall, 0.03 * T)
        n_open = sum(1 for c in chosen if ac_pool[c][1] == "open")
        open_shares = rng.dirichlet(np.ones(n_open) * 3) if n_open > 1 else np.ones(1)
        actions, oi = [], 0
        span = max((fy_end - today).days, 1)
        past = max((today - fy0).days, 1)
        for c in chosen:
            text, kind = ac_pool[c]
            owner = p.manager if ("{manager_name}" in text and p.manager and kind != "done") else p.rep_id
            if kind == "open":
                impact = max(_round_to(open_total * open_shares[oi], 1000), 1000.0)
                if label in ("hopeless", "behind"):
                    impact = min(impact, max(_floor_to(open_total * open_shares[oi], 1000), 500.0))
                oi += 1
                overdue = label in ("behind", "hopeless") and rng.random() < 0.35
                if overdue:
                    due = today - timedelta(days=int(rng.integers(3, 30)))
                    status = "in_progress"
                else:
                    due = today + timedelta(days=int(rng.integers(7, max(span, 8))))
                    status = "planned" if rng.random() < 0.55 else "in_progress"
                due = max(min(due, fy_end), fy0)
            else:
                impact = _round_to(max(gap, 0.05 * T) * rng.uniform(0.1, 0.4), 1000)
                due = fy0 + timedelta(days=int(rng.integers(0, past)))
                due = min(due, today)
                status = kind
            linked = obstacles[c % len(obstacles)]["key"] if "pipeline review" not in text else None
            actions.append(dict(description=text.format(**fill), owner=owner, due_date=due, status=status,
                                expected_impact=float(impact), obstacle_key=linked))

        # status and check-ins
        if label == "hopeless":
            status = "submitted"
        elif label == "new_hire":
            status = "draft"
        elif label == "behind":
            status = "agreed" if (p.email == f"rep1@{DOMAIN}" or rng.random() < 0.5) else "submitted"
        elif label == "at_risk":
            status = ["agreed", "submitted", "draft"][int(rng.integers(0, 3))]
        else:
            status = "agreed" if rng.random() < 0.8 else "submitted"
        checkins = []
        if status != "draft" and mgr is not None:
            month_ends = [_month_end(_add_months(fy0, k)) for k in range(12)]
            month_ends = [d for d in month_ends if d < today]
            n_ck = min(len(month_ends), int(rng.integers(1, 4)))
            notes = CHECKIN_NOTES.get(label, CHECKIN_NOTES["on_track"])
            for j, d in enumerate(month_ends[-n_ck:] if n_ck else []):
                d = np.busday_offset(_d64(d), 0, roll="backward", weekmask=WEEKMASK).astype(object)
                checkins.append(dict(checkin_date=d, author=mgr["email"],
                                     note=notes[j % len(notes)].format(**fill)))
        plans.append(dict(rep_id=p.rep_id, fy=fy, status=status,
                          summary=SUMMARIES.get(label, SUMMARIES["on_track"]).format(**fill),
                          obstacles=obstacles, actions=actions, checkins=checkins))
    plans.sort(key=lambda x: x["rep_id"])
    return plans

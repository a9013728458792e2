"""Actuals (sale lines and credit notes) of one rep, order numbering, territory targets, days to act."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from salesplan.demo.common import _add_months, _d64, _fy_start, _money
from salesplan.demo.org import _customers

# (name, relative price, gross margin, weight in the mix)
PRODUCTS = (
    ("Cloud Platform - Standard licence", 12000.0, 0.82, 0.12),
    ("Cloud Platform - Enterprise licence", 38000.0, 0.80, 0.03),
    ("Analytics add-on", 6500.0, 0.85, 0.10),
    ("Edge Gateway G2", 2400.0, 0.22, 0.16),
    ("Sensor kit (10 pcs)", 900.0, 0.30, 0.18),
    ("Implementation services", 4200.0, 0.35, 0.13),
    ("Training workshop", 3200.0, 0.55, 0.07),
    ("Premium support (annual)", 5200.0, 0.70, 0.09),
    ("Data migration package", 8800.0, 0.40, 0.05),
    ("Integration connector", 2900.0, 0.65, 0.07),
)
PRODUCT_NAMES = np.array([p[0] for p in PRODUCTS], dtype=object)
PRODUCT_PRICE = np.array([p[1] for p in PRODUCTS])
PRODUCT_MARGIN = np.array([p[2] for p in PRODUCTS])
PRODUCT_WEIGHT = np.array([p[3] for p in PRODUCTS]) / sum(p[3] for p in PRODUCTS)

RETURN_LINE_SHARE = 0.03  # share of sale lines that are later (partly) credited
RETURN_GROSS_UP = 1.0 / (1.0 - RETURN_LINE_SHARE * 0.75)  # mean credited fraction is 0.75
WEEKEND_ORDER_SHARE = 0.006  # share of Friday orders booked on the Saturday


def _days_to_act(frame: pd.DataFrame | None, cal, fy0: date, e: date, fy_end: date, target: float,
                 window: int = 65) -> float | None:
    """docs/numbers.md working_days_to_act of one rep's FY revenue (inf when on course, -1 when passed);
    None when the rep has no sales to simulate."""
    if frame is None:
        return None
    d = frame["_date"].to_numpy().astype("datetime64[D]")
    rev = frame["_rev"].to_numpy()
    bucket = np.busday_offset(d, 0, roll="backward", busdaycal=cal)
    days = np.arange(bucket.min(), _d64(e) + 1, dtype="datetime64[D]")
    days = days[np.is_busday(days, busdaycal=cal)]
    if len(days) < window:
        return None
    daily = np.bincount(np.searchsorted(days, bucket), weights=rev, minlength=len(days))[: len(days)]
    sums = np.convolve(daily, np.ones(window), mode="valid")
    best, current = sums.max() / window, sums[-1] / window
    a = float(rev[(d >= _d64(fy0)) & (d <= _d64(e))].sum())
    w = int(np.busday_count(_d64(e) + 1, _d64(fy_end) + 1, busdaycal=cal))
    if a + current * w >= target:
        return float("inf")
    if best <= current:
        return None
    if a + best * w < target:
        return -1.0
    return float(np.floor((a + best * w - target) / (best - current)))


def _orders(rng, p, idx, days, n_orders, intended, margin_m, m_end, cal, hol, last_day, story, fy, seed,
            revenue_only=False):
    """All sale lines and credit notes of one rep, vectorised. ``revenue_only``: only their
    ``_date`` and ``_rev`` columns, the same rows in the same order (what a pace candidate is
    judged on, without building the lines)."""
    n_o = int(n_orders.sum())
    if n_o == 0:
        return None
    o_day = np.repeat(np.arange(len(days)), n_orders)
    o_date = days[o_day]
    # a rare Friday order is booked on the Saturday
    weekday = (o_date.astype("int64") + 3) % 7
    sat = o_date + 1
    move = (weekday == 4) & (rng.random(n_o) < WEEKEND_ORDER_SHARE) & ~np.isin(sat, hol) & (sat <= _d64(last_day))
    o_date = np.where(move, sat, o_date)

    # the rep's accounts: a slice of the territory's customers, key account first
    customers = _customers(seed, p.territory, 600)
    k0 = (int(idx) * 13) % 560
    n_acc = 12 + int(idx) % 6
    accounts = np.array(customers[k0:k0 + n_acc], dtype=object)
    w = 1.0 / np.arange(1, n_acc + 1) ** 1.1
    w_key = w / w.sum()
    w_rest = w.copy()
    w_rest[0] = 0.0
    w_rest /= w_rest.sum()
    cust = rng.choice(n_acc, size=n_o, p=w_key)
    if story == "hopeless":  # the key account stops ordering in fiscal month 2 of this FY
        lost = o_date >= _d64(_add_months(_fy_start(fy), 1))
        cust = np.where(lost, rng.choice(n_acc, size=n_o, p=w_rest), cust)

    n_lines = 1 + np.minimum(rng.poisson(0.7, size=n_o), 3)
    n_rows = int(n_lines.sum())
    r_order = np.repeat(np.arange(n_o), n_lines)
    starts = np.cumsum(n_lines) - n_lines
    line = np.arange(n_rows) - np.repeat(starts, n_lines) + 1
    prod = rng.choice(len(PRODUCTS), size=n_rows, p=PRODUCT_WEIGHT)
    raw = PRODUCT_PRICE[prod] * rng.lognormal(0.0, 0.5, size=n_rows)
    r_date = o_date[r_order]
    r_m = np.searchsorted(m_end, r_date)

    # credit notes: a few lines are (partly) returned 3-25 working days later
    ret = np.flatnonzero(rng.random(n_rows) < RETURN_LINE_SHARE)
    frac = np.where(rng.random(len(ret)) < 0.5, 1.0, rng.uniform(0.2, 0.8, size=len(ret)))
    ret_date = np.busday_offset(r_date[ret], rng.integers(3, 26, size=len(ret)), roll="forward", busdaycal=cal)
    ok = ret_date <= _d64(last_day)
    ret, frac, ret_date = ret[ok], frac[ok], ret_date[ok]
    ret_m = np.searchsorted(m_end, ret_date)

    # scale the lines so that each month's net revenue (sales - credit notes dated in it) is the
    # intended amount; credit notes follow their lines, so a few fixed-point rounds settle it
    factor = np.divide(intended * RETURN_GROSS_UP, np.bincount(r_m, weights=raw, minlength=36),
                       out=np.zeros(36), where=intended > 0)
    for _ in range(4):
        rev = raw * factor[r_m]
        net = np.bincount(r_m, weights=rev, minlength=36) - np.bincount(ret_m, weights=rev[ret] * frac, minlength=36)
        factor *= np.divide(intended, net, out=np.ones(36), where=net > 0)
    rev = np.maximum(np.round(raw * factor[r_m], 2), 1.0)
    sold = factor[r_m] > 0  # months with nothing to sell (e.g. hopeless future) keep no lines
    if revenue_only:
        keep = sold[ret]
        credited = -np.maximum(np.round(rev[ret[keep]] * frac[keep], 2), 0.01)
        return pd.DataFrame({"_date": np.concatenate([r_date[sold], ret_date[keep]]),
                             "_rev": np.concatenate([rev[sold], credited])})
    m_raw = np.clip(PRODUCT_MARGIN[prod] + rng.normal(0.0, 0.04, size=n_rows), 0.05, 0.95)
    w_rev = np.bincount(r_m, weights=rev * m_raw, minlength=36)
    s_rev = np.bincount(r_m, weights=rev, minlength=36)
    k = np.divide(margin_m * s_rev, w_rev, out=np.ones(36), where=w_rev > 0)
    margin = np.clip(m_raw * k[r_m], 0.03, 0.95)
    cost = np.round(rev * (1.0 - margin), 2)

    sales = pd.DataFrame({
        "_date": r_date, "kind": 0, "local": r_order, "line": line,
        "customer": accounts[cust[r_order]], "product": PRODUCT_NAMES[prod], "_rev": rev, "cost": cost})
    keep = sold[ret]
    ret, frac, ret_date = ret[keep], frac[keep], ret_date[keep]
    credits = pd.DataFrame({
        "_date": ret_date, "kind": 1, "local": np.arange(len(ret)), "line": 1,
        "customer": accounts[cust[r_order[ret]]], "product": PRODUCT_NAMES[prod[ret]],
        "_rev": -np.maximum(np.round(rev[ret] * frac, 2), 0.01), "cost": -np.round(cost[ret] * frac, 2)})
    out = pd.concat([sales[sold], credits], ignore_index=True)
    out["rep"] = p.rep_id
    out["territory"] = p.territory
    return out


def _finish_actuals(df: pd.DataFrame) -> pd.DataFrame:
    """Assign sales-order and credit-note numbers (per calendar year, in date order) and format."""
    d = df["_date"].to_numpy().astype("datetime64[D]")
    df = df.assign(_d=d, _year=d.astype("datetime64[Y]").astype("int64") + 1970)
    parts = []
    for kind, prefix, width in ((0, "SO", 6), (1, "CN", 5)):
        sub = df[df["kind"] == kind]
        docs = sub.drop_duplicates(["rep", "local"])[["_d", "rep", "local", "_year"]]
        docs = docs.sort_values(["_d", "rep", "local"], kind="mergesort")
        seq = docs.groupby("_year").cumcount() + 1
        docs["order_id"] = prefix + "-" + docs["_year"].astype(str) + "-" + seq.astype(str).str.zfill(width)
        parts.append(sub.merge(docs[["rep", "local", "order_id"]], on=["rep", "local"], how="left"))
    df = pd.concat(parts, ignore_index=True)
    df = df.sort_values(["_d", "order_id", "line"], kind="mergesort").reset_index(drop=True)
    d = df["_d"].to_numpy().astype("datetime64[D]")
    out = pd.DataFrame({
        "date": np.datetime_as_string(d, unit="D"),
        "rep": df["rep"], "order_id": df["order_id"], "line": df["line"].astype(int),
        "customer": df["customer"], "product": df["product"], "territory": df["territory"],
        "revenue": _money(df["_rev"].to_numpy()), "cost": _money(df["cost"].to_numpy()),
    })
    out["_date"] = d
    out["_rev"] = df["_rev"].to_numpy()
    return out


def _territory_targets(targets, people, territories, fy, m_label, m_fy) -> pd.DataFrame:
    """A few top-down territory revenue targets for the current FY, a little off the sum of reps."""
    cur_months = [m for m, f in zip(m_label, m_fy) if f == fy]
    # territories without hires or leavers, so their history is a fair basis for the top-down number
    changing = set(people.loc[people.story.isin(["new_hire", "leaver"]), "territory"])
    picks = [t for t, _ in territories if t not in changing][1::3][:3]
    ratios = (1.04, 0.96, 1.06)
    extra = []
    rev = targets[(targets.metric == "revenue") & targets.month.isin(cur_months)]
    owner_terr = dict(zip(people.rep_id, people.territory))
    rev = rev.assign(territory=rev.owner.map(owner_terr))
    for terr, ratio in zip(picks, ratios):
        sums = rev[rev.territory == terr].groupby("month")["amount"].sum().reindex(cur_months, fill_value=0.0)
        amounts = np.round(sums.to_numpy() * ratio / 1000) * 1000
        extra.append(pd.DataFrame({
            "owner_type": "territory", "owner": terr, "metric": "revenue", "month": cur_months,
            "amount": amounts, "reason": f"FY{fy} top-down allocation from the regional plan"}))
    return pd.concat([targets, *extra], ignore_index=True)

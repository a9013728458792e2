"""Property-based tests of the engine (hypothesis).

The main property compares the vectorised engine with a slow, literal reading of docs/numbers.md written
below in plain Python (exact fractions, one day at a time) on random small organisations: every
column, every owner, every level. The others are the algebraic properties of the brief.
"""

import datetime as dt
from fractions import Fraction
from math import floor

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from salesplan.calendar import fiscal_months, fiscal_year_bounds, month_end, periods
from salesplan.engine import report
from salesplan.inputs import EngineInputs
from salesplan.settings import Settings

D = dt.date
FY = 2025
SPAN = 200  # days of generated history, starting 40 days before the FY
SETTINGS = hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- random organisations
@st.composite
def scenarios(draw, consistent=False):
    """A small organisation. ``consistent``: every rep has a territory, actual rows carry their rep's
    territory, no ghost reps and no top-down territory targets (so roll-ups are pure sums)."""
    fsm = draw(st.sampled_from([1, 1, 4, 7]))
    weekdays = draw(st.sampled_from([(0, 1, 2, 3, 4), (0, 1, 2, 3, 4), (6, 0, 1, 2, 3), (0, 2, 4)]))
    window = draw(st.integers(1, 8))
    fy_start, _ = fiscal_year_bounds(FY, fsm)
    base = fy_start - dt.timedelta(days=40)
    n_terr = draw(st.integers(1, 3))
    terrs = [f"T{i}" for i in range(n_terr)]
    regions = [draw(st.sampled_from(["R0", "R1"])) for _ in terrs]
    n_reps = draw(st.integers(1, 4))
    as_of = base + dt.timedelta(days=draw(st.integers(0, SPAN)))
    near_as_of = st.integers(-12, 3).map(lambda k: as_of + dt.timedelta(days=k))
    anywhere = st.integers(0, SPAN).map(lambda k: base + dt.timedelta(days=k))
    reps = []
    for i in range(n_reps):
        terr = draw(st.sampled_from(terrs if consistent else terrs + [None]))
        start = draw(st.none() | near_as_of | anywhere)
        reps.append((f"r{i}", f"Rep {i}", terr, None if consistent else start))
    n_people = n_reps if consistent else n_reps + 1  # the last one: a rep no longer in the reps file
    holidays = [(base + dt.timedelta(days=k), t) for k, t in draw(
        st.lists(st.tuples(st.integers(0, SPAN + 60), st.sampled_from([None] + terrs)), max_size=6))]
    actuals = []

    def add(k, who, amount, other):
        rep_id = f"r{who}" if who < n_reps else "ghost"
        terr = reps[who][2] if who < n_reps and (consistent or other is None) else other
        actuals.append((base + dt.timedelta(days=k), rep_id, terr, amount))

    # runs: one amount every `step` days over `length` days (dense history for run-rates) ...
    for k, length, step, who, amount, other in draw(st.lists(
            st.tuples(st.integers(0, SPAN), st.integers(1, 60), st.integers(1, 3), st.integers(0, n_people - 1),
                      st.integers(-100, 1500), st.sampled_from([None] + terrs)), max_size=4)):
        for j in range(0, length, step):
            if k + j <= SPAN:
                add(k + j, who, amount, other)
    # ... and single sales, returns and spikes
    for k, who, amount, other in draw(st.lists(
            st.tuples(st.integers(0, SPAN), st.integers(0, n_people - 1), st.integers(-3000, 9000),
                      st.sampled_from([None] + terrs)), max_size=12)):
        add(k, who, amount, other)
    months = fiscal_months(FY, fsm)
    targets = []
    for i in range(n_reps):  # most reps: one amount every month, then a few months changed
        monthly = draw(st.none() | st.integers(0, 30000))
        if monthly is not None:
            targets += [("rep", f"r{i}", m, monthly) for m in months]
    targets += [("rep", f"r{r}", months[m], amt) for r, m, amt in draw(st.lists(
        st.tuples(st.integers(0, n_reps - 1), st.integers(0, 11), st.integers(0, 30000)), max_size=6))]
    if not consistent:
        targets += [("territory", t, months[m], amt) for t, m, amt in draw(st.lists(
            st.tuples(st.sampled_from(terrs), st.integers(0, 11), st.integers(0, 30000)), max_size=4))]
    open_actions = [(f"r{r}", FY, amt) for r, amt in draw(st.lists(
        st.tuples(st.integers(0, n_reps - 1), st.integers(0, 50000)), max_size=3))]
    grain = draw(st.sampled_from(["year", "quarter", "month", "week"]))
    return dict(fsm=fsm, weekdays=weekdays, window=window, terrs=terrs, regions=dict(zip(terrs, regions)),
                reps=reps, holidays=holidays, actuals=actuals, targets=targets, open_actions=open_actions,
                as_of=as_of, grain=grain)


def to_inputs(sc):
    reps = pd.DataFrame({
        "rep_id": [r[0] for r in sc["reps"]], "name": [r[1] for r in sc["reps"]], "email": None,
        "territory": [r[2] for r in sc["reps"]], "region": None, "manager": None,
        "start_date": pd.to_datetime([r[3] for r in sc["reps"]]), "end_date": pd.NaT,
    })
    territories = pd.DataFrame({"territory": sc["terrs"], "region": [sc["regions"][t] for t in sc["terrs"]]})
    holidays = pd.DataFrame({"date": pd.to_datetime([h[0] for h in sc["holidays"]]), "name": "h",
                             "territory": [h[1] for h in sc["holidays"]]}, columns=["date", "name", "territory"])
    targets = pd.DataFrame({
        "owner_type": [t[0] for t in sc["targets"]], "owner_id": [t[1] for t in sc["targets"]],
        "metric": "revenue", "month": pd.to_datetime([t[2] for t in sc["targets"]]),
        "amount": [float(t[3]) for t in sc["targets"]],
    }, columns=["owner_type", "owner_id", "metric", "month", "amount"])
    actuals = pd.DataFrame({
        "date": pd.to_datetime([a[0] for a in sc["actuals"]]), "rep_id": [a[1] for a in sc["actuals"]],
        "territory": [a[2] for a in sc["actuals"]], "revenue": [float(a[3]) for a in sc["actuals"]],
        "profit": np.nan,
    }, columns=["date", "rep_id", "territory", "revenue", "profit"])
    open_actions = pd.DataFrame(sc["open_actions"], columns=["rep_id", "fy", "open_impact"])
    settings = Settings(fy_start_month=sc["fsm"], working_weekdays=sc["weekdays"], window=sc["window"])
    return EngineInputs(settings, reps, territories, holidays, targets, actuals, open_actions)


# --------------------------------------------------------------------------- the literal oracle
class Cal:
    def __init__(self, weekdays, holidays):
        self.weekdays, self.holidays = set(weekdays), set(holidays)
        self._counted = {}  # (a, b) -> wd(a, b): the oracle asks for the same months' days again and again

    def work(self, d):
        return d.weekday() in self.weekdays and d not in self.holidays

    def wd(self, a, b):
        if (a, b) not in self._counted:
            n, d = 0, a
            while d <= b:
                n += self.work(d)
                d += dt.timedelta(days=1)
            self._counted[a, b] = n
        return self._counted[a, b]

    def bucket(self, d):
        while not self.work(d):
            d -= dt.timedelta(days=1)
        return d

    def back(self, x, k):
        """The working day k working days before working day x."""
        while k:
            x -= dt.timedelta(days=1)
            k -= self.work(x)
        return x

    def forward(self, d, n):
        while n:
            d += dt.timedelta(days=1)
            n -= self.work(d)
        return d


def owner_data(sc, level):
    """{owner_id: (rows [(date, amount)], monthly targets [12 Fractions], Cal, start_date)}."""
    hol_org = [d for d, t in sc["holidays"] if t is None]
    hol = lambda t: hol_org + [d for d, tt in sc["holidays"] if t is not None and tt == t]  # noqa: E731
    months = fiscal_months(FY, sc["fsm"])
    rep_t = {r[0]: [Fraction(0)] * 12 for r in sc["reps"]}
    terr_own = {t: {} for t in sc["terrs"]}
    for otype, oid, month, amt in sc["targets"]:
        i = months.index(month)
        if otype == "rep":
            rep_t[oid][i] += amt
        else:
            terr_own[oid][i] = terr_own[oid].get(i, 0) + Fraction(amt)
    terr_t = {}
    for t in sc["terrs"]:
        members = [r[0] for r in sc["reps"] if r[2] == t]
        terr_t[t] = [terr_own[t][i] if i in terr_own[t] else sum((rep_t[r][i] for r in members), Fraction(0))
                     for i in range(12)]
    out = {}
    if level == "rep":
        for rid, _, terr, start in sc["reps"]:
            rows = [(d, a) for d, r, _, a in sc["actuals"] if r == rid]
            out[rid] = (rows, rep_t[rid], Cal(sc["weekdays"], hol(terr)), start)
    elif level == "territory":
        for t in sc["terrs"]:
            rows = [(d, a) for d, _, tt, a in sc["actuals"] if tt == t]
            out[t] = (rows, terr_t[t], Cal(sc["weekdays"], hol(t)), None)
    elif level == "region":
        for g in sorted(set(sc["regions"].values())):
            ts = [t for t in sc["terrs"] if sc["regions"][t] == g]
            rows = [(d, a) for d, _, tt, a in sc["actuals"] if tt in ts]
            out[g] = (rows, [sum((terr_t[t][i] for t in ts), Fraction(0)) for i in range(12)], Cal(sc["weekdays"], hol(None)), None)
    else:
        unassigned = [r[0] for r in sc["reps"] if r[2] is None]
        tm = [sum((terr_t[t][i] for t in sc["terrs"]), Fraction(0)) + sum((rep_t[r][i] for r in unassigned), Fraction(0))
              for i in range(12)]
        out["org"] = ([(d, a) for d, _, _, a in sc["actuals"]], tm, Cal(sc["weekdays"], hol(None)), None)
    return out


def spread(tm, cal, months, P, lo, hi):
    """Σ over months m of T_m × wd(m ∩ [lo, hi]) ÷ wd(m), calendar days for a month without any."""
    total = Fraction(0)
    for i in P.months:
        ms, me = months[i], month_end(months[i])
        a0, a1 = max(ms, lo), min(me, hi)
        if a1 < a0:
            continue
        n, tot = cal.wd(a0, a1), cal.wd(ms, me)
        if tot == 0:
            n, tot = (a1 - a0).days + 1, (me - ms).days + 1
        total += tm[i] * n / tot
    return total


def oracle(rows, tm, cal, start, P, months, as_of, L, at_risk, open_impact=None, chance=None):
    T = spread(tm, cal, months, P, P.start, P.end)
    if P.start > as_of:
        return dict(status="not_started", target=T)
    e = min(as_of, P.end)
    A = sum((Fraction(a) for d, a in rows if P.start <= d <= e), Fraction(0))
    E = spread(tm, cal, months, P, P.start, e)
    W = cal.wd(e + dt.timedelta(days=1), P.end)
    bx = cal.bucket(e)
    ws = cal.back(bx, L - 1)

    by_bucket = {}  # Σ actuals dated <= e per bucket (the last working day on or before the date)
    for d, a in rows:
        if d <= e:
            b = cal.bucket(d)
            by_bucket[b] = by_bucket.get(b, 0) + Fraction(a)

    def window(x):  # Σ actuals <= e in the L buckets ending with working day x, and the first bucket
        first = cal.back(x, L - 1)
        return sum((v for b, v in by_bucket.items() if first <= b <= x), Fraction(0)), first

    if start is not None and start > e:
        c = None
    elif start is not None and ws < start <= e:
        div = cal.wd(start, e)
        c = sum((Fraction(a) for d, a in rows if start <= d <= e), Fraction(0)) / div if div else None
    else:
        c = window(bx)[0] / L
    dated = [d for d, _ in rows if d <= e]
    B = None
    if dated:
        fb = cal.bucket(min(dated))
        x = fb
        while x <= e:
            if cal.work(x):
                s, first = window(x)
                if first >= fb and (B is None or s / L > B):
                    B = s / L
            x += dt.timedelta(days=1)
    need = max(T - A, 0)
    r = need / W if W else None
    pace = A / E if E else None
    ponr = wdta = None
    if c is not None and not (A + c * W >= T) and B is not None and B > c:
        if A + B * W < T:
            ponr, wdta = "passed", 0
        else:
            wdta = floor((A + B * W - T) / (B - c))
            ponr = e if wdta == 0 else cal.forward(cal.bucket(e), wdta)
    if T == 0:
        status = "no_target"
    elif A >= T:
        status = "achieved"
    elif ponr == "passed" or (W == 0 and A < T):
        status = "off_track" if chance is not None and chance >= 0.05 else "too_late"
    elif E == 0 or pace >= 1:
        status = "on_track"
    elif pace >= Fraction(str(at_risk)):
        status = "at_risk"
    else:
        status = "off_track"
    coverage = None
    if open_impact is not None and need > 0:
        coverage = Fraction(open_impact) / need
    return dict(
        target=T, expected_to_date=E, actual_to_date=A, attainment=A / T if T else None, pace=pace,
        gap_to_date=E - A, remaining=T - A, working_days_elapsed=cal.wd(P.start, e), working_days_left=W,
        required_per_working_day=r, current_per_working_day=c,
        acceleration=r / c if (r is not None and c is not None and c > 0) else None,
        best_per_working_day=B, projection_linear=A + c * W if c is not None else None,
        projection_seasonal=A * T / E if E else None, status=status, point_of_no_return=ponr,
        working_days_to_act=wdta, action_coverage=coverage,
    )


def is_empty(v):
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def check_row(got, want):
    for key, w in want.items():
        g = got[key]
        if w is None:
            assert is_empty(g), (key, g)
        elif isinstance(w, Fraction):
            assert not is_empty(g), (key, w)
            assert float(g) == pytest.approx(float(w), rel=1e-9, abs=1e-6), key
        else:
            assert g == w, (key, g, w)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenarios())
def test_engine_matches_literal_reading_of_spec(sc):
    """Also the projection, point-of-no-return and best-pace properties
    (check_projection_ponr_and_best) on the same reports: they are drawn from the same scenarios,
    and computing the reports a second time for them cost a third of this module's time."""
    inputs = to_inputs(sc)
    plist = periods(FY, sc["fsm"], sc["grain"])
    months = fiscal_months(FY, sc["fsm"])
    impacts = {}
    for rid, fy, amt in sc["open_actions"]:
        impacts[rid] = impacts.get(rid, 0) + amt
    for level in ("rep", "territory", "region", "org"):
        df = report(inputs, sc["as_of"], fy=FY, level=level, period=sc["grain"])
        data = owner_data(sc, level)
        if level != "region":
            check_projection_ponr_and_best(sc, level, df, data)
        assert sorted(set(df["owner_id"])) == sorted(data)
        assert len(df) == len(data) * len(plist)
        checked = plist
        if sc["grain"] == "week":  # the literal oracle is slow: the FY's ends, weeks near as-of, a sample
            near = [i for i, P in enumerate(plist) if abs((P.start - sc["as_of"]).days) <= 10]
            keep = {0, 1, len(plist) - 2, len(plist) - 1, *near, *range(0, len(plist), 9)}
            checked = [P for i, P in enumerate(plist) if i in keep]
        # each row by owner and period, found once: filtering the frame for every owner and period
        # took as long as the engine's reports themselves
        by_key = {}
        for row in df.to_dict("records"):
            by_key.setdefault((row["owner_id"], row["period"]), row)
        for oid, (rows, tm, cal, start) in data.items():
            for P in checked:
                got = by_key[oid, P.label]
                cov = impacts.get(oid, 0) if level == "rep" and P.grain == "year" else None
                chance = None if is_empty(got["chance_to_reach"]) else got["chance_to_reach"]
                want = oracle(rows, tm, cal, start, P, months, sc["as_of"], sc["window"], 0.9, cov, chance)
                check_row(got, want)


# --------------------------------------------------------------------------- algebraic properties
@SETTINGS
@given(sc=scenarios(consistent=True))
def test_rollups_are_sums_of_members(sc):
    inputs = to_inputs(sc)
    frames = {lvl: report(inputs, sc["as_of"], fy=FY, level=lvl, period=sc["grain"])
              for lvl in ("rep", "territory", "region", "org")}
    rep_terr = {r[0]: r[2] for r in sc["reps"]}
    parents = {
        "territory": ("rep", lambda oid: rep_terr[oid]),
        "region": ("territory", lambda oid: sc["regions"][oid]),
        "org": ("region", lambda oid: "org"),
    }
    for level, (child, parent_of) in parents.items():
        kids = frames[child].copy()
        kids["parent"] = kids["owner_id"].map(parent_of)
        # as dicts: a lookup in the frame per row cost more than the reports
        sums = kids.groupby(["parent", "period"])[["target", "actual_to_date"]].sum(min_count=1).to_dict("index")
        for row in frames[level].to_dict("records"):
            key = (row["owner_id"], row["period"])
            if key not in sums:  # a territory without reps
                assert row["target"] == 0 and (is_empty(row["actual_to_date"]) or row["actual_to_date"] == 0)
                continue
            # a week's target spreads each month over the owner's own working days: a region and
            # the org follow the org-wide holidays alone, so with territory holidays their week
            # targets are not the sum of their territories' (the monthly targets still are)
            own_holidays = any(h[1] is not None for h in sc["holidays"])
            if not (sc["grain"] == "week" and level in ("region", "org") and own_holidays):
                assert row["target"] == pytest.approx(sums[key]["target"], abs=1e-6)
            if row["status"] != "not_started":
                assert row["actual_to_date"] == pytest.approx(sums[key]["actual_to_date"], abs=1e-6)


def check_projection_ponr_and_best(sc, level, df, data):
    """The projection, point-of-no-return and best-pace properties of one level's report ``df``
    (rep, territory and org; ``data``: owner_data of the level), checked in
    test_engine_matches_literal_reading_of_spec on its reports."""
    started = df[df.status != "not_started"]
    # projection_seasonal = target x pace
    both = started[started.pace.notna()]
    assert np.allclose(both.projection_seasonal, both.target * both.pace, rtol=1e-9, atol=1e-6)
    assert started[started.pace.isna()].projection_seasonal.isna().all()
    # c >= r: on course, no point of no return
    fast = started[(started.current_per_working_day >= started.required_per_working_day)]
    assert fast.point_of_no_return.isna().all() and fast.working_days_to_act.isna().all()
    if level != "rep":  # the precise form of B >= c (no start-date-shortened windows)
        check_best_at_least_current(sc, started, data)


def check_best_at_least_current(sc, started, data):
    """B >= c when the window of c (the L buckets ending with bucket(e), truncated at e) starts on
    or after the bucket of the owner's first actual dated <= e: that window is one of B's windows.
    (With fewer L-windows of history B may be empty; with a rep's start date inside the window c
    has a shorter divisor and can exceed B - see test_engine.test_start_date_can_make_c_exceed_b.)"""
    for _, row in started.iterrows():
        rows, _, cal, _ = data[row.owner_id]
        e = min(sc["as_of"], row.period_end)
        dated = [d for d, _ in rows if d <= e]
        full_history = bool(dated) and cal.bucket(min(dated)) <= cal.back(cal.bucket(e), sc["window"] - 1)
        if full_history:
            assert not is_empty(row.best_per_working_day)
            assert row.best_per_working_day >= row.current_per_working_day - 1e-9 * max(1, abs(row.current_per_working_day))
        if not dated:
            assert is_empty(row.best_per_working_day)


@SETTINGS
@given(sc=scenarios(), k=st.integers(0, SPAN), who=st.integers(0, 3), amount=st.integers(1, 5000))
def test_a_positive_sale_never_lowers_pace_or_attainment(sc, k, who, amount):
    rep = sc["reps"][who % len(sc["reps"])]
    before = to_inputs(sc)
    base = fiscal_year_bounds(FY, sc["fsm"])[0] - dt.timedelta(days=40)
    sc2 = dict(sc, actuals=sc["actuals"] + [(base + dt.timedelta(days=k), rep[0], rep[2], amount)])
    after = to_inputs(sc2)
    for level, oid in (("rep", rep[0]), ("org", "org")):
        a = report(before, sc["as_of"], fy=FY, level=level, period=sc["grain"])
        b = report(after, sc["as_of"], fy=FY, level=level, period=sc["grain"])
        a, b = a[a.owner_id == oid].reset_index(drop=True), b[b.owner_id == oid].reset_index(drop=True)
        for col in ("pace", "attainment", "actual_to_date"):
            defined = a[col].notna()
            assert (b[col][defined] >= a[col][defined] - 1e-9).all(), col
        assert (a.expected_to_date.fillna(-1) == b.expected_to_date.fillna(-1)).all()

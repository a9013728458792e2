"""The demo organisation: real behaviour of the generated files (no database needed, but one test)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesplan.demo import MIN_REPS, generate
from tests.helpers.demo import generated

TODAY = date(2025, 6, 18)  # a Wednesday, mid-year
FY = 2025
OPEN = ("planned", "in_progress")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def demo():
    data = generated(40, 7, TODAY)  # the default demo (tests/core/test_demo_pipeline.py reads it too)
    reps = read(data.reps_csv)
    targets = read(data.targets_csv)
    targets["amount"] = targets["amount"].astype(float)
    holidays = read(data.holidays_csv)
    actuals = read(data.actuals_csv)
    actuals["revenue"] = actuals["revenue"].astype(float)
    actuals["cost"] = actuals["cost"].astype(float)
    actuals["date"] = pd.to_datetime(actuals["date"], format="%Y-%m-%d")
    return dict(data=data, reps=reps, targets=targets, holidays=holidays, actuals=actuals)


def calendar_for(holidays: pd.DataFrame, territory: str) -> np.busdaycalendar:
    days = holidays.loc[(holidays.territory == "") | (holidays.territory == territory), "date"]
    return np.busdaycalendar(weekmask="1111100", holidays=np.array(days.tolist(), dtype="datetime64[D]"))


def expected_to_date(month_amounts: pd.Series, cal: np.busdaycalendar, as_of: date) -> float:
    """docs/numbers.md E for the FY: full months ending <= as_of plus the working-day share of the current one."""
    e = np.datetime64(as_of, "D")
    total = 0.0
    for month, amount in month_amounts.items():
        start = np.datetime64(month + "-01", "D")
        end = (np.datetime64(month, "M") + 1).astype("datetime64[D]") - 1
        if end <= e:
            total += amount
        elif start <= e:
            total += amount * np.busday_count(start, e + 1, busdaycal=cal) / np.busday_count(start, end + 1, busdaycal=cal)
    return total


@pytest.fixture(scope="module")
def pace(demo):
    """Year-to-date revenue and profit against the working-day-prorated expectation, per quota carrier."""
    reps, targets, holidays, actuals = demo["reps"], demo["targets"], demo["holidays"], demo["actuals"]
    ytd = actuals[(actuals.date >= pd.Timestamp(FY, 1, 1)) & (actuals.date <= pd.Timestamp(TODAY))]
    rows = []
    for r in reps[reps.territory != ""].itertuples():
        cal = calendar_for(holidays, r.territory)
        mine = targets[(targets.owner_type == "rep") & (targets.owner == r.rep_id) & targets.month.str.startswith(str(FY))]
        rev_t = mine[mine.metric == "revenue"].set_index("month")["amount"].sort_index()
        prof_t = mine[mine.metric == "profit"].set_index("month")["amount"].sort_index()
        E, EP = expected_to_date(rev_t, cal, TODAY), expected_to_date(prof_t, cal, TODAY)
        a = ytd[ytd.rep == r.rep_id]
        A, AP = a.revenue.sum(), (a.revenue - a.cost).sum()
        rows.append(dict(rep_id=r.rep_id, email=r.email, T=rev_t.sum(), E=E, A=A,
                         pace=A / E if E > 0 else np.nan, profit_pace=AP / EP if EP > 0 else np.nan))
    return pd.DataFrame(rows).set_index("rep_id")


# ---- files and determinism


def test_headers_are_the_spec_columns(demo):
    data = demo["data"]
    first = {k: p.read_text(encoding="utf-8").splitlines()[0] for k, p in data.files.items()}
    assert first["reps"] == "rep_id,name,email,territory,region,manager,start_date,end_date"
    assert first["targets"] == "owner_type,owner,metric,month,amount,reason"
    assert first["holidays"] == "date,name,territory"
    assert first["actuals"] == "date,rep,order_id,line,customer,product,territory,revenue,cost"
    assert list(data.files) == ["holidays", "reps", "targets", "actuals"]


@pytest.fixture(scope="module")
def seed3(tmp_path_factory):
    """The smallest demo of seed 3, which the determinism tests generate again or with another seed
    (whether the bytes repeat does not depend on the size; each generation costs ~0.1 s per rep),
    the smallest size of test_scales_with_reps and the files test_load_demo_through_the_store loads."""
    return generate(tmp_path_factory.mktemp("seed3"), reps=MIN_REPS, seed=3, today=TODAY)


def test_same_seed_gives_identical_bytes(tmp_path, seed3):
    a, b = seed3, generate(tmp_path / "b", reps=MIN_REPS, seed=3, today=TODAY)
    for kind in a.files:
        assert a.files[kind].read_bytes() == b.files[kind].read_bytes(), kind
    assert list(a.deals) == list(b.deals)
    assert [path.read_bytes() for path in a.deals.values()] == [path.read_bytes() for path in b.deals.values()]
    assert a.plans == b.plans


def test_different_seed_gives_different_files(tmp_path, seed3):
    a, b = seed3, generate(tmp_path / "b", reps=MIN_REPS, seed=4, today=TODAY)
    assert a.reps_csv.read_bytes() != b.reps_csv.read_bytes()
    assert a.actuals_csv.read_bytes() != b.actuals_csv.read_bytes()


def test_generation_is_sized(demo):
    assert 30_000 <= len(demo["actuals"]) <= 120_000


def test_amounts_have_two_decimals(demo):
    text = demo["data"].actuals_csv.read_text(encoding="utf-8").splitlines()[1:200]
    for line in text:
        revenue, cost = line.rsplit(",", 2)[-2:]
        assert len(revenue.split(".")[1]) == 2 and len(cost.split(".")[1]) == 2


# ---- organisation


def test_default_counts(demo):
    reps = demo["reps"]
    assert len(reps) == 40
    assert reps.rep_id.is_unique and reps.email.is_unique and reps.name.is_unique
    assert reps.loc[reps.region != "", "region"].nunique() == 4
    assert set(reps.region) - {""} == {"North", "South", "East", "West"}
    assert reps.loc[reps.territory != "", "territory"].nunique() == 12
    assert {"Nordics", "Benelux"} <= set(reps.territory)
    # every territory belongs to exactly one region
    assert (reps[reps.territory != ""].groupby("territory").region.nunique() == 1).all()


@pytest.mark.parametrize("n", [MIN_REPS, 40, 60])
def test_scales_with_reps(tmp_path, n, seed3, demo):
    # the smallest size is the determinism tests' demo and the middle one the default demo that
    # the module reads (the checks below do not depend on the seed); generating
    # costs ~0.04 s of CPU per rep
    shared = {MIN_REPS: seed3, 40: demo["data"]}
    data = shared[n] if n in shared else generate(tmp_path, reps=n, seed=1, today=TODAY)
    reps = read(data.reps_csv)
    assert len(reps) == n
    assert reps.loc[reps.territory != "", "territory"].nunique() <= 12
    assert {"manager1@demo.test", "rep1@demo.test", "rep2@demo.test"} <= set(reps.email)
    assert len(read(data.actuals_csv)) > 0 and len(data.plans) > 0


def test_too_few_reps_is_refused(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, reps=MIN_REPS - 1, today=TODAY)


def test_manager_chain_is_acyclic_and_deep(demo):
    reps = demo["reps"]
    manager = dict(zip(reps.rep_id, reps.manager))
    assert set(manager.values()) - {""} <= set(manager), "every manager is a rep"
    assert sum(1 for m in manager.values() if m == "") == 1, "one VP at the top"
    depth = {}
    for rid in manager:
        seen, cur = set(), rid
        while manager[cur]:
            assert cur not in seen, f"cycle through {cur}"
            seen.add(cur)
            cur = manager[cur]
        depth[rid] = len(seen)
    assert max(depth.values()) >= 3  # seller -> territory manager -> regional head -> VP
    # each territory has a manager who reports to the head of that territory's region
    carriers = reps[reps.territory != ""]
    for terr, team in carriers.groupby("territory"):
        mgrs = set(team.manager) - set(team.rep_id)
        assert len(mgrs) == 1, terr
        head = reps.set_index("rep_id").loc[mgrs.pop()]
        assert head.territory == "" and head.region == team.region.iloc[0]


def test_demo_sign_in_accounts(demo, pace):
    reps = demo["reps"].set_index("email")
    m1 = reps.loc["manager1@demo.test", "rep_id"]
    assert reps.loc["rep1@demo.test", "manager"] == m1
    assert reps.loc["rep2@demo.test", "manager"] == m1
    others = demo["reps"][demo["reps"].email.str.endswith("@demo.test")]
    assert others.email.str.fullmatch(r"[a-z0-9]+\.[a-z0-9]+\d*@demo\.test|(manager1|rep1|rep2)@demo\.test").all()


# ---- actuals


def test_no_actuals_outside_employment_or_after_today(demo):
    reps, actuals = demo["reps"], demo["actuals"]
    r = reps.set_index("rep_id")
    start = pd.to_datetime(actuals.rep.map(r.start_date))
    end = pd.to_datetime(actuals.rep.map(r.end_date).replace("", "2999-12-31"))
    assert (actuals.date >= start).all()
    assert (actuals.date <= end).all()
    assert actuals.date.max() <= pd.Timestamp(TODAY)
    assert actuals.date.min() >= pd.Timestamp(FY - 2, 1, 1)
    assert set(actuals.rep) <= set(reps.loc[reps.territory != "", "rep_id"])
    assert (actuals.territory == actuals.rep.map(r.territory)).all()


def test_new_hires_and_a_leaver(demo):
    reps = demo["reps"]
    start = pd.to_datetime(reps.start_date)
    hires = reps[(start >= pd.Timestamp(FY, 1, 1)) & (start <= pd.Timestamp(FY, 12, 31))]
    assert len(hires) >= 2
    # each hire replaces a seller of the same territory who left around the end of the last FY
    leavers = reps[reps.end_date != ""]
    assert len(leavers) == len(hires)
    assert set(leavers.territory) == set(hires.territory)
    assert (pd.to_datetime(leavers.end_date) < pd.Timestamp(FY, 1, 1)).all()
    assert (pd.to_datetime(leavers.end_date) >= pd.Timestamp(FY - 1, 12, 1)).all()
    targets = demo["targets"]
    for h in hires.itertuples():
        before = targets[(targets.owner == h.rep_id) & (targets.month < h.start_date[:7])]
        assert (before.amount == 0).all() and len(before) > 0


def test_returns_are_negative_credit_notes(demo):
    actuals = demo["actuals"]
    neg = actuals[actuals.revenue < 0]
    assert 0.01 <= len(neg) / len(actuals) <= 0.06
    assert neg.order_id.str.fullmatch(r"CN-\d{4}-\d{5}").all()
    assert (neg.cost <= 0).all()
    pos = actuals[actuals.revenue > 0]
    assert pos.order_id.str.fullmatch(r"SO-\d{4}-\d{6}").all()
    assert (actuals.revenue != 0).all()
    assert not actuals.duplicated(["order_id", "line"]).any()
    # an order belongs to one rep, one day and one customer
    per_order = actuals.groupby("order_id")[["rep", "date", "customer"]].nunique()
    assert (per_order == 1).all().all()
    # a credit note returns a product the customer bought from that rep before
    sold = set(zip(pos.rep, pos.customer, pos["product"]))
    assert all(k in sold for k in zip(neg.rep, neg.customer, neg["product"]))


def test_holidays_and_weekends(demo):
    holidays, actuals, reps = demo["holidays"], demo["actuals"], demo["reps"]
    years = pd.to_datetime(holidays.date).dt.year
    assert set(years) == {FY - 2, FY - 1, FY}
    org = holidays[holidays.territory == ""]
    assert 3 <= org.groupby(years[org.index]).size().min() <= 8
    assert holidays.territory.nunique() > 5
    assert set(holidays.territory) - {""} <= set(reps.territory)
    # no actuals on the rep's holidays (org-wide or territory)
    hol = set(zip(holidays.date, holidays.territory))
    day = actuals.date.dt.strftime("%Y-%m-%d")
    on_holiday = [(d, "") in hol or (d, t) in hol for d, t in zip(day, actuals.territory)]
    assert not any(on_holiday)
    # weekend sales are rare (but exist)
    weekend = actuals.date.dt.day_of_week >= 5
    assert 0 < weekend.sum() <= 0.01 * len(actuals)


# ---- targets


def test_targets_cover_three_years_two_metrics_every_rep(demo):
    reps, targets = demo["reps"], demo["targets"]
    carriers = set(reps.loc[reps.territory != "", "rep_id"])
    rt = targets[targets.owner_type == "rep"]
    assert set(rt.owner) == carriers
    months = {f"{y}-{m:02d}" for y in (FY - 2, FY - 1, FY) for m in range(1, 13)}
    for (owner, metric), g in rt.groupby(["owner", "metric"]):
        assert set(g.month) == months and len(g) == 36, (owner, metric)
    assert set(rt.metric) == {"revenue", "profit"}
    assert (targets.amount >= 0).all()
    assert not targets.duplicated(["owner_type", "owner", "metric", "month"]).any()
    # profit targets are a margin of the revenue targets
    pivot = rt.pivot_table(index=["owner", "month"], columns="metric", values="amount")
    live = pivot[pivot.revenue > 0]
    margin = live.profit / live.revenue
    assert margin.between(0.3, 0.5).all()


def test_some_top_down_territory_targets_differ_from_the_sum_of_reps(demo):
    reps, targets = demo["reps"], demo["targets"]
    terr = targets[targets.owner_type == "territory"]
    assert 1 <= terr.owner.nunique() <= 4 and set(terr.owner) <= set(reps.territory)
    rt = targets[(targets.owner_type == "rep") & (targets.metric == "revenue")]
    rt = rt.assign(territory=rt.owner.map(dict(zip(reps.rep_id, reps.territory))))
    for name, g in terr.groupby("owner"):
        months = set(g.month)
        reps_sum = rt[(rt.territory == name) & rt.month.isin(months)].amount.sum()
        ratio = reps_sum / g.amount.sum()
        assert ratio != pytest.approx(1.0, abs=0.01) and 0.85 < ratio < 1.15


def test_targets_are_seasonal(demo):
    targets = demo["targets"]
    for metric in ("revenue", "profit"):
        rt = targets[(targets.owner_type == "rep") & (targets.metric == metric)]
        q = rt.assign(year=rt.month.str[:4], q=(rt.month.str[5:7].astype(int) - 1) // 3 + 1)
        by_q = q.groupby(["year", "q"]).amount.sum().unstack()
        assert (by_q[4] > by_q[3]).all(), metric
        month = rt.groupby(rt.month.str[5:7]).amount.sum()
        assert month["08"] == month.min()  # the summer dip
        assert month["12"] == month.max()  # the year-end push


def test_actuals_follow_the_seasonality(demo):
    a = demo["actuals"]
    full = a[a.date.dt.year == FY - 1]
    by_q = full.groupby((full.date.dt.month - 1) // 3 + 1).revenue.sum()
    assert by_q[4] > by_q[3]


# ---- the story


def test_story_ahead_behind_and_hopeless(pace, demo):
    live = pace.dropna(subset=["pace"])
    assert (live.pace >= 1.05).sum() >= 1
    assert (live.pace < 0.90).sum() >= 3
    assert (live.pace < 0.50).sum() >= 1
    by_email = live.set_index("email")
    assert by_email.loc["rep1@demo.test", "pace"] < 0.90
    assert by_email.loc["rep2@demo.test", "pace"] >= 1.05
    hopeless = live.pace.idxmin()
    assert demo["data"].story[hopeless] == "hopeless"
    # a manager signing in sees a mixed team: the first territory is neither all good nor all bad
    assert live.pace.between(0.90, 1.0).sum() >= 1  # some at risk


def test_hopeless_rep_is_clearly_out_of_reach(pace, demo):
    """Even at the best 65-working-day pace of the last year, the hopeless rep cannot reach the target."""
    hopeless = pace.pace.idxmin()
    row = pace.loc[hopeless]
    a = demo["actuals"]
    mine = a[a.rep == hopeless].groupby("date").revenue.sum()
    r = demo["reps"].set_index("rep_id").loc[hopeless]
    cal = calendar_for(demo["holidays"], r.territory)
    days = np.arange(np.datetime64(f"{FY - 1}-01-01"), np.datetime64(TODAY) + 1, dtype="datetime64[D]")
    days = days[np.is_busday(days, busdaycal=cal)]
    daily = mine.reindex(pd.to_datetime(days), fill_value=0.0).to_numpy()
    best = pd.Series(daily).rolling(65).sum().max() / 65
    left = np.busday_count(np.datetime64(TODAY) + 1, np.datetime64(f"{FY + 1}-01-01"), busdaycal=cal)
    assert row.A + best * left < row["T"]


def test_profit_story_a_discounter(pace):
    live = pace.dropna(subset=["pace"])
    assert ((live.pace >= 1.0) & (live.profit_pace < 0.9)).any()


# ---- plans


def test_plan_structure(demo):
    data, reps = demo["data"], demo["reps"]
    carriers = set(reps.loc[reps.territory != "", "rep_id"])
    assert len(data.plans) >= 0.6 * len(carriers)
    assert len({p["rep_id"] for p in data.plans}) == len(data.plans)
    statuses = {p["status"] for p in data.plans}
    assert statuses == {"draft", "submitted", "agreed"}
    people = set(reps.rep_id)
    emails = set(reps.email)
    for p in data.plans:
        assert p["rep_id"] in carriers and p["fy"] == FY and p["summary"]
        assert 1 <= len(p["obstacles"]) <= 3 and 1 <= len(p["actions"]) <= 4
        keys = {o["key"] for o in p["obstacles"]}
        for o in p["obstacles"]:
            assert 1 <= o["likelihood"] <= 5 and o["revenue_at_risk"] > 0 and o["description"]
        for a in p["actions"]:
            assert a["status"] in ("planned", "in_progress", "done", "dropped")
            assert a["owner"] in people and a["expected_impact"] > 0
            assert a["obstacle_key"] is None or a["obstacle_key"] in keys
            assert date(FY, 1, 1) <= a["due_date"] <= date(FY, 12, 31)
            if a["status"] in ("done", "dropped"):
                assert a["due_date"] <= TODAY
        for c in p["checkins"]:
            assert c["author"] in emails and date(FY, 1, 1) <= c["checkin_date"] <= TODAY and c["note"]
    assert sum(len(p["checkins"]) for p in data.plans) > 0


def test_open_actions_do_not_cover_the_gap_of_behind_reps(demo, pace):
    plans = {p["rep_id"]: p for p in demo["data"].plans}
    checked_behind = checked_fine = 0
    for rid, row in pace.dropna(subset=["pace"]).iterrows():
        if rid not in plans:
            continue
        open_impact = sum(a["expected_impact"] for a in plans[rid]["actions"] if a["status"] in OPEN)
        shortfall = max(row["T"] - row.A * row["T"] / row.E, 0.0)  # seasonal projection vs target
        if row.pace < 0.90:
            assert 0 < open_impact < shortfall, rid
            checked_behind += 1
        else:
            assert open_impact >= shortfall, rid
            checked_fine += 1
    assert checked_behind >= 3 and checked_fine >= 10
    hopeless = pace.pace.idxmin()
    row = pace.loc[hopeless]
    open_impact = sum(a["expected_impact"] for a in plans[hopeless]["actions"] if a["status"] in OPEN)
    assert open_impact < row.E - row.A  # does not even cover the gap to date
    assert plans[hopeless]["status"] != "agreed"


@pytest.mark.parametrize("today", [date(2025, 1, 1), date(2025, 1, 2), date(2025, 12, 31)])
def test_any_today_works(tmp_path, today):
    data = generate(tmp_path, reps=MIN_REPS, today=today)  # the dates do not depend on the size
    a = read(data.actuals_csv)
    assert a.date.max() <= today.isoformat()
    assert a.date.min() >= f"{today.year - 2}-01-01"


# ---- loading through the real import path


def test_load_demo_through_the_store(tmp_path, seed3):
    from salesplan.demo import DEAL_STAGES, load_demo
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    # the smallest demo: what is checked here (every file, snapshot, plan and account goes through
    # the store, a second load changes nothing) does not depend on its size; loading costs seconds,
    # so the loader's checks share these two loads (the pipeline's and the accounts' included)
    store = Store.open(tmp_path / "demo.duckdb")
    summary = load_demo(store, reps=MIN_REPS, seed=3, today=TODAY)
    data = seed3  # the files that load generated again (the same bytes: test_same_seed_gives_identical_bytes)
    files = {kind: read(path) for kind, path in data.files.items()}
    for kind, frame in files.items():
        assert summary["inserted"][kind] == len(frame), kind
        assert summary["batches"][kind] is not None
    assert len(set(summary["batches"].values())) == 4
    assert summary["reps"] == MIN_REPS and summary["actual_rows"] == len(files["actuals"])
    assert summary["plans"] == len(data.plans)
    assert summary["actions"] == sum(len(p["actions"]) for p in data.plans)
    # what the store holds is what the files say, counted and summed here from the files
    assert sorted(store.reps(SYSTEM)["rep_id"]) == sorted(files["reps"]["rep_id"])
    assert len(store.holidays(SYSTEM)) == len(files["holidays"])
    assert len(store.targets(SYSTEM)) == len(files["targets"])
    totals = store.actual_totals(SYSTEM)
    revenue, cost = files["actuals"]["revenue"].astype(float), files["actuals"]["cost"].astype(float)
    assert totals["rows"] == len(files["actuals"])
    assert totals["revenue"] == pytest.approx(revenue.sum(), abs=0.01)
    assert totals["profit"] == pytest.approx((revenue - cost).sum(), abs=0.01)
    # the plans landed in the store, linked to their obstacles
    plan = data.plans[0]
    stored = store.plan(SYSTEM, plan["rep_id"], plan["fy"])
    assert stored["exists"] and stored["status"] == plan["status"]
    assert len(stored["obstacles"]) == len(plan["obstacles"]) and len(stored["actions"]) == len(plan["actions"])
    # the weekly snapshots of open deals, each as its file; the stage probabilities are the demo's
    assert list(summary["deal_snapshots"]) == [day.isoformat() for day in data.deals]
    assert dict(store.settings().stage_probabilities) == dict(DEAL_STAGES)
    history = store.deal_history(SYSTEM)
    for day, path in data.deals.items():
        deals = read(path)
        held = history[history["snapshot_date"] == pd.Timestamp(day)]
        assert sorted(held["deal_id"]) == sorted(deals["Deal ID"]), day
        assert held["amount"].astype(float).sum() == pytest.approx(deals["Amount"].astype(float).sum()), day
    open_now = store.open_deals(SYSTEM, TODAY)
    assert len(open_now) > 10 and (open_now["snapshot_date"] == pd.Timestamp(TODAY)).all()
    # blank probabilities took their stage's; the few given in the file stayed
    from_stage = open_now["probability"] == open_now["stage"].map(dict(DEAL_STAGES))
    assert from_stage.mean() > 0.8 and (~from_stage).any()
    assert set(open_now.loc[~from_stage, "probability"]) <= {0.15, 0.9}
    # the five sign-in accounts (tests/core/test_demo_accounts.py signs in with them)
    users = store.users(SYSTEM).set_index("email")
    rep_of = dict(zip(files["reps"]["email"], files["reps"]["rep_id"]))
    assert users["role"].to_dict() == {"admin@demo.test": "admin", "leader@demo.test": "leader",
                                       "manager1@demo.test": "manager", "rep1@demo.test": "rep", "rep2@demo.test": "rep"}
    for email in ("manager1@demo.test", "rep1@demo.test", "rep2@demo.test"):
        assert users.loc[email, "rep_id"] == rep_of[email]
    # loading again changes nothing and duplicates no plan details, deal or account
    again = load_demo(store, reps=MIN_REPS, seed=3, today=TODAY)
    assert sum(again["inserted"].values()) == 0
    assert again["plans"] == 0 and again["plans_kept"] == len(data.plans) and again["accounts"] == 0
    assert len(store.plan(SYSTEM, plan["rep_id"], plan["fy"])["actions"]) == len(plan["actions"])
    pd.testing.assert_frame_equal(store.open_deals(SYSTEM, TODAY).drop(columns="batch_id"),
                                  open_now.drop(columns="batch_id"))
    assert len(store.users(SYSTEM)) == 5
    store.close()


def test_load_demo_onto_other_people_goes_through_the_import_checks(tmp_path):
    from salesplan import imports
    from salesplan.demo import load_demo
    from salesplan.errors import BadInput
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    with Store.open(tmp_path / "real.duckdb") as store:
        # a real person already holds the email of a demo account: the reps import refuses that
        imports.import_file(store, "reps", b"rep_id,name,email\nX1,Real Person,rep1@demo.test\n", file_name="real.csv")
        with pytest.raises(BadInput, match="rep1@demo.test"):
            load_demo(store, reps=MIN_REPS, seed=5, today=TODAY)
        assert store.reps(SYSTEM)["rep_id"].tolist() == ["X1"]

"""The engine's memo per EngineInputs object (salesplan/engine/common.py, _memo_of; prep.py,
_prepare): the same numbers, bit for bit, whether the targets and matrices are built afresh
for every call or shared between calls, and built once where they are shared."""

import dataclasses
import datetime as dt
import functools
import gc

import numpy as np
import pandas as pd
import pytest

from salesplan import engine
from salesplan.backtest import backtest
from salesplan.calendar import periods
from salesplan.engine import common, prep
from salesplan.engine import numbers as prep_numbers
from salesplan.engine.synthetic import synthetic_inputs

D = dt.date


@functools.cache
def _base():
    return synthetic_inputs(n_reps=24, years=3, last_fy=2025, seed=3, n_territories=4, n_regions=2)


def inputs():
    """A fresh EngineInputs object (fresh frames too) with everything the targets and the
    preparation read: rep and territory targets of both metrics, a rep who moves territory,
    territory holidays, open actions and deal snapshots with scopes."""
    base = _base()
    targets = base.targets.copy()
    behind = targets["owner_id"] < "r0012"  # half of the reps behind plan: a watch list to compare
    targets.loc[behind, "amount"] = targets.loc[behind, "amount"] * 1.4
    own = pd.DataFrame({"owner_type": "territory", "owner_id": "T01", "metric": "revenue",
                        "month": pd.date_range("2025-01-01", periods=6, freq="MS"), "amount": 90_000.0})
    profit = targets.assign(metric="profit", amount=targets["amount"] * 0.3)
    history = pd.DataFrame({"rep_id": ["r0003", "r0003"], "effective_from": pd.to_datetime(["2023-01-01", "2025-04-01"]),
                            "territory": ["T02", "T03"], "manager": [None, None]})
    deals = pd.DataFrame({
        "snapshot_date": pd.to_datetime(["2025-03-03"] * 4 + ["2025-05-05"] * 3),
        "deal_id": ["a", "b", "c", "d", "a", "c", "e"],
        "rep_id": ["r0001", "r0002", "r0003", "r0010", "r0001", "r0003", "r0011"],
        "amount": [5000.0, 12000.0, 800.0, 3000.0, 5500.0, 900.0, 7000.0],
        "probability": [0.5, 0.2, 0.9, 0.4, 0.6, 0.9, 0.3],
        "expected_close": pd.to_datetime(["2025-03-20", "2025-06-30", "2025-04-10", "2025-02-01",
                                          "2025-05-30", "2025-07-15", "2025-09-01"]),
    })
    scopes = pd.DataFrame({"snapshot_date": pd.to_datetime(["2025-03-03"] * 24 + ["2025-05-05"] * 3),
                           "rep_id": [f"r{i:04d}" for i in range(24)] + ["r0001", "r0003", "r0011"]})
    return dataclasses.replace(
        base, reps=base.reps.copy(), territories=base.territories.copy(), holidays=base.holidays.copy(),
        targets=pd.concat([targets, own, profit], ignore_index=True), daily_actuals=base.daily_actuals.copy(),
        open_actions=base.open_actions.copy(), rep_history=history, deals=deals, deal_scopes=scopes)


# as-of dates: inside FY2025 (twice the same preparation through a different date after the
# FY's end), the previous FY, and one day apart (the watch list also reads d - 7 days)
CALLS = [
    ("report", dict(as_of=D(2025, 5, 14), level="rep", metric="revenue", period="month")),
    ("report", dict(as_of=D(2025, 5, 14), level="territory", metric="revenue", period="quarter")),
    ("chance", dict(as_of=D(2025, 5, 14), level="rep", metric="revenue", period="year")),
    ("watch", dict(as_of=D(2025, 5, 14), metric="revenue")),
    ("report", dict(as_of=D(2025, 5, 15), level="region", metric="profit", period="week")),
    ("watch", dict(as_of=D(2025, 5, 15), metric="profit")),
    ("report", dict(as_of=D(2024, 9, 30), level="rep", metric="profit", period="year")),
    ("chance", dict(as_of=D(2024, 9, 30), level="territory", metric="profit", period="month")),
    ("report", dict(as_of=D(2025, 12, 31), level="org", metric="revenue", period="month")),
    ("report", dict(as_of=D(2026, 2, 1), fy=2025, level="org", metric="revenue", period="month")),
    ("report", dict(as_of=D(2025, 12, 31), level="rep", metric="revenue", period="year")),
    ("watch", dict(as_of=D(2025, 12, 31), metric="revenue")),
    ("history", dict(as_of=D(2025, 5, 14), owner_type="territory", owner_id="T01", metric="revenue")),
    ("report", dict(as_of=D(2025, 5, 14), level="rep", metric="revenue", period="month")),
]


def _call(inp, kind, kw):
    kw = dict(kw)
    as_of = kw.pop("as_of")
    if kind == "report":
        return engine.report(inp, as_of, **kw)
    if kind == "chance":
        return engine.chance_details(inp, as_of, **kw)
    if kind == "watch":
        return engine.watchlist(inp, as_of, **kw)
    return engine.status_history(inp, as_of, kw.pop("owner_type"), kw.pop("owner_id"), **kw)


def _assert_same(a, b):
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) and len(a) > 0
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for column in a.columns:  # bit for bit, not only equal within a tolerance
        if a[column].dtype == float:
            assert np.array_equal(a[column].to_numpy().view(np.int64), b[column].to_numpy().view(np.int64)), column


def test_shared_memo_gives_bit_for_bit_the_numbers_of_no_memo(monkeypatch):
    shared = inputs()
    with_memo = [_call(shared, kind, kw) for kind, kw in CALLS]
    with_memo += [_call(shared, kind, kw) for kind, kw in reversed(CALLS)]  # the other way round: other hits
    # no memo at all: every lookup starts from an empty memo, on a fresh inputs object per call
    monkeypatch.setattr(common, "_memo_of", lambda _inputs: {})
    monkeypatch.setattr(prep, "_memo_of", lambda _inputs: {})
    fresh = [_call(inputs(), kind, kw) for kind, kw in CALLS]
    fresh += list(reversed(fresh))
    for got, want in zip(with_memo, fresh):
        _assert_same(got, want)


def test_backtest_is_the_same_with_the_memo(monkeypatch):
    shared = inputs()
    engine.report(shared, D(2024, 12, 31), level="rep")  # leaves a kept preparation behind
    first = backtest(shared, fy=2024, metric="revenue", level="rep")
    monkeypatch.setattr(common, "_memo_of", lambda _inputs: {})
    monkeypatch.setattr(prep, "_memo_of", lambda _inputs: {})
    again = backtest(inputs(), fy=2024, metric="revenue", level="rep")
    pd.testing.assert_frame_equal(first.checks, again.checks, check_exact=True)


def _counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counted(*args, **kw):
        calls.append(args[1:4])
        return real(*args, **kw)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_targets_and_preparations_are_built_once_per_inputs_object(monkeypatch):
    targets = _counting(monkeypatch, common, "_build_targets")
    builds = _counting(monkeypatch, prep, "_build")
    shared = inputs()
    d = D(2025, 5, 14)
    engine.report(shared, d, level="rep")
    engine.report(shared, d, level="rep", period="month")
    engine.chance_details(shared, d, level="rep")
    engine.watchlist(shared, d)
    engine.report(shared, d, level="territory", period="quarter")
    engine.empty_watchlist_message(shared, d)
    assert len(targets) == 1  # one FY, one metric: every level reads the same target matrices
    assert sorted(b[0] for b in builds) == ["org", "region", "rep", "territory"]
    # another FY, metric or day is another build; after the FY's end the day is the FY's end
    engine.report(shared, D(2025, 5, 14), level="rep", metric="profit")
    engine.report(shared, D(2025, 5, 15), level="rep")
    engine.report(shared, D(2025, 12, 31), level="org")
    engine.report(shared, D(2026, 3, 1), fy=2025, level="org")
    assert len(targets) == 2 and len(builds) == 7
    # another inputs object (equal frames) shares nothing
    engine.report(inputs(), d, level="rep")
    assert len(targets) == 3 and len(builds) == 8


def test_the_organisation_open_actions_and_deals_are_read_once_for_every_level(monkeypatch):
    orgs = _counting(monkeypatch, common, "_build_org")
    impacts = _counting(monkeypatch, common, "_open_impact_per_rep")
    deals = _counting(monkeypatch, prep, "prepare_deals")
    shared = inputs()
    d = D(2025, 5, 14)
    watch = engine.watchlist(shared, d)  # prepares all four levels
    assert len(orgs) == len(impacts) == len(deals) == 1
    # each level still has its own rep -> owner map: the same watch list as with nothing kept
    monkeypatch.setattr(common, "_memo_of", lambda _inputs: {})
    monkeypatch.setattr(prep, "_memo_of", lambda _inputs: {})
    pd.testing.assert_frame_equal(watch, engine.watchlist(inputs(), d))
    assert len(orgs) > 4 and len(deals) == 5


def test_kept_arrays_are_read_only():
    shared = inputs()
    kept = prep._prepare(shared, "rep", "revenue", 2025, D(2025, 5, 14))
    assert kept is prep._prepare(shared, "rep", "revenue", 2025, D(2025, 5, 14))
    engine.chance_details(shared, D(2025, 5, 14), level="rep")
    arrays = [kept.s0, kept.tm, kept.first_day, kept.open_impact, kept.owners.start,
              *(a for g in kept.groups for a in (g.runmax, g.bidx, g.wdays, g.fb, g.month_wd)),
              *kept.cache["calendars"].values(), kept.deals.amount, kept.deals.rep,
              *common._targets_all(shared, common._org(shared), 2025, "revenue").values()]
    for array in arrays:
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        kept.s0[0, 0] = 1.0


def test_preparations_beyond_the_budget_are_not_kept(monkeypatch):
    builds = _counting(monkeypatch, prep, "_build")
    shared = inputs()
    one = prep._prep_bytes(prep._prepare(shared, "territory", "revenue", 2025, D(2025, 5, 14)))
    monkeypatch.setattr(prep, "_PREP_BUDGET", one + one // 2)  # room for one territory preparation, not two
    prep._prepare(shared, "territory", "revenue", 2025, D(2025, 5, 14))
    assert len(builds) == 1
    prep._prepare(shared, "territory", "revenue", 2025, D(2025, 5, 15))  # drops the older one
    prep._prepare(shared, "territory", "revenue", 2025, D(2025, 5, 14))
    assert len(builds) == 3
    prep._prepare(shared, "rep", "revenue", 2025, D(2025, 5, 14))  # larger than the budget: not kept
    prep._prepare(shared, "rep", "revenue", 2025, D(2025, 5, 14))
    assert len(builds) == 5
    prep._prepare(shared, "territory", "revenue", 2025, D(2025, 5, 14))  # still kept
    assert len(builds) == 5


def test_the_memo_goes_with_its_inputs_object_and_is_never_handed_to_another():
    first = inputs()
    engine.report(first, D(2025, 5, 14), level="org")
    key = id(first)
    assert common._MEMOS[key][1]
    del first
    gc.collect()
    assert key not in common._MEMOS
    # an entry whose object is gone is never returned for a new object, even at the same id
    other = inputs()
    dead = inputs()
    ref_entry = (common.weakref.ref(dead), {"stale": True})
    del dead
    gc.collect()
    common._MEMOS[id(other)] = ref_entry
    assert common._memo_of(other) == {}
    assert common._MEMOS[id(other)][0]() is other


def test_a_periods_numbers_are_computed_once_for_its_report_chance_details_and_watch_list(monkeypatch):
    """A digest asks for the year's numbers of a level at one date for its report, its chance
    details and its watch list (engine/numbers.py, _computed): one computation, read-only, and a
    caller that writes into its frame changes no later answer."""
    computed = []
    real = prep_numbers._compute

    def counted(p, P, as_of, **kw):
        computed.append((p.level, P.label, as_of))
        return real(p, P, as_of, **kw)

    monkeypatch.setattr(prep_numbers, "_compute", counted)
    shared = inputs()
    d = D(2025, 5, 14)
    first = engine.report(shared, d, level="rep")
    numbers = first.select_dtypes(float).columns
    first.loc[:, numbers] = -1.0  # the caller's own frame
    engine.chance_details(shared, d, level="rep")
    watch = engine.watchlist(shared, d, levels=("rep",))
    again = engine.report(shared, d, level="rep")
    assert computed.count(("rep", "FY2025", d)) == 1
    assert computed.count(("rep", "FY2025", d - dt.timedelta(days=7))) == 1  # the watch list's week before
    kept = prep._prepare(shared, "rep", "revenue", 2025, d).cache["computed"]
    for arrays, _ in kept.values():
        assert not any(array.flags.writeable for array in arrays.values())
    monkeypatch.setattr(common, "_memo_of", lambda _inputs: {})
    monkeypatch.setattr(prep, "_memo_of", lambda _inputs: {})
    _assert_same(again, engine.report(inputs(), d, level="rep"))
    _assert_same(watch, engine.watchlist(inputs(), d, levels=("rep",)))


def test_kept_numbers_beyond_their_budget_are_computed_again(monkeypatch):
    shared = inputs()
    d = D(2025, 5, 14)
    engine.report(shared, d, level="territory", period="quarter")
    kept_prep = prep._prepare(shared, "territory", "revenue", 2025, d)
    kept = kept_prep.cache["computed"]
    assert len(kept) == 4
    one = max(size for _, size in kept.values())
    monkeypatch.setattr(prep_numbers, "_COMPUTED_BUDGET", 2 * one)  # room for two quarters, not four
    # the same preparation at the day before (as the watch list reads the week before)
    quarters = periods(2025, shared.settings.fy_start_month, "quarter")
    prep_numbers._frame(kept_prep, quarters, d - dt.timedelta(days=1))
    assert len(kept) == 2 and sum(size for _, size in kept.values()) <= 2 * one
    assert [key for key in kept] == [(P, d - dt.timedelta(days=1)) for P in quarters[2:]]  # the most recent ones
    monkeypatch.setattr(common, "_memo_of", lambda _inputs: {})
    monkeypatch.setattr(prep, "_memo_of", lambda _inputs: {})
    _assert_same(engine.report(shared, d, level="territory", period="quarter"),
                 engine.report(inputs(), d, level="territory", period="quarter"))


@pytest.mark.parametrize("level,period", [("rep", "year"), ("territory", "month"), ("region", "week")])
def test_frames_built_unchecked_equal_the_public_constructors(monkeypatch, level, period):
    """engine/numbers._new_frame builds a report with pandas' private ``DataFrame._from_arrays``;
    without it (the fallback a pandas lacking it takes) the public constructor must give the same
    frame: columns, dtypes, values and the Python type of every object cell (a pandas whose private
    method changed fails here, not in the numbers)."""
    d = D(2025, 5, 14)
    unchecked = engine.report(inputs(), d, level=level, period=period)
    monkeypatch.delattr(pd.DataFrame, "_from_arrays")
    public = engine.report(inputs(), d, level=level, period=period)
    _assert_same(unchecked, public)
    assert list(unchecked.dtypes) == list(public.dtypes)
    for column in [c for c in unchecked.columns if unchecked[c].dtype.kind == "O"]:
        assert [type(v) for v in unchecked[column]] == [type(v) for v in public[column]], column

"""What a digest run shares between accounts: the organisation's engine inputs read once and cut
per account (salesplan/notify/scope.py) must equal, frame by frame, what the store reads for that
account alone; report and watch-list frames turned into rows (notify.numbers.rows_of) must equal
pandas' own to_dict("records"), value for value and type for type. That the messages built from
them are each account's own view: tests/core/test_digest_mail.py
(test_each_digest_is_what_the_accounts_own_view_computed_alone_says and the alerts of
test_opted_out_accounts_get_neither_digest_nor_alerts)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from salesplan import engine, notify, policy
from salesplan.notify.numbers import rows_of
from salesplan.notify.scope import OrgInputs
from salesplan.principal import SYSTEM, Principal
from tests.helpers.mail import DEMO_ACCOUNTS, DEMO_TODAY, demo_store

D = DEMO_TODAY


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo, only read by the tests (one copy for the module)."""
    store = demo_store(tmp_path_factory.mktemp("scope"))
    try:
        yield store
    finally:
        store.close()


def _principals(store) -> list[Principal]:
    """The demo's five accounts, and a manager and a rep without any account (a rep nobody reports
    to; a manager whose team is only themself) to vary the cut."""
    accounts = [store.principal_for_email(email) for email in DEMO_ACCOUNTS]
    reps = store.reps(SYSTEM)
    lonely = sorted(set(reps["rep_id"]) - set(reps["manager"].dropna()))[-1]
    return accounts + [Principal("m@example.com", "manager", lonely), Principal("r@example.com", "rep", lonely)]


def _assert_same_inputs(cut, own, who: str) -> None:
    for field in dataclasses.fields(own):
        mine, theirs = getattr(cut, field.name), getattr(own, field.name)
        if isinstance(theirs, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, theirs, obj=f"{who}: {field.name}")
        else:
            assert mine == theirs, (who, field.name)


def test_each_accounts_inputs_cut_from_the_organisations_are_the_stores_own_read(demo):
    org = OrgInputs(demo.engine_inputs(SYSTEM))
    assert org.inputs.deals is not None and len(org.inputs.deals), "the demo has open deals to cut"
    for principal in _principals(demo):
        visible = demo.visible_rep_ids(principal)
        cut = org.restricted(visible, read_all=policy.may(principal, "read_all"))
        own = demo.engine_inputs(principal)
        _assert_same_inputs(cut, own, principal.email)
        if visible is None:
            assert cut is org.inputs
        else:
            assert set(cut.daily_actuals["rep_id"]) == set(own.reps["rep_id"]) <= set(visible)
            assert len(cut.daily_actuals) < len(org.inputs.daily_actuals)


def test_with_a_base_currency_the_cut_is_the_stores_own_read_too(tmp_path):
    """With a base currency the store sums the actuals per day in the database (a frame of plain
    text columns, not the categorical lines of a one-currency organisation)."""
    store = demo_store(tmp_path)
    try:
        store.save_settings(SYSTEM, base_currency="EUR")
        org = OrgInputs(store.engine_inputs(SYSTEM))
        assert not isinstance(org.inputs.daily_actuals["rep_id"].dtype, pd.CategoricalDtype)
        for email in ("manager1@demo.test", "rep1@demo.test"):
            principal = store.principal_for_email(email)
            cut = org.restricted(store.visible_rep_ids(principal), read_all=False)
            _assert_same_inputs(cut, store.engine_inputs(principal), email)
    finally:
        store.close()


def test_a_run_reads_the_organisations_inputs_once_and_a_single_account_its_own(demo, monkeypatch):
    reads: list[Principal] = []
    original = type(demo).engine_inputs

    def counted(store, principal):
        reads.append(principal)
        return original(store, principal)

    monkeypatch.setattr(type(demo), "engine_inputs", counted)
    due = notify.build_due(demo, D, kinds=("digest",))  # the digests alone: the alerts read nothing more
    assert {item.key.recipient for item in due} == set(DEMO_ACCOUNTS)  # four sets of visible reps
    assert reads == [SYSTEM]
    reads.clear()
    [alone] = notify.build_due(demo, D, kinds=("digest",), recipients=["rep1@demo.test"])
    assert reads == [demo.principal_for_email("rep1@demo.test")]  # a rep's lines, not the organisation's


def _same(mine, theirs) -> bool:
    if type(mine) is not type(theirs):
        return False
    if theirs is pd.NaT:
        return mine is pd.NaT
    if isinstance(theirs, float) and math.isnan(theirs):
        return math.isnan(mine)
    return bool(mine == theirs)


def _assert_rows(frame: pd.DataFrame) -> None:
    expected = frame.to_dict("records")
    got = rows_of(frame)
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert list(mine) == list(theirs)
        bad = {key: (mine[key], theirs[key]) for key in theirs if not _same(mine[key], theirs[key])}
        assert not bad, bad


def test_rows_of_the_engines_frames_are_pandas_records_value_for_value(demo):
    inputs = demo.engine_inputs(SYSTEM)
    frames = [engine.report(inputs, D, level=level, period=period)
              for level in engine.LEVELS for period in ("year", "month")]
    frames += [engine.watchlist(inputs, D), engine.watchlist(inputs, dt.date(2026, 1, 5)),  # empty: the grace share
               engine.chance_details(inputs, D, level="rep", period="month")]
    assert any(frame["working_days_to_act"].isna().any() for frame in frames[:8])  # Int64 with NA
    assert len(frames[-3]) and not len(frames[-2])
    for frame in frames:
        _assert_rows(frame)


def test_rows_of_any_frame_are_pandas_records():
    frame = pd.DataFrame({
        "n": pd.array([1, None, 3], dtype="Int64"), "x": [1.5, np.nan, -0.0], "i": np.array([1, 2, 3], dtype=np.int64),
        "b": [True, False, True], "nb": pd.array([True, None, False], dtype="boolean"),
        "o": np.array([None, "passed", dt.date(2026, 3, 2)], dtype=object),
        "boxed": np.array([np.float64(2.5), np.int64(7), pd.NA], dtype=object),
    })
    _assert_rows(frame)
    _assert_rows(frame.iloc[:0])
    # text of pandas' string dtypes (missing as NA or as NaN), and dates, which go the pandas way
    _assert_rows(frame.assign(when=pd.to_datetime(["2026-03-02", None, "2026-03-04"]), s=pd.array(["a", None, "c"]),
                              t=pd.Series(["a", None, "c"], dtype="str")))

"""The engine inputs the dashboard shares (salesplan/ui/data.py ``_inputs``): one object per database
version and principal, handed to every cached read so that the engine's memo of it carries across
them, and therefore never changed by anything, page or engine."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import pytest

from salesplan import engine
from salesplan.ui import data
from tests.helpers.pages import app, cache_name, fresh_db, goto

ACCOUNTS = {"admin": "admin@demo.test", "manager": "manager1@demo.test"}


@pytest.fixture(scope="module")
def db(read_only_demo):  # tests/pages/conftest.py: the tests that write take a copy of their own
    return read_only_demo


def shared(db, email):
    """The object the app's cached reads got, and what the store reads now, for ``email``."""
    the_store = data._open_store(str(db))
    principal = the_store.principal_for_email(email)
    version = the_store.data_version()
    # kept under the name the app's runs used (tests/helpers/pages.py: the demo's untouched copies share one)
    name = cache_name(db, version)
    assert data._SHARED.get((name, data.sight(principal)), (None,))[0] == version, "the pages' runs kept no object"
    return data._inputs(the_store, name, version, data.sight(principal), principal), the_store.engine_inputs(principal)


def frames(inputs):
    return {f.name: getattr(inputs, f.name) for f in fields(inputs) if isinstance(getattr(inputs, f.name), pd.DataFrame)}


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_every_page_leaves_the_shared_inputs_as_the_store_has_them(monkeypatch, db, role):
    at = app(monkeypatch, db, user=ACCOUNTS[role])  # My plan
    at.segmented_control(key="metric").set_value("profit").run()
    at.session_state["plan_tabs"] = "Targets"  # the Plan page's targets editor runs only when its tab is open
    for page in ("plan", "watchlist", "trust", "upload", "admin", "team"):
        goto(at, page)
    if role == "admin":  # the team page's other grains and levels
        at.segmented_control(key="team_grain").set_value("week")  # both choices in one run
        at.segmented_control(key="team_level").set_value("territory").run()
    kept, now = shared(db, ACCOUNTS[role])
    assert kept is shared(db, ACCOUNTS[role])[0], "one object per version and sight (what the principal may see), not a copy per read"
    kept_frames, store_frames = frames(kept), frames(now)
    assert kept_frames.keys() == store_frames.keys() and "daily_actuals" in kept_frames
    for name, frame in kept_frames.items():
        pd.testing.assert_frame_equal(frame, store_frames[name], obj=name)


def test_the_shared_inputs_refuse_a_write_in_place(monkeypatch, db):
    app(monkeypatch, db, page="team")
    kept, now = shared(db, ACCOUNTS["admin"])
    # a number, a category and a date column (pandas words the refused date as a failed cast)
    writes = [(kept.daily_actuals, "revenue", 1.0), (kept.daily_actuals, "rep_id", kept.daily_actuals["rep_id"].iloc[-1]),
              (kept.targets, "amount", 1.0), (kept.reps, "start_date", kept.reps["start_date"].iloc[-1])]
    for frame, column, value in writes:
        with pytest.raises(ValueError):
            frame.loc[frame.index[0], column] = value
    for name, frame in frames(kept).items():
        pd.testing.assert_frame_equal(frame, frames(now)[name], obj=name)


def test_admins_and_leaders_share_the_engines_numbers_and_a_manager_gets_their_own(monkeypatch, db):
    """The engine's cached reads are kept per what the principal may see (data.sight): a leader
    sees everyone's numbers as an admin does, so the leader's My plan computes nothing that an
    admin's opened before it; a manager's team is another set of numbers (that the manager sees
    only their team's is tests/pages/test_role_matrix.py)."""
    app(monkeypatch, db)  # the admin's My plan
    calls: list[str] = []
    real = engine.report

    def counted(*args, **kwargs):
        calls.append("report")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "report", counted)
    app(monkeypatch, db, user="leader@demo.test")
    assert calls == [], "the leader's My plan computed again what the admin's had"
    the_store = data._open_store(str(db))
    leader, manager = (the_store.principal_for_email(e) for e in ("leader@demo.test", ACCOUNTS["manager"]))
    assert data.sight(leader) == data.sight(the_store.principal_for_email(ACCOUNTS["admin"])) != data.sight(manager)


def test_only_the_newest_version_is_kept(tmp_path, monkeypatch):
    """An older data version's object (with the matrices the engine keeps with it) is dropped as
    soon as a newer version is read; a lower version read later (a restore puts the backup's
    version back) replaces it, so that the object from before never comes back when the number
    comes round again; at most _SHARED_MAX sights are kept."""
    db = str(fresh_db(tmp_path))
    the_store = data._open_store(db)
    admin = the_store.principal_for_email(ACCOUNTS["admin"])
    version = the_store.data_version()
    old = data._inputs(the_store, db, version, data.sight(admin), admin)
    new = data._inputs(the_store, db, version + 1, data.sight(admin), admin)  # as after a write
    assert new is not old and data._inputs(the_store, db, version + 1, data.sight(admin), admin) is new
    assert not any(kept is old for _, kept in data._SHARED.values())
    late = data._inputs(the_store, db, version, data.sight(admin), admin)  # after a restore, or a run begun before the write
    assert late is not new and data._SHARED[(db, data.sight(admin))] == (version, late)
    assert data._inputs(the_store, db, version + 1, data.sight(admin), admin) is not new
    monkeypatch.setattr(data, "_SHARED_MAX", 2)
    for n in range(3):
        data._inputs(the_store, db, version, ("none", str(n)), admin)
    assert len(data._SHARED) == 2 and (db, ("none", "2")) in data._SHARED

"""The store and the cached reads of the dashboard.

One :class:`~salesplan.store.Store` per process and database file (:func:`store`). Caching is on
these loaders only: each cached read is keyed by the database file and ``store.data_version()``, so
any write (an upload, an undo, a target change) invalidates them at once. The engine's numbers
(report, watch list, chances, backtest, ...) are keyed by the version of what they depend on: a
write of a plan that leaves them as they were (:func:`plan_write`) keeps them.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import fields
from datetime import date
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from salesplan import backtest as backtest_module
from salesplan import engine, pipeline_view, plan_view, policy, upload_flow
from salesplan.calendar import fiscal_year_bounds, fiscal_year_of
from salesplan.errors import DatabaseLocked, SalesplanError
from salesplan.files import UploadLimits
from salesplan.inputs import EngineInputs
from salesplan.principal import Principal
from salesplan.store import OPEN_ACTION_STATUSES, Store, resolve_db_path
from salesplan.ui.formatting import md

T = TypeVar("T")


def today() -> date:
    """The default as-of date: today, or ``$SALESPLAN_TODAY`` (ISO) to pin demos and tests."""
    pinned = os.environ.get("SALESPLAN_TODAY")
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            pass
    return date.today()


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> Store:
    return Store.open(path)


_STORE_KEY = "_salesplan_store"


def store() -> Store:
    """The process-wide store of the database named by $SALESPLAN_DB (else data/salesplan.duckdb).

    A page run asks for it ~80 times (every cached read, every money label's currency through the
    settings); the run keeps the one it got (:func:`start_run` forgets it), so that only the first
    call goes through ``st.cache_resource``, which hashes its argument and inspects the function's
    signature at every call (~2 ms each, a tenth of a cached run of My plan)."""
    path = str(resolve_db_path())
    memo = st.session_state.get(_STORE_KEY)
    if memo is not None and memo[0] == path:
        return memo[1]
    try:
        the_store = _open_store(path)
    except DatabaseLocked as error:
        st.error(md(error))
        st.stop()
        raise AssertionError("unreachable") from error
    except SalesplanError as error:
        st.error(f"The database cannot be opened: {md(error)}")
        st.stop()
        raise AssertionError("unreachable") from error
    st.session_state[_STORE_KEY] = (path, the_store)
    return the_store


_VERSION_KEY = "_salesplan_data_version"
# session state: the signed-in principal of this run (salesplan.ui.auth.current_principal), mapped
# from the account once per run
PRINCIPAL_KEY = "_salesplan_principal"
# a backstop for a run that did not start through app.py (start_run): the version is read again
# after this long even without a write of this process
_VERSION_MAX_AGE_SECONDS = 2.0


def start_run() -> None:
    """Begin a script run (app.py calls it first): the data version is read once per run.

    A page run asks for it dozens of times (every cached read and every money label's currency);
    reading it once per run, and again after a write of this process, is one query instead of
    ~80. A write by another process shows at the next run. Raises nothing.
    """
    st.session_state.pop(_VERSION_KEY, None)
    st.session_state.pop(_STORE_KEY, None)
    st.session_state.pop(PRINCIPAL_KEY, None)


def _key() -> tuple[Store, str, int]:
    the_store = store()
    stamp = (the_store.path, the_store.writes_made)
    memo = st.session_state.get(_VERSION_KEY)
    now = time.monotonic()
    if memo is None or memo[0] != stamp or now - memo[1] > _VERSION_MAX_AGE_SECONDS:
        memo = (stamp, now, the_store.data_version())
        st.session_state[_VERSION_KEY] = memo
    return the_store, the_store.path, memo[2]


# The data versions whose engine numbers are those of an earlier version: a write of this process
# that changed nothing the engine reads (:func:`plan_write`) maps the version it made to the one
# before it (or to that one's own earlier version). Per database; the oldest entries are dropped
# past _SAME_NUMBERS_MAX (a dropped entry costs one recomputation, never a wrong number).
_SAME_NUMBERS_MAX = 4096
_SAME_NUMBERS: OrderedDict[tuple[str, int], int] = OrderedDict()
_SAME_NUMBERS_LOCK = threading.Lock()


def _numbers_key() -> tuple[Store, str, int]:
    """:func:`_key` for the engine's cached reads: the version is that of the numbers, the oldest
    data version whose engine inputs are the same (see :func:`plan_write`)."""
    the_store, db, version = _key()
    with _SAME_NUMBERS_LOCK:
        return the_store, db, _SAME_NUMBERS.get((str(the_store.path), version), version)


def _open_impacts(plan: Any) -> list[float] | None:
    """What the engine reads of a plan (salesplan/storage/reads.py, ``open_actions``): the
    expected impact of each open action, sorted, zeros left out (they add nothing to the sum).
    None when a value is too large for its double to stand for one decimal alone, so that equal
    lists always mean equal sums in the database."""
    actions = plan["actions"]
    impacts = actions.loc[actions["status"].isin(OPEN_ACTION_STATUSES), "expected_impact"].astype(float)
    if not np.isfinite(impacts).all() or (impacts.abs() >= 1e11).any():
        return None
    return sorted(float(x) for x in impacts if x != 0)


def _plan_impacts(principal: Principal, rep_id: str, fy: int) -> list[float] | None:
    try:
        return _open_impacts(read(principal, "plan", rep_id, fy))
    except SalesplanError:  # not for this principal to read: the write decides, the numbers are not kept
        return None


def plan_write(principal: Principal, rep_id: str, fy: int, write: Callable[[], T]) -> T:
    """Run ``write``, a write of the FY ``fy`` plan of ``rep_id`` (its header, obstacles,
    actions or check-ins, and nothing else), and keep the engine's cached numbers when it did not
    change them: the engine reads of a plan only the sum of its open actions' expected impact
    (action coverage), so a summary, status, obstacle or check-in never changes a number, nor does
    an action change that leaves the open actions' impacts as they were (a new description, owner
    or due date; a new action without impact). Other reads (the plan itself) see the write at
    once, as after any write. Returns what ``write`` returns; raises what it raises (nothing is
    kept then).

    The numbers are kept only when this write is the only one between the version the run read
    the plan at and the version after it (another process's write in between may have changed
    anything): each write raises the data version by exactly one."""
    the_store, _, version = _key()
    before_version = the_store.data_version()
    before = _plan_impacts(principal, rep_id, fy) if before_version == version else None
    result = write()
    if before is not None and the_store.data_version() == before_version + 1:
        after = _plan_impacts(principal, rep_id, fy)  # a cached read, the next run's
        # read at that version: versions only grow, so the same version after the read means no
        # other write came in between (its plan might have undone this write's change)
        if after is not None and after == before and the_store.data_version() == before_version + 1:
            path = str(the_store.path)
            with _SAME_NUMBERS_LOCK:
                _SAME_NUMBERS[(path, before_version + 1)] = _SAME_NUMBERS.get((path, before_version), before_version)
                while len(_SAME_NUMBERS) > _SAME_NUMBERS_MAX:
                    _SAME_NUMBERS.popitem(last=False)
    return result


def sight(principal: Principal) -> tuple[str, ...]:
    """What ``principal`` may see, as the key of the cached engine reads below: everyone's data for
    admins and leaders (policy.read_scope "all"), a manager's team or a rep's own data by their
    rep_id. The engine's inputs are the store's reads scoped by exactly that
    (``Store.engine_inputs``), so every admin and leader shares one entry of each, instead of one
    per account. The store's other reads (:func:`read`) stay keyed by the principal itself: some
    refuse a role (the audit log) or depend on it (batches). Raises nothing."""
    scope = policy.read_scope(principal)
    if scope in ("all", "none"):
        return (scope,)
    return (scope, principal.role, str(principal.rep_id))


# One shared EngineInputs object per database and sight, of the newest data version read (not an
# unpickled copy per call, as st.cache_data would hand out): the engine keeps what it derives
# from an inputs object (the targets and the day matrices, salesplan/engine/common.py) with that
# object, so every report, chance and backtest of a version reuses them instead of building them
# again for each cached read that misses. An older version's object is dropped as soon as a newer
# one is read (no run asks for it again, and with its matrices it can hold hundreds of MB), and
# at most _SHARED_MAX sights are kept, the least recently used dropped first. Shared by every
# session and thread, the object must never change: its frames' arrays are made read-only (an
# in-place write raises), and nothing here hands it to a page (tests/pages/test_shared_inputs.py
# runs every page and compares it with the store's frames afterwards).
_SHARED_MAX = 16
_SHARED: OrderedDict[tuple[str, tuple], tuple[int, EngineInputs]] = OrderedDict()
_SHARED_LOCK = threading.Lock()


def _inputs(the_store: Store, db: str, version: int, sight: tuple, principal: Principal) -> EngineInputs:
    key = (db, sight)
    with _SHARED_LOCK:
        kept = _SHARED.get(key)
        if kept is not None and kept[0] == version:
            _SHARED.move_to_end(key)
            return kept[1]
    inputs = _read_only(the_store.engine_inputs(principal))  # outside the lock: other sights go on
    with _SHARED_LOCK:
        kept = _SHARED.get(key)
        # any other version is replaced, a lower one too: after a restore the version can go down,
        # and an object kept from before it must not be handed out when the number comes round
        # again (a run still on an older version may replace a newer object: that costs a read)
        if kept is None or kept[0] != version:
            _SHARED[key] = (version, inputs)
            _SHARED.move_to_end(key)
            while len(_SHARED) > _SHARED_MAX:
                _SHARED.popitem(last=False)
        elif kept[0] == version:  # another thread read the same version meanwhile: share its object
            return kept[1]
    return inputs


def _read_only(inputs: EngineInputs) -> EngineInputs:
    """``inputs`` with the arrays behind every frame made read-only (the same object)."""
    for field in fields(inputs):
        frame = getattr(inputs, field.name)
        if not isinstance(frame, pd.DataFrame):
            continue
        for block in frame._mgr.blocks:
            values = block.values
            # numpy columns, and the numpy arrays behind datetime, categorical and masked columns.
            # Not frozen: Arrow-backed string columns (pandas writes them by replacing the array)
            # and a frame's structure (adding or replacing a column): nothing in the dashboard
            # writes into the inputs, which tests/pages/test_shared_inputs.py checks page by page
            for array in (values, *(getattr(values, name, None) for name in ("_ndarray", "_data", "_mask"))):
                if isinstance(array, np.ndarray):
                    array.flags.writeable = False
    return inputs


# The cached loaders below are called with keyword arguments only: for each positional argument
# st.cache_data looks up the parameter's name (an inspect.signature of the function, to skip the
# "_" ones from the key) at every call, a third of the cost of a cache hit; keywords carry their names.
@st.cache_data(show_spinner=False, max_entries=128)
def _report(_store: Store, db: str, version: int, sight: tuple, _principal: Principal, as_of: date, fy: int | None,
            level: str, metric: str, period: str) -> pd.DataFrame:
    inputs = _inputs(_store, db, version, sight, _principal)
    return engine.report(inputs, as_of, fy=fy, level=level, metric=metric, period=period)


@st.cache_data(show_spinner=False, max_entries=64)
def _watchlist(_store: Store, db: str, version: int, sight: tuple, _principal: Principal, as_of: date, metric: str) -> pd.DataFrame:
    return engine.watchlist(_inputs(_store, db, version, sight, _principal), as_of, metric=metric)


@st.cache_data(show_spinner=False, max_entries=32)
def _allocation(_store: Store, db: str, version: int, sight: tuple, _principal: Principal, fy: int, metric: str) -> pd.DataFrame:
    return engine.allocation(_inputs(_store, db, version, sight, _principal), fy, metric)


@st.cache_data(show_spinner=False, max_entries=64)
def _chance_details(_store: Store, db: str, version: int, sight: tuple, _principal: Principal, as_of: date, fy: int, level: str,
                    metric: str, period: str) -> pd.DataFrame:
    return engine.chance_details(_inputs(_store, db, version, sight, _principal), as_of, fy=fy, level=level, metric=metric,
                                 period=period)


@st.cache_data(show_spinner=False, max_entries=8)
def _backtest(_store: Store, db: str, version: int, sight: tuple, _principal: Principal, fy: int | None, metric: str,
              level: str) -> backtest_module.BacktestResult:
    return backtest_module.backtest(_inputs(_store, db, version, sight, _principal), fy=fy, metric=metric, level=level)


@st.cache_data(show_spinner=False, max_entries=32)
def _pipeline_trend(_store: Store, db: str, version: int, sight: tuple, _principal: Principal, owner_type: str, owner_id: str,
                    rep_ids: tuple[str, ...] | None, fy: int, as_of: date, metric: str) -> pd.DataFrame:
    inputs = _inputs(_store, db, version, sight, _principal)
    fy_start, _ = fiscal_year_bounds(fy, inputs.settings.fy_start_month)
    dates = pipeline_view.snapshot_dates(_store.deal_snapshots(_principal), rep_ids, fy_start, as_of)
    return pipeline_view.trend(inputs, dates, owner_type, owner_id, fy=fy, metric=metric)


@st.cache_data(show_spinner=False, max_entries=256)
def _read(_store: Store, db: str, version: int, principal: Principal, method: str, args: tuple) -> Any:
    return getattr(_store, method)(principal, *args)


@st.cache_data(show_spinner=False, max_entries=16)
def _settings(_store: Store, db: str, version: int) -> Any:
    return _store.settings()


def report(principal: Principal, as_of: date, *, fy: int | None = None, level: str = "rep",
           metric: str = "revenue", period: str = "year") -> pd.DataFrame:
    """engine.report for what the principal may see (cached until the next write)."""
    # the FY the engine would pick, so that fy=None and the explicit year share one cache entry
    fy = fiscal_year_of(as_of, settings().fy_start_month) if fy is None else int(fy)
    the_store, db, version = _numbers_key()
    return _report(_store=the_store, db=db, version=version, sight=sight(principal), _principal=principal, as_of=as_of,
                   fy=fy, level=level, metric=metric, period=period)


def watchlist(principal: Principal, as_of: date, *, metric: str = "revenue") -> pd.DataFrame:
    the_store, db, version = _numbers_key()
    return _watchlist(_store=the_store, db=db, version=version, sight=sight(principal), _principal=principal,
                      as_of=as_of, metric=metric)


def year_curve(principal: Principal, owner_type: str, owner_id: str, fy: int, metric: str) -> pd.DataFrame:
    """The owner's burn-up at every Sunday of the whole FY (plan_view.year_curve): expected_to_date
    is the cumulative target with its seasonality; actual_to_date is meaningful up to the as-of
    date. Built from the level's week report at the FY's last day (cached), which every owner of
    the level shares."""
    fy_end = fiscal_year_bounds(fy, settings().fy_start_month)[1]
    the_store, db, version = _numbers_key()
    return _year_curve(_store=the_store, db=db, version=version, sight=sight(principal), _principal=principal,
                       fy_end=fy_end, fy=fy, owner_type=owner_type, owner_id=owner_id, metric=metric)


# Cached per owner: the level's week report is cached too, but each call of it hands out a copy of
# the whole report (~530,000 rows at 10,000 reps) where a burn-up needs one owner's 52 rows.
@st.cache_data(show_spinner=False, max_entries=64)
def _year_curve(_store: Store, db: str, version: int, sight: tuple, _principal: Principal, fy_end: date, fy: int,
                owner_type: str, owner_id: str, metric: str) -> pd.DataFrame:
    weeks = _report(_store=_store, db=db, version=version, sight=sight, _principal=_principal, as_of=fy_end, fy=fy,
                    level=owner_type, metric=metric, period="week")
    return plan_view.year_curve(weeks, owner_id)


def allocation(principal: Principal, fy: int, metric: str) -> pd.DataFrame:
    the_store, db, version = _numbers_key()
    return _allocation(_store=the_store, db=db, version=version, sight=sight(principal), _principal=principal, fy=fy,
                       metric=metric)


def chance_details(principal: Principal, as_of: date, *, level: str = "rep", metric: str = "revenue",
                   period: str = "year") -> pd.DataFrame:
    """engine.chance_details ("see the math" of chance_to_reach) for the FY of ``as_of`` (cached)."""
    the_store, db, version = _numbers_key()
    return _chance_details(_store=the_store, db=db, version=version, sight=sight(principal), _principal=principal,
                           as_of=as_of, fy=fy_of(as_of), level=level, metric=metric, period=period)


def backtest(principal: Principal, *, fy: int | None = None, metric: str = "revenue",
             level: str = "rep") -> backtest_module.BacktestResult:
    """salesplan.backtest over what the principal may see, cached until the next write (it replays
    every past fiscal year week by week). Raises BadInput as the backtest does."""
    the_store, db, version = _numbers_key()
    return _backtest(_store=the_store, db=db, version=version, sight=sight(principal), _principal=principal, fy=fy,
                     metric=metric, level=level)


def pipeline_trend(principal: Principal, owner_type: str, owner_id: str, as_of: date, *, metric: str = "revenue",
                   rep_ids: list[str] | None = None) -> pd.DataFrame:
    """The owner's full-year pipeline at each deal snapshot of the FY up to ``as_of`` that covered
    ``rep_ids`` (None: any rep), from :func:`salesplan.pipeline_view.trend` (cached)."""
    the_store, db, version = _numbers_key()
    reps = None if rep_ids is None else tuple(sorted(rep_ids))
    return _pipeline_trend(_store=the_store, db=db, version=version, sight=sight(principal), _principal=principal,
                           owner_type=owner_type, owner_id=owner_id, rep_ids=reps, fy=fy_of(as_of), as_of=as_of,
                           metric=metric)


def read(principal: Principal, method: str, *args: Any) -> Any:
    """A cached ``store.<method>(principal, *args)`` (reps, batches, plan, targets, ...)."""
    the_store, db, version = _key()
    return _read(_store=the_store, db=db, version=version, principal=principal, method=method, args=args)


_SETTINGS_KEY = "_salesplan_settings"


def settings() -> Any:
    """The store's settings (a frozen Settings), cached until the next write.

    A page run asks for them ~70 times (every money label asks for the base currency); the
    session keeps the object of the current data version, so that only the first call of a
    version goes through the cached read (which hashes its key and unpickles a copy each time).
    """
    the_store, db, version = _key()
    memo = st.session_state.get(_SETTINGS_KEY)
    if memo is None or memo[0] != (db, version):
        memo = ((db, version), _settings(the_store, db, version))
        st.session_state[_SETTINGS_KEY] = memo
    return memo[1]


def fy_of(as_of: date) -> int:
    return fiscal_year_of(as_of, settings().fy_start_month)




@st.cache_data(show_spinner=False, max_entries=8)
def _preview(kind: str, data: bytes, file_name: str, column_map: tuple[tuple[str, str], ...],
             limit_mb: int, date_format: str | None, decimal: str | None = None) -> upload_flow.Preview:
    return upload_flow.preview(kind, data, file_name, dict(column_map) or None,
                               limits=UploadLimits.for_upload_limit(limit_mb), date_format=date_format,
                               decimal=decimal)


def preview(kind: str, data: bytes, file_name: str, column_map: dict[str, str] | None, *,
            date_format: str | None = None, decimal: str | None = None) -> upload_flow.Preview:
    """upload_flow.preview, cached per file, column map, date format and decimal separator (raises
    BadInput for an unreadable file)."""
    return _preview(kind, data, file_name, tuple(sorted((column_map or {}).items())), settings().upload_limit_mb,
                    date_format, decimal)


def prior_year_actuals(principal: Principal, owner_type: str, owner_id: str, fy: int, metric: str) -> dict[date, float]:
    """The owner's actual of each month of FY ``fy - 1`` (for the 'shape of last year' distribution)."""
    prior_end = fiscal_year_bounds(fy - 1, settings().fy_start_month)[1]
    level = "rep" if owner_type == "rep" else "territory"
    months = report(principal, prior_end, fy=fy - 1, level=level, metric=metric, period="month")
    months = months[months["owner_id"] == owner_id]
    return dict(zip(months["period_start"], months["actual_to_date"].fillna(0.0).astype(float)))

"""Shared helpers of the dashboard tests (AppTest) and the browser journeys: one demo database per
test run (tests/helpers/demo.py), copied for each test that writes, and an AppTest pointed at it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest, app_test, local_script_runner

from salesplan import engine, ui
from salesplan.ui import data as ui_data
from salesplan.principal import Principal
from salesplan.store import Store
from tests.helpers import demo

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
DEMO_TODAY = date(2026, 11, 26)
ADMIN = Principal("admin@local", "admin")
ADMIN_EMAIL = "admin@demo.test"  # the demo's accounts (password "demo"): see docs/index.md
# st.login settings pointing at no provider (the sign-in tests set at.user themselves)
OIDC_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "salesplan",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
}


def demo_template(reps: int = 12) -> Path:
    """The demo database (``reps`` reps, seed 3, today 2026-11-26), built once per test run; not
    to be written to (tests get copies from :func:`fresh_db`)."""
    return demo.demo_template(reps, 3, DEMO_TODAY)


def fresh_db(folder: Path, reps: int = 12) -> Path:
    """A private copy of the demo database, for a test that writes. Until the test writes to it,
    the dashboard's cached reads of the copy are those of every other untouched copy of the same
    demo (see :func:`_demo_key`)."""
    return copy_of(demo_template(reps), folder)


def copy_of(template: Path, folder: Path) -> Path:
    """A private copy of the closed database file ``template`` as ``folder / "app.duckdb"``, for a
    test that writes: the demo (:func:`fresh_db`), or a module's own starting state built once
    from a copy of it (a plan, an import) and not written to after. Until the test writes to the
    copy, the dashboard's cached reads of it are those of every other untouched copy of the same
    template (see :func:`_demo_key`)."""
    path = folder / "app.duckdb"
    shutil.copyfile(template, path)
    name = str(template)
    if name not in _TEMPLATE_VERSIONS:
        probe = folder / "version-probe.duckdb"
        shutil.copyfile(template, probe)
        store = open_store(probe)
        try:
            _TEMPLATE_VERSIONS[name] = store.data_version()
        finally:
            store.close()
        probe.unlink()
    _UNTOUCHED[os.path.realpath(path)] = (f"untouched copy of {name}", _TEMPLATE_VERSIONS[name], _file_state(path))
    return path


def demo_with(folder: Path, build: Callable[[Store], T]) -> tuple[Path, T]:
    """A module's own starting state: the demo copied into ``folder`` with ``build(store)`` done
    on it and the store closed (no write-ahead log left), and what ``build`` returned. Built once,
    it is copied for each test with :func:`copy_of`: its copies' first runs share the dashboard's
    cached reads, and the build's writes are not made again for every test."""
    path = demo.demo_copy(folder, reps=12, seed=3, today=DEMO_TODAY, name="template.duckdb")
    store = open_store(path)
    try:
        made = build(store)
    finally:
        store.close()
    assert not os.path.exists(f"{path}.wal"), "the template is complete in its file"
    return path, made


def _file_state(path: str | Path) -> tuple[int, int, bool]:
    """The file's modification time and size, and whether it has a write-ahead log (DuckDB's
    committed writes not yet checkpointed into the file)."""
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size, os.path.exists(f"{path}.wal")


# the data version of each demo template, and each copy made by fresh_db: (the key its cached
# reads share while untouched, the version it was copied at)
_TEMPLATE_VERSIONS: dict[str, int] = {}
_UNTOUCHED: dict[str, tuple[str, int, tuple[int, int, bool]]] = {}
_REAL_PATHS: dict[str, str] = {}
_STORE_KEY = ui_data._key


def _demo_key() -> tuple[Store, str, int]:
    """``salesplan.ui.data._key`` for the page tests: the same store and data version, but one
    database name for every untouched copy of a demo.

    The dashboard keys its cached reads by the database file and its data version, which every
    write raises. Each test that writes gets its own copy of the demo (:func:`fresh_db`), so the
    first run of each such test missed every cached read and read the engine's inputs, computed
    the report, the burn-up's week report, chances and backtest again (0.2-1 s of CPU per test),
    for a file byte for byte the same as the one the previous test started from. A copy at the
    version it was made at is still that file, so its runs share the cached reads of the other
    untouched copies; from its first write on it has its own. Everything else (the store itself,
    every uncached read, every write) is the copy's.

    Untouched means both: the data version the copy was made at (a write of another connection
    or process raises it too), and the file as it was copied, without a write-ahead log (a write
    that leaves the version alone, such as an account change with its audit line, still changes
    the file), so that no read could differ from the other copies'.
    """
    the_store, path, version = _STORE_KEY()
    return the_store, cache_name(path, version), version


def cache_name(db: str | Path, version: int) -> str:
    """The database name that the page tests' cached reads of ``db`` at data version ``version``
    are kept under (:func:`_demo_key`): the name shared by the untouched copies of its demo, else
    ``db`` itself."""
    path = str(db)
    real = _REAL_PATHS.get(path)
    if real is None:
        real = _REAL_PATHS[path] = os.path.realpath(path)
    untouched = _UNTOUCHED.get(real)
    if untouched is not None and untouched[1] == version and _file_state(real) == untouched[2]:
        return untouched[0]
    return path


def app(monkeypatch, db: Path, *, page: str | None = None, user: str | None = ADMIN_EMAIL,
        secrets: dict | None = None, oidc_user: dict | None = None, rep: str | None = None,
        state: dict | None = None) -> AppTest:
    """An AppTest of app.py on ``db`` with the as-of date pinned to the demo's today, already run,
    signed in as ``user`` (an account of ``db``; None: signed out), on the page ``page`` (a file
    name of pages/ without .py) or else the role's first page. The session is started the way the
    sign-in form leaves it (tests/pages/test_auth_ui.py drives the form itself). ``secrets`` and
    ``oidc_user`` set ``at.secrets`` and ``at.user`` (sign-in through ``st.login``).

    The first run opens ``page`` by its address, as a browser opening ``/plan`` does, rather than
    the first page followed by a switch: that saves a whole run of the first page. Before the
    first run AppTest knows a page only by its file name, which is the address app.py registers
    it under (``st.Page(path)`` of salesplan/ui/navigation.py, no ``url_path``). ``rep`` opens it
    on that rep, as a drill-down's address (``?rep=R004``) does, instead of a run on the page's
    default rep followed by a pick in the rep picker. ``state`` is session state set before the
    first run: ``{"plan_tabs": "Targets"}`` opens the Plan page on its targets editor (a lazy tab,
    which runs only when open) without a run on the action plan first."""
    monkeypatch.setenv("SALESPLAN_DB", str(db))
    monkeypatch.setenv("SALESPLAN_TODAY", DEMO_TODAY.isoformat())
    like_a_server(monkeypatch)
    monkeypatch.setattr(ui_data, "_key", _demo_key)
    at = AppTest.from_file(str(APP), default_timeout=60)
    if getattr(at, "_bidi_component_manager", False) is None:
        at._bidi_component_manager = _components()
    if user is not None:
        at.session_state[ui.SIGNED_IN_KEY] = user
    if secrets is not None:
        at.secrets = secrets
    if oidc_user is not None:
        at.user = oidc_user
    if rep is not None:
        at.query_params["rep"] = rep
    for name, value in (state or {}).items():
        at.session_state[name] = value
    if page:
        at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@contextmanager
def shared_app(db: Path, **kwargs) -> Iterator[AppTest]:
    """:func:`app` for a module-scoped fixture (with its own monkeypatch, undone at the end): the
    tests that only read its page share one AppTest, and its run."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        yield app(monkeypatch, db, **kwargs)
    finally:
        monkeypatch.undo()


def like_a_server(monkeypatch) -> None:
    """Run every AppTest run through app.py, and compile each script once, as a server does.

    A server keeps the compiled scripts (app.py, the pages) for the life of the process; AppTest
    makes a new ``ScriptCache`` for every run, so that each run parsed, rewrote ("magic") and
    compiled app.py and the page again: a tenth of the page tests' CPU. The scripts do not change
    during a test run, so one cache serves every AppTest of the process.

    Streamlit treats an entry script with a ``pages/`` folder beside it as a legacy multipage app
    until ``st.navigation`` runs once in the process; a server then stays in navigation mode, but
    AppTest resets that mode before each run, so its later runs would execute the page file
    without app.py (no sign-in, no menu by role). ``ui.page`` sends such a run back through
    app.py, losing the clicks of that run; this keeps AppTest in navigation mode instead."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
    monkeypatch.setattr(app_test, "ScriptCache", lambda: _SCRIPTS)  # the pages, through PagesManager
    monkeypatch.setattr(local_script_runner, "ScriptCache", lambda: _SCRIPTS)  # app.py, through the runner
    monkeypatch.setattr(local_script_runner, "require_widgets_deltas", _wait_for_run)


def _wait_for_run(runner: local_script_runner.LocalScriptRunner, timeout: float = 3) -> None:
    """AppTest's wait for the end of a run, without its polling.

    Streamlit's ``require_widgets_deltas`` wakes every millisecond while the script runs and each
    time scans every event of the run (one per element sent) for the end: the test's thread takes
    the GIL from the script's ~1,000 times a second, and the scans grow with the page. The run has
    ended when the script's thread has (it sends SHUTDOWN just before it returns, and AppTest joins
    the thread right after this wait anyway): waiting for the thread is the same wait. On a timeout
    it does what Streamlit's does: stops the run and raises the same error."""
    thread = runner._script_thread
    if thread is not None:
        thread.join(timeout)
    if runner.script_stopped():
        return
    runner.request_stop()
    runner.join()
    raise RuntimeError(f"AppTest script run timed out after {timeout}(s)")


_SCRIPTS = ScriptCache()
_COMPONENTS: list[BidiComponentManager] = []


def _components() -> BidiComponentManager:
    """The custom components installed, found once per process. AppTest otherwise scans the
    metadata of every installed distribution for them at the first run of each AppTest (~0.15 s
    of CPU each); the installed packages do not change during a test run."""
    if not _COMPONENTS:
        manager = BidiComponentManager()
        manager.discover_and_register_components(start_file_watching=False)
        _COMPONENTS.append(manager)
    return _COMPONENTS[0]


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def add_admin(db: Path, email: str = ADMIN_EMAIL, password: str = "demo") -> None:
    """Give a database without accounts (not made by the demo) its first admin."""
    with Store.open(db) as store:
        store.add_user(ADMIN, email, "admin", password=password)


def open_store(db: Path) -> Store:
    """A second connection to the app's database (same process, same DuckDB instance)."""
    return Store.open(db, migrate=False)


def engine_inputs(db: Path):
    """The demo database's EngineInputs as the admin sees them (the store is closed again)."""
    store = open_store(db)
    try:
        return store.engine_inputs(ADMIN)
    finally:
        store.close()


_reports: dict[tuple[str, str, str, str], pd.DataFrame] = {}


def engine_year(db: Path, *, metric: str = "revenue", level: str = "rep", period: str = "year") -> pd.DataFrame:
    """The engine's report of ``db`` as the admin sees it, at the demo's today.

    Most page tests ask for the report of an untouched copy of the demo: the report is kept per
    content of the database's files (the file and its write-ahead log, where DuckDB has every
    committed write), so a byte-identical copy, or an unchanged database, is not computed again,
    and any write makes a new key. Each caller gets a copy it may change."""
    key = (_content_digest(db), metric, level, period)
    if key not in _reports:
        store = open_store(db)
        try:
            _reports[key] = engine.report(store.engine_inputs(ADMIN), DEMO_TODAY, level=level, metric=metric,
                                          period=period)
        finally:
            store.close()
    return _reports[key].copy(deep=True)


def _content_digest(db: Path) -> str:
    digest = hashlib.blake2b(db.read_bytes())
    wal = db.with_name(db.name + ".wal")
    digest.update(b"\0wal\0" + (wal.read_bytes() if wal.exists() else b""))
    return digest.hexdigest()


def plotly_values(value):
    """Plotly 6 writes numeric arrays as {dtype, bdata[, shape]}: decode them to nested lists."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            shape = value["shape"]
            array = array.reshape([int(n) for n in (shape.split(",") if isinstance(shape, str) else shape)])
        return array.tolist()
    return value


def figures(at: AppTest) -> list[dict]:
    """Every plotly figure on the page, as dicts with decoded arrays."""
    out = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for trace in spec["data"]:
            for key in ("x", "y", "z", "text", "customdata"):
                if key in trace:
                    trace[key] = plotly_values(trace[key])
        out.append(spec)
    return out


def metric_value(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def texts(at: AppTest) -> str:
    """Every alert, markdown and caption text on the page, to search in."""
    parts = []
    for kind in ("success", "info", "warning", "error", "markdown", "caption"):
        parts += [element.value for element in getattr(at, kind)]
    return "\n".join(parts)


def upload(at: AppTest, name: str, text: str, kind: str = "actuals") -> AppTest:
    """Choose a CSV file in the Upload page's uploader of ``kind`` and run the page."""
    at.file_uploader(key=f"upload_file_{kind}").set_value((name, text.encode("utf-8"), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at: AppTest, label: str) -> AppTest:
    """Click the one button labelled ``label`` and run the page."""
    [button] = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at

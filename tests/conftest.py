"""Fixtures shared by every test layer (a fresh store on tmp_path, a small reps list, a template
database copied per test) and the rules of the parallel run.

Parallel runs (pytest-xdist, ``make test``): every test works in its own ``tmp_path``, the
starting databases (a migrated store, the reps lists, the demos) are built once per run and copied
(tests/helpers/templates.py; on PostgreSQL once per worker's server), so tests need no coordination, with one exception: the tests that start
servers and browsers or kill processes would starve each other of a 2-core machine's CPU and hit
their own timeouts. They are put in the xdist group ``heavy`` below, so that ``--dist loadgroup``
runs them one after another on one worker while the other workers take the rest.

Property tests (hypothesis) run a share of their stated examples, 0.3 by default (at least 5 each),
so that every property runs in every `make test`; `pytest --examples-share=1` runs them all.
"""

from __future__ import annotations

import fcntl
import importlib.util
import math
import os
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

import hypothesis
import pytest

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.storage_fixtures import any_store, backend, db_target, pg_server, pg_url  # noqa: F401 - shared fixtures
from tests.helpers.unchanged import UnchangedStore, lending

# cheap argon2 parameters for every account the suite creates and signs in with (see salesplan/auth.py:
# the default cost is ~0.2 s of CPU per hash or check); test_password_cost.py checks the default
os.environ.setdefault("SALESPLAN_INSECURE_TEST_HASHES", "1")

REPS_CSV = (
    "rep_id,name,email,territory,region,manager,start_date,end_date\n"
    "R000,Mia Head,mia@example.com,Nordics,North,,2020-01-01,\n"
    "R001,Ava Berg,ava@example.com,Nordics,North,R000,2021-04-01,\n"
    "R002,Jörg Müller,joerg@example.com,DACH,Central,R000,2022-01-01,\n"
    "R003,Li Wei,li@example.com,DACH,Central,R000,2023-01-01,\n"
)


# Paths (relative to tests/) whose tests run one at a time in the "heavy" group.
HEAVY = ("browser/", "storage/test_crash_safety.py", "core/test_bench_quick.py")
MIN_EXAMPLES = 5


def pytest_addoption(parser):
    parser.addoption("--examples-share", type=float, default=0.3, metavar="SHARE",
                     help="share of each property test's max_examples to run (default 0.3; 1 runs them all)")


# tryfirst: pytest-xdist's worker turns xdist_group marks into a group suffix of each node id in
# its own pytest_collection_modifyitems, so the marks must be set before it runs.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).resolve().parent
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.is_relative_to(tests) and path.relative_to(tests).as_posix().startswith(HEAVY):
            item.add_marker(pytest.mark.xdist_group("heavy"))
    share = config.getoption("examples_share")
    if share < 1:
        _fewer_examples(items, share)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` that puts the HEAVY paths in the group ``heavy`` by their node ids.

    The xdist_group marks above reach pytest-xdist 3.8's scheduler only through a suffix its
    workers add to each node id, which has no effect since pytest 9.2 builds node ids differently
    (pytest-xdist issue #1386): the heavy tests were spread over every worker. Deciding the group
    here, in the controlling process, needs neither.

    The heavy group is also handed out first: it runs on one worker only, for minutes (browser
    journeys, a crash test, the quick benchmark), so it must start while the other worker has the
    rest of the suite to do, not be queued (xdist orders groups by their number of tests) and
    end up as the run's last minutes with the other worker idle."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    tests = Path(__file__).resolve().parent.relative_to(config.rootpath).as_posix()
    heavy = tuple(f"{tests}/{path}" for path in HEAVY)

    class HeavyFirst(OrderedDict):
        """The work queue, with the heavy group at its head whenever it is added."""

        def __setitem__(self, scope, nodeids):
            super().__setitem__(scope, nodeids)
            if scope == "heavy":
                self.move_to_end(scope, last=False)

    class HeavyGroupScheduling(LoadGroupScheduling):
        def __init__(self, config, log=None):
            super().__init__(config, log)
            self.workqueue = HeavyFirst()

        def _split_scope(self, nodeid: str) -> str:
            return "heavy" if nodeid.startswith(heavy) else super()._split_scope(nodeid)

    return HeavyGroupScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    """On a fresh clone no module has its bytecode cached yet, and xdist's workers start together:
    each would compile the same ~1,600 modules (streamlit, pandas, openpyxl... ~13 CPU-s) at the
    same time. While the cache is cold, the workers collect one after the other, so that the first
    writes the cache and the others read it; a warm cache (any later run) changes nothing."""
    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    spec = importlib.util.find_spec("streamlit")
    origin = spec.origin if spec is not None else None
    # cold: streamlit's bytecode is missing and can be written (a venv whose caches cannot be
    # written never warms: collecting in turn would only slow every run of it)
    cold = (origin is not None and not os.path.exists(importlib.util.cache_from_source(origin))
            and os.access(os.path.dirname(origin), os.W_OK))
    if uid is None or not cold or sys.dont_write_bytecode:
        return (yield)
    with open(os.path.join(tempfile.gettempdir(), f"pytest-collection-{uid}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return (yield)


def _fewer_examples(items, share: float) -> None:
    """Scale the max_examples each property test states by ``share``. Hypothesis reads a test's
    settings from this attribute when the test runs; an explicit ``@settings(max_examples=N)``
    wins over any profile, which is why profiles alone cannot do this."""
    done: set[int] = set()
    for item in items:
        test = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is None or id(test) in done or not getattr(test, "is_hypothesis_test", False):
            continue
        done.add(id(test))  # parametrized items share one function: scale it once
        examples = min(current.max_examples, max(MIN_EXAMPLES, math.ceil(current.max_examples * share)))
        test._hypothesis_internal_use_settings = hypothesis.settings(current, max_examples=examples)


@pytest.fixture(scope="session", autouse=True)
def shared_templates(tmp_path_factory):
    """Let tests/helpers/templates.py build each starting database (the demos too) once per run:
    in the folder every xdist worker of this run shares (the parent of the workers' own base
    folders), else in this run's."""
    base = tmp_path_factory.getbasetemp()
    templates.shared_folder = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def import_reps(store: Store) -> None:
    imports.import_file(store, "reps", REPS_CSV.encode("utf-8"), file_name="reps.csv", principal=SYSTEM)


@pytest.fixture
def store(tmp_path):
    """An empty store in a database file of its own (a copy of a migrated one: tests/helpers/templates.py)."""
    opened = Store.open(templates.duckdb_copy(tmp_path / "test.duckdb", templates.MIGRATED))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def reps_file():
    """Import a small reps list (R000..R003, territories Nordics and DACH) into a store."""

    def load(target: Store, text: str = REPS_CSV):
        return imports.import_file(target, "reps", text.encode("utf-8"), file_name="reps.csv", principal=SYSTEM)

    return load


@pytest.fixture(scope="session")
def reps_template(shared_templates):
    """A database file holding the reps of REPS_CSV, built once per run; tests get copies of it."""
    return templates.template("reps", import_reps)


@pytest.fixture
def reps_store(tmp_path, reps_template):
    """A store of its own already holding the reps of REPS_CSV (R000..R003)."""
    with templates.open_copy(reps_template, tmp_path / "test.duckdb") as opened:
        yield opened


@pytest.fixture(scope="module")
def shared_reps_copy(tmp_path_factory, reps_template):
    """One copy of the reps template per module, for ``unchanged_reps``."""
    with UnchangedStore(reps_template, tmp_path_factory.mktemp("unchanged_reps")) as shared:
        yield shared


# the store of REPS_CSV that a module's tests share as long as they leave it exactly as it was
# (refused imports): an UnchangedStore (tests/helpers/unchanged.py), the store being its ``store``;
# a test ends with its ``assert_unchanged()``
unchanged_reps = lending("shared_reps_copy")

"""Fixtures that run a test on every storage backend: DuckDB files and a real PostgreSQL server.

``backend`` is parametrised (duckdb, postgres); ``db_target`` is a fresh database of that backend
(a file in tmp_path, or a new database on this worker's PostgreSQL server); ``any_store`` is a
Store opened on it, migrated. Fixtures that start from a filled database (tests/storage/conftest.py
``org``) put a copy of a template (tests/helpers/templates.py, :meth:`PgServer.template`) at
``db_target`` with :func:`from_template` instead of building it again for every test. Without PostgreSQL binaries the postgres cases skip, unless CI=true: then
they fail, because the CI machine must install them (``apt-get install postgresql``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.context import BaseContext

import pytest

from salesplan import imports
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.pg_server import PgServer, find_bin_dir

BACKENDS = ("duckdb", "postgres")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server per test process (each xdist worker starts its own, on its own port)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL binaries are missing (initdb, pg_ctl): the CI must apt-get install postgresql")
        pytest.skip("PostgreSQL binaries are not installed (apt-get install postgresql)")
    server = PgServer(bin_dir, autovacuum=False, in_memory=True).start()  # see tests/helpers/pg_server.py
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A new empty PostgreSQL database of its own."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# the fixtures that turn db_target into a copy of a template (with from_template) first thing
TEMPLATE_COPIES = frozenset({"any_store", "org", "lines_org", "reps_org"})


@pytest.fixture
def db_target(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    """A fresh database of the backend under test: a DuckDB file path or a postgresql:// URL.

    When the test's database is a template copy (a fixture of TEMPLATE_COPIES uses it), the
    PostgreSQL database is not made empty first only to be dropped again by from_template: the
    URL names a database that from_template creates (an empty one and its drop cost the server
    ~0.1 s of CPU, more than the copy itself)."""
    if backend == "duckdb":
        return str(tmp_path / "contract.duckdb")
    if TEMPLATE_COPIES.isdisjoint(request.fixturenames):
        return str(request.getfixturevalue("pg_url"))
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.new_database_url()
    request.addfinalizer(lambda: server.drop_database(url))
    return url


def from_template(request: pytest.FixtureRequest, db_target: str, name: str,
                  build: templates.Build | None = None) -> str:
    """Turn the fresh database ``db_target`` into a copy of the starting state ``name`` (a new
    store migrated, then filled by ``build``; see :func:`tests.helpers.templates.template`):
    the test sees what ``Store.open(db_target)`` then ``build`` would have left. Returns db_target."""
    if not db_target.startswith("postgresql://"):
        templates.duckdb_copy(db_target, name, build)
        return db_target

    def build_pg(url: str) -> None:
        with Store.open(url) as store:
            if build is not None:
                build(store)

    server: PgServer = request.getfixturevalue("pg_server")
    return server.replace_database(db_target, server.template(name, build_pg))


def another_database(request: pytest.FixtureRequest, name: str, template: str = templates.MIGRATED,
                     build: templates.Build | None = None) -> str:
    """A second database of the backend under test, beside the test's own (``db_target``): a copy
    of the template ``template`` (see :func:`from_template`; by default an empty migrated store,
    what ``Store.open`` makes of a new database, without migrating it again), as the file
    ``name``.duckdb in the test's tmp_path or a new database on this worker's PostgreSQL server
    (dropped after the test). Returns its path or URL."""
    if request.getfixturevalue("backend") == "duckdb":
        target = str(request.getfixturevalue("tmp_path") / f"{name}.duckdb")
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        target = server.new_database_url()
        request.addfinalizer(lambda: server.drop_database(target))
    return from_template(request, target, template, build)


@pytest.fixture
def any_store(db_target: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty, migrated store on the backend under test."""
    with Store.open(from_template(request, db_target, templates.MIGRATED)) as opened:
        yield opened


# the organisation of the contract suite: a VP, two managers and their reps
CONTRACT_REPS = (
    "rep_id,name,email,territory,region,manager\n"
    "VP,Vera Chief,vera@x.test,,,\n"
    "M1,Max Lead,max@x.test,Nordics,North,VP\n"
    "R1,Ann One,ann@x.test,Nordics,North,M1\n"
    "R2,Bob Two,bob@x.test,Nordics,North,M1\n"
    "M2,Mia Lead,mia@x.test,Benelux,West,VP\n"
    "R3,Cem Three,cem@x.test,Benelux,West,M2\n"
)


def import_contract_reps(store: Store) -> None:
    """The build of the template "contract-reps": CONTRACT_REPS imported into a new store."""
    imports.import_file(store, "reps", CONTRACT_REPS.encode(), file_name="reps.csv")


# what a test's child process needs loaded before it starts (see forked_processes)
FORKSERVER_PRELOAD = ["pytest", "pandas", "duckdb", "psycopg", "salesplan.store", "salesplan.imports",
                      "salesplan.auth", "salesplan.cli", "tests.helpers.storage_fixtures"]


def forked_processes() -> BaseContext:
    """The multiprocessing context for tests whose work must run in processes of their own (one
    killed mid-write, several signing in at once): "forkserver", whose server process loads
    Python, salesplan and its libraries once (FORKSERVER_PRELOAD) and forks every child from that.
    A "spawn" child started a new interpreter and imported all of it again: ~1.4 s of CPU each,
    more than most of these children's own work. The children are still separate processes with
    their own connections; the server is clean (it never ran a test), so forking it is safe."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORKSERVER_PRELOAD)  # only read when the server starts
    return context

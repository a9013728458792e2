"""Fixtures that run a test on every storage backend: DuckDB files and a real PostgreSQL server.

``backend`` is parametrised (duckdb, postgres); ``db_target`` is a fresh database of that backend
(a file in tmp_path, or a new database on this worker's PostgreSQL server); ``any_store`` is a
Store opened on it. Without PostgreSQL binaries the postgres cases skip, unless CI=true: then
they fail, because the CI machine must install them (``apt-get install postgresql``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from salesplan.store import Store
from tests.pg_server import PgServer, find_bin_dir

BACKENDS = ("duckdb", "postgres")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server per test process (each xdist worker starts its own, on its own port)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL binaries are missing (initdb, pg_ctl): the CI must apt-get install postgresql")
        pytest.skip("PostgreSQL binaries are not installed (apt-get install postgresql)")
    server = PgServer(bin_dir).start()
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


@pytest.fixture
def db_target(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    """A fresh database of the backend under test: a DuckDB file path or a postgresql:// URL."""
    if backend == "duckdb":
        return str(tmp_path / "contract.duckdb")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def any_store(db_target: str) -> Iterator[Store]:
    """An empty, migrated store on the backend under test."""
    with Store.open(db_target) as opened:
        yield opened

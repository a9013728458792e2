"""Shared fixtures for the import tests: a fresh store on tmp_path and a small reps list."""

from __future__ import annotations

import shutil

import pytest

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.storage_fixtures import any_store, backend, db_target, pg_server, pg_url  # noqa: F401 - shared fixtures

REPS_CSV = (
    "rep_id,name,email,territory,region,manager,start_date,end_date\n"
    "R000,Mia Head,mia@example.com,Nordics,North,,2020-01-01,\n"
    "R001,Ava Berg,ava@example.com,Nordics,North,R000,2021-04-01,\n"
    "R002,Jörg Müller,joerg@example.com,DACH,Central,R000,2022-01-01,\n"
    "R003,Li Wei,li@example.com,DACH,Central,R000,2023-01-01,\n"
)


@pytest.fixture
def store(tmp_path):
    """An empty store in a database file of its own."""
    opened = Store.open(tmp_path / "test.duckdb")
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
def reps_template(tmp_path_factory):
    """A database file holding the reps of REPS_CSV, built once; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "reps.duckdb"
    with Store.open(path) as template:
        imports.import_file(template, "reps", REPS_CSV.encode("utf-8"), file_name="reps.csv", principal=SYSTEM)
    return path


@pytest.fixture
def reps_store(tmp_path, reps_template):
    """A store of its own already holding the reps of REPS_CSV (R000..R003)."""
    path = tmp_path / "test.duckdb"
    shutil.copyfile(reps_template, path)
    opened = Store.open(path)
    try:
        yield opened
    finally:
        opened.close()

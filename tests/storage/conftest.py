"""Fixtures of the storage layer's tests (the backends themselves come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from salesplan.store import Store
from tests.helpers.engine_lines import organisation
from tests.helpers.storage_fixtures import another_database, from_template, import_contract_reps


@pytest.fixture
def org(db_target, request):
    """The contract suite's organisation (tests.helpers.storage_fixtures.CONTRACT_REPS) on the
    backend under test: a store opened on db_target after the reps were imported into it (a copy
    of that state, built once per run: tests/helpers/templates.py)."""
    store = Store.open(from_template(request, db_target, "contract-reps", import_contract_reps))
    yield store
    store.close()


@pytest.fixture
def reps_org(db_target, request, reps_file):
    """The small reps list of tests/conftest.py (R000..R003, the ``reps_file`` fixture's) on the
    backend under test: a copy of that state, built once per run (on DuckDB the file of
    ``reps_template``: the same build under the same name)."""
    with Store.open(from_template(request, db_target, "reps", reps_file)) as store:
        yield store


@pytest.fixture
def another_org(request):
    """A second store of ``org``'s organisation on the same backend, in a database of its own
    (tests that compare what two ways of writing leave)."""
    with Store.open(another_database(request, "another_org", "contract-reps", import_contract_reps)) as store:
        yield store


@pytest.fixture
def restore_target(request) -> str:
    """An empty database of the backend under test, beside the test's own, to restore a backup
    into: a copy of the migrated template (what Store.open makes of a new database), not
    migrated again for every restore."""
    return another_database(request, "restored")


@pytest.fixture
def lines_org(db_target, request):
    """The organisation of the engine-lines tests (tests/helpers/engine_lines.py: reps whose
    territory moves, targets, ~1,500 actuals lines) on the backend under test: a copy of that
    state, built once per run (its four imports cost ~1 s of CPU per test)."""
    with Store.open(from_template(request, db_target, "engine-lines", organisation)) as store:
        yield store

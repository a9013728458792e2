"""Fixtures of the storage layer's tests (the backends themselves come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.store import Store
from tests.helpers.storage_fixtures import CONTRACT_REPS


@pytest.fixture
def org(db_target):
    """The contract suite's organisation (tests.helpers.storage_fixtures.CONTRACT_REPS) on the
    backend under test."""
    store = Store.open(db_target)
    imports.import_file(store, "reps", CONTRACT_REPS.encode(), file_name="reps.csv")
    yield store
    store.close()

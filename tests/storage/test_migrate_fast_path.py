"""Opening an up-to-date database is one read: no transaction, no write lock (docs/decisions.md,
"Opening an up-to-date store"); a database missing a migration still gets it under the lock."""

from __future__ import annotations

import pytest

from salesplan.migrations import MIGRATIONS
from salesplan.storage import backends, base
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.storage_fixtures import from_template


@pytest.fixture
def spied(monkeypatch):
    """Every transaction the store opens and every write lock it takes."""
    calls: list[str] = []
    atomic = base.StoreBase.atomic

    def counted_atomic(self, *args, **kwargs):
        calls.append("transaction")
        return atomic(self, *args, **kwargs)

    monkeypatch.setattr(base.StoreBase, "atomic", counted_atomic)
    classes = [backends.DuckDBBackend]
    try:
        from salesplan.storage.postgres import PostgresBackend

        classes.append(PostgresBackend)
    except ImportError:
        pass
    for cls in classes:
        plain = cls.lock_writes

        def counted_lock(self, cursor, plain=plain):
            calls.append("write lock")
            return plain(self, cursor)

        monkeypatch.setattr(cls, "lock_writes", counted_lock)
    return calls


def test_opening_an_up_to_date_database_opens_no_transaction(db_target, request, spied):
    target = from_template(request, db_target, templates.MIGRATED)
    spied.clear()  # the template may have been built just now
    with Store.open(target) as store:
        assert spied == []
        assert store.schema_version() == MIGRATIONS[-1][0]


def test_a_missing_migration_is_still_applied_under_the_write_lock(db_target, request, spied, monkeypatch):
    target = from_template(request, db_target, templates.MIGRATED)
    spied.clear()  # the template may have been built just now
    extra = (MIGRATIONS[-1][0] + 1, "fast path probe", "CREATE TABLE fast_path_probe (x INTEGER)")
    monkeypatch.setattr(base, "MIGRATIONS", [*MIGRATIONS, extra])
    with Store.open(target) as store:
        assert "write lock" in spied
        assert store.schema_version() == extra[0]
        assert "fast_path_probe" in store.table_counts()
        spied.clear()
        assert store.migrate() == []
        assert spied == []


def test_a_new_database_is_migrated(tmp_path, spied):
    with Store.open(tmp_path / "new.duckdb") as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
    assert "write lock" in spied

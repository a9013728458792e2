"""How DuckDB stores two columns of the versions (salesplan/migrations_ledger.py): the order ids
uncompressed (migration 83) and the row keys with ZSTD (migration 84). For each: a new database
declares and writes them so; a database from before the migration migrates to the same rows in the
same order, the same report lines, imports and undo as before; PostgreSQL only records the
migration; a backup from before it restores to the same data. Runs on both backends."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from salesplan import imports
from salesplan.migrations_ledger import UNCOMPRESSED_KEYS
from salesplan.principal import SYSTEM
from salesplan.store import Store

MORE = (
    "date,rep,territory,amount,cost,order_id,line\n"
    "2025-04-01,R1,,10,1,O1,1\n"
    "2025-04-02,R2,,20,2,N1,1\n"
)
# the same key with another amount: a changed version, undone below
CHANGED = "date,rep,amount,order_id,line\n2025-04-02,R2,25,N1,1\n"

# the table as migrations 1-82 left it (DuckDB's default compression for every column)
BEFORE_83 = """
    CREATE TABLE actual_versions_old (
        batch_id BIGINT NOT NULL, row_key VARCHAR NOT NULL, line BIGINT, sale_date DATE NOT NULL,
        rep_id VARCHAR NOT NULL, territory VARCHAR, revenue DECIMAL(18,4) NOT NULL, cost DECIMAL(18,4),
        profit DECIMAL(18,4), order_id VARCHAR, order_line VARCHAR, customer VARCHAR, product VARCHAR,
        currency VARCHAR, territory_from_file BOOLEAN, is_current BOOLEAN DEFAULT false, row_hash BIGINT,
        rep_key INTEGER, territory_key INTEGER
    );
    INSERT INTO actual_versions_old SELECT * FROM actual_versions;
    DROP TABLE actual_versions;
    ALTER TABLE actual_versions_old RENAME TO actual_versions;
"""
NOW = {"row_key": "ZSTD", "order_id": "UNCOMPRESSED"}


@dataclass(frozen=True)
class Migration:
    version: int
    before_sql: str  # the table as the migrations before it left it (DuckDB)
    declared_before: dict[str, str]
    declared_after: dict[str, str]  # after migrating that database (the later migrations stay recorded)
    zstd_keys_after: bool  # the row keys' segments are written with ZSTD once it has run


MIGRATIONS = [
    Migration(83, BEFORE_83, {}, {"order_id": "UNCOMPRESSED"}, zstd_keys_after=False),
    Migration(84, UNCOMPRESSED_KEYS, {"order_id": "UNCOMPRESSED"}, NOW, zstd_keys_after=True),
]


def load(store: Store, text: str, name: str):
    return imports.import_file(store, "actuals", text.encode(), file_name=name)


def to_the_schema_before(store: Store, migration: Migration) -> None:
    with store.atomic() as cursor:
        if store.dialect == "duckdb":
            cursor.execute(migration.before_sql)
        cursor.execute("DELETE FROM schema_migrations WHERE version = ?", [migration.version])


def declared(store: Store) -> dict[str, str]:
    """The compression each column of actual_versions is declared with (DuckDB), by column."""
    with store.cursor() as cursor:
        sql = cursor.execute(
            "SELECT sql FROM duckdb_tables() WHERE table_name = 'actual_versions' AND database_name = current_database()"
        ).fetchall()[0][0]
    parts = [part.split() for part in sql.split("(", 1)[1].split(",")]
    return {words[0]: words[words.index("COMPRESSION") + 1].upper() for words in parts if "COMPRESSION" in words}


def stored_key_compressions(store: Store) -> set[str]:
    """How the row keys' segments are stored on disk (DuckDB), after a checkpoint."""
    with store.atomic() as cursor:
        cursor.execute("CHECKPOINT")
    with store.cursor() as cursor:
        rows = cursor.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('actual_versions') "
            "WHERE column_name = 'row_key' AND segment_type = 'VARCHAR'"
        ).fetchall()
    return {row[0].upper() for row in rows}


def versions_in_order(store: Store) -> list[tuple]:
    """Every version in the table's own order (the order the report's read meets them)."""
    with store.cursor() as cursor:
        return [tuple(row) for row in cursor.execute("SELECT * FROM actual_versions").fetchall()]


def data_without_migrations(store: Store) -> dict:
    return {name: rows for name, rows in store.snapshot().items() if name != "schema_migrations"}


def sorted_lines(frame: pd.DataFrame) -> pd.DataFrame:
    plain = frame.astype({"rep_id": object, "territory": object})
    return plain.sort_values(list(plain.columns), na_position="first").reset_index(drop=True)


def test_a_new_database_declares_and_writes_both(lines_org):
    store = lines_org
    if store.dialect == "duckdb":
        assert declared(store) == NOW
        assert stored_key_compressions(store) == {"ZSTD"}
    with store.cursor() as cursor:
        versions = cursor.execute("SELECT version FROM schema_migrations WHERE version IN (83, 84) ORDER BY 1").fetchall()
    assert [row[0] for row in versions] == [83, 84]


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda m: f"migration {m.version}")
def test_the_migration_keeps_every_version_in_its_order_and_the_same_report(lines_org, migration):
    store = lines_org
    load(store, MORE, "more.csv")
    changed = load(store, CHANGED, "changed.csv")
    versions = versions_in_order(store)
    snapshot = data_without_migrations(store)
    before = store.engine_inputs(SYSTEM)
    to_the_schema_before(store, migration)
    if store.dialect == "duckdb":
        assert declared(store) == migration.declared_before
        assert stored_key_compressions(store) != {"ZSTD"}
    assert store.migrate() == [migration.version]
    if store.dialect == "duckdb":
        assert declared(store) == migration.declared_after
        assert (stored_key_compressions(store) == {"ZSTD"}) == migration.zstd_keys_after
    assert versions_in_order(store) == versions
    assert data_without_migrations(store) == snapshot
    after = store.engine_inputs(SYSTEM)
    pd.testing.assert_frame_equal(sorted_lines(after.daily_actuals), sorted_lines(before.daily_actuals),
                                  check_exact=True)
    # the ledger's views read the new table: undo, re-import and a new key as before
    store.undo(SYSTEM, changed.batch_id)
    assert store.actuals(SYSTEM).set_index("order_id").loc["N1", "revenue"] == 20
    again = load(store, MORE, "more-again.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    new = load(store, "date,rep,amount,order_id\n2025-05-05,R2,5,Z1\n", "z.csv")
    assert new.inserted == 1 and "Z1" in set(store.actuals(SYSTEM)["order_id"])


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda m: f"migration {m.version}")
def test_a_backup_from_before_the_migration_restores_to_the_same_data(lines_org, tmp_path, restore_target, migration):
    store = lines_org
    load(store, MORE, "more.csv")
    to_the_schema_before(store, migration)
    snapshot = data_without_migrations(store)
    store.backup(SYSTEM, tmp_path / "snap")
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "snap")
        if restored.dialect == "duckdb":
            # a restore goes into a database made by every migration: today's layout
            assert declared(restored) == NOW
            assert stored_key_compressions(restored) == {"ZSTD"}
        assert data_without_migrations(restored) == snapshot

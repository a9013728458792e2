"""The versions' order ids stored uncompressed on DuckDB (migration 83,
salesplan/migrations_ledger.py): a database from before it migrates to the same rows in the same order,
the same report lines, imports and undo as before; PostgreSQL only records the migration; a
backup from before it restores to the same data. Runs on both backends."""

from __future__ import annotations

import pandas as pd

from salesplan import imports
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


def load(store: Store, text: str, name: str):
    return imports.import_file(store, "actuals", text.encode(), file_name=name)


def to_the_schema_before_83(store: Store) -> None:
    with store.atomic() as cursor:
        if store.dialect == "duckdb":
            cursor.execute(BEFORE_83)
        cursor.execute("DELETE FROM schema_migrations WHERE version = 83")


def uncompressed_columns(store: Store) -> set[str]:
    """The columns of actual_versions stored uncompressed by their definition (DuckDB)."""
    with store.cursor() as cursor:
        sql = cursor.execute(
            "SELECT sql FROM duckdb_tables() WHERE table_name = 'actual_versions' AND database_name = current_database()"
        ).fetchall()[0][0]
    return {part.split()[0] for part in sql.split("(", 1)[1].split(",") if "USING COMPRESSION UNCOMPRESSED" in part.upper()}


def versions_in_order(store: Store) -> list[tuple]:
    """Every version in the table's own order (the order the report's read meets them)."""
    with store.cursor() as cursor:
        return [tuple(row) for row in cursor.execute("SELECT * FROM actual_versions").fetchall()]


def sorted_lines(frame: pd.DataFrame) -> pd.DataFrame:
    plain = frame.astype({"rep_id": object, "territory": object})
    return plain.sort_values(list(plain.columns), na_position="first").reset_index(drop=True)


def test_a_new_database_stores_the_order_ids_uncompressed(any_store):
    if any_store.dialect == "duckdb":
        assert uncompressed_columns(any_store) == {"order_id"}
    with any_store.cursor() as cursor:
        assert cursor.execute("SELECT count(*) FROM schema_migrations WHERE version = 83").fetchall()[0][0] == 1


def test_migration_83_keeps_every_version_in_its_order_and_the_same_report(lines_org):
    store = lines_org
    load(store, MORE, "more.csv")
    changed = load(store, CHANGED, "changed.csv")
    versions = versions_in_order(store)
    snapshot = {name: rows for name, rows in store.snapshot().items() if name != "schema_migrations"}
    before = store.engine_inputs(SYSTEM)
    to_the_schema_before_83(store)
    if store.dialect == "duckdb":
        assert uncompressed_columns(store) == set()
    assert store.migrate() == [83]
    if store.dialect == "duckdb":
        assert uncompressed_columns(store) == {"order_id"}
    assert versions_in_order(store) == versions
    assert {name: rows for name, rows in store.snapshot().items() if name != "schema_migrations"} == snapshot
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


def test_a_backup_from_before_83_restores_to_the_same_data(lines_org, tmp_path, restore_target):
    store = lines_org
    load(store, MORE, "more.csv")
    to_the_schema_before_83(store)
    snapshot = {name: rows for name, rows in store.snapshot().items() if name != "schema_migrations"}
    store.backup(SYSTEM, tmp_path / "snap")
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "snap")
        if restored.dialect == "duckdb":
            assert uncompressed_columns(restored) == {"order_id"}
        restored_data = {name: rows for name, rows in restored.snapshot().items() if name != "schema_migrations"}
        assert restored_data == snapshot

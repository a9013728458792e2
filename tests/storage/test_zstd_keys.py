"""The versions' row keys stored with ZSTD on DuckDB (migration 84, salesplan/migrations_ledger.py):
a new database writes them so; a database from before it migrates to the same rows in the same
order, the same report lines, imports and undo as before; PostgreSQL only records the migration; a
backup from before it restores to the same data. Runs on both backends."""

from __future__ import annotations

import pandas as pd

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


def load(store: Store, text: str, name: str):
    return imports.import_file(store, "actuals", text.encode(), file_name=name)


def to_the_schema_before_84(store: Store) -> None:
    """The table as migration 83 left it (order ids uncompressed, DuckDB's choice for the keys)."""
    with store.atomic() as cursor:
        if store.dialect == "duckdb":
            cursor.execute(UNCOMPRESSED_KEYS)
        cursor.execute("DELETE FROM schema_migrations WHERE version = 84")


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
    with store.cursor() as cursor:
        return [tuple(row) for row in cursor.execute("SELECT * FROM actual_versions").fetchall()]


def sorted_lines(frame: pd.DataFrame) -> pd.DataFrame:
    plain = frame.astype({"rep_id": object, "territory": object})
    return plain.sort_values(list(plain.columns), na_position="first").reset_index(drop=True)


def test_a_new_database_writes_the_row_keys_with_zstd(lines_org):
    store = lines_org
    if store.dialect == "duckdb":
        assert declared(store) == {"row_key": "ZSTD", "order_id": "UNCOMPRESSED"}
        assert stored_key_compressions(store) == {"ZSTD"}
    with store.cursor() as cursor:
        assert cursor.execute("SELECT count(*) FROM schema_migrations WHERE version = 84").fetchall()[0][0] == 1


def test_migration_84_keeps_every_version_in_its_order_and_the_same_report(lines_org):
    store = lines_org
    load(store, MORE, "more.csv")
    changed = load(store, CHANGED, "changed.csv")
    versions = versions_in_order(store)
    snapshot = {name: rows for name, rows in store.snapshot().items() if name != "schema_migrations"}
    before = store.engine_inputs(SYSTEM)
    to_the_schema_before_84(store)
    if store.dialect == "duckdb":
        assert declared(store) == {"order_id": "UNCOMPRESSED"}
        assert stored_key_compressions(store) != {"ZSTD"}
    assert store.migrate() == [84]
    if store.dialect == "duckdb":
        assert declared(store) == {"row_key": "ZSTD", "order_id": "UNCOMPRESSED"}
        assert stored_key_compressions(store) == {"ZSTD"}
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


def test_a_backup_from_before_84_restores_to_the_same_data(lines_org, tmp_path, restore_target):
    store = lines_org
    load(store, MORE, "more.csv")
    to_the_schema_before_84(store)
    snapshot = {name: rows for name, rows in store.snapshot().items() if name != "schema_migrations"}
    store.backup(SYSTEM, tmp_path / "snap")
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "snap")
        if restored.dialect == "duckdb":
            assert declared(restored) == {"row_key": "ZSTD", "order_id": "UNCOMPRESSED"}
            assert stored_key_compressions(restored) == {"ZSTD"}
        restored_data = {name: rows for name, rows in restored.snapshot().items() if name != "schema_migrations"}
        assert restored_data == snapshot

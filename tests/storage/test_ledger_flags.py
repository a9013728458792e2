"""The current ledger of actuals as a flag on the versions (migration 80): each new or changed row
is written once, undo flips flags, and a database or a backup from before the migration keeps
exactly its ledger. Runs on both backends."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store

FIRST = (
    "date,rep,amount,order id,line\n"
    "2025-03-03,R1,100,SO-1,1\n"
    "2025-03-03,R1,50,SO-1,2\n"
    "2025-03-04,R2,200,SO-2,1\n"
    "2025-03-05,R3,300,SO-3,1\n"
)
# SO-2 changes, SO-4 is new, SO-1/1 and SO-3 are held unchanged, SO-1/2 is not in the file
SECOND = (
    "date,rep,amount,order id,line\n"
    "2025-03-03,R1,100,SO-1,1\n"
    "2025-03-04,R2,250,SO-2,1\n"
    "2025-03-05,R3,300,SO-3,1\n"
    "2025-03-06,R1,70,SO-4,1\n"
)
THIRD = "date,rep,amount,order id,line\n2025-03-05,R3,999,SO-3,1\n"


def upload(store: Store, text: str, name: str):
    return imports.import_file(store, "actuals", text.encode(), file_name=name)


def ledger(store: Store) -> list[tuple]:
    with store.cursor() as cursor:
        return sorted(cursor.execute("SELECT * FROM actuals").fetchall(), key=repr)


def flags(store: Store) -> dict[tuple[int, str], bool]:
    """(batch, "order/line") -> is_current of every version."""
    with store.cursor() as cursor:
        rows = cursor.execute("SELECT batch_id, order_id, order_line, is_current FROM actual_versions").fetchall()
    return {(int(batch), f"{order}/{line}"): bool(current) for batch, order, line, current in rows}


def data(store: Store) -> dict[str, list[tuple]]:
    """Every table and the ledger, without the record of when each migration ran."""
    return {name: rows for name, rows in store.snapshot().items() if name != "schema_migrations"}


def without_fingerprints(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """``data`` with the versions' text fingerprints and keys (their last three columns,
    migrations 81 and 82) and the keys' dictionary left out: a database or backup from before
    migration 80 had none; its versions stay without a fingerprint, and the keys migration 82
    gives them are numbered anew (test_actual_keys.py checks them)."""
    kept = {name: rows for name, rows in tables.items() if name != "actual_keys"}
    return kept | {"actual_versions": sorted((row[:-3] for row in tables["actual_versions"]), key=repr)}


def is_view(store: Store, name: str) -> bool:
    with store.cursor() as cursor:
        return not cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_type = 'BASE TABLE' "
            "AND table_schema = current_schema()", [name],
        ).fetchall()[0][0]


def to_the_old_schema(store: Store) -> None:
    """The database as salesplan left it before migration 80: the ledger a table of its own (a copy
    of each current version, as the old imports and undo wrote it), versions without the flag."""
    with store.atomic() as cursor:
        cursor.execute("CREATE TABLE old_ledger AS SELECT * FROM actuals")
        cursor.execute("DROP VIEW actuals")
        cursor.execute("ALTER TABLE old_ledger RENAME TO actuals")
        cursor.execute("DROP TABLE actual_keys")
        cursor.execute("ALTER TABLE actual_versions DROP COLUMN territory_key")
        cursor.execute("ALTER TABLE actual_versions DROP COLUMN rep_key")
        cursor.execute("ALTER TABLE actual_versions DROP COLUMN row_hash")
        cursor.execute("ALTER TABLE actual_versions DROP COLUMN is_current")
        cursor.execute("DELETE FROM schema_migrations WHERE version IN (80, 81, 82, 83, 84)")


@pytest.fixture
def history(org):
    """Three imports, the third undone: a changed row, a new one, held ones and a flag flipped back."""
    upload(org, FIRST, "a.csv")
    after_first = ledger(org)
    second = upload(org, SECOND, "b.csv")
    assert (second.inserted, second.updated, second.unchanged) == (1, 1, 2)
    after_second = ledger(org)
    third = upload(org, THIRD, "c.csv")
    org.undo(SYSTEM, third.batch_id)
    assert ledger(org) == after_second
    return org, after_first, after_second, second.batch_id


def test_an_import_writes_each_new_or_changed_row_once_and_flags_the_one_current_version(org):
    first = upload(org, FIRST, "a.csv")
    second = upload(org, SECOND, "b.csv")
    assert is_view(org, "actuals")
    marks = flags(org)
    # one version per inserted or changed row, nothing copied elsewhere
    assert len(marks) == 4 + 2
    assert marks[(first.batch_id, "SO-2/1")] is False  # replaced by the second import
    assert marks[(second.batch_id, "SO-2/1")] is True
    assert marks[(first.batch_id, "SO-3/1")] is True  # held unchanged: its version stays current
    with org.cursor() as cursor:
        assert cursor.execute("SELECT count(*) FROM actual_versions WHERE is_current").fetchall()[0][0] == 5
        assert cursor.execute("SELECT count(*) FROM actuals").fetchall()[0][0] == 5
        # one current version per key
        assert cursor.execute("SELECT count(DISTINCT row_key) FROM actuals").fetchall()[0][0] == 5


def test_undo_flips_the_flags_back_and_writes_no_version(history):
    org, after_first, _, second_batch = history
    before = flags(org)
    org.undo(SYSTEM, second_batch)
    assert ledger(org) == after_first
    after = flags(org)
    assert after.keys() == before.keys()  # no version added or deleted
    assert {key for key in after if after[key] != before[key]} == {
        (second_batch, "SO-2/1"), (second_batch, "SO-4/1"), (second_batch - 1, "SO-2/1")}


def test_migration_80_keeps_the_ledger_of_an_older_database_exactly(history):
    org, after_first, after_second, second_batch = history
    before = data(org)
    to_the_old_schema(org)
    assert not is_view(org, "actuals")
    assert ledger(org) == after_second
    assert org.migrate() == [80, 81, 82, 83, 84]
    assert is_view(org, "actuals")
    # the ledger, the versions and their flags as if always so
    assert without_fingerprints(data(org)) == without_fingerprints(before)
    org.undo(SYSTEM, second_batch)
    assert ledger(org) == after_first


def test_a_backup_taken_before_migration_80_restores_with_its_ledger(history, tmp_path, restore_target):
    org, after_first, _, second_batch = history
    before = data(org)
    to_the_old_schema(org)
    manifest = org.backup(SYSTEM, tmp_path / "old")
    assert manifest["schema_version"] == 70 and manifest["tables"]["actuals"]["rows"] == 5
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "old")
        assert without_fingerprints(data(restored)) == without_fingerprints(before)
        # the restored database keeps its own schema: opening it again runs no migration
        assert restored.migrate() == []
        restored.undo(SYSTEM, second_batch)
        assert ledger(restored) == after_first


def test_a_backup_whose_ledger_does_not_match_its_versions_is_refused(history, tmp_path, restore_target):
    import pyarrow.parquet as pq

    from tests.helpers.backups import manifest as _manifest
    from tests.helpers.backups import save_manifest as _save
    from tests.helpers.backups import sha256_of as _sha

    org = history[0]
    org.backup(SYSTEM, tmp_path / "snap")
    path = tmp_path / "snap" / "actuals.parquet"
    pq.write_table(pq.read_table(path).slice(0, 3), path)
    manifest = _manifest(tmp_path / "snap")
    manifest["tables"]["actuals"].update(rows=3, sha256=_sha(path))
    _save(tmp_path / "snap", manifest)
    with Store.open(restore_target) as restored:
        before = restored.snapshot()
        with pytest.raises(BadInput, match="holds 3 rows, the restored ledger 5"):
            restored.restore(SYSTEM, tmp_path / "snap")
        assert restored.snapshot() == before

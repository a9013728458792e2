"""The fingerprint of each actuals version's texts (migration 81, ``actual_versions.row_hash``):
every version written carries the one its backend computes, an import compares by key, amounts,
date and fingerprint, and versions without a fingerprint (written before the migration, or
restored from a backup taken before it) or with a foreign one are compared column by column, so
the answer never depends on the fingerprint. Runs on both backends."""

from __future__ import annotations

import pyarrow.parquet as pq

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.storage.ledger import _ROW_HASH
from salesplan.store import Store
from tests.helpers.backups import manifest as read_manifest
from tests.helpers.backups import save_manifest, sha256_of

HEADER = "date,rep,amount,cost,order id,line,customer,product\n"
FIRST = HEADER + (
    "2025-03-03,R1,100,60,SO-1,1,Acme,Widget\n"
    "2025-03-03,R1,50,20,SO-1,2,Acme,Bolt\n"
    "2025-03-04,R2,200,90,SO-2,1,Globex,Widget\n"
    "2025-03-05,R3,300,100,SO-3,1,,Gear\n"
)
# SO-1/2: only the customer changes (same amounts, same date); SO-3: only an empty customer filled
# in; SO-1/1 and SO-2 are unchanged
SECOND = HEADER + (
    "2025-03-03,R1,100,60,SO-1,1,Acme,Widget\n"
    "2025-03-03,R1,50,20,SO-1,2,Acme Ltd,Bolt\n"
    "2025-03-04,R2,200,90,SO-2,1,Globex,Widget\n"
    "2025-03-05,R3,300,100,SO-3,1,Initech,Gear\n"
)


def upload(store: Store, text: str, name: str):
    return imports.import_file(store, "actuals", text.encode(), file_name=name)


def ledger(store: Store) -> dict[str, tuple]:
    frame = store.actuals(SYSTEM)
    return {
        f"{row.order_id}/{row.order_line}": (row.rep_id, float(row.revenue), float(row.cost), row.customer, row.product)
        for row in frame.itertuples()
    }


def versions(store: Store) -> int:
    with store.cursor() as cursor:
        return int(cursor.execute("SELECT count(*) FROM actual_versions").fetchall()[0][0])


def fingerprints(store: Store) -> list[tuple]:
    """(stored fingerprint, the one the backend computes from the version's texts) of every version."""
    expected = _ROW_HASH[store.dialect].format(t="v")
    with store.cursor() as cursor:
        return cursor.execute(f"SELECT v.row_hash, {expected} FROM actual_versions v").fetchall()


def set_fingerprints(store: Store, value_sql: str) -> None:
    with store.atomic() as cursor:
        cursor.execute(f"UPDATE actual_versions SET row_hash = {value_sql}")


def test_every_version_carries_the_fingerprint_of_its_texts_through_update_and_undo(org):
    upload(org, FIRST, "a.csv")
    first = ledger(org)
    second = upload(org, SECOND, "b.csv")
    # a text alone (a renamed or a filled-in customer) is a change: a new version, the numbers kept
    assert (second.inserted, second.updated, second.unchanged) == (0, 2, 2)
    assert ledger(org)["SO-1/2"] == ("R1", 50.0, 20.0, "Acme Ltd", "Bolt")
    assert ledger(org)["SO-3/1"] == ("R3", 300.0, 100.0, "Initech", "Gear")
    assert versions(org) == 4 + 2
    marks = fingerprints(org)
    assert all(stored is not None and stored == computed for stored, computed in marks)
    assert len({stored for stored, _ in marks}) == 6  # texts differ from version to version
    org.undo(SYSTEM, second.batch_id)
    assert ledger(org) == first
    assert versions(org) == 6  # undo writes no version
    # the identical file again: compared by fingerprint, nothing written but the batch record
    again = upload(org, FIRST, "a-again.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert versions(org) == 6 and ledger(org) == first


def test_an_identical_reimport_writes_nothing_but_its_batch_record(org):
    upload(org, FIRST, "a.csv")
    before = org.snapshot()
    again = upload(org, FIRST, "a-again.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    after = org.snapshot()
    changed = {name for name in after if after[name] != before[name]}
    # the batch, the one row saying it holds every key of the first batch, and the data version
    assert changed == {"upload_batches", "actual_batch_holds", "meta"}
    assert len(after["upload_batches"]) == len(before["upload_batches"]) + 1
    assert len(after["actual_batch_holds"]) == len(before["actual_batch_holds"]) + 1


def test_versions_without_a_fingerprint_are_compared_column_by_column(org):
    upload(org, FIRST, "a.csv")
    first = ledger(org)
    set_fingerprints(org, "NULL")  # as every version written before migration 81
    again = upload(org, FIRST, "a-again.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert versions(org) == 4 and ledger(org) == first
    changed = upload(org, SECOND, "b.csv")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 2, 2)
    assert ledger(org)["SO-1/2"][3] == "Acme Ltd"
    # the new versions carry their fingerprint; the old ones still have none
    assert sorted(stored is not None for stored, _ in fingerprints(org)) == [False] * 4 + [True] * 2


def test_a_foreign_fingerprint_costs_a_comparison_never_a_wrong_answer(org):
    upload(org, FIRST, "a.csv")
    first = ledger(org)
    # another backend's (or DuckDB version's) numbers: every version's differs from the one computed here
    set_fingerprints(org, "row_hash + 1")
    again = upload(org, FIRST, "a-again.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert versions(org) == 4 and ledger(org) == first
    changed = upload(org, SECOND, "b.csv")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 2, 2)


def test_a_backup_from_before_migration_81_restores_and_reimports_unchanged(org, tmp_path, restore_target):
    first_batch = upload(org, FIRST, "a.csv")
    first = ledger(org)
    org.backup(SYSTEM, tmp_path / "old")
    # the backup as salesplan wrote it before migration 81: versions without the column
    path = tmp_path / "old" / "actual_versions.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["row_hash"]), path)
    content = read_manifest(tmp_path / "old")
    content["schema_version"] = 80
    content["tables"]["actual_versions"]["sha256"] = sha256_of(path)
    save_manifest(tmp_path / "old", content)
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "old")
        assert ledger(restored) == first
        assert [stored for stored, _ in fingerprints(restored)] == [None] * 4
        again = upload(restored, FIRST, "a-again.csv")
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
        assert versions(restored) == 4
        # the re-import holds the rows: undoing the original import keeps them
        restored.undo(SYSTEM, first_batch.batch_id)
        assert ledger(restored) == first
        changed = upload(restored, SECOND, "b.csv")
        assert (changed.inserted, changed.updated, changed.unchanged) == (0, 2, 2)
        restored.undo(SYSTEM, changed.batch_id)
        assert ledger(restored) == first

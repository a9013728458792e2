"""Backup and restore: a consistent snapshot, and a restored database identical table by table."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest

from salesplan import imports
from salesplan.cli import main
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.demo import demo_copy


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    # the demo the pages' tests use (tests/helpers/pages.py): a run builds each demo once
    return demo_copy(tmp_path_factory.mktemp("backup"), reps=12, seed=3, today=date(2026, 11, 26))


def test_backup_then_restore_gives_an_identical_database(demo_db, tmp_path, capsys):
    folder = tmp_path / "snap"
    assert main(["--db", str(demo_db), "backup", str(folder)]) == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tables"]["actuals"]["rows"] > 1000
    restored_path = tmp_path / "restored.duckdb"
    assert main(["--db", str(restored_path), "restore", str(folder)]) == 0
    with Store.open(demo_db) as original, Store.open(restored_path) as restored:
        before, after = original.snapshot(), restored.snapshot()
        assert before.keys() == after.keys()
        for table in before:
            assert after[table] == before[table], table
        # sequences continue after the restored ids: a new batch does not reuse an id
        assert restored.write(SYSTEM, "probe", "", lambda c: c.execute("SELECT nextval('batch_seq')").fetchall()[0][0]) \
            > max(row[0] for row in after["upload_batches"])


def test_damaged_backup_is_refused_and_changes_nothing(demo_db, tmp_path):
    folder = tmp_path / "snap"
    with Store.open(demo_db) as store:
        store.backup(SYSTEM, folder)
    parquet = folder / "actuals.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-100])
    with Store.open(templates.duckdb_copy(tmp_path / "new.duckdb", templates.MIGRATED)) as target:
        before = target.snapshot()
        with pytest.raises(BadInput, match="actuals.parquet does not match its checksum"):
            target.restore(SYSTEM, folder)
        assert target.snapshot() == before


def test_restore_refuses_a_database_that_holds_data(demo_db, tmp_path):
    folder = tmp_path / "snap"
    with Store.open(demo_db) as store:
        store.backup(SYSTEM, folder)
        with pytest.raises(BadInput, match="needs an empty database"):
            store.restore(SYSTEM, folder)


def _one_rep(store: Store) -> None:
    imports.import_file(store, "reps", b"rep_id,name\nR1,Ann\n", file_name="reps.csv")


def test_backup_is_consistent_while_another_thread_writes(tmp_path):
    store = Store.open(templates.duckdb_copy(tmp_path / "busy.duckdb", "backup-one-rep", _one_rep))
    stop = threading.Event()
    errors: list[Exception] = []

    def keep_uploading() -> None:
        n = 0
        try:
            while not stop.is_set() and n < 200:
                rows = "".join(f"2025-01-0{1 + i % 9},R1,{n}.{i},O-{n}-{i}\n" for i in range(20))
                imports.import_file(store, "actuals", ("date,rep,amount,order_id\n" + rows).encode(), file_name=f"{n}.csv")
                n += 1
        except Exception as error:  # noqa: BLE001 - asserted below: a lost writer error must fail the test
            errors.append(error)

    writer = threading.Thread(target=keep_uploading)
    writer.start()
    try:
        manifests = [store.backup(SYSTEM, tmp_path / f"snap{i}") for i in range(3)]
    finally:
        stop.set()
        writer.join()
    assert errors == []
    manifests.append(store.backup(SYSTEM, tmp_path / "after"))
    assert manifests[-1]["tables"]["upload_batches"]["rows"] > 1, "the writer uploaded something"
    for manifest in manifests:
        # every batch in the snapshot has all of its rows in the snapshot: never a torn batch
        batches = manifest["tables"]["upload_batches"]["rows"] - 1  # minus the reps batch
        assert manifest["tables"]["actual_versions"]["rows"] == 20 * batches
    store.close()

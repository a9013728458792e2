"""Integer keys of each actuals version's rep and territory (migration 82, ``actual_keys``,
``actual_versions.rep_key`` / ``territory_key``): every version an import writes carries the keys
of its texts, a key never changes or moves to another text, the report's read gives the same
lines from the keys as from the texts, and versions without keys (a database or a backup from
before the migration, or versions an older salesplan wrote) are read by their texts and given
keys by the migration, the restore and the next import. Runs on both backends."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers.engine_lines import assert_same, load, organisation_reports, reports


def key_faults(store: Store) -> list[tuple]:
    """Every version whose keys are missing or are not the keys of its own texts."""
    with store.cursor() as cursor:
        return cursor.execute(
            """
            SELECT v.order_id, v.rep_id, v.rep_key, v.territory, v.territory_key
            FROM actual_versions v
            LEFT JOIN actual_keys r ON r.key_id = v.rep_key
            LEFT JOIN actual_keys t ON t.key_id = v.territory_key
            WHERE r.name IS DISTINCT FROM v.rep_id
               OR (v.territory IS NULL AND v.territory_key IS DISTINCT FROM 0)
               OR (v.territory IS NOT NULL AND t.name IS DISTINCT FROM v.territory)
            """
        ).fetchall()


def keys(store: Store) -> dict[str, int]:
    with store.cursor() as cursor:
        return dict(cursor.execute("SELECT name, key_id FROM actual_keys").fetchall())


def unkeyed(store: Store) -> int:
    with store.cursor() as cursor:
        return int(cursor.execute(
            "SELECT count(*) FROM actual_versions WHERE rep_key IS NULL OR territory_key IS NULL").fetchall()[0][0])


def forget_keys(store: Store, where: str = "true") -> None:
    """Versions as an older salesplan writes them: without keys."""
    with store.atomic() as cursor:
        cursor.execute(f"UPDATE actual_versions SET rep_key = NULL, territory_key = NULL WHERE {where}")


def sorted_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """The lines in one order, the categories as texts (the read's order of lines may differ)."""
    plain = frame.astype({"rep_id": object, "territory": object})
    return plain.sort_values(list(plain.columns), na_position="first").reset_index(drop=True)


def to_the_schema_before_82(store: Store) -> None:
    with store.atomic() as cursor:
        cursor.execute("DROP TABLE actual_keys")
        cursor.execute("ALTER TABLE actual_versions DROP COLUMN territory_key")
        cursor.execute("ALTER TABLE actual_versions DROP COLUMN rep_key")
        cursor.execute("DELETE FROM schema_migrations WHERE version = 82")


MORE = (
    "date,rep,territory,amount,cost,order_id\n"
    "2025-04-01,R4,Far,10,1,O1\n"        # a changed line: a rep and territory new to the ledger
    "2025-04-02,R3,,20,2,N1\n"           # a new line, its territory the rep's on the day
    "2025-04-03,R4,West,30,3,N2\n"
)


def _more(store: Store):
    """R4 joins in a new territory, then MORE is imported."""
    load(store, "reps", "rep_id,name,territory,region,manager\nR4,Dee,Far,US,\n", "r4.csv")
    return load(store, "actuals", MORE, "more.csv")


def test_every_version_carries_the_keys_of_its_texts_and_a_key_never_moves(lines_org):
    store = lines_org
    assert key_faults(store) == [] and unkeyed(store) == 0
    first = keys(store)
    assert {"R1", "R2", "R3", "North", "South", "West"} <= set(first)
    assert len(set(first.values())) == len(first) and 0 not in first.values()
    batch = _more(store)
    assert (batch.inserted, batch.updated) == (2, 1)
    assert key_faults(store) == []
    after = keys(store)
    assert {name: after[name] for name in first} == first  # earlier texts keep their keys
    assert {"Far", "R4"} <= set(after)
    store.undo(SYSTEM, batch.batch_id)
    assert key_faults(store) == [] and keys(store) == after  # undo flips flags, keys stay


def test_the_read_gives_the_same_lines_from_the_keys_as_from_the_texts(lines_org):
    store = lines_org
    _more(store)
    by_key = store.engine_inputs(SYSTEM)
    # every version without keys: each line is read by its texts
    forget_keys(store)
    by_text = store.engine_inputs(SYSTEM)
    pd.testing.assert_frame_equal(sorted_lines(by_key.daily_actuals), sorted_lines(by_text.daily_actuals),
                                  check_exact=True)
    # the same lines give the same reports: the engine's do not depend on the lines' order
    # (test_engine_lines); the migration's test below compares the reports too
    # some with keys, some without (an older salesplan wrote the latter)
    with store.atomic() as cursor:
        from salesplan.migrations_ledger import FILL_KEYS
        cursor.execute(FILL_KEYS)
    forget_keys(store, "order_id LIKE 'O1%'")
    assert 0 < unkeyed(store) < 1500
    mixed = store.engine_inputs(SYSTEM)
    pd.testing.assert_frame_equal(sorted_lines(mixed.daily_actuals), sorted_lines(by_text.daily_actuals),
                                  check_exact=True)
    # the next import gives them keys again
    load(store, "actuals", "date,rep,amount,order_id\n2025-05-05,R2,5,Z1\n", "z.csv")
    assert unkeyed(store) == 0 and key_faults(store) == []


def test_migration_82_gives_an_older_database_its_keys_and_the_same_report(lines_org):
    store = lines_org
    before = store.engine_inputs(SYSTEM)
    to_the_schema_before_82(store)
    assert store.migrate() == [82]
    assert unkeyed(store) == 0 and key_faults(store) == []
    after = store.engine_inputs(SYSTEM)
    pd.testing.assert_frame_equal(sorted_lines(after.daily_actuals), sorted_lines(before.daily_actuals),
                                  check_exact=True)
    assert_same(organisation_reports(before), reports(after))  # before: the organisation as imported


@pytest.mark.parametrize("older", [True, False])
def test_a_backup_restores_with_keys_and_the_same_lines(lines_org, tmp_path, restore_target, older):
    store = lines_org
    _more(store)
    before = store.engine_inputs(SYSTEM)
    if older:  # a backup taken before migration 82: versions without keys, no actual_keys
        to_the_schema_before_82(store)
    manifest = store.backup(SYSTEM, tmp_path / "snap")
    assert ("actual_keys" in manifest["tables"]) is not older
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "snap")
        assert unkeyed(restored) == 0 and key_faults(restored) == []
        after = restored.engine_inputs(SYSTEM)
        pd.testing.assert_frame_equal(sorted_lines(after.daily_actuals), sorted_lines(before.daily_actuals),
                                      check_exact=True)
        # an import after the restore gives new texts keys of their own
        load(restored, "reps", "rep_id,name,territory,region,manager\nR5,Eve,Isle,US,\n", "r5.csv")
        load(restored, "actuals", "date,rep,territory,amount,order_id\n2025-05-05,R5,Isle,5,Z1\n", "z.csv")
        assert {"R5", "Isle"} <= set(keys(restored))
        assert key_faults(restored) == []
        assert len(set(keys(restored).values())) == len(keys(restored))


def test_a_backup_whose_keys_were_left_out_restores_with_keys_given_anew(lines_org, tmp_path, restore_target):
    # a backup of this schema whose manifest does not list actual_keys: the versions' keys named
    # nothing after the restore, the next import gave keys 1, 2... to its new texts, and the
    # restored lines were read as those texts' (sales moved between reps)
    store = lines_org
    store.backup(SYSTEM, tmp_path / "snap")
    manifest_path = tmp_path / "snap" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["tables"]["actual_keys"]
    manifest_path.write_text(json.dumps(manifest))
    more = ("date,rep,territory,amount,order_id\n"
            "2025-05-05,R5,Isle,5,Z1\n2025-05-06,R6,Bay,7,Z2\n2025-05-07,R7,Cove,11,Z3\n")
    with Store.open(restore_target) as restored:
        restored.restore(SYSTEM, tmp_path / "snap")
        assert unkeyed(restored) == 0 and key_faults(restored) == []
        load(restored, "reps", "rep_id,name,territory,region,manager\nR5,Eve,Isle,US,\nR6,Fay,Bay,US,\nR7,Gus,Cove,US,\n", "r5.csv")
        load(restored, "actuals", more, "z.csv")
        assert key_faults(restored) == []
        after = restored.engine_inputs(SYSTEM).daily_actuals
    load(store, "reps", "rep_id,name,territory,region,manager\nR5,Eve,Isle,US,\nR6,Fay,Bay,US,\nR7,Gus,Cove,US,\n", "r5.csv")
    load(store, "actuals", more, "z.csv")
    pd.testing.assert_frame_equal(sorted_lines(after), sorted_lines(store.engine_inputs(SYSTEM).daily_actuals),
                                  check_exact=True)


def test_the_read_takes_keyed_lines_by_their_keys_and_only_the_others_by_their_texts(lines_org, monkeypatch):
    # the same numbers come from either read, so this checks which one reads what: a read that
    # always fell back to the texts would pass every other test here
    from salesplan.storage import reads
    store = lines_org
    read_by = {"keys": 0, "texts": 0}
    original = reads._Lines.read

    def counting(self, cursor, sql, params, keys=None):
        before = self.n
        original(self, cursor, sql, params, keys=keys)
        read_by["texts" if keys is None else "keys"] += self.n - before

    monkeypatch.setattr(reads._Lines, "read", counting)
    store.engine_inputs(SYSTEM)
    with store.cursor() as cursor:
        from_file, derived = cursor.execute(
            "SELECT count(*) FILTER (WHERE territory_from_file), count(*) FILTER (WHERE NOT territory_from_file) "
            "FROM actual_versions WHERE is_current").fetchall()[0]
    assert from_file > 0 and derived > 0  # the organisation has both kinds of line
    assert read_by == {"keys": from_file, "texts": derived}

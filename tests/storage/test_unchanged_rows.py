"""An unchanged re-import writes no versions, and undo stays exact (docs/decisions.md).

Every case runs on each backend. The ledger after any undo must equal the documented rule (docs/files.md): a key's value
is the one of the newest batch that holds it (wrote it or found it unchanged) and is not reverted.
"""

from __future__ import annotations

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.store import Store

# the contract suite's organisation (R1 and others), on every backend


def sales(**amounts: int) -> bytes:
    """An export with one row per order: sales(A=10, B=20) -> orders A and B, line 1."""
    rows = "".join(f"2025-03-03,R1,{amount},{order},1\n" for order, amount in amounts.items())
    return ("date,rep,amount,order id,line\n" + rows).encode()


def upload(store: Store, data: bytes, name: str):
    return imports.import_file(store, "actuals", data, file_name=name)


def ledger(store: Store) -> dict[str, float]:
    frame = store.actuals(SYSTEM)
    return {order: float(revenue) for order, revenue in zip(frame["order_id"], frame["revenue"])}


def count(store: Store, table: str) -> int:
    with store.cursor() as cursor:
        return int(cursor.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def test_an_identical_reimport_writes_only_its_batch_record_and_undoing_the_original_keeps_the_rows(org):
    first = upload(org, sales(A=10, B=20, C=30), "a.csv")
    versions = count(org, "actual_versions")
    again = upload(org, sales(A=10, B=20, C=30), "a-again.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert count(org, "actual_versions") == versions  # nothing copied
    assert count(org, "actual_batch_holds") == 1 and count(org, "actual_key_holds") == 0
    # the re-import still holds the rows: undoing the original import leaves them in the ledger
    org.undo(SYSTEM, first.batch_id)
    assert ledger(org) == {"A": 10, "B": 20, "C": 30}
    org.undo(SYSTEM, again.batch_id)
    assert ledger(org) == {}


def test_undo_of_a_change_keeps_the_value_a_later_batch_held_unchanged(org):
    upload(org, sales(A=10), "v1.csv")
    second = upload(org, sales(A=20), "v2.csv")
    third = upload(org, sales(A=20), "v2-again.csv")
    assert (third.inserted, third.updated, third.unchanged) == (0, 0, 1)
    # the third batch holds A at 20: undoing the second changes nothing
    org.undo(SYSTEM, second.batch_id)
    assert ledger(org) == {"A": 20}
    # with the third undone too, no batch but the first holds A
    org.undo(SYSTEM, third.batch_id)
    assert ledger(org) == {"A": 10}


def test_a_batch_holding_part_of_an_earlier_batch_records_the_keys_and_undo_follows_them(org):
    first = upload(org, sales(A=10, B=20), "v1.csv")
    second = upload(org, sales(B=25), "v2.csv")
    third = upload(org, sales(A=10, B=25, C=5), "v3.csv")
    assert (third.inserted, third.updated, third.unchanged) == (1, 0, 2)
    # A: one of the first batch's two keys (B moved on) -> one key hold; B: all of the second's
    assert count(org, "actual_key_holds") == 1 and count(org, "actual_batch_holds") == 1
    org.undo(SYSTEM, first.batch_id)
    assert ledger(org) == {"A": 10, "B": 25, "C": 5}
    org.undo(SYSTEM, third.batch_id)
    assert ledger(org) == {"B": 25}
    org.undo(SYSTEM, second.batch_id)
    assert ledger(org) == {}


def test_holds_survive_a_round_of_undo_and_reimport(org):
    first = upload(org, sales(A=10, B=20), "v1.csv")
    second = upload(org, sales(A=10, B=20), "v1-again.csv")
    org.undo(SYSTEM, second.batch_id)
    assert ledger(org) == {"A": 10, "B": 20}
    third = upload(org, sales(A=10, B=20), "v1-third.csv")
    assert third.unchanged == 2
    org.undo(SYSTEM, first.batch_id)
    assert ledger(org) == {"A": 10, "B": 20}
    org.undo(SYSTEM, third.batch_id)
    assert ledger(org) == {}

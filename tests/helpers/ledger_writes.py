"""What the tests of the store's large writes share (tests/storage/test_large_write_view.py,
tests/storage/test_grouped_comparison.py): two actuals files, the store's actuals state and a spy
on the statements its writes run."""

from __future__ import annotations

from salesplan.principal import SYSTEM
from salesplan.store import Store

HEADER = "date,rep,amount,cost,order id,line,customer,territory\n"


def _file(rows: list[tuple]) -> bytes:
    return (HEADER + "".join(",".join(str(cell) for cell in row) + "\n" for row in rows)).encode()


# (date, rep, amount, cost, order, line, customer, territory): rows without a territory take
# the rep's (looked up in the people history); "Northern Isles" is a territory the ledger has no
# key for yet, as "R3" is a rep it has no key for before the second file
FIRST = [
    ("2025-03-03", "R1", 10, 4, "A", 1, "c1", "Nordics"),
    ("2025-03-03", "R1", 20, 5, "A", 2, "c2", ""),
    ("2025-03-04", "R2", 30, 6, "B", 1, "c1", "Nordics"),
    ("2025-03-05", "R2", 40, 7, "C", 1, "", "Benelux"),
    ("2025-03-06", "R1", 50, 8, "D", 1, "c3", "Nordics"),
]
SECOND = [
    ("2025-03-03", "R1", 10, 4, "A", 1, "c1", "Nordics"),  # the same
    ("2025-03-03", "R1", 25, 5, "A", 2, "c2", ""),  # another amount
    ("2025-03-04", "R2", 30, 6, "B", 1, "c9", "Nordics"),  # another customer (the fingerprint differs)
    ("2025-03-05", "R3", 40, 7, "C", 1, "", "Benelux"),  # another rep, new to the keys
    ("2025-03-07", "R3", 60, 9, "E", 1, "c4", "Benelux"),  # new
]


def _state(store: Store) -> dict[str, list]:
    """What the store holds of actuals: the ledger, every version, the keys and the holds."""
    tables = {
        "versions": "SELECT batch_id, row_key, line, sale_date, rep_id, territory, revenue, cost, profit, order_id, "
                    "order_line, customer, product, currency, territory_from_file, is_current, row_hash IS NULL, "
                    "rep_key, territory_key FROM actual_versions ORDER BY batch_id, row_key",
        "keys": "SELECT name, key_id FROM actual_keys ORDER BY key_id",
        "batch_holds": "SELECT * FROM actual_batch_holds ORDER BY 1, 2",
        "key_holds": "SELECT * FROM actual_key_holds ORDER BY 1, 2, 3",
        "batches": "SELECT batch_id, rows_inserted, rows_updated, rows_unchanged, reverted_at IS NULL "
                   "FROM upload_batches WHERE kind = 'actuals' ORDER BY batch_id",
    }
    with store.cursor() as cursor:
        held = {name: [tuple(row) for row in cursor.execute(sql).fetchall()] for name, sql in tables.items()}
    frame = store.actuals(SYSTEM)
    held["ledger"] = [tuple(row) for row in frame.drop(columns=["batch_id"]).itertuples(index=False)]
    return held


def _spy_sql(store: Store, monkeypatch) -> list[str]:
    """The statements the store's writes run (to tell which path a write took)."""
    seen: list[str] = []
    write = store.write

    def spying(principal, action, detail, work, **kwargs):
        def spied(cursor):
            execute, temp_table = cursor.execute, cursor.temp_table

            class Spy:
                def __getattr__(self, name):
                    return getattr(cursor, name)

                def execute(self, sql, *args, **kw):
                    seen.append(sql)
                    return execute(sql, *args, **kw)

                def batches(self, sql, *args, **kw):
                    seen.append(sql)
                    return cursor.batches(sql, *args, **kw)

                def temp_table(self, name, select, *args, **kw):
                    seen.append(f"TEMP TABLE {name} AS {select}")
                    return temp_table(name, select, *args, **kw)

            return work(Spy())

        return write(principal, action, detail, spied, **kwargs)

    monkeypatch.setattr(store, "write", spying)
    return seen

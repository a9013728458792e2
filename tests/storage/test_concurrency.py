"""Concurrent users (issue 7): eight browser sessions share one Store and upload at the same time.

Every upload must land as one whole batch, the ledger must equal a reference that applies the
files in batch order (the newest batch holding a key gives its value), no key may be counted
twice, and a reader polling the totals meanwhile only ever sees the state after some whole number
of batches. Undo racing with uploads must give the same result in whichever order they land.
(A second process finding the database held is covered by storage/test_store.py and the command
line's test in core/test_import_bad_input.py.)
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store

SESSIONS = 8
# each upload of a session holds the same orders (new values): its second upload already races as an
# update of keys an earlier batch wrote while the other sessions' uploads land; the third and fourth
# added no other kind of overlap, only ~3 s of CPU (each import's fixed cost, whatever its rows)
UPLOADS_PER_SESSION = 2
ROWS = 1500
HOT = 100  # orders every upload holds: the hottest conflicts
REPS = ("R000", "R001", "R002", "R003")


def sales(orders: list[str], salt: int) -> tuple[bytes, dict[str, Decimal]]:
    """A file of one line per order, and the reference reading: order -> revenue."""
    values = {order: Decimal((hash_int(order) * 31 + salt * 7919) % 2_000_000 - 100_000) / 100 for order in orders}
    lines = ["date,rep,order id,line,amount"]
    lines += [f"2025-03-{hash_int(order) % 28 + 1:02d},{REPS[hash_int(order) % 4]},{order},1,{values[order]:.2f}"
              for order in orders]
    return ("\n".join(lines) + "\n").encode(), values


def hash_int(order: str) -> int:
    return sum((index + 1) * ord(char) for index, char in enumerate(order))


def ledger(store: Store) -> dict[str, Decimal]:
    with store.cursor() as cursor:
        rows = cursor.execute("SELECT order_id, order_line, revenue FROM actuals").fetchall()
    assert all(line == "1" for _, line, _ in rows)
    result = {order: Decimal(revenue) for order, _, revenue in rows}
    assert len(result) == len(rows), "a key is in the ledger twice"
    return result


def run_at_once(jobs: list) -> list:
    """Run the callables in threads released together; return their results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = jobs[index]()
        except Exception as error:  # noqa: BLE001 - returned and asserted by the caller
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a session hung"
    return results


def test_eight_sessions_upload_different_and_overlapping_files_at_once(reps_store):
    store = reps_store
    files: dict[str, tuple[bytes, dict[str, Decimal]]] = {}
    for session in range(SESSIONS):
        for upload in range(UPLOADS_PER_SESSION):
            # each session's orders overlap half of the next session's, and every file holds the hot orders
            own = [f"S-{number}" for number in range(session * ROWS // 2, session * ROWS // 2 + ROWS - HOT)]
            hot = [f"HOT-{number}" for number in range(HOT)]
            files[f"s{session}-u{upload}.csv"] = sales(own + hot, salt=session * 10 + upload)
    # two sessions upload the very same export at the same moment
    files["s7-u0.csv"] = files["s0-u0.csv"]

    observed: list[tuple[int, Decimal]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with store.cursor() as cursor:
                count, revenue = cursor.execute("SELECT count(*), coalesce(sum(revenue), 0) FROM actuals").fetchall()[0]
            observed.append((int(count), Decimal(revenue)))
            # a read every few milliseconds still lands many times inside each upload's write; reading
            # back to back kept one of two cores busy and slowed the uploads it watches
            stop.wait(0.005)

    def session_job(session: int):
        def job():
            return [
                (name, imports.import_file(store, "actuals", files[name][0], file_name=name))
                for name in (f"s{session}-u{upload}.csv" for upload in range(UPLOADS_PER_SESSION))
            ]
        return job

    polling = threading.Thread(target=reader)
    polling.start()
    try:
        outcomes = run_at_once([session_job(session) for session in range(SESSIONS)])
    finally:
        stop.set()
        polling.join()
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert errors == [], f"uploads were lost: {errors!r}"
    results = sorted((result.batch_id, name, result) for outcome in outcomes for name, result in outcome)
    assert len(results) == SESSIONS * UPLOADS_PER_SESSION

    # reference: the files applied in batch order; the counts of each batch follow from it
    expected: dict[str, Decimal] = {}
    states = {(0, Decimal(0))}
    for batch_id, name, result in results:
        values = files[name][1]
        inserted = sum(1 for order in values if order not in expected)
        updated = sum(1 for order, value in values.items() if order in expected and expected[order] != value)
        assert (result.inserted, result.updated, result.unchanged) == (inserted, updated, len(values) - inserted - updated), name
        expected.update(values)
        states.add((len(expected), sum(expected.values(), Decimal(0))))
    assert ledger(store) == expected

    batches = store.batches(SYSTEM).set_index("batch_id")
    with store.cursor() as cursor:
        versions = dict(cursor.execute("SELECT batch_id, count(*) FROM actual_batch_rows GROUP BY batch_id").fetchall())
    for batch_id, name, result in results:
        assert batches.loc[batch_id, "file_name"] == name
        assert versions[batch_id] == len(files[name][1])
    actual_batches = batches[batches["kind"] == "actuals"]
    assert len(actual_batches) == len(results), "every upload is recorded as a batch"
    assert int(actual_batches["rows_inserted"].sum()) == len(expected), "each key is inserted exactly once"
    # a reader never saw half a batch: every total it read is the state after some whole batches
    assert observed and set(observed) <= states
    print(f"{len(results)} concurrent uploads, {sum(len(files[name][1]) for _, name, _ in results)} rows, "
          f"{len(expected)} keys compared, {len(observed)} consistent reads")


def test_undo_racing_with_uploads_gives_the_same_result_in_any_order(reps_store):
    store = reps_store
    for round_number in range(4):
        only_old = [f"R{round_number}-OLD-{n}" for n in range(800)]
        shared = [f"R{round_number}-SHARED-{n}" for n in range(800)]
        only_new = [f"R{round_number}-NEW-{n}" for n in range(800)]
        other = [f"R{round_number}-OTHER-{n}" for n in range(800)]
        old_file, _ = sales(only_old + shared, salt=1)
        new_file, new_values = sales(shared + only_new, salt=2)
        other_file, other_values = sales(other, salt=3)
        before = ledger(store)
        old = imports.import_file(store, "actuals", old_file, file_name=f"old-{round_number}.csv")

        outcomes = run_at_once([
            lambda: store.undo(SYSTEM, old.batch_id),
            lambda: imports.import_file(store, "actuals", new_file, file_name=f"new-{round_number}.csv"),
            lambda: imports.import_file(store, "actuals", other_file, file_name=f"other-{round_number}.csv"),
        ])
        assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
        # undo first or upload first: the old-only keys are gone, the shared keys hold the new values
        assert ledger(store) == {**before, **new_values, **other_values}
        assert store.batch(old.batch_id)["reverted_at"] is not None
        with store.cursor() as cursor:
            kept = cursor.execute("SELECT count(*) FROM actual_versions WHERE batch_id = ?", [old.batch_id]).fetchall()[0][0]
        assert kept == 1600, "an undo never deletes the versions of its batch"


def test_simultaneous_undos_of_one_batch_undo_it_once(reps_store):
    store = reps_store
    data, _ = sales([f"U-{n}" for n in range(5000)], salt=5)
    batch = imports.import_file(store, "actuals", data, file_name="u.csv").batch_id
    outcomes = run_at_once([lambda: store.undo(SYSTEM, batch) for _ in range(4)])
    succeeded = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, BadInput)]
    assert len(succeeded) == 1 and len(refused) == 3, outcomes
    assert all("already undone" in str(error) for error in refused)
    assert ledger(store) == {}
    undo_lines = store.audit_log(SYSTEM).query("action == 'undo'")
    assert len(undo_lines) == 1, "one undo, one audit line"


@pytest.mark.parametrize("kind", ["targets", "reps", "holidays"])
def test_concurrent_imports_of_the_other_kinds_all_land(reps_store, kind):
    """Targets, reps and holidays from several sessions at once: no lost batch, no duplicate cell."""
    store = reps_store
    payloads = {
        "targets": ["owner,month,amount\n" + "".join(f"R00{n % 4},2025-{m:02d},{1000 * s + m}\n" for n in range(4)
                                                        for m in range(1, 13)) for s in range(6)],
        "reps": ["rep_id,name,territory\n" + "".join(f"C{s}{n},Rep {s}{n},Nordics\n" for n in range(40)) for s in range(6)],
        "holidays": ["date,name\n" + "".join(f"2026-{m:02d}-0{s + 1},Day {s}{m}\n" for m in range(1, 13)) for s in range(6)],
    }[kind]
    outcomes = run_at_once([
        (lambda payload=payload, s=s: imports.import_file(store, kind, payload.encode(), file_name=f"{kind}-{s}.csv"))
        for s, payload in enumerate(payloads)
    ])
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert errors == [], errors
    with store.cursor() as cursor:
        if kind == "targets":
            cells, distinct = cursor.execute(
                "SELECT count(*), count(DISTINCT (owner_type, owner_id, metric, month)) FROM targets").fetchall()[0]
            assert cells == distinct == 48
            newest = max(outcomes, key=lambda result: result.batch_id)
            assert cursor.execute("SELECT count(*) FROM targets WHERE batch_id = ?", [newest.batch_id]).fetchall()[0][0] == 48
        elif kind == "reps":
            assert cursor.execute("SELECT count(*) FROM reps WHERE rep_id LIKE 'C%'").fetchall()[0][0] == 240
        else:
            assert cursor.execute("SELECT count(*) FROM holidays WHERE year(holiday_date) = 2026").fetchall()[0][0] == 72
    assert len(store.batches(SYSTEM).query(f"kind == '{kind}'")) == 6 + (1 if kind == "reps" else 0)

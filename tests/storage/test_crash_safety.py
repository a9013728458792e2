"""Crash safety (issue 7): an import killed with SIGKILL at any point leaves a database that opens,
holds the batch completely or not at all, and totals equal to either before or after the import.

A child process (forked from a server that has salesplan loaded: tests.helpers.storage_fixtures
.forked_processes) imports a large actuals file (20,000 rows, a twentieth of them updating rows
already in the ledger: large enough that its write transaction lasts a tenth of a second or more,
small enough to keep the test's eight imports cheap) into a copy of the same database, and is killed
after a delay: some drawn from a seeded RNG anywhere in the import, others inside its write (the
child reports when the write's transaction has staged the rows). At least one kill must be proven
to land inside the write: after the child reported the staging, with the batch absent afterwards
(not yet committed). One complete run measures the timings and gives the "after" state, which
must equal a pure-Python reference of the file.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import signal
import time
import traceback
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from salesplan import imports
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers.storage_fixtures import forked_processes

ROWS = 40_000  # the write after staging then takes ~0.2 s here: room for a loaded parent to land a kill inside it
BEFORE_ROWS = 2_000  # already in the ledger; the big file updates every other one of them
KILL_RUNS = 6
# when the write-phase kills (runs 1, 3, 5) land, in shares of the write after staging: two inside
# it, one just after the commit
WRITE_SHARES = (0.1, 1.2, 0.4)
SEED = 20250314
REPS = ("R000", "R001", "R002", "R003")


def import_child(database: str, source: str, folder: str, marks: Connection) -> None:
    """The import the test kills: run in a process of its own (forked from the forkserver that has
    salesplan loaded already), reporting each phase with its time on ``marks``."""
    import tempfile

    from salesplan.storage.backends import DuckCursor

    tempfile.tempdir = folder  # a killed import's scratch files stay in the test's folder
    try:
        store = Store.open(database)
        apply_actuals = Store.apply_actuals
        stage = DuckCursor.stage

        def staging(self, *args, **kwargs):  # the write's first step, inside its transaction
            stage(self, *args, **kwargs)
            marks.send(("staged", time.monotonic()))

        def reporting(self, *args, **kwargs):
            marks.send(("writing", time.monotonic()))
            outcome = apply_actuals(self, *args, **kwargs)
            marks.send(("committed", time.monotonic()))
            return outcome

        Store.apply_actuals = reporting
        DuckCursor.stage = staging
        marks.send(("ready", time.monotonic()))
        result = imports.import_file(store, "actuals", source)
        store.close()
        marks.send(("done", time.monotonic(), result.batch_id, result.inserted, result.updated))
    except BaseException:
        marks.send(("failed", traceback.format_exc()))
        raise


def cents(order: int, version: int) -> int:
    return (order * 7919 + version * 104729) % 1_000_000 - 50_000  # some credits too


def sales_file(rows: range, version: int) -> bytes:
    lines = ["date,rep,order id,line,customer,amount"]
    for order in rows:
        amount = cents(order, version)
        lines.append(
            f"2025-{order % 12 + 1:02d}-{order % 28 + 1:02d},{REPS[order % 4]},SO-{order},1,Customer {order % 211},"
            f"{Decimal(amount) / 100:.2f}"
        )
    return ("\n".join(lines) + "\n").encode()


def reference(files: list[tuple[range, int]]) -> tuple[int, Decimal]:
    """Rows and revenue of the ledger after importing the files in order (newest value per order)."""
    ledger: dict[int, int] = {}
    for rows, version in files:
        for order in rows:
            ledger[order] = cents(order, version)
    return len(ledger), Decimal(sum(ledger.values())) / 100


def ledger_state(store: Store) -> tuple[int, Decimal]:
    with store.cursor() as cursor:
        count, revenue = cursor.execute("SELECT count(*), coalesce(sum(revenue), 0) FROM actuals").fetchall()[0]
    return int(count), Decimal(revenue)


BEFORE_FILE = (range(0, BEFORE_ROWS * 2, 2), 1)  # orders 0, 2, 4, ... 3,998
BIG_FILE = (range(BEFORE_ROWS, BEFORE_ROWS + ROWS), 2)  # orders 2,000 ... 21,999


@pytest.fixture(scope="module")
def setup(tmp_path_factory, reps_template):
    folder = tmp_path_factory.mktemp("crash")
    base = folder / "base.duckdb"
    shutil.copyfile(reps_template, base)
    with Store.open(base) as store:
        imports.import_file(store, "actuals", sales_file(*BEFORE_FILE), file_name="before.csv")
        before = ledger_state(store)
        batches = len(store.batches(SYSTEM))
    assert before == reference([BEFORE_FILE])
    big = folder / "big.csv"
    big.write_bytes(sales_file(*BIG_FILE))
    return folder, base, big, before, reference([BEFORE_FILE, BIG_FILE]), batches


class Child:
    """A process running :func:`import_child`, and the marks it sends."""

    def __init__(self, folder: Path, database: Path, big: Path):
        self.marks, child_end = multiprocessing.Pipe(duplex=False)
        self.process = forked_processes().Process(target=import_child, args=(str(database), str(big), str(folder), child_end))
        self.process.start()
        child_end.close()  # a dead child then ends the pipe (EOFError) instead of leaving it open

    def read_mark(self, word: str) -> tuple:
        assert self.marks.poll(120), f"no {word!r} from the child (exit code {self.process.exitcode})"
        mark = self.marks.recv()
        assert mark[0] == word, mark
        return mark

    def close(self) -> None:
        self.marks.close()


def check_recovered(database: Path, before, after, batches_before: int) -> str:
    """Open the database after a crash and prove the batch is all there or not there at all."""
    with Store.open(database) as store:  # opens: no DatabaseLocked, no corruption error
        state = ledger_state(store)
        batches = store.batches(SYSTEM)
        big = batches[batches["file_name"] == "big.csv"]
        with store.cursor() as cursor:
            orphans = cursor.execute(
                "SELECT count(*) FROM actual_versions WHERE batch_id NOT IN (SELECT batch_id FROM upload_batches)"
            ).fetchall()[0][0]
            versions = (
                cursor.execute("SELECT count(*) FROM actual_versions WHERE batch_id = ?", [int(big["batch_id"].iloc[0])])
                .fetchall()[0][0] if len(big) else 0
            )
    assert orphans == 0
    if len(big):
        assert len(batches) == batches_before + 1
        assert versions == ROWS
        assert int(big["rows_inserted"].iloc[0]) + int(big["rows_updated"].iloc[0]) == ROWS
        assert state == after
        return "complete"
    assert len(batches) == batches_before
    assert state == before
    return "absent"


def test_sigkill_during_a_large_import_leaves_the_batch_complete_or_absent(setup):
    folder, base, big, before, after, batches_before = setup

    # a complete run: the timings of the phases, and the "after" state
    database = folder / "complete.duckdb"
    shutil.copyfile(base, database)
    child = Child(folder, database, big)
    ready = child.read_mark("ready")[1]
    child.read_mark("writing")
    staged = child.read_mark("staged")[1]
    committed = child.read_mark("committed")[1]
    done = child.read_mark("done")
    child.process.join(timeout=120)
    assert child.process.exitcode == 0
    child.close()
    finished = done[1]
    assert (int(done[3]), int(done[4])) == (ROWS - BEFORE_ROWS // 2, BEFORE_ROWS // 2)
    assert check_recovered(database, before, after, batches_before) == "complete"

    rng = random.Random(SEED)
    outcomes = []
    for run in range(KILL_RUNS):
        database = folder / f"killed-{run}.duckdb"
        shutil.copyfile(base, database)
        # even runs: anywhere in the import; odd runs: inside the write transaction (the riskiest part),
        # timed from the child's own "staged" mark (the transaction is open) so that a slower or faster
        # run still hits it, at fixed shares of the measured rest of the write: the first well inside
        # it even when this run writes several times faster than the complete one, one just after
        # the commit
        child = Child(folder, database, big)
        child.read_mark("ready")
        if run % 2 == 0:
            delay = rng.uniform(0, finished - ready)
        else:
            child.read_mark("writing")
            child.read_mark("staged")
            delay = WRITE_SHARES[run // 2 % len(WRITE_SHARES)] * (committed - staged)
        time.sleep(delay)
        alive = child.process.is_alive()
        child.process.kill()  # SIGKILL
        child.process.join(timeout=60)
        assert child.process.exitcode in (-signal.SIGKILL, 0), child.process.exitcode
        child.close()
        outcome = check_recovered(database, before, after, batches_before)
        outcomes.append((("import", "write")[run % 2], round(delay, 2), alive, outcome))
        assert alive or outcome == "complete", outcomes
    print(f"import {finished - ready:.2f} s, of which the write after staging {committed - staged:.2f} s; "
          "kill runs (phase, delay s, killed while running, batch):", outcomes)
    assert sum(alive for _, _, alive, _ in outcomes) >= KILL_RUNS // 2, f"most kills must hit a running import: {outcomes}"
    # killed after the "staged" mark and nothing committed: the kill landed inside the write transaction
    assert any(phase == "write" and outcome == "absent" for phase, _, _, outcome in outcomes), \
        f"no kill landed inside the write: {outcomes}"

    # the last killed database is still fully usable: the same import now completes
    with Store.open(folder / f"killed-{KILL_RUNS - 1}.duckdb") as store:
        imports.import_file(store, "actuals", big)
        assert ledger_state(store) == after

"""Reads and the idle close of a DuckDB file while a large upload's write limits the process's
memory (salesplan.storage.duckfile.limited_memory, applied by Store.write(memory_mb=...)).

DuckDB's memory limit belongs to the whole database the files are attached to, not to one
connection: a dashboard read that runs beside such a write and needs more than the limit cannot
get its own budget. It must fail as the project's named error at the store's boundary (as a
write does), and the linger timer that closes an idle file must not die in its thread when the
close's checkpoint needs more memory than the limit leaves. A limit of a megabyte or two on a
small file stands for a large upload's.
"""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from salesplan.errors import SalesplanError
from salesplan.principal import SYSTEM
from salesplan.storage import duckfile
from salesplan.storage.base import DatabaseBusy
from salesplan.store import Store

AUDIT_LINES = 50_000


@pytest.fixture
def busy_store(tmp_path):
    """A DuckDB file store whose audit log holds AUDIT_LINES long lines: reading them sorted
    needs more than a 2 MB limit allows."""
    with Store.open(tmp_path / "org.duckdb") as store:
        with store.atomic() as cursor:
            cursor.execute(
                "INSERT INTO audit_log SELECT localtimestamp, 'user' || range, repeat('x', 300), 'detail' "
                f"FROM range({AUDIT_LINES})"
            )
        yield store


def test_a_read_that_does_not_fit_beside_a_large_uploads_write_says_the_database_is_busy(busy_store):
    busy_store.data_version()  # the file is attached before the limit is set
    with duckfile.limited_memory(2):
        with pytest.raises(DatabaseBusy) as refused:
            busy_store.audit_log(SYSTEM, limit=AUDIT_LINES)
    assert isinstance(refused.value, SalesplanError)
    assert not isinstance(refused.value, duckdb.Error)
    assert "busy writing a large upload" in str(refused.value) and "try again in a moment" in str(refused.value)
    # nothing is left broken: once the upload is written, the same read works
    assert len(busy_store.audit_log(SYSTEM, limit=AUDIT_LINES)) == AUDIT_LINES


def test_a_snapshot_read_beside_a_large_uploads_write_says_the_database_is_busy(busy_store):
    busy_store.data_version()
    with duckfile.limited_memory(2):
        with pytest.raises(DatabaseBusy):
            with busy_store.atomic(snapshot=True) as cursor:
                cursor.execute("SELECT * FROM audit_log ORDER BY actor").fetchall()
    assert busy_store.table_counts()["audit_log"] >= AUDIT_LINES


def test_a_writes_own_memory_error_keeps_its_own_message(busy_store):
    # the read translation does not swallow a write's: Store.write says what a write should do
    busy_store.data_version()
    from salesplan.errors import BadInput

    def work(cursor) -> None:
        cursor.execute("INSERT INTO audit_log SELECT * FROM audit_log ORDER BY actor")

    with duckfile.limited_memory(2):
        with pytest.raises(BadInput, match="did not fit in the memory allowed while a large upload is written"):
            busy_store.write(SYSTEM, "copy", "", work)
    assert busy_store.table_counts()["audit_log"] == AUDIT_LINES


def test_the_idle_close_under_a_large_uploads_memory_limit_raises_nothing_and_keeps_the_data(tmp_path, monkeypatch):
    failures: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    with Store.open(tmp_path / "org.duckdb") as store:
        hold = store._backend._hold
        with store.atomic() as cursor:
            cursor.execute("CREATE TABLE big AS SELECT range AS i, repeat('x', 200) || range AS t FROM range(100000)")
            cursor.execute("CREATE UNIQUE INDEX big_t ON big (t)")
        with store.atomic() as cursor:
            cursor.execute("INSERT INTO big SELECT range + 100000, 'y' || range FROM range(100000)")
        _wait_closed(hold)
        with store.atomic() as cursor:  # a change to every row: its checkpoint needs memory
            cursor.execute("UPDATE big SET i = i + 1")
        with duckfile.limited_memory(1):
            _wait_closed(hold)  # the linger timer closes the idle file under the limit
            time.sleep(0.2)
        assert failures == []
        # the next attach works and nothing written is lost
        with store.cursor() as cursor:
            assert cursor.execute("SELECT count(*), min(i), max(i) FROM big").fetchall() == [(200000, 1, 200000)]
    # closed for good: another database (another process's, say) attaches the file and sees the same
    other = duckdb.connect(str(tmp_path / "org.duckdb"))
    try:
        assert other.execute("SELECT count(*), max(i) FROM big").fetchall() == [(200000, 200000)]
    finally:
        other.close()


def _wait_closed(hold: duckfile.FileHold, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while hold._connection is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hold._connection is None

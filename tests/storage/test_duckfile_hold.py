"""The hold on a DuckDB file (salesplan.storage.duckfile) when another process waits for it."""

from __future__ import annotations

import os
import threading
import time

from salesplan.storage import duckfile


def _announce_other_process_waiting(path) -> None:
    # what a second process writes while it retries the file (any pid but ours)
    (path.parent / f"{path.name}.wait").write_text(str(os.getpid() + 1))


def test_an_operation_inside_an_operation_does_not_wait_for_itself_to_hand_the_file_over(tmp_path):
    # A store call made while the same thread already runs one (a digest reading settings inside its
    # send loop) used to wait for the running operations to end before handing the file to the
    # waiting process: it waited for itself until the other process gave up (DatabaseLocked there).
    path = tmp_path / "held.duckdb"
    hold = duckfile.FileHold(str(path), lambda: 5.0)
    outer = hold.acquire()
    _announce_other_process_waiting(path)
    finished = threading.Event()

    def nested() -> None:
        inner = hold.acquire()
        hold.release(inner)
        finished.set()

    started = time.monotonic()
    nested()  # on the same thread, as a nested store call is
    assert finished.is_set() and time.monotonic() - started < duckfile.WAIT_FRESH_SECONDS
    hold.release(outer)
    hold.close()


def test_another_threads_operation_still_waits_for_the_running_ones_then_hands_over(tmp_path):
    path = tmp_path / "held.duckdb"
    hold = duckfile.FileHold(str(path), lambda: 5.0)
    first = hold.acquire()
    _announce_other_process_waiting(path)
    got: list[float] = []

    def other_thread() -> None:
        cursor = hold.acquire()
        got.append(time.monotonic())
        hold.release(cursor)

    worker = threading.Thread(target=other_thread)
    worker.start()
    time.sleep(0.3)
    assert not got  # it waits while this thread's operation runs and another process waits
    released = time.monotonic()
    hold.release(first)
    worker.join(10)
    assert got and got[0] >= released
    hold.close()


def test_at_exit_the_idle_files_are_closed_and_no_linger_timer_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(duckfile, "LINGER_SECONDS", 60.0)  # the timer must not fire on its own meanwhile
    hold = duckfile.hold_for(str(tmp_path / "idle.duckdb"), lambda: 5.0)
    hold.release(hold.acquire())  # idle now: a linger timer would close it in a moment
    assert hold._timer is not None and hold._connection is not None
    duckfile.close_idle_holds()
    assert hold._timer is None and hold._connection is None



def test_every_operation_runs_on_the_file_without_the_progress_bar(tmp_path):
    # each operation's cursor is set up once per attach: it uses the file, and has the progress
    # bar off (a long import would otherwise draw it on the dashboard's terminal), though the
    # connection that attached the file has it on
    path = tmp_path / "bar.duckdb"
    hold = duckfile.FileHold(str(path), lambda: 5.0)
    for _ in range(2):  # a second attach (after the file was closed) gets a new name: same setup
        cursor = hold.acquire()
        try:
            cursor.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            assert cursor.execute("SELECT current_setting('enable_progress_bar'), current_database()").fetchone() \
                == (False, hold.alias)
        finally:
            hold.release(cursor)
        hold.close()

"""The embedded DuckDB file is shared: command-line runs complete while the dashboard serves.

A second real process plays the dashboard: it reads the data version and the engine inputs in a
loop (with pauses like page views, or without any pause). Meanwhile this process runs command-line
imports, a user command and a backup on the same file. They must all complete, the reader must
never fail, and it must see the new data.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import duckdb
import pytest

from salesplan import imports
from salesplan.cli import main
from salesplan.errors import DatabaseLocked
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates
from tests.helpers.storage_fixtures import forked_processes

def _reader(path: str, stop: str, pause: float, marks: Connection) -> None:
    """The dashboard's part, in a process of its own: read the data version, the totals and the
    engine inputs in a loop (``pause`` seconds apart) until the file ``stop`` exists, then one
    read more; send "ready", "reading" after its first read, and at the end what it saw."""
    store = Store.open(path)
    seen, errors, reads = [], [], 0
    marks.send("ready")
    while True:
        stopping = Path(stop).exists()  # seen: one more read, after everything the test ran, then stop
        try:
            version = store.data_version()
            rows = store.actual_totals(SYSTEM)["rows"]
            store.engine_inputs(SYSTEM)
            reads += 1
            if not seen or seen[-1] != [version, rows]:
                seen.append([version, rows])
        except Exception as error:  # noqa: BLE001 - sent back and asserted by the test
            errors.append(repr(error))
        if reads + len(errors) == 1:
            marks.send("reading")
        if stopping:
            break
        time.sleep(pause)
    store.close()
    marks.send({"seen": seen, "errors": errors, "reads": reads})


def _holder(path: str, marks: Connection) -> None:
    """Another process that opens the DuckDB file itself and keeps it (until it is killed)."""
    connection = duckdb.connect(path)
    marks.send("ready")
    time.sleep(30)
    connection.close()


def _start(target, *args) -> tuple[BaseProcess, Connection]:
    """``target(*args, marks)`` in a process of its own (forked from a server that has loaded
    salesplan: a new interpreter cost ~1.4 s of CPU to import it again); returns the process and
    the end of the pipe its marks arrive on."""
    marks, child_end = multiprocessing.Pipe(duplex=False)
    process = forked_processes().Process(target=target, args=(*args, child_end))
    process.start()
    child_end.close()  # a dead child then ends the pipe (EOFError) instead of leaving it open
    return process, marks


def _mark(marks: Connection, timeout: float = 120):
    assert marks.poll(timeout), "no word from the other process"
    return marks.recv()


REPS = "rep_id,name,email,territory,region,manager\nR1,Ann One,ann@x.test,Nordics,North,\n"


def _rep(store: Store) -> None:
    imports.import_file(store, "reps", REPS.encode(), file_name="reps.csv")


def actuals_file(folder: Path, name: str, orders: range) -> Path:
    path = folder / name
    path.write_text("date,rep,amount,order id\n" + "".join(f"2025-03-{1 + k % 28:02d},R1,{k},O-{k}\n" for k in orders))
    return path


@pytest.mark.parametrize("pause", [0.05, 0.0], ids=["page-views", "busy-reader"])
def test_command_line_runs_complete_while_another_process_reads(tmp_path, pause, capsys):
    db = templates.duckdb_copy(tmp_path / "shared.duckdb", "sharing-rep", _rep)  # built once per run
    stop = tmp_path / "stop"
    reader, marks = _start(_reader, str(db), str(stop), pause)
    try:
        assert _mark(marks) == "ready"
        assert _mark(marks) == "reading"  # its first read is done: it is busy with the file
        started = time.monotonic()
        assert main(["--db", str(db), "import", "actuals", str(actuals_file(tmp_path, "a.csv", range(500)))]) == 0
        assert main(["--db", str(db), "import", "actuals", str(actuals_file(tmp_path, "b.csv", range(400, 900)))]) == 0
        assert main(["--db", str(db), "user", "add", "boss@x.test", "--role", "admin", "--password", "pw12"]) == 0
        assert main(["--db", str(db), "backup", str(tmp_path / "snap")]) == 0
        took = time.monotonic() - started
    finally:
        stop.write_text("stop")
        report = _mark(marks, 60)
        reader.join(timeout=60)
        marks.close()
    assert reader.exitcode == 0
    assert report["errors"] == []
    assert took < 30  # each command may wait for the reader's current operation, never for the lock wait
    versions = [version for version, _ in report["seen"]]
    assert versions == sorted(versions)
    assert report["seen"][-1][1] == 900  # the reader sees the imported rows
    assert (tmp_path / "snap" / "manifest.json").exists()
    with Store.open(db) as store:
        assert store.authenticate("boss@x.test", "pw12").role == "admin"


def test_a_process_that_holds_the_file_too_long_gives_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESPLAN_LOCK_WAIT", "1")
    db = templates.duckdb_copy(tmp_path / "held.duckdb", templates.MIGRATED)  # what Store.open makes of a new file
    holder, marks = _start(_holder, str(db))
    try:
        assert _mark(marks) == "ready"
        started = time.monotonic()
        with pytest.raises(DatabaseLocked, match="in use by another process for more than 1 s"):
            Store.open(db)
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.join(timeout=60)
        marks.close()

"""The embedded DuckDB file is shared: command-line runs complete while the dashboard serves.

A second real process plays the dashboard: it reads the data version and the engine inputs in a
loop (with pauses like page views, or without any pause). Meanwhile this process runs command-line
imports, a user command and a backup on the same file. They must all complete, the reader must
never fail, and it must see the new data.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from salesplan.cli import main
from salesplan.errors import DatabaseLocked
from salesplan.store import Store

READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from salesplan.principal import SYSTEM
    from salesplan.store import Store

    path, stop, pause = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    store = Store.open(path)
    seen, errors, reads = [], [], 0
    print("ready", flush=True)
    while True:
        stopping = stop.exists()  # seen: one more read, after everything the test ran, then stop
        try:
            version = store.data_version()
            rows = store.actual_totals(SYSTEM)["rows"]
            store.engine_inputs(SYSTEM)
            reads += 1
            if not seen or seen[-1] != [version, rows]:
                seen.append([version, rows])
        except Exception as error:
            errors.append(repr(error))
        if reads + len(errors) == 1:
            print("reading", flush=True)
        if stopping:
            break
        time.sleep(pause)
    store.close()
    print(json.dumps({"seen": seen, "errors": errors, "reads": reads}), flush=True)
    """
)
REPS = "rep_id,name,email,territory,region,manager\nR1,Ann One,ann@x.test,Nordics,North,\n"


def actuals_file(folder: Path, name: str, orders: range) -> Path:
    path = folder / name
    path.write_text("date,rep,amount,order id\n" + "".join(f"2025-03-{1 + k % 28:02d},R1,{k},O-{k}\n" for k in orders))
    return path


@pytest.mark.parametrize("pause", [0.05, 0.0], ids=["page-views", "busy-reader"])
def test_command_line_runs_complete_while_another_process_reads(tmp_path, pause, capsys):
    db = tmp_path / "shared.duckdb"
    with Store.open(db) as store:
        from salesplan import imports

        imports.import_file(store, "reps", REPS.encode(), file_name="reps.csv")
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop), str(pause)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "ready"
        assert reader.stdout.readline().strip() == "reading"  # its first read is done: it is busy with the file
        started = time.monotonic()
        assert main(["--db", str(db), "import", "actuals", str(actuals_file(tmp_path, "a.csv", range(500)))]) == 0
        assert main(["--db", str(db), "import", "actuals", str(actuals_file(tmp_path, "b.csv", range(400, 900)))]) == 0
        assert main(["--db", str(db), "user", "add", "boss@x.test", "--role", "admin", "--password", "pw12"]) == 0
        assert main(["--db", str(db), "backup", str(tmp_path / "snap")]) == 0
        took = time.monotonic() - started
    finally:
        stop.write_text("stop")
        out, err = reader.communicate(timeout=60)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["errors"] == [], err
    assert took < 30  # each command may wait for the reader's current operation, never for the lock wait
    versions = [version for version, _ in report["seen"]]
    assert versions == sorted(versions)
    assert report["seen"][-1][1] == 900  # the reader sees the imported rows
    assert (tmp_path / "snap" / "manifest.json").exists()
    with Store.open(db) as store:
        assert store.authenticate("boss@x.test", "pw12").role == "admin"


def test_a_process_that_holds_the_file_too_long_gives_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESPLAN_LOCK_WAIT", "1")
    db = tmp_path / "held.duckdb"
    Store.open(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(DatabaseLocked, match="in use by another process for more than 1 s"):
            Store.open(db)
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()

"""``salesplan serve``: the dashboard on the configured database, migrated first, no demo data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from salesplan.cli import main
from salesplan.store import Store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_serve_runs_the_dashboard_on_the_configured_database_without_demo_data(kind, tmp_path, request):
    target = str(tmp_path / "served.duckdb") if kind == "duckdb" else request.getfixturevalue("pg_url")
    port = _free_port()
    env = {**os.environ, "SALESPLAN_DB": target}
    server = subprocess.Popen([sys.executable, "-m", "salesplan.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not _healthy(port):
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "the dashboard did not answer within 90 s"
            time.sleep(0.2)
        with Store.open(target) as store:
            counts = store.table_counts()
        assert counts["schema_migrations"] > 0  # migrated before serving
        assert counts["reps"] == counts["actuals"] == counts["users"] == 0  # no demo data
        # a process manager stops the command it started: the dashboard must stop with it (it
        # once ran as a child, which outlived its stopped parent and kept serving)
        server.terminate()
        server.wait(timeout=20)
        assert not _healthy(port), "the dashboard still serves after its command was stopped"
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)  # whatever is left of the process group
        except ProcessLookupError:
            pass
        server.wait()
    output = server.stdout.read()
    assert f":{port}" in output
    assert "postgres@" in output or kind == "duckdb"


def test_serve_refuses_a_port_out_of_range(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "x.duckdb"), "serve", "--port", "70000"]) == 2
    assert "--port must be 1-65535" in capsys.readouterr().err

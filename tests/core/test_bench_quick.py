"""The benchmark's quick mode (``make bench-quick``) runs in the test suite so that it never rots:
it must finish, print its one table with every row, and its pandas reference of the docs/numbers.md
formulas must agree with the engine on every value.

The suite's run calls every step in one process (``--in-process``): a fresh process per step, as
``make bench-quick`` runs them, cost ~1 s of CPU each only to import Python, pandas, DuckDB and
salesplan again. That process is the test's own: ``bench.run.main`` gets the command line's
arguments (``python -m bench.run`` only calls it), which spares one more start and import of them
all. That each step also runs as a process of its own, and what a failed one gives, is checked
apart on the cheapest step."""

from __future__ import annotations

import json
from pathlib import Path

import bench.run
from bench.run import QUICK_REPS, step

ROOT = Path(__file__).resolve().parents[2]

ROWS = ("| 1a |", "| 1m |", "| 1b |", "| 1c |", "| 1x |", "| 2r |", "| 2a |", "| 2b |", "| 2c |", "| 2d |", "| 2e |", "| 3 |",
        "| 4 |", "| 5 |")


def test_bench_quick_prints_the_table_and_the_reference_agrees(tmp_path, capsys, monkeypatch):
    out, raw = tmp_path / "bench.md", tmp_path / "bench.json"
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(bench.run, "IN_PROCESS", bench.run.IN_PROCESS)  # main sets it: put back afterwards
    code = bench.run.main(["--quick", "--in-process", "--silent", "--out", str(out), "--json", str(raw),
                           "--work", str(tmp_path / "work")])
    proc = capsys.readouterr()
    assert code == 0, proc.out[-3000:] + proc.err[-3000:]
    table = [line for line in proc.out.splitlines() if line.startswith("|")]
    for row in ROWS:
        assert any(line.startswith(row) for line in table), f"row {row} missing from\n" + "\n".join(table)
    assert sum(line.startswith("| 3 |") for line in table) == 3, "one row per page: My plan, Team overview, Watch list"
    assert "|---|" in proc.out and out.read_text().count("| 2a |") == 1

    res = json.loads(raw.read_text())
    # the agreement check is real: every row and column of the engine's report against pandas
    cmp = res["report"]["S"]["compare"]
    assert cmp["agree"] is True, cmp
    assert cmp["mismatches"] == {}
    assert cmp["rows"] == res["data"]["S"]["reps"] == cmp["reference_rows"] == QUICK_REPS
    assert cmp["columns"] == 27
    # every measure produced numbers (no step failed)
    imp = res["import"]["S"]
    assert not imp["errors"], imp["errors"]
    assert all(imp[k] and imp[k]["median"] > 0 for k in ("import", "reimport", "duckdb", "pandas"))
    counts = res["import_counts"]
    assert counts["S-import"]["inserted"] == res["data"]["S"]["csv_rows"] and counts["S-import"]["rejected"] == 0
    assert counts["S-reimport"]["unchanged"] == res["data"]["S"]["csv_rows"] and counts["S-reimport"]["inserted"] == 0
    assert res["report"]["S"]["engine"]["median"] > 0 and res["report"]["S"]["pandas"]["median"] > 0
    # the workbook step ran both readers (it checks that each run used the reader it names)
    xlsx = res["xlsx"]
    assert not xlsx["errors"], xlsx["errors"]
    assert xlsx["calamine"]["median"] > 0 and xlsx["openpyxl"]["median"] > 0
    command = res["report_command"]["S"]
    assert command["stats"]["median"] > 0 and command["floor"]["median"] > 0
    pages = res["pages"]
    if not pages.get("missing"):
        for page in ("my_plan", "team", "watchlist"):
            assert "error" not in pages[page], pages[page]
            assert pages[page]["reruns"], page
    assert all(v and v > 0 for v in res["memory"]["S"].values())
    assert res["in_process"] is True and "(--in-process)" in proc.out


def test_a_step_runs_in_a_process_of_its_own_and_a_failed_one_says_so(tmp_path):
    log = tmp_path / "steps.log"
    out = step("first_touch", log, mb=8)
    assert out["first_touch_mb_s"] > 0 and out["rewrite_mb_s"] > 0
    # the memory is read in the step's own process, which touched 8 MB
    assert 8 < out["peak_rss_mb"] and out["wall"] > 0
    failed = step("first_touch", log, mb=-1)  # the step raises in its process (a negative size)
    assert "exit code 1" in failed["error"] and not failed["stopped"]
    assert "ValueError: negative dimensions" in log.read_text()

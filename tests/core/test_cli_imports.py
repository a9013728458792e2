"""`salesplan report` starts a fresh interpreter every time, so what it imports is part of what a
user waits for: the report path loads the store, the engine and the report's formats, never the
dashboard (streamlit, plotly), the workbook readers (openpyxl, calamine), password hashing (argon2),
e-mail or the import rules. Checked on sys.modules of a real command in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from salesplan.cli import main
from tests.helpers import templates

ROOT = Path(__file__).resolve().parents[2]

# top-level packages and salesplan modules the report command must not load
NOT_ON_THE_REPORT_PATH = (
    "streamlit", "plotly", "openpyxl", "argon2", "python_calamine",
    "salesplan.notify", "salesplan.imports", "salesplan.files", "salesplan.ui", "salesplan.demo", "smtplib",
)

CHILD = """
import json, sys
from salesplan.cli import main
code = main(sys.argv[1:])
print("@@MODULES@@" + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""


def _loaded(modules: list[str]) -> list[str]:
    return sorted(name for name in modules
                  if any(name == banned or name.startswith(banned + ".") for banned in NOT_ON_THE_REPORT_PATH))


def test_the_report_command_imports_neither_the_dashboard_nor_the_readers_nor_passwords(tmp_path):
    db = str(templates.duckdb_copy(tmp_path / "r.duckdb", templates.MIGRATED))
    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,Nordics\nR2,Bo,Nordics\n")
    (tmp_path / "sales.csv").write_text("date,rep,amount\n2025-03-03,R1,100\n2025-03-04,R2,250\n")
    assert main(["--db", db, "import", "reps", str(tmp_path / "reps.csv")]) == 0
    assert main(["--db", db, "import", "actuals", str(tmp_path / "sales.csv")]) == 0
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "--db", db, "report", "--as-of", "2025-03-31"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.returncode == 0, child.stderr
    report, _, modules = child.stdout.partition("@@MODULES@@")
    assert "R1" in report and "R2" in report  # the command did its work
    loaded = json.loads(modules)
    assert "salesplan.engine" in loaded and "salesplan.report" in loaded
    assert _loaded(loaded) == []


def test_the_check_sees_a_banned_module_when_one_is_loaded():
    # the check itself: the modules a command that reads files loads are caught. The check reads
    # a list of module names, whichever process it comes from: this one's, once it has them
    # (a child process for this cost ~1.5 s of CPU)
    import argon2  # noqa: F401 - loaded to be seen

    import salesplan.imports  # noqa: F401

    assert {"salesplan.imports", "salesplan.files", "argon2"} <= set(_loaded(sorted(sys.modules)))
    assert _loaded(["salesplan", "salesplan.engine", "salesplan.importsx", "argon2x", "json"]) == []

"""The command line: documented, exit codes, templates that import cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from salesplan.cli import build_parser, main
from salesplan.principal import SYSTEM
from tests.helpers import templates

ROOT = Path(__file__).resolve().parents[2]


def migrated_db(path: Path) -> str:
    """A copy of an empty migrated database at ``path``, for the commands that are not about
    creating one (migrating a new file costs ~0.2 s of CPU; init and the console script still
    create theirs)."""
    return str(templates.duckdb_copy(path, templates.MIGRATED))


def _commands() -> list[str]:
    parser = build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    return sorted(subparsers.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: salesplan " + command in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report"])  # --as-of is required
    assert exit_info.value.code == 2
    assert "--as-of" in capsys.readouterr().err


def test_bad_input_exits_1_with_file_line_column_reason(tmp_path, capsys):
    db = migrated_db(tmp_path / "c.duckdb")
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,name\nR1,Ann\n")
    assert main(["--db", db, "import", "reps", str(reps)]) == 0
    bad = tmp_path / "sales.csv"
    bad.write_text("date,rep,amount\n2025-01-02,R1,12abc\n")
    assert main(["--db", db, "import", "actuals", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "nothing was changed" in err
    assert "sales.csv, line 2, column amount: '12abc' has letters in it" in err


def test_database_from_environment_variable(tmp_path, monkeypatch):
    target = tmp_path / "env.duckdb"
    monkeypatch.setenv("SALESPLAN_DB", str(target))
    assert main(["init"]) == 0
    assert target.exists()


def test_console_script_runs(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "salesplan"), "--db", str(tmp_path / "s.duckdb"), "init"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "schema version" in result.stdout


def test_refusals_are_messages_not_tracebacks(tmp_path, capsys):
    db = migrated_db(tmp_path / "r.duckdb")
    assert main(["--db", db, "report", "--as-of", "2025-03-01", "--fy", "0"]) == 1
    assert "fiscal year 0 is out of range" in capsys.readouterr().err
    assert main(["--db", db, "demo", "--reps", "8"]) == 2
    assert "--reps must be between 10 and 2000, not 8" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text('{"schema_version": 1}')
    assert main(["--db", db, "restore", str(broken)]) == 1
    assert "manifest.json is incomplete" in capsys.readouterr().err


def test_settings_with_a_bad_value_and_holidays_change_nothing(tmp_path, capsys):
    db = migrated_db(tmp_path / "s.duckdb")
    holidays = tmp_path / "holidays.csv"
    holidays.write_text("date,name\n2025-12-25,Christmas\n")
    assert main(["--db", db, "settings", "--working-days", "Mon", "--window", "0", "--holidays", str(holidays)]) == 1
    assert "--window: must be 1-520 working days" in capsys.readouterr().err
    from salesplan.store import Store

    with Store.open(db) as store:
        assert store.settings().working_weekdays == (0, 1, 2, 3, 4)
        assert store.holidays(SYSTEM).empty


def test_watchlist_without_any_target_does_not_say_on_track(tmp_path, capsys):
    db = migrated_db(tmp_path / "w.duckdb")
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,name,territory\nR1,Ann,North\n")
    sales = tmp_path / "sales.csv"
    sales.write_text("date,rep,amount\n2025-01-06,R1,100\n2025-02-03,R1,100\n")
    assert main(["--db", db, "import", "reps", str(reps)]) == 0
    assert main(["--db", db, "import", "actuals", str(sales)]) == 0
    capsys.readouterr()
    assert main(["--db", db, "watchlist", "--as-of", "2025-03-14"]) == 0
    out = capsys.readouterr().out
    assert "no owner has a revenue target for FY2025" in out and "on track" not in out
    assert main(["--db", db, "report", "--as-of", "2025-03-14", "--format", "csv"]) == 0
    assert ",no_target," in capsys.readouterr().out
    assert main(["--db", db, "report", "--as-of", "2200-01-01"]) == 1
    assert "out of range" in capsys.readouterr().err


def test_backtest_command(tmp_path, capsys):
    db = migrated_db(tmp_path / "b.duckdb")
    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,North\nR2,Bob,North\n")
    days = [d for d in __import__("pandas").bdate_range("2023-01-02", "2024-12-31")]
    lines = ["date,rep,amount"] + [f"{d.date()},R{1 + i % 2},{100 + (i % 7) * 10}" for i, d in enumerate(days)]
    (tmp_path / "sales.csv").write_text("\n".join(lines) + "\n")
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    (tmp_path / "targets.csv").write_text("owner,month,amount\n" + "".join(
        f"{r},{m},{amount}\n" for r, amount in (("R1", 1500), ("R2", 900)) for m in months))
    for kind, name in (("reps", "reps"), ("actuals", "sales"), ("targets", "targets")):
        assert main(["--db", db, "import", kind, str(tmp_path / f"{name}.csv")]) == 0
    capsys.readouterr()
    assert main(["--db", db, "backtest", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "section,name,value"
    assert "summary,fiscal_years,2024" in out and "summary,owners,2" in out
    assert main(["--db", db, "backtest"]) == 0
    assert "too_late right" in capsys.readouterr().out
    assert main(["--db", db, "backtest", "--fy", "2025"]) == 1
    assert "FY2025 is not complete" in capsys.readouterr().err

"""The worked example of docs/numbers.md, end to end: files in, `salesplan report --format csv` out.

Mon-Fri, no holidays, L = 5. March 2025 target 22,000 (21 working days). 800 a day from
3 February, 1,500 a day in the week of 10 February. As of Friday 14 March, FY2025-M03.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from salesplan.cli import main

from tests.helpers import templates
from tests.helpers.report import SPEC_HEADER as HEADER


def _write_example(tmp_path):
    (tmp_path / "reps.csv").write_text("rep_id,name,territory,region\nR1,Ann Example,Nordics,North\n")
    (tmp_path / "targets.csv").write_text("owner,month,amount\nR1,2025-03,22000\n")
    lines = ["date,rep,amount"]
    day = date(2025, 2, 3)
    while day <= date(2025, 3, 31):
        if day.weekday() < 5:
            amount = 1500 if date(2025, 2, 10) <= day <= date(2025, 2, 14) else 800
            lines.append(f"{day.isoformat()},R1,{amount}")
        day += timedelta(days=1)
    (tmp_path / "actuals.csv").write_text("\n".join(lines) + "\n")


def test_worked_example_through_files_and_cli(tmp_path, capsys):
    _write_example(tmp_path)
    db = str(tmp_path / "ex.duckdb")
    assert main(["--db", db, "settings", "--window", "5"]) == 0
    for kind in ("reps", "targets", "actuals"):
        assert main(["--db", db, "import", kind, str(tmp_path / f"{kind}.csv")]) == 0
    capsys.readouterr()
    assert main(["--db", db, "report", "--as-of", "2025-03-14", "--period", "month", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == HEADER
    rows = {row["period"]: row for row in csv.DictReader(io.StringIO(out))}
    march = rows["FY2025-M03"]
    assert float(march["expected_to_date"]) == 22000 * 10 / 21
    assert float(march["actual_to_date"]) == 8000
    assert abs(float(march["pace"]) - 0.7636) < 5e-5
    assert march["working_days_left"] == "11"
    assert float(march["required_per_working_day"]) == 14000 / 11
    assert float(march["current_per_working_day"]) == 800
    assert float(march["best_per_working_day"]) == 1500
    assert abs(float(march["acceleration"]) - 1.591) < 5e-4
    assert float(march["projection_linear"]) == 16800
    assert abs(float(march["projection_seasonal"]) - 16800) < 1e-6
    assert march["working_days_to_act"] == "3"
    assert march["point_of_no_return"] == "2025-03-19"
    assert march["status"] == "off_track"
    assert march["action_coverage"] == ""  # month period: empty by definition
    # no deals snapshot: the seven pipeline columns are empty; no past year: no chance either
    for column in ("pipeline", "weighted_pipeline", "overdue_pipeline", "pipeline_coverage", "weighted_coverage",
                   "projection_with_pipeline", "uncovered_gap", "chance_to_reach"):
        assert march[column] == "", column
    assert rows["FY2025-M02"]["status"] == "no_target"  # February has no target
    assert main(["--db", db, "report", "--as-of", "2025-03-14", "--period", "week", "--format", "csv"]) == 0
    weeks = {row["period"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert len(weeks) == 53 and weeks["FY2025-W11"]["period_start"] == "2025-03-10"
    assert float(weeks["FY2025-W11"]["target"]) == 22000 * 5 / 21  # 10-14 March: 5 of March's 21 working days
    # April has not started on 14 March: status not_started, the target only
    assert rows["FY2025-M04"]["status"] == "not_started"
    assert rows["FY2025-M04"]["actual_to_date"] == ""


def test_reimporting_the_example_changes_no_number(tmp_path, capsys):
    _write_example(tmp_path)
    # a copy of a migrated database (creating one through the commands: the test above)
    db = str(templates.duckdb_copy(tmp_path / "ex.duckdb", templates.MIGRATED))
    for kind in ("reps", "targets", "actuals", "actuals", "targets"):
        assert main(["--db", db, "import", kind, str(tmp_path / f"{kind}.csv")]) == 0
    capsys.readouterr()
    main(["--db", db, "report", "--as-of", "2025-03-14", "--format", "json"])
    first = capsys.readouterr().out
    assert main(["--db", db, "import", "actuals", str(tmp_path / "actuals.csv")]) == 0
    capsys.readouterr()
    main(["--db", db, "report", "--as-of", "2025-03-14", "--format", "json"])
    assert capsys.readouterr().out == first

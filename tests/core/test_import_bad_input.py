"""Refused imports (docs/files.md: all or nothing): every problem names file, line, column and reason,
and the database is exactly as it was before. Also the command line's exit codes and messages."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from salesplan import cli, imports
from salesplan.errors import BadInput, Problem
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers.unchanged import UnchangedStore, lending


def refused(shared: UnchangedStore, data: str | bytes, file_name: str = "sales.csv", kind: str = "actuals",
            **options) -> list[Problem]:
    """Import into the shared store, expect BadInput, prove nothing changed, and return the problems."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(BadInput) as error:
        imports.import_file(shared.store, kind, payload, file_name=file_name, **options)
    shared.assert_unchanged()
    assert str(error.value).startswith(str(error.value.problems[0]))
    return error.value.problems


@pytest.fixture(scope="module")
def loaded_template(tmp_path_factory, reps_template):
    """Reps, one actuals batch and one targets batch, so that "changed nothing" has something to keep."""
    path = tmp_path_factory.mktemp("loaded") / "loaded.duckdb"
    path.write_bytes(Path(reps_template).read_bytes())
    with Store.open(path) as store:
        imports.import_file(
            store, "actuals",
            b"date,rep,amount,order id,line\n2025-03-03,R001,100,SO-1,1\n2025-03-04,R002,200,SO-2,1\n",
            file_name="base.csv",
        )
        imports.import_file(store, "targets", b"owner,month,amount\nR001,2025-03,5000\n", file_name="base-targets.csv")
    return path


@pytest.fixture(scope="module")
def shared_loaded(tmp_path_factory, loaded_template):
    """One copy of the loaded database for the module: the refusals leave it as it is, which each
    of them checks against its state when copied (tests/helpers/unchanged.py)."""
    with UnchangedStore(loaded_template, tmp_path_factory.mktemp("refusals")) as shared:
        assert shared.counts["actuals"] == 2 and shared.counts["targets"] == 1
        yield shared


# the shared loaded store (an UnchangedStore: the store is its ``store``); a test that changes a
# setting takes ``loaded_copy`` instead
loaded = lending("shared_loaded")


@pytest.fixture
def loaded_copy(tmp_path, loaded_template):
    """A copy of the loaded database of the test's own, in an UnchangedStore."""
    with UnchangedStore(loaded_template, tmp_path) as own:
        yield own


# ============================================================================ file level
@pytest.mark.parametrize("payload", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_empty_file(loaded, payload):
    assert refused(loaded, payload) == [Problem("sales.csv", None, None, "the file is empty")]


def test_header_only(loaded):
    assert refused(loaded, "date,rep,amount\n\n") == [Problem("sales.csv", 1, None, "the file has a header but no rows")]


def test_header_only_below_a_title(loaded):
    assert refused(loaded, "Sales export\ndate,rep,amount\n") == [
        Problem("sales.csv", 2, None, "the file has a header but no rows")
    ]


def test_required_column_missing(loaded):
    assert refused(loaded, "date,rep,customer\n2025-03-03,R001,Acme\n") == [
        Problem("sales.csv", 1, "revenue",
                "required column revenue is missing (accepted names include: amount, revenue, sales, net sales)")
    ]


def test_two_columns_mapping_to_one_field(loaded):
    assert refused(loaded, "Date,Rep,Revenue,Amount\n2025-03-03,R001,1,1\n") == [
        Problem("sales.csv", 1, "Amount", "columns 'Revenue' and 'Amount' both mean revenue: keep one of them")
    ]


def test_no_header_at_all(loaded):
    assert refused(loaded, "just some text\nmore text\n") == [
        Problem("sales.csv", 1, None,
                "no header row found in the first lines; found 'just some text' — see the README for the expected columns")
    ]


# ============================================================================ rows
def test_unknown_rep(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,R001,1\n2025-03-03,Nobody,2\n") == [
        Problem("sales.csv", 3, "rep",
                "unknown rep 'Nobody': not a rep_id, email or name in the reps list (import the reps first)")
    ]


def test_unknown_territory(loaded):
    assert refused(loaded, "date,rep,amount,territory\n2025-03-03,R001,1,Atlantis\n") == [
        Problem("sales.csv", 2, "territory", "unknown territory 'Atlantis'")
    ]


def test_empty_required_cells(loaded):
    assert refused(loaded, "date,rep,amount\n,R001,1\n2025-03-03,,1\n2025-03-03,R001,\n") == [
        Problem("sales.csv", 2, "date", "the date is empty"),
        Problem("sales.csv", 3, "rep", "the rep is empty"),
        Problem("sales.csv", 4, "amount", "the amount is empty"),
    ]


def test_unparseable_dates(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,R001,1\nyesterday,R001,1\n2025-1-1x,R001,1\n") == [
        Problem("sales.csv", 3, "date", "'yesterday' is not a date (use YYYY-MM-DD)"),
        Problem("sales.csv", 4, "date", "'2025-1-1x' is not a date (use YYYY-MM-DD)"),
    ]


@pytest.mark.parametrize("cell", ["2024-02-30", "2025-02-29", "2025-13-01", "31/02/2025"])
def test_impossible_date(loaded, cell):
    assert refused(loaded, f"date,rep,amount\n2025-03-03,R001,1\n{cell},R001,1\n") == [
        Problem("sales.csv", 3, "date", f"'{cell}' is not a real date")
    ]


def test_date_out_of_range(loaded):
    assert refused(loaded, "date,rep,amount\n1850-01-01,R001,1\n") == [
        Problem("sales.csv", 2, "date", "date 1850-01-01 is out of range")
    ]


def test_ambiguous_date_format_across_the_file(loaded):
    assert refused(loaded, "Order Date,rep,amount\n03/04/2025,R001,1\n05/06/2025,R001,1\n") == [
        Problem("sales.csv", 2, "Order Date",
                "dates such as '03/04/2025' could be day-first or month-first and no date in the file tells which; "
                "state the date format (day first or month first) (or use ISO dates, YYYY-MM-DD)")
    ]


def test_mixed_day_first_and_month_first(loaded):
    assert refused(loaded, "date,rep,amount\n13/04/2025,R001,1\n05/14/2025,R001,1\n") == [
        Problem("sales.csv", 3, "date",
                "dates mix day-first ('13/04/2025' on line 2) and month-first ('05/14/2025' on line 3) formats; "
                "fix the file or state the date format (day first or month first)")
    ]


def test_date_not_matching_the_stated_format(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,R001,1\n", date_format="%d.%m.%Y") == [
        Problem("sales.csv", 2, "date", "'2025-03-03' is not a date in the format %d.%m.%Y")
    ]


def test_unknown_date_format_option(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,R001,1\n", date_format="YYYY-DD-MM") == [
        Problem("sales.csv", None, None, "unknown date format 'YYYY-DD-MM': use ISO, DMY, MDY or a pattern such as %d.%m.%Y")
    ]


def test_non_numeric_amounts(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,R001,1.2.3\n2025-03-03,R001,12abc\n2025-03-03,R001,1e5\n"
                           "2025-03-03,R001,n/a\n2025-03-03,R001,12eur34\n2025-03-03,R001,EUR\n") == [
        Problem("sales.csv", 2, "amount", "'1.2.3' is not a number"),
        Problem("sales.csv", 3, "amount", "'12abc' has letters in it: amounts must be numbers"),
        Problem("sales.csv", 4, "amount", "'1e5' has letters in it: amounts must be numbers"),
        Problem("sales.csv", 5, "amount", "'n/a' has letters in it: amounts must be numbers"),
        Problem("sales.csv", 6, "amount", "'12eur34' has letters in it: amounts must be numbers"),
        Problem("sales.csv", 7, "amount", "'EUR' is not a number"),
    ]


def test_amount_too_large(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,R001,99999999999999999\n") == [
        Problem("sales.csv", 2, "amount", "'99999999999999999' is too large")
    ]


def test_decimal_comma_and_point_mixed(loaded):
    assert refused(loaded, "date;rep;amount\n2025-03-03;R001;1,5\n2025-03-03;R001;1,5\n2025-03-03;R001;2.5\n") == [
        Problem("sales.csv", 4, "amount",
                "'2.5' is written differently from the other amounts of the file, which use a decimal comma")
    ]


def test_cost_column_is_checked_too(loaded):
    assert refused(loaded, "date,rep,amount,cost\n2025-03-03,R001,10,abc\n") == [
        Problem("sales.csv", 2, "cost", "'abc' has letters in it: amounts must be numbers")
    ]


def test_every_problem_of_a_file_is_listed(loaded):
    problems = refused(loaded, "date,rep,amount\n2024-02-30,Nobody,12abc\n2025-03-03,R001,5\n")
    assert problems == [
        Problem("sales.csv", 2, "amount", "'12abc' has letters in it: amounts must be numbers"),
        Problem("sales.csv", 2, "date", "'2024-02-30' is not a real date"),
        Problem("sales.csv", 2, "rep",
                "unknown rep 'Nobody': not a rep_id, email or name in the reps list (import the reps first)"),
    ]
    assert [str(p) for p in problems][:1] == ["sales.csv, line 2, column amount: '12abc' has letters in it: amounts must be numbers"]


def test_duplicate_order_line_with_conflicting_values(loaded):
    assert refused(
        loaded,
        "date,rep,amount,order id,line\n2025-03-05,R001,7,X,1\n2025-03-05,R001,7,X,2\n2025-03-05,R001,8,X,1\n",
    ) == [Problem("sales.csv", 4, "order id", "order X line 1 is also on line 2 with other values")]


def test_problem_lines_after_quoted_newlines(loaded):
    text = 'date,rep,amount,customer\n2025-03-03,R001,1,"a\nb\nc"\n\n2025-03-03,Nobody,1,d\n'
    assert refused(loaded, text) == [
        Problem("sales.csv", 6, "rep",
                "unknown rep 'Nobody': not a rep_id, email or name in the reps list (import the reps first)")
    ]


# ============================================================================ targets
def test_targets_month_out_of_range_negative_and_twice(loaded):
    problems = refused(
        loaded,
        "owner,month,amount\nR001,2025-13,1\nR001,2025-02,-5\nR001,2025-04,5\nR001,2025-04,6\nR001,2025-05,\n,2025-06,1\n"
        "R009,2025-07,1\n",
        file_name="targets.csv", kind="targets",
    )
    assert problems == [
        Problem("targets.csv", 2, "month", "'2025-13' is not a month between 1900-01 and 2199-12 (use YYYY-MM)"),
        Problem("targets.csv", 3, "amount", "a target cannot be negative (-5)"),
        Problem("targets.csv", 5, "month", "the target of R001 revenue 2025-04 is given twice"),
        Problem("targets.csv", 6, "amount", "the amount is empty"),
        Problem("targets.csv", 7, "owner", "the owner is empty"),
        Problem("targets.csv", 8, "owner", "unknown rep 'R009'"),
    ]


def test_targets_range_end_before_start(loaded):
    assert refused(loaded, "owner,start,end,amount\nR001,2025-03-10,2025-03-01,5\n", file_name="t.csv", kind="targets") == [
        Problem("t.csv", 2, "end", "the end date is before the start date")
    ]


def test_targets_without_month_or_range(loaded):
    assert refused(loaded, "owner,amount\nR001,5\n", file_name="t.csv", kind="targets") == [
        Problem("t.csv", 1, "month", "a targets file needs a month column, or start and end columns")
    ]


def test_custom_distribution_must_sum_to_100(loaded):
    from salesplan import distribution

    with pytest.raises(BadInput) as error:
        distribution.custom_percentages(120000, 2025, [8.25] * 12, loaded.store.settings())
    assert error.value.problems == [Problem("distribution", None, None, "percentages total 99 %, not 100 %")]
    loaded.assert_unchanged()
    months = distribution.custom_percentages(120000, 2025, [10, 10, 10, 5, 5, 5, 5, 5, 5, 10, 15, 15], loaded.store.settings())
    assert list(months.values())[:2] == [12000.0, 12000.0] and sum(months.values()) == 120000


# ============================================================================ not a CSV at all
def test_binary_file(loaded):
    data = random.Random(7).randbytes(4000) + b"\x00" * 16
    assert refused(loaded, data, file_name="export.csv") == [
        Problem("export.csv", None, None, "this is a binary file, not a CSV text file or an .xlsx workbook")
    ]


def test_truncated_xlsx(loaded):
    book = openpyxl.Workbook()
    for row in [["date", "rep", "amount"]] + [["2025-03-03", "R001", i] for i in range(200)]:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    assert refused(loaded, data[: len(data) // 2], file_name="export.xlsx") == [
        Problem("export.xlsx", None, None, "the workbook is damaged or truncated (not a readable .xlsx)")
    ]


def test_zip_renamed_to_csv(loaded):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sales.csv", "date,rep,amount\n2025-03-03,R001,1\n")
    assert refused(loaded, buffer.getvalue(), file_name="sales.csv") == [
        Problem("sales.csv", None, None, "this is a zip archive, not a CSV file or an Excel or OpenDocument workbook")
    ]


def test_damaged_xls_workbook(loaded):
    # .xls is read (calamine, in a memory-capped child process); a broken one gets a plain message
    [problem] = refused(loaded, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), file_name="old.xls")
    assert (problem.file, problem.line, problem.column) == ("old.xls", None, None)
    assert problem.reason.startswith("the workbook is damaged and cannot be read")


def test_truncated_utf8(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,Jö".encode()[:-1]) == [
        Problem("sales.csv", None, None, "the file ends in the middle of a character: it looks truncated")
    ]


def test_file_over_the_size_limit(loaded_copy):
    loaded_copy.store.save_settings(SYSTEM, upload_limit_mb=1)
    loaded_copy.keep_as_is()
    data = b"date,rep,amount\n" + b"2025-03-03,R001,1\n" * 70_000
    assert 1.15 * 1_048_576 < len(data) < 1.25 * 1_048_576
    assert refused(loaded_copy, data, file_name="big.csv") == [
        Problem("big.csv", None, None, "the file is 1.2 MB, over the upload limit of 1 MB")
    ]


def test_file_on_disk_over_the_size_limit(loaded_copy, tmp_path):
    store = loaded_copy.store
    store.save_settings(SYSTEM, upload_limit_mb=1)
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.write(b"date,rep,amount\n")
        handle.truncate(3 * 1_048_576)  # sparse: refused from its size, never read
    before = store.snapshot()
    with pytest.raises(BadInput) as error:
        imports.import_file(store, "actuals", path)
    assert error.value.problems == [Problem("huge.csv", None, None, "the file is 3.0 MB, over the upload limit of 1 MB")]
    assert store.snapshot() == before


def test_unknown_import_kind(loaded):
    assert refused(loaded, "date,rep,amount\n2025-03-03,R001,1\n", kind="sales") == [
        Problem("sales.csv", None, None, "unknown import kind 'sales'; use one of reps, targets, actuals, holidays, deals, rates")
    ]


def test_missing_path(loaded, tmp_path):
    with pytest.raises(BadInput) as error:
        imports.import_file(loaded.store, "actuals", tmp_path / "nope.csv")
    assert error.value.problems == [Problem(str(tmp_path / "nope.csv"), None, None, "file not found")]
    loaded.assert_unchanged()


# ============================================================================ formulas are text
def test_formula_like_text_is_stored_verbatim(reps_store):
    text = (
        "date,rep,amount,customer,product,order id\n"
        '2025-03-03,R001,10,"=HYPERLINK(""http://evil.example"",""x"")",+plus,A\n'
        "2025-03-03,R001,-10,@SUM(A1),-minus,B\n"
        "2025-03-03,R001,5,=1+2,=cmd|' /C calc'!A0,C\n"
    )
    result = imports.import_file(reps_store, "actuals", text.encode(), file_name="sales.csv")
    assert (result.inserted, result.rejected) == (3, 0)
    frame = reps_store.actuals(SYSTEM).set_index("order_id")
    assert frame["customer"].to_dict() == {"A": '=HYPERLINK("http://evil.example","x")', "B": "@SUM(A1)", "C": "=1+2"}
    assert frame["product"].to_dict() == {"A": "+plus", "B": "-minus", "C": "=cmd|' /C calc'!A0"}
    assert frame["revenue"].to_dict() == {"A": 10.0, "B": -10.0, "C": 5.0}


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("=1+2", "'=1+2' is not a number"),
        ("=SUM(A1:A3)", "'=SUM(A1:A3)' has letters in it: amounts must be numbers"),
        ("@1", "'@1' is not a number"),
    ],
)
def test_formula_in_an_amount_column_is_refused(loaded, cell, reason):
    assert refused(loaded, f"date,rep,amount\n2025-03-03,R001,{cell}\n") == [Problem("sales.csv", 2, "amount", reason)]


def test_formula_cell_in_a_workbook_is_text_not_a_value(loaded):
    book = openpyxl.Workbook()
    for row in [["date", "rep", "amount", "customer"], ["2025-03-03", "R001", "=2*5", "=HYPERLINK(\"x\")"]]:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    assert refused(loaded, buffer.getvalue(), file_name="f.xlsx") == [
        Problem("f.xlsx", 2, "amount", "'=2*5' is not a number")
    ]


# ============================================================================ command line
def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "salesplan.cli", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **env},
    )


@pytest.fixture
def cli_db(tmp_path, reps_template):
    path = tmp_path / "cli.duckdb"
    path.write_bytes(Path(reps_template).read_bytes())
    return path


def test_cli_bad_input_exits_1_with_the_message_and_changes_nothing(cli_db, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,rep,amount\n2025-03-03,R001,1\n2024-02-30,R001,1\n", encoding="utf-8")
    with Store.open(cli_db) as store:
        before = store.snapshot()
    done = run_cli("--db", str(cli_db), "import", "actuals", str(bad))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "salesplan: nothing was changed; 1 problem(s):",
        "  bad.csv, line 3, column date: '2024-02-30' is not a real date",
    ]
    with Store.open(cli_db) as store:
        assert store.snapshot() == before
    good = tmp_path / "good.csv"
    good.write_text("date,rep,amount\n2025-03-03,R001,1\n", encoding="utf-8")
    assert cli.main(["--db", str(cli_db), "import", "actuals", str(good)]) == 0
    assert "good.csv: batch 2: 1 inserted, 0 updated, 0 unchanged, 0 rejected" in capsys.readouterr().out


def test_cli_usage_errors_exit_2(cli_db, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--db", str(cli_db), "import", "sales", "x.csv"])
    assert stop.value.code == 2
    assert "invalid choice: 'sales'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["--db", str(cli_db), "import", "actuals"])
    assert stop.value.code == 2
    assert cli.main(["--db", str(cli_db), "uploads", "--undo", "1", "--rejected", "1"]) == 2
    assert "usage error: give either --undo or --rejected, not both" in capsys.readouterr().err


def test_cli_reports_a_database_held_by_another_process(cli_db, tmp_path, monkeypatch, capsys):
    # the command runs in this process (its exit code as a process: the test above); the holder
    # must be another process, as a DuckDB file's lock is per process
    good = tmp_path / "good.csv"
    good.write_text("date,rep,amount\n2025-03-03,R001,1\n", encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, duckdb\ncon = duckdb.connect(sys.argv[1])\nprint('ready', flush=True)\ntime.sleep(60)\n",
         str(cli_db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        # a short wait for the file (the default is 30 s): the holder never lets go
        monkeypatch.setenv("SALESPLAN_LOCK_WAIT", "1")
        code = cli.main(["--db", str(cli_db), "import", "actuals", str(good)])
    finally:
        holder.kill()
        holder.wait(timeout=30)
    stderr = capsys.readouterr().err
    assert code == 1
    assert "in use by another process" in stderr
    assert stderr.startswith(f"salesplan: The database {cli_db} stayed in use by another process for more than 1 s")
    assert "Traceback" not in stderr

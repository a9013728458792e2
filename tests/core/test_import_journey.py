"""Imports as a new team meets them: the mapping decides over synonyms, what went in, the
rejected rows as the file's own columns, messages without command-line flags."""

from __future__ import annotations

from datetime import date

import pytest

from salesplan import imports
from salesplan.cli import main
from salesplan.errors import BadInput
from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import templates

REPS = "rep_id,name,email,territory,region,manager\nR1,Ann One,ann@x.test,Nordics,North,\nR2,Bob Two,bob@x.test,Nordics,North,\n"
SUPERSTORE = (
    "Order ID,Order Date,Customer ID,Customer Name,Sales Rep,Sales,Profit\n"
    "CA-1,2025-03-03,AB-100,Acme Ltd,R1,100.50,20\n"
    "CA-2,2025-03-04,GL-200,Globex,R2,200,50\n"
    "CA-3,2025-03-05,IN-300,Initech,Nobody,300,60\n"
)


@pytest.fixture(scope="module")
def journey_template(tmp_path_factory):
    """The reps of REPS, imported once per module; tests get copies."""
    path = templates.duckdb_copy(tmp_path_factory.mktemp("journey_template") / "j.duckdb", templates.MIGRATED)
    with Store.open(path) as store:
        imports.import_file(store, "reps", REPS.encode(), file_name="reps.csv")
    return path


@pytest.fixture
def org(tmp_path, journey_template):
    with templates.open_copy(journey_template, tmp_path / "j.duckdb") as store:
        yield store


def test_two_customer_columns_are_refused_until_one_is_mapped(org):
    with pytest.raises(BadInput, match="both mean customer"):
        imports.import_file(org, "actuals", SUPERSTORE.encode(), file_name="orders.csv", valid_only=True)
    result = imports.import_file(org, "actuals", SUPERSTORE.encode(), file_name="orders.csv", valid_only=True,
                                 column_map={"Customer Name": "customer"})
    assert result.inserted == 2
    assert "column 'Customer ID' ignored: 'Customer Name' is mapped to customer" in result.notes
    customers = set(org.actuals(SYSTEM)["customer"])
    assert customers == {"Acme Ltd", "Globex"}


def test_a_column_mapped_to_nothing_is_not_read_through_its_synonym():
    header = ["Order Date", "Sales Rep", "Sales", "Customer"]
    mapping, notes = imports.map_columns("actuals", header, "f.csv", 1, {"Customer": ""})
    assert "customer" not in mapping and notes == []


def test_the_result_says_what_went_in(org):
    result = imports.import_file(org, "actuals", SUPERSTORE.encode(), file_name="orders.csv", valid_only=True,
                                 column_map={"Customer Name": "customer"})
    overview = result.overview
    assert (overview.rows, overview.first_date, overview.last_date) == (2, date(2025, 3, 3), date(2025, 3, 4))
    assert overview.totals == pytest.approx({"revenue": 300.5, "profit": 70.0})
    assert overview.reps == ["R1", "R2"]
    assert overview.text() == "2 rows from 2025-03-03 to 2025-03-04; revenue 300.50, profit 70.00; 2 reps"
    assert "went in: 2 rows from 2025-03-03" in result.summary()  # what the command line prints
    targets = imports.import_file(org, "targets", b"owner,metric,month,amount\nR1,revenue,2025-01,100\nR2,revenue,2025-03,50\n"
                                  b"R2,profit,2025-02,10\n", file_name="t.csv")
    assert targets.overview.rows == 3 and targets.overview.totals == {"profit": 10.0, "revenue": 150.0}
    assert (targets.overview.first_date, targets.overview.last_date) == (date(2025, 1, 1), date(2025, 3, 1))
    assert targets.overview.reps == ["R1", "R2"]


def test_rejected_rows_come_back_as_the_files_own_columns(org):
    result = imports.import_file(org, "actuals", SUPERSTORE.encode(), file_name="orders.csv", valid_only=True,
                                 column_map={"Customer Name": "customer"})
    table = imports.rejected_table(org.rejected_rows(SYSTEM, result.batch_id))
    assert list(table.columns) == ["Order ID", "Order Date", "Customer ID", "Customer Name", "Sales Rep", "Sales",
                                   "Profit", "line", "problems"]
    assert table.iloc[0, :7].tolist() == ["CA-3", "2025-03-05", "IN-300", "Initech", "Nobody", "300", "60"]
    assert table["line"].tolist() == [4] and "unknown rep 'Nobody'" in table["problems"].iloc[0]


def test_date_messages_name_no_flag_and_the_command_line_adds_its_own(org, tmp_path, capsys):
    text = b"date,rep,amount\n03/04/2025,R1,10\n05/06/2025,R2,10\n"
    with pytest.raises(BadInput) as error:
        imports.import_file(org, "actuals", text, file_name="a.csv")
    reason = error.value.problems[0].reason
    assert "state the date format (day first or month first)" in reason and "--" not in reason
    path = tmp_path / "a.csv"
    path.write_bytes(text)
    db = templates.duckdb_copy(tmp_path / "cli.duckdb", templates.MIGRATED)
    assert main(["--db", str(db), "import", "actuals", str(path)]) == 1
    assert "(on the command line: --date-format DMY or MDY)" in capsys.readouterr().err

"""A profit worked out as revenue minus cost must fit the ledger's amounts (DECIMAL(18,4)) like
every amount of a file: a row whose difference does not is refused on its line, in its cost
column, with the difference named, on every path of the parse (a small file, a large one in
Arrow, a large one kept in the parser's DuckDB), and a valid-only import writes the other rows.
Before, the store's cast of such a profit failed, and the whole import was refused with the
database's own message, no line and no column, even with valid rows only."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import Problem
from salesplan.principal import SYSTEM
from tests.helpers.actuals import actuals, problems

HEADER = "date,rep,order_id,line,revenue,cost\n"
LARGEST = "99999999999999.9999"


@pytest.fixture(params=["small", "large in Arrow", "large kept in DuckDB"])
def filler(request, monkeypatch) -> list[str]:
    """Rows before the rows of a test: none (a small file), or enough to take the large path."""
    if request.param == "small":
        return []
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0 if request.param.endswith("DuckDB") else 1e9)
    return [f"2025-03-{3 + i % 20:02d},R001,F{i},1,{i}.5,{i}" for i in range(imports.parser._SMALL_FILE_ROWS + 20)]


def _file(filler: list[str], rows: list[str]) -> tuple[str, int]:
    return HEADER + "\n".join(filler + rows) + "\n", len(filler) + 2


def test_a_profit_past_the_largest_amount_is_refused_on_its_line(reps_store, filler):
    text, first = _file(filler, [
        f"2025-03-04,R001,A,1,{LARGEST},-1",  # revenue and cost each fit: their difference does not
        f"2025-03-04,R001,B,1,-{LARGEST},0.0001",  # as far the other way
        f"2025-03-04,R001,C,1,{LARGEST},0",  # the largest profit itself is one
        "2025-03-04,R001,D,1,5,1",
    ])
    assert problems(reps_store, text) == [
        Problem("sales.csv", first, "cost",
                f"revenue minus cost (100000000000000.9999) is too large for a profit: at most {LARGEST} either way"),
        Problem("sales.csv", first + 1, "cost",
                f"revenue minus cost (-100000000000000.0000) is too large for a profit: at most {LARGEST} either way"),
    ]
    assert reps_store.actual_totals(SYSTEM)["rows"] == 0  # nothing written


def test_valid_only_writes_the_rows_whose_profit_fits(reps_store, filler):
    text, first = _file(filler, [f"2025-03-04,R001,A,1,{LARGEST},-1", f"2025-03-04,R001,C,1,{LARGEST},0"])
    result = actuals(reps_store, text, valid_only=True)
    assert (result.inserted, result.rejected) == (len(filler) + 1, 1)
    written = reps_store.actuals(SYSTEM).set_index("order_id")
    assert "A" not in written.index
    assert written.loc["C", "profit"] == float(LARGEST)  # (the frame holds floats)


def _with_profit(filler: list[str], rows: list[str]) -> tuple[str, int]:
    """A file with a profit column: the filler's profit is its revenue."""
    filled = [f"{row},{row.split(',')[-2]}" for row in filler]
    return HEADER.strip() + ",profit\n" + "\n".join(filled + rows) + "\n", len(filler) + 2


def test_a_profit_given_is_not_worked_out(reps_store, filler):
    # the profit column's own cell is the row's profit: revenue minus cost is not asked to fit, also
    # on a row that the cheap test sends to the full rules (a currency sign) and is valid
    text, _ = _with_profit(filler, [f"2025-03-04,R001,A,1,{LARGEST},-1,12.5", f"2025-03-04,R001,B,1,${LARGEST},-1,7"])
    result = actuals(reps_store, text)
    assert (result.inserted, result.rejected) == (len(filler) + 2, 0)
    written = reps_store.actuals(SYSTEM).set_index("order_id")
    assert written.loc[["A", "B"], "profit"].tolist() == [12.5, 7.0]


def test_a_profit_cell_that_cannot_be_read_is_its_own_problem(reps_store, filler):
    # correcting the profit alone makes the row valid: the cost is not named
    text, first = _with_profit(filler, [f"2025-03-04,R001,C,1,{LARGEST},-1,abc"])
    assert problems(reps_store, text) == [
        Problem("sales.csv", first, "profit", "'abc' has letters in it: amounts must be numbers"),
    ]


def test_the_problem_names_the_columns_and_writes_numbers_as_the_file_does(reps_store, filler):
    # a file with its own headers and a decimal comma: the message speaks its language
    rows = [row.replace(",", ";").replace(".", ",") for row in filler] + [
        "2025-03-04;R001;A;1;99999999999999,9999;-1", "2025-03-04;R001;B;1;5,5;1"]
    text = "date;rep;order_id;line;Revenue;Cost of Sales\n" + "\n".join(rows) + "\n"
    assert problems(reps_store, text) == [
        Problem("sales.csv", len(filler) + 2, "Cost of Sales",
                "Revenue minus Cost of Sales (100000000000000,9999) is too large for a profit: "
                "at most 99999999999999,9999 either way"),
    ]

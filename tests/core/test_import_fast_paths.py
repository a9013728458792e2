"""The fast paths of the actuals import (docs/files.md, "What a file may look like") give the
same answers as the general rules: a plain file (no quotes, no blank lines) read without
numbering its bytes, ISO dates and plain numbers read by one cast, keys without a sort when
every row has an (order, line). Each test mixes cells or lines that leave the fast path with
ones that take it, and checks values, keys and line numbers."""

from __future__ import annotations

import pytest

from salesplan import files, imports
from salesplan.errors import Problem
from salesplan.principal import SYSTEM
from tests.helpers.actuals import HEADER, actuals, problems

def amounts(store) -> dict[str, float]:
    frame = store.actuals(SYSTEM)
    return dict(zip(frame["order_id"], frame["revenue"]))


def test_a_plain_file_with_a_record_wider_than_its_first_lines_is_read_whole(reps_store):
    # no quote and no blank line: the fast reader; line 22 has two fields more than the header,
    # which the first lines (the ones the width is guessed from) do not show, so the reader
    # measures the file instead
    rows = [f"2025-03-03,R001,O{i},1,{i}" for i in range(25)]
    rows[20] += ",x,y"
    rows[22] = "2025-03-06,R001,D,1,zz"
    text = HEADER + "\n".join(rows) + "\n"
    assert problems(reps_store, text) == [Problem("sales.csv", 24, "amount", "'zz' has letters in it: amounts must be numbers")]
    raw = files.read_table(text.encode(), "sales.csv", looks_like_header=imports._looks_like_header("actuals"))
    assert raw.cells.column("line").to_pylist() == list(range(2, 27))
    assert raw.cells.column("c6").to_pylist() == [None] * 20 + ["y"] + [None] * 4


@pytest.mark.parametrize("gap", ["   \n", "\t\r\n", "\n"])
def test_blank_lines_keep_the_line_numbers_of_the_records_below(reps_store, gap):
    text = HEADER + "2025-03-03,R001,A,1,10\n" + gap + "2025-03-04,R001,B,1,oops\n"
    assert problems(reps_store, text) == [Problem("sales.csv", 4, "amount", "'oops' has letters in it: amounts must be numbers")]


def test_a_file_of_plain_lines_numbers_every_record_by_its_line(reps_store):
    rows = [f"2025-03-{3 + i % 20:02d},R001,O{i},1,{i}.5" for i in range(300)]
    rows[250] = "2025-03-04,R001,O250,1,12x"
    text = "Sales export\n" + HEADER + "\n".join(rows) + "\n"
    # the title line above the header is line 1, the header line 2, row i line i + 3
    assert problems(reps_store, text)[0].line == 253


def test_cells_the_fast_casts_refuse_are_read_by_the_full_rules(reps_store):
    text = HEADER + (
        "2025-03-03,R001,A,1,10.25\n"
        "14 Mar 2025,R001,B,1,\"1,234.50\"\n"
        "2025-3-4,R001,C,1,$12\n"
        "2025-03-05,R001,D,1,(5.00)\n"
        "2025-03-05,R001,E,1,.5\n"
        "2025-03-05,R001,F,1,+7\n"
        "2025-03-05,R001,G,1,-3\n"
    )
    actuals(reps_store, text)
    assert amounts(reps_store) == {"A": 10.25, "B": 1234.5, "C": 12.0, "D": -5.0, "E": 0.5, "F": 7.0, "G": -3.0}
    dates = dict(zip(reps_store.actuals(SYSTEM)["order_id"], reps_store.actuals(SYSTEM)["sale_date"].astype(str)))
    assert dates["B"].startswith("2025-03-14") and dates["C"].startswith("2025-03-04")


def test_numbers_the_cast_would_take_but_the_rules_do_not_are_refused(reps_store):
    text = HEADER + "2025-03-03,R001,A,1,1.\n2025-03-03,R001,B,1,1e3\n2025-02-30,R001,C,1,5\n"
    assert problems(reps_store, text) == [
        Problem("sales.csv", 2, "amount", "'1.' is not a number"),
        Problem("sales.csv", 3, "amount", "'1e3' has letters in it: amounts must be numbers"),
        Problem("sales.csv", 4, "date", "'2025-02-30' is not a real date"),
    ]


def test_repeated_keys_are_found_among_many_unique_ones(reps_store):
    rows = [f"2025-03-03,R001,O{i},1,{i}" for i in range(500)]
    rows.append("2025-03-03,R001,O7,1,7")  # an exact repeat: the same sale listed twice
    rows.append("2025-03-03,R001,O9,1,99")  # the same key with another amount
    assert problems(reps_store, HEADER + "\n".join(rows) + "\n") == [
        Problem("sales.csv", 503, "order_id", "order O9 line 1 is also on line 11 with other values")
    ]
    result = actuals(reps_store, HEADER + "\n".join(rows[:-1]) + "\n")
    assert result.inserted == 500 and len(reps_store.actuals(SYSTEM)) == 500


def test_keys_by_occurrence_and_by_values_next_to_explicit_ones(reps_store):
    text = HEADER + (
        "2025-03-03,R001,A,1,10\n"
        "2025-03-03,R001,B,,20\n"
        "2025-03-03,R001,B,,21\n"
        "2025-03-03,R001,,,30\n"
        "2025-03-03,R001,,,30\n"
    )
    result = actuals(reps_store, text)
    keys = sorted(reps_store.actuals(SYSTEM)["row_key"])
    assert result.inserted == 5
    assert keys[2:] == ["o|A|1", "o|B|#1", "o|B|#2"]
    assert [key[:2] for key in keys[:2]] == ["h|", "h|"] and keys[0][:-1] == keys[1][:-1]
    assert actuals(reps_store, text).unchanged == 5


"""Two different sales of an actuals file whose natural keys come out as the same text
(docs/files.md, "Natural keys"): a row of order A without a line is keyed by its occurrence,
'o|A|#1', which is also the key of order A with the line '#1'; order 'A|1' line 2 and order A
line '1|2' are both 'o|A|1|2'. Such a pair is refused on the later line, naming both sales,
on every path of the import (a small file, a large one in Arrow, a large one kept in the
parser's DuckDB), and never reaches the store as two rows of one key nor as one sale."""

from __future__ import annotations

import pytest

from salesplan import imports
from salesplan.errors import Problem
from salesplan.principal import SYSTEM
from tests.helpers.actuals import HEADER, actuals, problems

_NUMBERED = " (the rows of an order without a line are its lines #1, #2, ... in the file's order)"
_CHANGE = ": change the order id or the line of one of them"


def _file(rows: list[str], large: bool) -> tuple[str, int]:
    """The file of ``rows`` (after filler rows when ``large``) and the line of its first row."""
    filler = [f"2025-03-{3 + i % 20:02d},R001,F{i},1,{i}.5" for i in range(imports.parser._SMALL_FILE_ROWS + 20)] if large else []
    return HEADER + "\n".join(filler + rows) + "\n", len(filler) + 2


@pytest.fixture(params=["small", "large in Arrow", "large kept in DuckDB"])
def path(request, monkeypatch):
    # a large file's parse stays in the parser's DuckDB when its cells take more than this share
    # of the parser's memory (0: always), else it is held as Arrow (a huge share: never kept)
    if request.param != "small":
        monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0 if request.param.endswith("DuckDB") else 1e9)
    return request.param


def test_an_order_line_named_like_the_occurrence_of_a_row_without_a_line_is_refused(reps_store, path):
    text, first = _file(["2025-03-03,R001,A,,10", "2025-03-04,R001,A,#1,20", "2025-03-05,R001,A,,30"], path != "small")
    assert problems(reps_store, text) == [Problem(
        "sales.csv", first + 1, "order_id",
        f"order A line #1 is taken for the same sale as order A without a line on line {first}{_NUMBERED}{_CHANGE}",
    )]


def test_a_row_without_a_line_numbered_like_an_earlier_line_is_refused(reps_store, path):
    text, first = _file(["2025-03-04,R001,A,#2,20", "2025-03-03,R001,A,,10", "2025-03-05,R001,A,,30"], path != "small")
    assert problems(reps_store, text) == [Problem(
        "sales.csv", first + 2, "order_id",
        f"order A without a line is taken for the same sale as order A line #2 on line {first}{_NUMBERED}{_CHANGE}",
    )]


def test_a_bar_in_an_order_id_or_line_does_not_merge_two_sales(reps_store, path):
    # the same values: without the check the later row was taken for an exact repeat and left out
    text, first = _file(["2025-03-03,R001,A|1,2,10", "2025-03-03,R001,A,1|2,10"], path != "small")
    assert problems(reps_store, text) == [Problem(
        "sales.csv", first + 1, "order_id", f"order A line 1|2 is taken for the same sale as order A|1 line 2 on line {first}{_CHANGE}",
    )]


def test_valid_rows_only_keeps_the_first_sale_and_rejects_the_later_one(reps_store, path):
    text, first = _file(["2025-03-03,R001,A,,10", "2025-03-04,R001,A,#1,20", "2025-03-05,R001,A,,30"], path != "small")
    result = actuals(reps_store, text, valid_only=True)
    assert result.rejected == 1
    frame = reps_store.actuals(SYSTEM)
    order_a = frame[frame["order_id"] == "A"].set_index("row_key")["revenue"].to_dict()
    assert order_a == {"o|A|#1": 10.0, "o|A|#2": 30.0}
    assert reps_store.rejected_rows(SYSTEM, result.batch_id)["line"].tolist() == [first + 1]


def test_an_exact_repeat_and_a_conflict_keep_their_rules(reps_store, path):
    # the same (order, line) twice: identical, the same sale listed twice (kept once); with
    # another amount, a conflict
    text, first = _file(["2025-03-03,R001,A,1,10", "2025-03-03,R001,A,1,10", "2025-03-03,R001,B,1,10", "2025-03-03,R001,B,1,11"],
                        path != "small")
    assert problems(reps_store, text) == [
        Problem("sales.csv", first + 3, "order_id", f"order B line 1 is also on line {first + 2} with other values"),
    ]
    result = actuals(reps_store, text, valid_only=True)
    assert result.rejected == 1
    frame = reps_store.actuals(SYSTEM)
    assert frame[frame["order_id"].isin(["A", "B"])].set_index("row_key")["revenue"].to_dict() == {"o|A|1": 10.0, "o|B|1": 10.0}


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("size", [0, 1, 2, 3, 1000, 70_000])
def test_the_repeated_hashes_are_exactly_the_values_listed_twice_or_more(size, in_place):
    # a large file's repeats are looked for among its keys' 64-bit hashes with numpy (one sort);
    # a plain count must agree
    from collections import Counter

    import numpy as np

    from salesplan.arrowbytes import repeated as _repeated

    rng = np.random.default_rng(size)
    values = rng.integers(0, 2**64, size=size, dtype=np.uint64)
    if size > 2:
        # values listed two and three times, and neighbours that share a bucket but differ
        values[rng.integers(0, size, size=size // 50 + 1)] = values[0]
        values[1] = values[2]
        values[-1] = values[-2] ^ np.uint64(1)
    expected = sorted(value for value, count in Counter(values.tolist()).items() if count > 1)
    given = values.copy()
    assert _repeated(values, in_place=in_place).tolist() == expected
    # a copy is sorted unless the caller gave its array to be sorted where it is
    assert values.tolist() == (sorted(given.tolist()) if in_place else given.tolist())

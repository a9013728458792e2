"""What a large actuals file's cells are known to hold, read off their bytes (salesplan.imports.cellfacts;
docs/decisions.md, "Facts of the cells instead of scans"): the texts the parse hands on as they are
(rep, territory, order id and line, customer, product) are the cells themselves when no join with the
reps is needed, the decimal-comma probe is skipped when no amount cell holds a comma, the date order
when every date is shaped like YYYY-MM-DD. Each answer is that of the full work: these tests hold
the rows written, and the shortcuts' own answers, to it."""

from __future__ import annotations

import random
import re

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplan import imports
from salesplan.imports import cellfacts
from salesplan.principal import SYSTEM
from tests.helpers.actuals import actuals, problems

HEADER = "date,rep,order_id,line,amount,territory,customer,product\n"
_ROWS = imports.parser._SMALL_FILE_ROWS + 20


@pytest.fixture(params=["large in Arrow", "large kept in DuckDB"])
def path(request, monkeypatch):
    # a large file's parse is held as Arrow (a huge share: never kept in the parser's DuckDB, where
    # nothing is taken from the cells) or kept in the parser's DuckDB (0: always)
    monkeypatch.setattr(imports.actuals, "_PARSE_IN_MEMORY_SHARE", 0.0 if request.param.endswith("DuckDB") else 1e9)
    return request.param


@pytest.fixture
def passed(monkeypatch):
    """The names of the columns each import took from the cells (a list per large file in Arrow)."""
    seen: list[list[str]] = []
    original = imports.actuals._passed_columns

    def recorded(parser, connection):
        columns = original(parser, connection)
        seen.append(sorted(columns))
        return columns

    monkeypatch.setattr(imports.actuals, "_passed_columns", recorded)
    return seen


def _row(i: int) -> tuple[str, str, str | None, str | None, str, str, str | None, str | None]:
    """A filler row: (date, rep, order id, order line, amount, territory, customer, product), None an empty cell."""
    return (f"2025-03-{3 + i % 20:02d}", ("R001", "R002")[i % 2], None if i % 7 == 0 else f"F{i}",
            None if i % 5 == 0 else str(1 + i % 3), f"{i}.5", ("Nordics", "DACH")[i % 3 == 0],
            None if i % 4 == 0 else f"C{i % 11}", None if i % 6 == 0 else f"P{i % 13}")


def _text(rows: list[tuple]) -> str:
    return HEADER + "".join(",".join(cell or "" for cell in row) + "\n" for row in rows)


def _written(store) -> pd.DataFrame:
    frame = store.actuals(SYSTEM).sort_values("line")
    return frame[["line", "rep_id", "territory", "order_id", "order_line", "customer", "product"]].astype(object).where(
        frame.notna(), None)


def _nothing_passed(path: str) -> list[list[str]]:
    return [[]] if path == "large in Arrow" else []


def test_the_rows_written_hold_the_files_texts_as_the_full_parse_reads_them(reps_store, path, passed):
    rows = [_row(i) for i in range(_ROWS)]
    result = actuals(reps_store, _text(rows))
    assert (result.inserted, result.rejected) == (_ROWS, 0)
    written = _written(reps_store)
    assert written["line"].tolist() == list(range(2, _ROWS + 2))
    assert written["rep_id"].tolist() == [row[1] for row in rows]
    assert written["territory"].tolist() == [row[5] for row in rows]
    # (a row without an order id is keyed by its values, its order line stored as the file gives it)
    assert written["order_id"].tolist() == [row[2] for row in rows]
    assert written["order_line"].tolist() == [row[3] for row in rows]
    assert written["customer"].tolist() == [row[6] for row in rows]
    assert written["product"].tolist() == [row[7] for row in rows]
    # in Arrow the texts were the cells themselves (the file's reps are rep_ids as written, every row has a territory)
    assert passed == ([["customer", "order_id", "order_line", "product", "rep_id", "territory", "territory_from_file"]]
                      if path == "large in Arrow" else [])


def test_rep_texts_that_are_not_rep_ids_as_written_are_resolved(reps_store, path, passed):
    rows = [_row(i) for i in range(_ROWS)]
    rows[3] = rows[3][:1] + ("r001",) + rows[3][2:]
    rows[4] = rows[4][:1] + ("ava@example.com",) + rows[4][2:]
    rows[5] = rows[5][:1] + ("Jörg Müller",) + rows[5][2:]
    actuals(reps_store, _text(rows))
    assert _written(reps_store)["rep_id"].tolist()[3:6] == ["R001", "R001", "R002"]
    assert passed == _nothing_passed(path)  # joined with the reps


def test_a_row_without_a_territory_takes_its_reps(reps_store, path, passed):
    rows = [_row(i) for i in range(_ROWS)]
    rows[10] = rows[10][:5] + (None,) + rows[10][6:]  # R001, whose territory is Nordics
    rows[11] = rows[11][:5] + (None,) + rows[11][6:]  # R002: DACH
    actuals(reps_store, _text(rows))
    assert _written(reps_store)["territory"].tolist()[9:13] == [rows[9][5], "Nordics", "DACH", rows[12][5]]
    assert passed == _nothing_passed(path)


def test_padded_cells_are_written_trimmed(reps_store, path, passed):
    rows = [_row(i) for i in range(_ROWS)]
    rows[7] = (rows[7][0], " R002", " X1 ", "2 ", rows[7][4], "DACH ", " C7", "P7 ")
    actuals(reps_store, _text(rows))
    written = _written(reps_store)
    assert written.iloc[7].tolist()[1:] == ["R002", "DACH", "X1", "2", "C7", "P7"]
    assert passed == _nothing_passed(path)  # a file with a padded cell is trimmed in DuckDB


def test_a_large_files_date_order_and_decimal_comma_are_still_found(reps_store, path):
    rows = [f"2025-03-{3 + i % 20:02d};R001;F{i};1;{i},5" for i in range(_ROWS)]
    text = "date;rep;order_id;line;amount\n" + "\n".join(rows + ["13/03/2025;R001;X;1;1.234,5"]) + "\n"
    actuals(reps_store, text)
    frame = reps_store.actuals(SYSTEM).set_index("order_id")
    assert frame.loc["X", "sale_date"] == pd.Timestamp("2025-03-13")
    assert float(frame.loc["X", "revenue"]) == 1234.5
    assert float(frame.loc["F3", "revenue"]) == 3.5


# ------------------------------------------------------------------ the facts, cell by cell
def _column(texts: list[str | None], chunks: int = 1) -> pa.ChunkedArray:
    size = max(1, -(-len(texts) // chunks))
    return pa.chunked_array([pa.array(texts[i:i + size], type=pa.string()) for i in range(0, len(texts), size)] or [[]],
                            type=pa.string())


_CELLS = st.lists(st.one_of(st.none(), st.text(alphabet="0123456789-/.,: Té", max_size=12)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(_CELLS, st.integers(1, 3), st.integers(0, 2))
def test_iso_dates_only_answers_whether_every_cell_is_shaped_like_yyyy_mm_dd(texts, chunks, sliced):
    column = _column(["1999-01-01"] * sliced + texts, chunks)
    column = column.slice(sliced)  # a sliced column (the header's record cut off) reads its own cells only
    shaped = all(len(text) == 10 and text[4] == "-" and text[7] == "-" for text in texts if text)
    assert cellfacts.iso_dates_only(column) == shaped
    if shaped:  # then no cell is a date with the year last
        assert not any(re.fullmatch(imports.parser._YEAR_LAST, text) for text in texts if text)


def test_iso_dates_only_counts_characters_not_bytes_and_looks_at_every_cell():
    # ten bytes with '-' as the 5th and 8th, but nine characters: LIKE '____-__-__' does not hold
    assert not cellfacts.iso_dates_only(_column(["20é-01-01"]))
    assert cellfacts.iso_dates_only(_column(["2025-01-01", None, ""]))
    # ten characters with the year last, or '-' elsewhere: the date order is asked of DuckDB
    assert not cellfacts.iso_dates_only(_column(["2025-01-01", "01/01/2025"]))
    assert not cellfacts.iso_dates_only(_column(["2025-01-01", "01-01-2025"]))
    assert not cellfacts.iso_dates_only(_column(["2025-01-01", "2025/01-01"]))
    assert not cellfacts.iso_dates_only(_column(["2025-01-01", "2025-01/01"]))
    assert cellfacts.iso_dates_only(_column(["2025-01-01", "2025-01-1x"]))  # (shaped so: the cast then reads it, or not)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CELLS, min_size=1, max_size=3), st.integers(1, 3), st.integers(0, 2))
def test_comma_free_answers_whether_no_cell_holds_a_comma(columns, chunks, sliced):
    arrays = [_column(["1,5"] * sliced + texts, chunks).slice(sliced) for texts in columns]
    assert cellfacts.comma_free(arrays) == (not any("," in text for texts in columns for text in texts if text))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="0123456789-.,+e é", max_size=6)), max_size=8),
       st.integers(1, 3), st.integers(0, 2))
def test_plain_numbers_only_knows_a_column_of_plain_numbers_with_one_count_of_decimals(texts, chunks, sliced):
    column = _column(["-1.-"] * sliced + texts, chunks).slice(sliced)

    def known(cells: list[str]) -> bool:
        plain = all(re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text) for text in cells)
        decimals = {len(text.split(".")[1]) for text in cells if "." in text}
        return plain and (not decimals or (len(decimals) == 1 and decimals <= {1, 2, 3, 4}))

    # known exactly when every cell is a plain number and those of a chunk with a decimal point have as many
    # decimals (1 to 4)
    assert cellfacts.plain_numbers_only(column) == all(known([text for text in chunk.to_pylist() if text]) for chunk in column.chunks)


@pytest.mark.parametrize("texts, known", [
    (["702.80", "-12.00", "5", "-7", "0.05", None, ""], True),
    (["1.5", "-2.5", "10"], True),
    (["100", "-3"], True),
    (["1.5", "2.25"], False),  # plain numbers, but not known by their bytes: the regular expression decides
])
def test_plain_numbers_only_knows_the_usual_exports_amounts(texts, known):
    assert cellfacts.plain_numbers_only(_column(texts)) == known


@pytest.mark.parametrize("text", ["-", "-.5", ".5", "5.", "1.2.3", "1-2", "--5", "5-", "+5", "1e5", " 5", "5 ", "٣", "1/2", "12.", ".12", "1.2.34"])
def test_plain_numbers_only_refuses_every_other_text(text):
    assert cellfacts.plain_numbers_only(_column(["12", "-3.25", "0.50", None, ""]))
    assert not cellfacts.plain_numbers_only(_column(["12", text, "0.50"]))
    assert not cellfacts.plain_numbers_only(_column(["12", "0.50", text]))
    assert not cellfacts.plain_numbers_only(_column(["12", text, "7"]))


def test_passed_cells_takes_only_columns_equal_to_the_parses():
    cells = pa.table({
        "c0": ["a", None, "b"], "c1": ["a", "", "b"], "c2": ["a", None, "b"], "c3": pa.array([1, 2, 3]), "c4": ["x", "y", "z"],
        "line": [2, 3, 4],
    })
    fields = {"plain": 0, "empty": 1, "nulls": 2, "number": 3, "full": 4}
    passed = cellfacts.passed_cells(cells, fields, padded=False)
    # an empty cell is NULL in the parse (not taken), a null cell too (taken), a column of numbers is not taken
    assert sorted(passed) == ["full", "nulls", "plain"]
    assert passed["plain"].equals(cells.column("c0")) and passed["full"].equals(cells.column("c4"))
    assert cellfacts.passed_cells(cells, fields, padded=True) == {}


@pytest.mark.parametrize("record_lines", [
    list(range(2, 302)),  # numbered one after another
    list(range(2, 902, 3)),  # in order, with gaps (lines of quoted newlines, blank lines)
    random.Random(3).sample(range(2, 2000), 300),  # in any order
])
def test_with_passed_takes_the_cells_in_the_order_of_the_fetched_rows(record_lines):
    cells = pa.table({"c0": [f"cell of {line}" for line in record_lines], "line": record_lines})
    shuffled = random.Random(7).sample(record_lines, len(record_lines))
    fetched = pa.table({"line": pa.chunked_array([shuffled[:100], shuffled[100:]]), "value": [line * 10 for line in shuffled]})
    table = cellfacts.with_passed(fetched, cells, {"text": cells.column("c0")}, ["value", "text", "line"])
    assert table.column_names == ["value", "text", "line"]
    assert table.column("text").to_pylist() == [f"cell of {line}" for line in shuffled]
    assert table.column("value").to_pylist() == [line * 10 for line in shuffled]
    in_order = cellfacts.with_passed(cells.select(["line"]), cells, {"text": cells.column("c0")}, ["line", "text"])
    assert in_order.column("text").to_pylist() == cells.column("c0").to_pylist()


def test_a_padded_date_with_the_year_last_decides_the_order(reps_store, path):
    # "  01-13-25" has ten bytes with '-' as the 5th and 8th, but the parse reads it trimmed: 01-13-25,
    # month first (only the cells of a file without padding are known by their bytes)
    rows = [f"2025-03-{3 + i % 20:02d},R001,F{i},1,{i}.5" for i in range(_ROWS)]
    actuals(reps_store, "date,rep,order_id,line,amount\n" + "\n".join(rows + ["  01-13-25,R001,X,1,2"]) + "\n")
    assert reps_store.actuals(SYSTEM).set_index("order_id").loc["X", "sale_date"] == pd.Timestamp("2025-01-13")


def test_amounts_the_cast_reads_but_the_rules_refuse_are_refused_in_a_large_file(reps_store, path):
    # DuckDB's cast reads 1e3 and 1_000 as 1000: only a plain number may take its value from the cast
    rows = [f"2025-03-{3 + i % 20:02d},R001,F{i},1,{i}.5" for i in range(_ROWS)]
    text = "date,rep,order_id,line,amount\n" + "\n".join(rows + ["2025-03-04,R001,X,1,1e3", "2025-03-04,R001,Y,1,1_000"]) + "\n"
    assert [(problem.line, problem.reason) for problem in problems(reps_store, text)] == [
        (_ROWS + 2, "'1e3' has letters in it: amounts must be numbers"), (_ROWS + 3, "'1_000' is not a number"),
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab,", max_size=3)), max_size=40), st.data())
def test_an_empty_cell_is_found_in_any_chunking_or_slice(texts, data):
    # the column as a reader hands it over: chunks of any size, each possibly a slice of a larger array
    whole = pa.array(["pad"] * 3 + texts + ["pad"], type=pa.string())
    cuts = sorted(data.draw(st.lists(st.integers(0, len(texts)), max_size=4)))
    bounds = [0, *cuts, len(texts)]
    chunks = [whole.slice(3 + a, b - a) for a, b in zip(bounds, bounds[1:])]
    column = pa.chunked_array(chunks, type=pa.string())
    assert cellfacts.has_empty_cell(column) == any(text == "" for text in texts)


def test_an_empty_cell_past_the_first_block_is_found():
    texts = ["x"] * (cellfacts._BLOCK * 2 + 5)
    for position in (0, cellfacts._BLOCK - 1, cellfacts._BLOCK, len(texts) - 1):
        with_empty = texts.copy()
        with_empty[position] = ""
        assert cellfacts.has_empty_cell(pa.chunked_array([pa.array(with_empty)]))
    assert not cellfacts.has_empty_cell(pa.chunked_array([pa.array(texts)]))


@pytest.mark.parametrize("amount, asked", [("{i}.5", False), ("${i}.50", True), ("{i},5", True)])
def test_the_comma_probe_reads_no_column_known_to_be_plain_numbers(reps_store, monkeypatch, amount, asked):
    # plain numbers hold no comma: their bytes are not scanned for one again (a column that is not
    # known plain is, and a decimal comma is still found)
    calls = []
    original = imports.parser.comma_free
    monkeypatch.setattr(imports.parser, "comma_free", lambda columns: calls.append(len(columns)) or original(columns))
    rows = [f"2025-03-{3 + i % 20:02d};R001;F{i};1;{amount.format(i=i)}" for i in range(_ROWS)]
    actuals(reps_store, "date;rep;order_id;line;amount\n" + "\n".join(rows) + "\n")
    assert bool(calls) == asked
    revenue = reps_store.actuals(SYSTEM).set_index("order_id")["revenue"]
    assert float(revenue.loc["F3"]) == 3.5

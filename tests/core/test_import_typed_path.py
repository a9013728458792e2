"""The fast paths of the actuals import for clean files (docs/decisions.md, "The import's fast
paths") give the answers of the general rules: cells are trimmed only when the file may hold a
padded cell, the reader and the parser share one private DuckDB. Each test puts one cell that
needs the general rule among clean ones and checks values, lines and columns."""

from __future__ import annotations

import pytest

from salesplan import files, imports
from salesplan.errors import BadInput, Problem
from salesplan.files.csvtext import _TextScan
from salesplan.principal import SYSTEM

from tests.helpers.actuals import HEADER, actuals, problems
from tests.helpers.unchanged import changed_tables, fingerprint

CLEAN = [f"2025-03-{3 + i % 20:02d},R001,O{i},1,{i}.5" for i in range(40)]


def read(text: str):
    return files.read_table(text.encode("utf-8"), "sales.csv", looks_like_header=imports._looks_like_header("actuals"))


def ledger(store) -> dict[str, tuple]:
    frame = store.actuals(SYSTEM)
    return {row.order_id: (str(row.sale_date)[:10], row.rep_id, row.revenue) for row in frame.itertuples()}


@pytest.mark.parametrize(
    ("text", "padded"),
    [
        ("a,b\n1,2\n", False),
        ("a,b\n1, 2\n", True),  # after a delimiter
        ("a,b\n1 ,2\n", True),  # before a delimiter
        ("a,b\n1,2 \n", True),  # before a line end
        ("a,b\r\n1,2 \r\n", True),  # before a CR LF
        ("a,b\n 1,2\n", True),  # after a line end
        ("a,b\n1,2 ", True),  # at the end of the file
        (" a,b\n1,2\n", True),  # at its start
        ("a,b\n1,Jörg Müller\n", False),  # letters beyond ASCII inside a cell
        ("a,b\n1,x\u00a0\n", True),  # a no-break space ends a cell (trim removes it)
        ("a,b\n1,\u3000x\n", True),  # an ideographic space starts one
        ('a,b\n1,"x"\n', True),  # quoted: a quoted cell may hold spaces
        ("a;b\n1 ;2\n", True),  # the file's own delimiter
        ("a;b\n1 ,2\n", False),  # a comma is text in a ;-separated file
        ("a\tb\n1\t2\t\n", False),  # a tab is not trimmed
    ],
)
@pytest.mark.parametrize("chunk", [None, 1, 3], ids=["whole", "chunks of 1 byte", "chunks of 3 bytes"])
def test_padded_cells_sees_every_cell_trim_would_change(text, padded, chunk):
    # the scan the read makes as the file's chunks come: a space at a chunk's edge counts too
    delimiter = ";" if ";" in text else ("\t" if "\t" in text else ",")
    data = text.encode("utf-8")
    step = chunk or len(data)
    scan = _TextScan(delimiter)
    for start in range(0, len(data), step):
        scan.feed(data[start:start + step])
    scan.finish()
    assert scan.padded is padded


def test_a_clean_file_is_read_untrimmed_and_imports_as_before(reps_store):
    text = HEADER + "\n".join(CLEAN) + "\n"
    assert read(text).padded is False
    result = actuals(reps_store, text)
    assert (result.inserted, result.rejected) == (40, 0)
    assert ledger(reps_store)["O7"] == ("2025-03-10", "R001", 7.5)


@pytest.mark.parametrize(
    "cell",
    [" R002", "R002 ", "R002\u00a0", "\u2007R002"],
    ids=["leading space", "trailing space", "no-break space", "figure space"],
)
def test_one_padded_cell_anywhere_is_trimmed(reps_store, cell):
    rows = list(CLEAN)
    rows[33] = f"2025-03-05,{cell},O33,1,12.25"
    text = HEADER + "\n".join(rows) + "\n"
    assert read(text).padded is True
    actuals(reps_store, text)
    assert ledger(reps_store)["O33"] == ("2025-03-05", "R002", 12.25)


@pytest.mark.parametrize("row", [5, 39])
def test_one_bad_cell_in_a_clean_file_gives_its_line_and_column(reps_store, row):
    before = fingerprint(reps_store)  # a refused file changes nothing
    rows = list(CLEAN)
    rows[row] = f"2025-03-05,R001,O{row},1,12x"
    text = HEADER + "\n".join(rows) + "\n"
    assert read(text).padded is False
    assert problems(reps_store, text) == [
        Problem("sales.csv", row + 2, "amount", "'12x' has letters in it: amounts must be numbers")
    ]
    assert reps_store.actuals(SYSTEM).empty
    assert changed_tables(reps_store, before) == []


def test_a_blank_cell_in_a_clean_file_is_empty(reps_store):
    before = fingerprint(reps_store)  # a refused file changes nothing
    rows = list(CLEAN)
    rows[12] = "2025-03-05,,O12,1,3"
    text = HEADER + "\n".join(rows) + "\n"
    assert problems(reps_store, text) == [Problem("sales.csv", 14, "rep", "the rep is empty")]
    assert changed_tables(reps_store, before) == []


def test_one_connection_per_import(reps_store, monkeypatch):
    opened = []
    plain = imports.flow.quiet_connection

    def counted(*args, **kwargs):
        opened.append(1)
        return plain(*args, **kwargs)

    lent = imports.flow.parsing_session

    def counted_lent(connection):
        opened.append(1)
        return lent(connection)

    # every place that may open a private DuckDB: the import, the reader and the parser; or the
    # import's use of the connection the store lends it (an embedded DuckDB store)
    monkeypatch.setattr(imports.flow, "quiet_connection", counted)
    monkeypatch.setattr(imports.flow, "parsing_session", counted_lent)
    monkeypatch.setattr(files.csvtext, "quiet_connection", counted)
    monkeypatch.setattr(imports.parser, "quiet_connection", counted)
    rows = list(CLEAN)
    rows[3] = '2025-03-05,R001,"O3",1,3'  # a quote: the general reader, which reads twice at most
    for text in (HEADER + "\n".join(CLEAN) + "\n", HEADER + "\n".join(rows) + "\n"):
        opened.clear()
        actuals(reps_store, text)
        assert len(opened) == 1


def test_an_ascii_file_is_read_in_chunks_and_a_nul_past_the_first_64k_is_still_refused(reps_store, monkeypatch):
    before = fingerprint(reps_store)  # a refused file changes nothing
    rows = [f"2025-03-{3 + i % 20:02d},R001,O{i},1,{i}.5" for i in range(4000)]
    text = HEADER + "\n".join(rows) + "\n"
    assert len(text) > 70_000
    data = text.encode("ascii")
    monkeypatch.setattr(files.stream, "CHUNK_BYTES", 10_000)  # the NUL is in a later chunk than the first
    given = []  # the chunks the read was given: never the whole file at once
    chunks_of = files.stream.Upload.chunks

    def counted_chunks(self):
        for chunk in chunks_of(self):
            given.append(len(chunk))
            yield chunk

    monkeypatch.setattr(files.stream.Upload, "chunks", counted_chunks)
    raw = read(text)
    assert len(given) >= len(data) // 10_000 and max(given) <= 10_000
    assert (raw.encoding, raw.cells.num_rows, raw.cells.column("line")[-1].as_py()) == ("utf-8", 4000, 4001)
    bad = data[:-100] + b"\x00" + data[-99:]
    with pytest.raises(BadInput) as caught:
        actuals(reps_store, bad.decode("ascii"))
    assert caught.value.problems == [
        Problem("sales.csv", None, None, "this is a binary file, not a CSV text file or an .xlsx workbook")
    ]
    assert changed_tables(reps_store, before) == []


# one row with a problem of a cell the import reads typed (date, amounts, territory, currency)
# among clean rows: the cell checks are worked out again only for the rows that may have one
# (docs/decisions.md), so each kind must still be found, with its line, column and reason
WIDE_HEADER = "date,rep,order_id,line,amount,cost,profit,territory,currency\n"
WIDE_CLEAN = [f"2025-03-{3 + i % 20:02d},R001,O{i},1,{i}.5,1,,Nordics,EUR" for i in range(30)]


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("1850-01-01,R001,OX,1,5,1,,Nordics,EUR", "date", "date 1850-01-01 is out of range"),
        ("2025-03-05,R001,OX,1,5,1x,,Nordics,EUR", "cost", "'1x' has letters in it: amounts must be numbers"),
        ("2025-03-05,R001,OX,1,5,1,4.5.6,Nordics,EUR", "profit", "'4.5.6' is not a number"),
        ("2025-03-05,R001,OX,1,5,1,,Atlantis,EUR", "territory", "unknown territory 'Atlantis'"),
        ("2025-03-05,R001,OX,1,5,1,,Nordics,XYZ", "currency",
         "unknown currency XYZ: use an ISO 4217 code like EUR or USD"),
        ("2025-03-05,R001,OX,1,USD 5,1,,Nordics,EUR", "amount", "USD 5 is in USD but the row's currency is EUR"),
        ("2025-03-05,R001,OX,1,5,1,,Nordics,USD", "currency",
         "this amount is in USD but the file's first amounts are in EUR: amounts in different currencies are "
         "never added up; set a base currency in the settings and import rates"),
    ],
    ids=["date out of range", "cost", "profit", "territory", "currency code", "amount's currency", "second currency"],
)
@pytest.mark.parametrize("at", [0, 17, 30])
def test_one_bad_typed_cell_among_clean_rows_gives_its_line_column_and_reason(reps_store, row, column, reason, at):
    before = fingerprint(reps_store)  # a refused file changes nothing
    rows = list(WIDE_CLEAN)
    rows.insert(at, row)
    text = WIDE_HEADER + "\n".join(rows) + "\n"
    if at == 0 and column == "currency" and "first amounts" in reason:
        # the first row names the file's currency: the clean ones are then the odd ones
        assert {p.line for p in problems(reps_store, text)} == set(range(3, 33))
    else:
        assert problems(reps_store, text) == [Problem("sales.csv", at + 2, column, reason)]
    assert reps_store.actuals(SYSTEM).empty
    assert changed_tables(reps_store, before) == []

"""The CSV reader's shortcuts give the answers of the whole computation: copies of the header found
from the cells' lengths and end bytes before any cell is compared, and the upload's SHA-256 worked
out in a thread of its own beside the checks of its bytes."""

from __future__ import annotations

import hashlib
import random
import threading

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from salesplan import files
from salesplan.errors import BadInput
from salesplan.files import csvtext, stream
from salesplan.files import header as header_module
from salesplan.files.header import _without_header_copies
from salesplan.files.textscan import _Sha256

# header names, and cells that are (or nearly are) one of them: other cases, Arrow's trimmed
# spaces (ASCII's, the separators 0x1C-0x1F, the Unicode ones), characters beyond ASCII that lower
# to ASCII (the Kelvin sign to k, a dotted capital I to i), cells of the name's length that are not it
NAMES = ["Kind", "id", "Größe", "date"]
PADS = ["", " ", "\t", "\x1c", "\x1f", "\x0b", "\r", "\u00a0", "\u3000", "\u2028", "x", "\u200b"]
LIKE = {
    "Kind": ["kind", "KIND", "\u212aind", "\u212aIND", "kinds", "kin", "mind", "ki d"],
    "id": ["ID", "Id", "\u0130d", "\u0130D", "i d", "ix", "1d"],
    "Größe": ["GRÖSSE", "größe", "GRÖßE", "grösse", "Grosse", "größer"],
    "date": ["DATE", "Date", "2025-03-01", "dat", "data", "d\u0430te"],  # the last: a Cyrillic a
}


def _reference(body: pa.Table, columns: list[str], header: list[str]) -> tuple[pa.Table, list[int]]:
    """Every cell trimmed, lowered and compared: the definition of a copy of the header."""
    named = [(column, name.lower()) for column, name in zip(columns, header) if name]
    if not named or body.num_rows == 0:
        return body, []
    same = None
    for column, name in named:
        equal = pc.fill_null(pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(body.column(column))), name), False)
        same = equal if same is None else pc.and_(same, equal)
    return body.filter(pc.invert(same)), [int(line) for line in body.filter(same).column("line").to_pylist()]


def _cell(rng: random.Random, name: str) -> str | None:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.12:
        return ""
    text = rng.choice(LIKE[name] + [name])
    return rng.choice(PADS) + text + rng.choice(PADS)


def _body(rng: random.Random, rows: int, header: list[str], string_type: pa.DataType) -> pa.Table:
    columns = {}
    for index, name in enumerate(header):
        values = [_cell(rng, name or "date") for _ in range(rows)]
        cuts = sorted(rng.sample(range(1, rows), 3))  # chunks of several sizes
        pieces = [values[start:end] for start, end in zip([0] + cuts, cuts + [rows])]
        columns[f"c{index}"] = pa.chunked_array([pa.array(piece, type=string_type) for piece in pieces])
    columns["line"] = pa.chunked_array([pa.array(range(2, rows + 2), type=pa.int64())])
    return pa.table(columns)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("whole", [True, False], ids=["columns compared whole", "candidates' cells taken"])
def test_header_copies_are_those_every_cell_compared_finds(seed, whole, monkeypatch):
    monkeypatch.setattr(header_module, "_COMPARED_WHOLE", 1 << 30 if whole else 0)
    rng = random.Random(seed)
    header = rng.sample(NAMES, rng.randint(1, len(NAMES)))
    if rng.random() < 0.3:
        header.insert(rng.randrange(len(header) + 1), "")  # a column without a name is not compared
    table = _body(rng, 400, header, rng.choice([pa.string(), pa.large_string()]))
    # most rows copies of the header, to meet the candidates of every kind
    copies = rng.sample(range(table.num_rows), 150)
    rows = table.to_pylist()
    for row in copies:
        for index, name in enumerate(header):
            if name:
                rows[row][f"c{index}"] = rng.choice(PADS[:10]) + rng.choice([name, name.upper(), name.lower()]) + rng.choice(PADS[:10])
    table = pa.Table.from_pylist(rows, schema=table.schema)
    body = table.slice(rng.randint(0, 20))  # a body starts below the header: its arrays start at an offset
    columns = [f"c{index}" for index in range(len(header))]
    expected_body, expected_lines = _reference(body, columns, header)
    assert expected_lines  # the test meets copies
    kept, lines = _without_header_copies(body, columns, header)
    assert lines == expected_lines
    assert kept.to_pylist() == expected_body.to_pylist()


def test_copies_spelled_beyond_ascii_or_padded_with_any_space_are_found():
    # each of these rows is a copy of the header "Kind,id" once trimmed and lowered; a test of
    # the lengths alone (4 and 2 bytes) would miss all but the first
    cells = [("KIND", "ID"), ("\u212aind", "\u0130d"), ("\u00a0kind\u3000", "\x1cid\x1f"), ("\tKind", "Id\x0b")]
    others = [("kinds", "id"), ("kin", "ID"), ("\u200bkind", "id")]  # a zero-width space is no space
    rows = others[:1] + cells + others[1:]
    body = pa.table({"c0": [kind for kind, _ in rows], "c1": [ident for _, ident in rows], "line": list(range(2, 2 + len(rows)))})
    kept, lines = _without_header_copies(body, ["c0", "c1"], ["Kind", "id"])
    assert lines == [3, 4, 5, 6]
    assert kept.column("line").to_pylist() == [2, 7, 8]


def test_a_csv_with_header_copies_lists_their_lines(tmp_path, monkeypatch):
    text = ("Date,Rep,Amount\n"
            + "".join(f"2025-03-{day:02d},R001,{day}\n" for day in range(1, 6))
            + "  DATE , rep ,AMOUNT\n"  # a second export pasted below the first
            + "2025-03-09,R002,7\n"
            + "date\u00a0,Rep,amount\u3000\n")
    looks = lambda cells: 2 if [cell.lower() for cell in cells[:3]] == ["date", "rep", "amount"] else 0  # noqa: E731
    raw = files.read_table(text.encode(), "sales.csv", looks_like_header=looks)
    assert raw.repeated_header_lines == [7, 9]
    assert raw.cells.column("line").to_pylist() == [2, 3, 4, 5, 6, 8]


@pytest.mark.parametrize("size", [0, 3, 5000, 9 * 1_048_576 + 7])
@pytest.mark.parametrize("where", ["chunks", "bytes", "path"])
def test_the_hash_is_sha256_of_the_uploads_bytes(size, where, tmp_path):
    data = bytes(random.Random(size).getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
    data = data[:size]
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    upload = stream.Upload("upload.csv", path=path) if where == "path" else stream.Upload("upload.csv", data=data)
    with _Sha256(upload, threaded=where != "chunks") as digest:
        for chunk in upload.chunks(1000):  # the checks' chunks: hashed here only without the thread
            digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert not [thread for thread in threading.enumerate() if thread.name == "salesplan-sha256"]


def test_the_hash_thread_ends_when_the_checks_stop(tmp_path, monkeypatch):
    # a file of several chunks refused on its way (a NUL byte, the line limit): no thread is left behind
    monkeypatch.setattr(stream, "CHUNK_BYTES", 64)
    path = tmp_path / "sales.csv"
    path.write_bytes(b"date,rep,amount\n" + b"2025-03-01,R001,1\n" * 40 + b"\x00\n")
    with pytest.raises(BadInput, match="binary"):
        files.read_table(files.open_upload(path), "sales.csv", looks_like_header=lambda cells: 2)
    limits = files.UploadLimits(rows=10)
    path.write_bytes(b"date,rep,amount\n" + b"2025-03-01,R001,1\n" * 40)
    with pytest.raises(BadInput, match="more than an upload may hold"):
        files.read_table(files.open_upload(path), "sales.csv", looks_like_header=lambda cells: 2, limits=limits)
    assert not [thread for thread in threading.enumerate() if thread.name == "salesplan-sha256"]
    raw = files.read_table(files.open_upload(path), "sales.csv", looks_like_header=lambda cells: 2)
    assert raw.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert raw.cells.num_rows == 40


BLANK_RECORDS = [",,,", " , ,\t,", "\t,,,", "\u3000,,,", ",\u00a0,,", "\x0b,,,"]


@pytest.mark.parametrize("blank", BLANK_RECORDS, ids=repr)
@pytest.mark.parametrize("at", [0, 1, 17, 40])
@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 30], ids=lambda size: f"chunks of {size}")
def test_blank_records_of_a_file_without_quotes_are_dropped_in_any_chunks(blank, at, chunk, monkeypatch):
    # every line a record (no quote, no blank line): a record whose cells are all empty or blank
    # is no record, wherever it is and however the chunks cut the file
    lines = ["date,rep,order_id,amount"] + [f"2025-03-{1 + i % 28:02d},R001,O{i},{i}" for i in range(40)]
    lines.insert(at + 1, blank)
    monkeypatch.setattr(stream, "CHUNK_BYTES", chunk)
    raw = files.read_table(("\n".join(lines) + "\n").encode(), "sales.csv", looks_like_header=lambda cells: 2 * (cells[0] == "date"))
    blank_line = 1 + lines.index(blank)
    assert raw.cells.column("line").to_pylist() == [line for line in range(2, len(lines) + 1) if line != blank_line]
    # an empty first cell alone is not a blank record
    lines[blank_line - 1] = ",R002,O99,"
    raw = files.read_table(("\n".join(lines) + "\n").encode(), "sales.csv", looks_like_header=lambda cells: 2 * (cells[0] == "date"))
    assert raw.cells.column("line").to_pylist() == list(range(2, len(lines) + 1))


@pytest.mark.parametrize("chunk", [1, 5, 1 << 30], ids=lambda size: f"chunks of {size}")
def test_a_file_whose_lines_start_with_text_is_not_searched_for_blank_records(chunk, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(csvtext, "_drop_blank_rows", lambda table: pytest.fail("searched for blank records"))
    text = "date,rep,amount\n" + "".join(f"2025-03-0{day},R001,{day}\n" for day in range(1, 8))
    raw = files.read_table(text.encode(), "sales.csv", looks_like_header=lambda cells: 2 * (cells[0] == "date"))
    assert raw.cells.num_rows == 7


# quoted files the early read must read as the records' path does: quoted delimiters and quotes,
# a quoted newline, a stray quote inside a cell, a blank line, a wider record further down, an
# empty quoted record, a header copy; each with the early read and without it
QUOTED = {
    "all quoted": ['"date","rep","amount"'] + [f'"2025-03-0{1 + i % 9}","R00{i % 3}","{i},5"' for i in range(60)],
    "a quoted newline": ['date,rep,amount'] + [f'2025-03-0{1 + i % 9},"R00{i % 3}\nsecond",{i}' if i == 30 else f'2025-03-0{1 + i % 9},"R1",{i}' for i in range(60)],
    "a stray quote": ['date,rep,amount'] + [f'2025-03-0{1 + i % 9},R1 12" wide,{i}' if i in (10, 11) else f'2025-03-0{1 + i % 9},"R1",{i}' for i in range(60)],
    "stray quotes in pairs": ['date,rep,amount'] + [f'2025-03-0{1 + i % 9},a"b,c"d,{i}' if i == 20 else f'2025-03-0{1 + i % 9},"R1",{i}' for i in range(60)],
    "a blank line": ['date,rep,amount'] + [("" if i == 25 else f'2025-03-0{1 + i % 9},"R1",{i}') for i in range(60)],
    "wider below": ['date,rep,amount'] + [f'2025-03-0{1 + i % 9},"R1",{i}' + (',x,y,z' if i == 50 else '') for i in range(60)],
    "an empty quoted record": ['date,rep,amount'] + [('"","",""' if i == 40 else f'2025-03-0{1 + i % 9},"R1",{i}') for i in range(60)],
    "a header copy": ['"date","rep","amount"'] + [('"DATE", "Rep","amount"' if i == 33 else f'"2025-03-0{1 + i % 9}","R1","{i}"') for i in range(60)],
    "escaped quotes": ['date,rep,amount'] + [f'2025-03-0{1 + i % 9},"R ""{i}"" x",{i}' for i in range(60)],
    # malformed quotes further down (a review's find): DuckDB splits them differently at another
    # number of columns, so only a read of the records' own width may stand for theirs
    "malformed quotes below": ['date,rep,amount'] + [f'"2025-03-0{1 + i % 9}","R1","{i}"' for i in range(60)]
    + ['2","', '""', '"""""', '""""""""', ',,b,"', '"i', 'ine","10,5","R1"'],
    "one column, a lone carriage return": ['"date"'] + [f'"2025-03-0{1 + i % 9}"' for i in range(60)] + ['\r', '"2025-03-01"'],
}


# what the early read did for each: its table stood for the first reading ("used"), it was made
# again on the records' path ("read again": not the width the records need), or it never started
# (a blank line or record: the records are copied without it first)
EARLY = {name: "used" for name in QUOTED} | {
    "a stray quote": "read again", "wider below": "read again",
    "a blank line": "not started", "one column, a lone carriage return": "not started",
}


def _read_quoted(text: str, monkeypatch, early: bool, seen: list[str] | None = None):
    monkeypatch.setattr(stream, "CHUNK_BYTES", 256)  # several chunks: the early read starts
    if not early:
        monkeypatch.setattr(csvtext._EarlyRead, "start", classmethod(lambda cls, *args: None))
    elif seen is not None:  # (where each reading of DuckDB's ran: the early read's thread or this one)
        read = csvtext._duckdb_read
        monkeypatch.setattr(csvtext, "_duckdb_read", lambda *args, **kwargs: seen.append(
            threading.current_thread().name) or read(*args, **kwargs))
    try:
        raw = files.read_table(text.encode(), "sales.csv", looks_like_header=lambda cells: 2 * (cells[0].lower() == "date"))
    except BadInput as error:
        return ("refused", [str(problem) for problem in error.problems])
    finally:
        monkeypatch.undo()
    return (raw.header, raw.header_line, raw.repeated_header_lines, raw.cells.to_pylist())


@pytest.mark.parametrize("name", list(QUOTED))
def test_the_early_read_of_a_quoted_file_reads_what_the_records_path_reads(name, monkeypatch):
    text = "\n".join(QUOTED[name]) + "\n"
    seen: list[str] = []
    assert _read_quoted(text, monkeypatch, early=True, seen=seen) == _read_quoted(text, monkeypatch, early=False)
    early = "salesplan-csv-read" in seen
    assert ("not started" if not early else "used" if seen == ["salesplan-csv-read"] else "read again") == EARLY[name]


def test_the_early_read_stands_for_the_first_reading(monkeypatch):
    text = "\n".join(QUOTED["all quoted"]) + "\n"
    widths = []
    read = csvtext._duckdb_read
    monkeypatch.setattr(csvtext, "_duckdb_read", lambda path, width, *args, **kwargs: widths.append(width) or read(path, width, *args, **kwargs))
    monkeypatch.setattr(stream, "CHUNK_BYTES", 256)
    raw = files.read_table(text.encode(), "sales.csv", looks_like_header=lambda cells: 2 * (cells[0].lower() == "date"))
    # one read, as wide as the first lines' records (a quoted comma, "0,5", splits nothing)
    assert widths == [3]
    assert raw.cells.num_rows == 60 and raw.cells.num_columns == 4  # c0..c2 and line
    assert not [thread for thread in threading.enumerate() if thread.name == "salesplan-csv-read"]


def test_the_early_read_stops_when_the_records_are_refused(monkeypatch):
    # a record far wider than the first lines: refused for its fields, the early read interrupted
    lines = QUOTED["all quoted"] + [",".join(['"x"'] * 50)]
    monkeypatch.setattr(stream, "CHUNK_BYTES", 256)
    with pytest.raises(BadInput, match="50 fields"):
        files.read_table(("\n".join(lines) + "\n").encode(), "sales.csv", looks_like_header=lambda cells: 2,
                         limits=files.UploadLimits(csv_fields=20))
    assert not [thread for thread in threading.enumerate() if thread.name == "salesplan-csv-read"]

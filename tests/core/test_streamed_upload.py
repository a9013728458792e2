"""An upload is checked a chunk at a time (docs/security.md, the memory an upload may take): a file
on disk is never read whole into memory, bytes are let go once DuckDB's reader has them in a file,
and every check (hash, lines, encoding, BOM, blank records, quotes, widths, padded cells) gives
the same answer whatever the chunks, also where a character, a line end or a quoted newline
crosses a chunk's edge."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from salesplan import files, imports
from salesplan.errors import BadInput, Problem
from salesplan.files import UploadLimits, open_upload
from salesplan.files import csvtext, stream
from salesplan.principal import SYSTEM

from tests.helpers.unchanged import changed_tables, fingerprint

LOOKS = imports._looks_like_header("actuals")

# a file with everything a chunk's edge may cut: characters of 2, 3 and 4 bytes, a quoted
# newline, a quoted delimiter, a padded cell, blank records (empty, spaces, a carriage return)
TEXT = (
    "Sales report\n"
    "date,rep,order_id,line,amount\n"
    "2025-03-03,R001,Ö1,1,10.5\n"
    "\n"
    '2025-03-04,R002,"O2\nsecond line",1,"1,200"\n'
    "   \n"
    "2025-03-05, R003,€3,1,7\n"
    "\r\n"
    "2025-03-06,R001,𝄞4,2,3\n"
)
# (line, cells) of every record below the header, as the whole file reads
RECORDS = [
    (3, ["2025-03-03", "R001", "Ö1", "1", "10.5"]),
    (5, ["2025-03-04", "R002", "O2\nsecond line", "1", "1,200"]),
    (8, ["2025-03-05", " R003", "€3", "1", "7"]),
    (10, ["2025-03-06", "R001", "𝄞4", "2", "3"]),
]


def _read(source, chunk: int, monkeypatch, name: str = "sales.csv"):
    monkeypatch.setattr(stream, "CHUNK_BYTES", chunk)
    return files.read_table(source, name, looks_like_header=LOOKS)


def _records(raw) -> list[tuple[int, list[str]]]:
    rows = raw.cells.to_pylist()
    width = len(raw.header)
    return [(row["line"], [row[f"c{i}"] or "" for i in range(width)]) for row in rows]


ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8 with a BOM": lambda text: text.encode("utf-8-sig"),
    "utf-16 with a BOM": lambda text: text.encode("utf-16"),
    "utf-16-le without a BOM": lambda text: text.encode("utf-16-le"),
    "cp1252": lambda text: text.replace("𝄞", "S").encode("cp1252"),
}


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 1 << 30], ids=lambda size: f"chunks of {size}")
@pytest.mark.parametrize("on_disk", [False, True], ids=["bytes", "path"])
def test_every_chunking_reads_the_file_as_whole(encoding, line_end, chunk, on_disk, tmp_path, monkeypatch):
    text = TEXT.replace("\n", line_end) if line_end != "\n" else TEXT
    data = ENCODINGS[encoding](text)
    if on_disk:
        path = tmp_path / "sales.csv"
        path.write_bytes(data)
        source = open_upload(path)
    else:
        source = data
    raw = _read(source, chunk, monkeypatch)
    expected = [(line, [cell.replace("\n", line_end) if "second" in cell else cell for cell in cells])
                for line, cells in RECORDS]
    if encoding == "cp1252":
        expected[3] = (10, ["2025-03-06", "R001", "S4", "2", "3"])
    assert _records(raw) == expected
    assert (raw.header, raw.header_line, raw.title_lines) == (["date", "rep", "order_id", "line", "amount"], 2, [1])
    assert raw.sha256 == hashlib.sha256(data).hexdigest()  # the hash of the bytes as uploaded
    assert raw.padded is True  # " R003", and the quotes
    assert raw.encoding == {"utf-8 with a BOM": "utf-8-sig", "utf-16 with a BOM": "utf-16",
                            "utf-16-le without a BOM": "utf-16-le"}.get(encoding, encoding)


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 30], ids=lambda size: f"chunks of {size}")
def test_the_usual_export_reads_the_same_in_any_chunks(chunk, tmp_path, monkeypatch):
    # no quote, no blank line: the reader's plain path (every line a record), with a padded cell
    # at the very end of the file and none before it
    rows = "".join(f"2025-03-{1 + i % 28:02d},R001,O{i},1,{i}.5\n" for i in range(50))
    for text, padded in ((rows, False), (rows + "2025-03-03,R001,O99,1,4 ", True)):
        path = tmp_path / "sales.csv"
        path.write_bytes(("date,rep,order_id,line,amount\n" + text).encode())
        raw = _read(open_upload(path), chunk, monkeypatch)
        assert raw.cells.num_rows == 50 + padded
        assert raw.cells.column("line").to_pylist() == list(range(2, 52 + padded))
        assert raw.padded is padded
        assert raw.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("chunk", [1, 2, 5, 64, 1 << 30], ids=lambda size: f"chunks of {size}")
def test_a_stray_quote_reads_the_same_in_any_chunks(chunk, tmp_path, monkeypatch):
    # an inch mark in an unquoted cell: from there on no newline is outside quotes (so the records
    # are found with the quotes counted, and the rest of the file may be one record); the records,
    # lines and hash are those of the whole file, and the quotes are counted once per chunk (a look
    # back from each newline made a 1 MB file of this kind take seconds, a 100 MB one an hour)
    rows = "".join(f"2025-03-{1 + i % 28:02d},R001,O{i},1,{i}.5,Acme\n" for i in range(40))
    text = "date,rep,order_id,line,amount,customer\n2025-03-03,R001,SO-0,1,100,Pipe 12\" steel\n" + rows
    path = tmp_path / "sales.csv"
    path.write_bytes(text.encode())
    whole = _records(_read(open_upload(path), 1 << 30, monkeypatch))
    raw = _read(open_upload(path), chunk, monkeypatch)
    assert _records(raw) == whole
    assert raw.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    counted = []
    real = bytes.count

    class Chunk(bytes):  # every chunk the records' pass is given, with its counts of quotes seen
        def count(self, *args):
            counted.append(args)
            return real(self, *args)

    records = csvtext._Records
    monkeypatch.setattr(stream.Upload, "chunks", lambda self, _chunks=stream.Upload.chunks: (Chunk(c) for c in _chunks(self)))
    records(open_upload(path), ",", True)
    chunks = max(1, -(-len(text.encode()) // chunk))
    assert chunks <= len(counted) <= 2 * chunks  # per chunk: its quotes, and the carried record's


class _Reads:
    """Every read of a file the stream module makes: how many bytes were asked for."""

    def __init__(self):
        self.sizes: list[int] = []

    def open(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)  # noqa: SIM115 (it stands for open: the caller closes it)
        if "r" not in mode:
            return handle
        reads = self.sizes
        real = handle.read

        def read(size=-1):
            reads.append(size)
            return real(size)

        handle.read = read
        return handle


def test_a_file_on_disk_is_never_read_whole(reps_store, tmp_path, monkeypatch):
    rows = "".join(f"2025-03-{1 + i % 28:02d},R001,O{i},1,{i}.5\n" for i in range(12_000))
    path = tmp_path / "sales.csv"
    path.write_bytes(("date,rep,order_id,line,amount\n" + rows).encode())
    head = files.SNIFF_CHARACTERS * 4 + 4  # the first bytes, read once to sniff the delimiter
    assert path.stat().st_size > head
    reads = _Reads()
    monkeypatch.setattr(stream, "open", reads.open, raising=False)
    monkeypatch.setattr(stream, "CHUNK_BYTES", 16_384)
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("the file was read whole"))
    result = imports.import_file(reps_store, "actuals", path)
    assert (result.inserted, result.rejected) == (12_000, 0)
    assert reads.sizes and all(0 < size <= head for size in reads.sizes)


def test_bytes_are_let_go_before_duckdbs_reader_makes_the_cells(monkeypatch):
    upload = files.Upload("sales.csv", data=("date,rep,order_id,line,amount\n" + "2025-03-03,R001,O1,1,5\n" * 3).encode())
    held = []
    read = csvtext._duckdb_read

    def reading(*args, **kwargs):
        held.append(upload.data)
        return read(*args, **kwargs)

    monkeypatch.setattr(csvtext, "_duckdb_read", reading)
    raw = files.read_table(upload, "sales.csv", looks_like_header=LOOKS)
    assert raw.cells.num_rows == 3
    assert held == [None]  # the bytes were in the reader's file, not in memory beside its cells


@pytest.mark.parametrize("chunk", [64, 1 << 30], ids=["chunks of 64", "one chunk"])
def test_a_file_over_the_line_limit_is_refused_before_its_rows_are_read(reps_store, chunk, tmp_path, monkeypatch):
    before = fingerprint(reps_store)
    path = tmp_path / "many.csv"
    path.write_bytes(b"date,rep,amount\n" + b"2025-03-03,R001,1\n" * 40)
    monkeypatch.setattr(stream, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(csvtext, "_duckdb_read", lambda *a, **k: pytest.fail("the rows were read"))
    monkeypatch.setattr(csvtext, "_Records", lambda *a, **k: pytest.fail("the records were split"))
    with pytest.raises(BadInput) as caught:
        imports.import_file(reps_store, "actuals", path, limits=UploadLimits(rows=10))
    # every line counted, also past the limit (the message says how many)
    assert caught.value.problems == [Problem(
        "many.csv", None, None, "the file has 42 lines, more than an upload may hold (10 rows): split it into several files")]
    assert changed_tables(reps_store, before) == []


def test_a_file_over_the_size_limit_is_refused_unread(reps_store, tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(b"date,rep,amount\n" + b"2025-03-03,R001,1\n" * 100)
    monkeypatch.setattr(stream.Upload, "chunks", lambda *a, **k: pytest.fail("the file was read"))
    monkeypatch.setattr(stream.Upload, "head", lambda *a, **k: pytest.fail("the file was read"))
    with pytest.raises(BadInput, match="over the upload limit"):
        imports.import_file(reps_store, "actuals", path, limits=UploadLimits(file_bytes=1000))


def test_a_file_that_changes_while_it_is_read_is_refused(reps_store, tmp_path, monkeypatch):
    before = fingerprint(reps_store)
    path = tmp_path / "sales.csv"
    path.write_bytes(b"date,rep,order_id,line,amount\n" + b"2025-03-03,R001,O1,1,5\n")
    read = csvtext._duckdb_read

    def grown(*args, **kwargs):
        table = read(*args, **kwargs)
        with open(path, "ab") as file:  # an export still being written beside the import
            file.write(b"2025-03-04,R001,O2,1,6\n")
        return table

    monkeypatch.setattr(csvtext, "_duckdb_read", grown)
    with pytest.raises(BadInput) as caught:
        imports.import_file(reps_store, "actuals", path)
    assert caught.value.problems == [
        Problem("sales.csv", None, None, "the file changed while it was read: import it again once it is complete")]
    assert reps_store.actuals(SYSTEM).empty
    assert changed_tables(reps_store, before) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        # a character cut at the very end, the last chunk one byte long
        ("date,rep,amount\n2025-03-03,R001,5 €".encode()[:-1], "the file ends in the middle of a character: it looks truncated"),
        ("date,rep,amount\n2025-03-03,R001,5\n".encode("utf-16-le")[:-1], "the file (utf-16-le) ends in the middle of a character: it looks truncated"),
        (b"date,rep,amount\n2025-03-03,R001,5\n" + b"\x81\n", "the file is neither UTF-8, UTF-16 nor Windows-1252 text (is it binary?)"),
        (b"date,rep,amount\n2025-03-03,R001,5\n" * 3000 + b"\x00\n", "this is a binary file, not a CSV text file or an .xlsx workbook"),
    ],
    ids=["utf-8 truncated", "utf-16 truncated", "not text", "a NUL past the first chunks"],
)
def test_a_bad_encoding_is_found_in_any_chunk(data, reason, monkeypatch):
    for chunk in (1, 7, 1 << 30):
        with pytest.raises(BadInput) as caught:
            _read(data, chunk, monkeypatch, name="bad.csv")
        assert caught.value.problems == [Problem("bad.csv", None, None, reason)], chunk


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_pipe_is_read_whole_once(reps_store, tmp_path):
    pipe = tmp_path / "sales.csv"
    os.mkfifo(pipe)
    data = b"date,rep,order_id,line,amount\n2025-03-03,R001,O1,1,5\n"
    writer = threading.Thread(target=lambda: pipe.write_bytes(data))
    writer.start()
    try:
        result = imports.import_file(reps_store, "actuals", pipe)
    finally:
        writer.join(timeout=10)
    assert (result.inserted, result.rejected) == (1, 0)


@pytest.mark.parametrize("chunk", [1, 2, 4, 1 << 30], ids=lambda size: f"chunks of {size}")
def test_a_bom_cut_by_the_chunks_is_not_taken_for_text(chunk, monkeypatch):
    # its bytes are beyond ASCII: taken for text at the start of the file, they would read as a
    # padded first cell, and every cell of the file would be trimmed
    data = "date,rep,order_id,line,amount\n2025-03-03,R001,O1,1,5\n".encode("utf-8-sig")
    raw = _read(data, chunk, monkeypatch)
    assert (raw.header[0], raw.padded, raw.encoding) == ("date", False, "utf-8-sig")

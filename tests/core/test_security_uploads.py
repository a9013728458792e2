"""Hostile uploads (issue: a 2 KB workbook takes the server down): every upload is held to limits
on decompressed size, rows, cells and parser memory, checked before the work they protect, and a
refused file gets a plain BadInput with nothing changed.

The files are small and generated here; the limits are lowered through ``UploadLimits`` so the
tests stay fast. The real-size attacks (a cell at XFD1048576, a 2.6 MB zip bomb, a 194 MB CSV of
short rows) were run by hand; docs/security.md gives the figures.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from salesplan import imports
from salesplan.errors import BadInput
from salesplan.files import UploadLimits, read_table
from salesplan.principal import SYSTEM

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)


def _text(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def workbook(rows_xml: str, *, dimension: str | None = None, extra_parts: dict[str, bytes] | None = None) -> bytes:
    """A minimal .xlsx written by hand, so that a test controls every byte of the sheet."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + (f'<dimension ref="{dimension}"/>' if dimension else "")
        + f"<sheetData>{rows_xml}</sheetData></worksheet>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra_parts or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


ACTUALS_HEADER_ROW = (
    '<row r="1">' + _text("A1", "date") + _text("B1", "rep") + _text("C1", "amount") + "</row>"
)


def _sale_row(number: int) -> str:
    return (
        f'<row r="{number}">' + _text(f"A{number}", "2025-03-03") + _text(f"B{number}", "R001")
        + f'<c r="C{number}"><v>{number}</v></c></row>'
    )


def _unchanged(store, attempt) -> str:
    before = store.snapshot()
    with pytest.raises(BadInput) as refused:
        attempt()
    assert store.snapshot() == before
    return str(refused.value)


def test_a_cell_at_xfd1048576_is_read_as_one_row_not_a_grid_of_17_billion_cells(reps_store):
    # today: pandas/openpyxl pad every row to the declared used range: 7 GB and 50 s for 2 KB
    data = workbook(ACTUALS_HEADER_ROW + _sale_row(2) + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
                    dimension="A1:XFD1048576")
    assert len(data) < 3000
    tracemalloc.start()
    try:
        raw = read_table(data, "far.xlsx", looks_like_header=lambda cells: 2 if "date" in cells else 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1_048_576, f"reading a 2 KB workbook allocated {peak / 1_048_576:.0f} MB"
    # the far cell is a row of its own (row 1048576), kept: nothing is lost, nothing is padded
    assert raw.cells.column("line").to_pylist() == [2, 1_048_576]
    assert raw.cells.num_columns == 16_384 + 1
    # and the import refuses the stray row with its line, like any other bad row
    message = _unchanged(reps_store, lambda: imports.import_file(reps_store, "actuals", data, file_name="far.xlsx"))
    assert "far.xlsx, line 1048576" in message


def test_a_far_cell_is_read_alone_not_with_the_empty_cells_and_rows_before_it(monkeypatch):
    # the reader turns into text only the cells the sheet holds: openpyxl's row iterator gave the
    # far row as 16,384 values (16,383 of them empty) after a million empty rows, each looked at
    from salesplan.files import workbook as workbook_reader

    seen: list[object] = []
    convert = workbook_reader._excel_cell_text
    monkeypatch.setattr(workbook_reader, "_excel_cell_text", lambda value: seen.append(value) or convert(value))
    data = workbook(ACTUALS_HEADER_ROW + _sale_row(2) + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
                    dimension="A1:XFD1048576")
    raw = read_table(data, "far.xlsx", looks_like_header=lambda cells: 2 if "date" in cells else 0)
    assert len(seen) == 3 + 3 + 1, f"{len(seen):,} cells converted for a sheet of 7"
    # nothing lost: the far cell is in its own column on its own line
    assert raw.cells.column("line").to_pylist() == [2, 1_048_576]
    assert raw.cells.column("c16383").to_pylist() == [None, "1"]
    assert raw.header[:3] == ["date", "rep", "amount"]


def test_a_sheet_over_the_cell_limit_is_refused_while_it_is_read(reps_store):
    # one stray cell at column XFD on a few rows: 16,384 cells read per row
    rows = ACTUALS_HEADER_ROW + "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>2025-03-03</t></is></c><c r="XFD{n}"><v>1</v></c></row>'
        for n in range(2, 6)
    )
    limits = UploadLimits(workbook_cells=50_000)
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", workbook(rows), file_name="wide.xlsx", limits=limits))
    assert "more than the 50,000 cells an .xlsx upload may" in message
    assert "save it as CSV" in message


def test_a_sheet_with_rows_far_past_the_row_limit_stops_at_the_limit(reps_store):
    # a crafted row number (Excel's own limit is 1,048,576) must not be walked to row by row
    rows = ACTUALS_HEADER_ROW + _sale_row(2) + _sale_row(50_000_000)
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", workbook(rows), file_name="tall.xlsx", limits=UploadLimits(rows=1000)))
    assert "more than an upload may hold (1,000 rows)" in message


def test_a_zip_bomb_is_refused_from_its_declared_sizes_before_anything_is_inflated(reps_store):
    # 3 MB of repeated rows compress to a few KB: the ratio of the 2.6 MB bomb that parsed for minutes
    rows = ACTUALS_HEADER_ROW + '<row><c t="inlineStr"><is><t>x</t></is></c><c><v>1</v></c></row>' * 50_000
    data = workbook(rows)
    assert len(data) < 100_000
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", data, file_name="bomb.xlsx", limits=UploadLimits(workbook_bytes=1_048_576)))
    assert "decompresses to 3 MB, more than an .xlsx upload may (1 MB)" in message


def test_a_huge_shared_strings_part_is_refused_unread(reps_store):
    strings = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + b"<si><t>x</t></si>" * 200_000 + b"</sst>"
    data = workbook(ACTUALS_HEADER_ROW + _sale_row(2), extra_parts={"xl/sharedStrings.xml": strings})
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", data, file_name="strings.xlsx", limits=UploadLimits(workbook_part_bytes=1_048_576)))
    assert "xl/sharedStrings.xml decompresses to 3 MB" in message


def test_an_archive_that_lies_about_its_sizes_gains_nothing(reps_store):
    # the central directory says the sheet is tiny; the real part is far bigger: zipfile stops at
    # the declared size and the checksum fails, so the file is "damaged", never inflated in full
    rows = ACTUALS_HEADER_ROW + _sale_row(2) * 20_000
    data = bytearray(workbook(rows))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"xl/worksheets/sheet1.xml") + 1)
    assert int.from_bytes(data[central + 24:central + 28], "little") == info.file_size
    data[central + 24:central + 28] = (1000).to_bytes(4, "little")  # the declared uncompressed size
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", bytes(data), file_name="liar.xlsx", limits=UploadLimits(workbook_bytes=100_000)))
    assert "damaged" in message


def test_a_csv_of_millions_of_short_rows_is_refused_by_its_line_count(reps_store):
    # today: 194 MB of such rows end in a raw DuckDB OutOfMemory traceback
    data = b"date,rep,amount\n" + b"1,2,3\n" * 20_000
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", data, file_name="short.csv", limits=UploadLimits(rows=10_000)))
    assert message == (
        "short.csv: the file has 20,002 lines, more than an upload may hold (10,000 rows): split it into several files"
    )


def test_a_csv_over_the_cell_limit_is_refused_before_it_is_parsed(reps_store):
    data = b"date,rep,amount" + b"," * 999 + b"\n" + b"2025-03-03,R001,1\n" * 2000
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", data, file_name="wide.csv", limits=UploadLimits(csv_cells=1_000_000)))
    assert "2,001 records of up to 1,002 fields, more than the 1,000,000 cells" in message


def test_a_file_that_does_not_fit_the_parsers_memory_is_a_plain_refusal(reps_store):
    data = ("date,rep,amount\n" + "".join(f"2025-03-{1 + i % 28:02d},R001,{i}\n" for i in range(100_000))).encode()
    message = _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", data, file_name="big.csv", limits=UploadLimits(memory_mb=2)))
    assert message == "big.csv: the file is too large to check within the 2 MB the server allows an upload: split it into smaller files"


def test_files_within_the_limits_still_import(reps_store):
    rows = ACTUALS_HEADER_ROW + "".join(_sale_row(n) for n in range(2, 12))
    limits = UploadLimits(rows=20, workbook_cells=33, workbook_bytes=100_000, csv_cells=44)  # exactly at the limits
    result = imports.import_file(reps_store, "actuals", workbook(rows), file_name="ok.xlsx", limits=limits,
                                 principal=SYSTEM)
    assert (result.inserted, result.rejected) == (10, 0)
    csv = b"date,rep,amount,order_id\n" + b"".join(b"2025-03-04,R001,5,X%d\n" % n for n in range(10))
    result = imports.import_file(reps_store, "actuals", csv, file_name="ok.csv", limits=limits, principal=SYSTEM)
    assert (result.inserted, result.rejected) == (10, 0)
    assert reps_store.actual_totals(SYSTEM)["revenue"] == sum(range(2, 12)) + 50


def test_rows_and_cells_limits_grow_with_a_raised_file_size_only():
    from salesplan.files import UploadLimits
    from salesplan.files.limits import MAX_CSV_CELLS, MAX_ROWS

    default, small, large = (UploadLimits.for_upload_limit(mb) for mb in (200, 10, 1000))
    assert (default.rows, default.csv_cells) == (MAX_ROWS, MAX_CSV_CELLS)
    assert (small.rows, small.csv_cells, small.file_bytes) == (MAX_ROWS, MAX_CSV_CELLS, 10 * 1_048_576)
    assert (large.rows, large.csv_cells) == (5 * MAX_ROWS, 5 * MAX_CSV_CELLS)
    assert large.memory_mb == default.memory_mb  # the parser stays capped


def test_a_raised_upload_limit_lets_a_file_past_the_default_row_count_through(reps_store, monkeypatch):
    # the row limit is what the setting scales: lowered here so that a small file stands for a large one
    import salesplan.files.limits as limits

    monkeypatch.setattr(limits, "MAX_ROWS", 3)
    # 30 rows: over 3 rows (plus the lines the header may be searched in), within 10 x 3
    data = b"date,rep,amount\n" + b"".join(f"2025-03-{d:02d},R001,{d}\n".encode() for d in range(1, 31))
    with pytest.raises(BadInput, match="more than an upload may hold"):
        imports.import_file(reps_store, "actuals", data, file_name="a.csv")
    reps_store.save_settings(SYSTEM, upload_limit_mb=2000)
    assert imports.import_file(reps_store, "actuals", data, file_name="a.csv").inserted == 30


@pytest.mark.parametrize("quoted", [False, True], ids=["plain lines", "quoted cells"])
def test_a_csv_line_wider_than_the_field_limit_is_refused_with_its_line_before_it_is_parsed(reps_store, quoted):
    # a 16 KB line of 10,000 delimiters was handed to the parser as a 10,001-column table (~2 s of
    # CPU for one upload) and then refused as "too large to check within 512 MB", which it is not
    cell = '"x"' if quoted else ""
    wide = ",".join([cell] * 10_001)
    data = f'sale_date,rep_id,revenue\n2025-03-03,R001,"100"\n{wide}\n2025-03-04,R001,5\n'.encode()
    if not quoted:
        data = data.replace(b'"', b"")
    message = _unchanged(reps_store, lambda: imports.import_file(reps_store, "actuals", data, file_name="wide.csv"))
    assert "wide.csv, line 3" in message
    assert "10,001 fields, more than the 2,000 columns an upload may have" in message
    # the limit is the upload's: a lower one refuses a narrower line, a file within it is read
    narrow = b"sale_date,rep_id,revenue,a,b\n2025-03-03,R001,100,,\n"
    assert "more than the 4 columns" in _unchanged(reps_store, lambda: imports.import_file(
        reps_store, "actuals", narrow, file_name="n.csv", limits=UploadLimits(csv_fields=4)))
    assert read_table(narrow, "n.csv", looks_like_header=lambda cells: 2 if "sale_date" in cells else 0).cells.num_columns == 5 + 1  # and `line`


def test_a_row_whose_last_cell_is_not_its_widest_is_still_held_to_the_column_limit(reps_store):
    # cells without a reference take the column after the one before: 16,400 of them, then one
    # that names column A. The row's last cell says 1 column; the row holds 16,400 (the reader
    # once took the last cell's column as the row's width and built a 16,401-column table)
    wide = "".join('<c t="inlineStr"><is><t>x</t></is></c>' for _ in range(16_400))
    data = workbook(ACTUALS_HEADER_ROW + f'<row r="2">{wide}<c r="A2" t="inlineStr"><is><t>2025-03-03</t></is></c></row>')
    message = _unchanged(reps_store, lambda: imports.import_file(reps_store, "actuals", data, file_name="wide.xlsx"))
    assert "wide.xlsx, line 2" in message and "more than a spreadsheet can hold (16,384)" in message

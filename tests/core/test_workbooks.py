"""Workbooks read by calamine: .xlsx (measured on its XML first), .ods, and the fall-back to the
streamed openpyxl reader for sheets that cannot be measured, are too large, or hold formulas."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from salesplan import files, imports
from salesplan.errors import BadInput
from salesplan.files import UploadLimits, read_table
from salesplan.principal import SYSTEM


def header_check(cells: list[str]) -> int:
    return 2 if "date" in cells else 0


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ods(rows: list[list[str]]) -> bytes:
    """A minimal OpenDocument spreadsheet written by hand."""
    def cell(value: str) -> str:
        return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Sheet1">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return buffer.getvalue()


ROWS = [
    ["Sales export"],
    [],
    ["date", "rep", "amount", "customer"],
    [dt.date(2025, 3, 3), "R001", 1250, "Acme"],
    [dt.datetime(2025, 3, 4, 0, 0), "R002", 99.5, None],
    [],
    ["2025-03-05", "R001", -10, "+not a formula, text"],
]


def test_an_xlsx_is_read_by_calamine_with_spreadsheet_row_numbers(monkeypatch):
    def no_fallback(*args, **kwargs):
        raise AssertionError("a plain sheet must not need the streamed reader")

    monkeypatch.setattr(files.workbook, "_read_xlsx_streamed", no_fallback)  # where _read_workbook looks it up
    raw = read_table(xlsx(ROWS), "export.xlsx", looks_like_header=header_check)
    assert raw.header_line == 3 and raw.header == ["date", "rep", "amount", "customer"]
    assert raw.title_lines == [1]
    assert raw.cells.to_pylist() == [
        {"c0": "2025-03-03", "c1": "R001", "c2": "1250", "c3": "Acme", "line": 4},
        {"c0": "2025-03-04", "c1": "R002", "c2": "99.5", "c3": None, "line": 5},
        {"c0": "2025-03-05", "c1": "R001", "c2": "-10", "c3": "+not a formula, text", "line": 7},
    ]


def test_calamine_and_the_streamed_reader_give_the_same_cells():
    data = xlsx(ROWS)
    fast = read_table(data, "export.xlsx", looks_like_header=header_check)
    streamed = files._read_xlsx_streamed(data, "export.xlsx", fast.sha256, header_check, UploadLimits())
    assert fast.cells.to_pylist() == streamed.cells.to_pylist()
    assert (fast.header, fast.header_line) == (streamed.header, streamed.header_line)


def test_a_sheet_with_formulas_is_read_as_text_by_the_streamed_reader():
    # calamine would give the cached value; a formula is kept as its text, never taken as a value
    raw = read_table(xlsx([["date", "rep", "amount"], ["2025-03-03", "R001", "=2*5"]]), "f.xlsx", looks_like_header=header_check)
    assert raw.cells.column("c2").to_pylist() == ["=2*5"]


def test_the_extent_is_measured_from_the_cells_not_the_declared_dimension():
    data = xlsx([["date", "rep"], ["2025-03-03", "R001"]])
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert files._xlsx_extent(archive, "x.xlsx") == 2 * 2
    wide = xlsx([["date"] + [None] * 30 + ["x"]])
    assert files._xlsx_extent(zipfile.ZipFile(io.BytesIO(wide)), "w.xlsx") == 1 * 32


def with_sheet(rows_xml: str, *, head: str = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', encoding: str = "utf-8") -> bytes:
    """An openpyxl workbook whose first sheet's XML is replaced by ``rows_xml`` in sheetData, so a
    test controls every byte calamine and the extent measure read."""
    sheet = (head + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<sheetData>{rows_xml}</sheetData></worksheet>").encode(encoding)
    source = zipfile.ZipFile(io.BytesIO(xlsx([["x"]])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for part in source.infolist():
            target.writestr(part.filename, sheet if part.filename == "xl/worksheets/sheet1.xml" else source.read(part))
    return buffer.getvalue()


def extent(data: bytes) -> int | None:
    return files._xlsx_extent(zipfile.ZipFile(io.BytesIO(data)), "t.xlsx")


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def test_a_cell_placed_past_its_row_counts_by_its_own_reference():
    # calamine places a cell by its reference, not by the row it sits in: a cell at C3000 inside
    # row 2 makes a used range of 3,000 rows (a far one, at XFD1048576, one of 17 billion cells)
    data = with_sheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="C3000"><v>1</v></c></row>')
    assert extent(data) == 3000 * 3


@pytest.mark.parametrize("rows_xml", [
    # calamine reads elements by their local name: a namespace prefix hides nothing from it
    f'<x:row xmlns:x="{MAIN}" r="1"><x:c r="A1"><x:v>1</x:v></x:c><x:c r="D4000"><x:v>1</x:v></x:c></x:row>',
    f'<row r="1"><c r="A1"><v>1</v></c><ü:c xmlns:ü="{MAIN}" r="D4000"><ü:v>1</ü:v></ü:c></row>',  # a non-ASCII prefix
    f'<row r="1"><c r="A1"><x:f xmlns:x="{MAIN}">1+1</x:f><v>2</v></c></row>',
    '<row r="1"><c r="A1"><f\n>1+1</f><v>2</v></c></row>',  # a formula whose name ends in a newline
    '<row r="1"><c r="A1"><v>1</v></c><c r="AAAA1"><v>2</v></c></row>',  # a column past XFD
    '<row r="1"><c r=\'A1\'><v>1</v></c></row>',  # a reference in single quotes
    '<row r="1"><c t="n" r="A1"><v>1</v></c></row>',  # the reference not the first attribute
    '<row r="1"><c r="A"><v>1</v></c></row>',  # a reference without a row
    '<row><c r="A1"><v>1</v></c></row>',  # a row without its number
])
def test_a_sheet_the_byte_scan_cannot_measure_is_streamed_by_openpyxl(rows_xml):
    assert extent(with_sheet(rows_xml)) is None


def test_a_sheet_not_in_utf8_is_streamed_by_openpyxl():
    # the scan reads bytes: in UTF-16 no '<' is followed by the name of a cell
    data = with_sheet('<row r="1"><c r="XFD1048576"><v>1</v></c></row>',
                      head='<?xml version="1.0" encoding="UTF-16"?>', encoding="utf-16")
    assert extent(data) is None


def test_text_with_colons_and_tag_like_words_is_still_measured():
    data = with_sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>ratio 1:c 2:f 3:row /x:c&gt;</t></is></c>'
                      '<c r="B1"><v>1</v></c></row><row r="2"><c r="B2"><v>2</v></c></row>')
    assert extent(data) == 2 * 2


def test_calamine_cells_keep_their_text_and_drop_blank_rows_and_empty_columns():
    rows = [["", "", "", ""], ["date", " ", "", ""], [dt.date(2025, 3, 3), 12.0, "", ""], ["", "", "", ""],
            [True, 1.5, "  x ", ""]]
    table = files.workbook._cells_table(rows, first_row=3)
    assert table.column_names == ["c0", "c1", "c2", "line"]
    assert table.to_pylist() == [
        {"c0": "date", "c1": None, "c2": None, "line": 4},
        {"c0": "2025-03-03", "c1": "12", "c2": None, "line": 5},
        {"c0": "TRUE", "c1": "1.5", "c2": "  x ", "line": 7},
    ]
    assert files.workbook._cells_table([["", " "], ["", ""]], first_row=1) is None
    assert files.workbook._cells_table([["a", "b"], ["c"]], first_row=1).to_pylist() == [  # rows of unequal widths
        {"c0": "a", "c1": "b", "line": 1}, {"c0": "c", "c1": None, "line": 2}]


def test_a_column_of_text_is_blank_where_str_strip_leaves_nothing():
    # Arrow takes an all-text column whole; its blanks must be exactly the cells _excel_cell_text
    # (str.strip) calls blank, for every whitespace character Python knows
    assert files.workbook.PYTHON_WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    cells = ["", "x", " x ", "\u3000", "\x1c\x1f", "\u200b", "a\n", "\n", "\xa0\u2028 \t"] + list(files.workbook.PYTHON_WHITESPACE)
    assert files.workbook._column_text(cells).to_pylist() == [files._excel_cell_text(cell) for cell in cells]
    mixed = ["x", 2.0, dt.date(2025, 3, 3), " ", True]
    assert files.workbook._column_text(mixed).to_pylist() == ["x", "2", "2025-03-03", None, "TRUE"]


def test_an_ods_spreadsheet_imports(reps_store):
    data = ods([["date", "rep", "amount"], ["2025-03-03", "R001", "10"], ["2025-03-04", "R002", "20.5"]])
    result = imports.import_file(reps_store, "actuals", data, file_name="sales.ods")
    assert (result.inserted, result.rejected) == (2, 0)
    assert reps_store.actual_totals(SYSTEM)["revenue"] == pytest.approx(30.5)


def test_a_damaged_ods_is_refused_with_a_message(reps_store):
    data = ods([["date", "rep", "amount"]])
    broken = data.replace(b"office:document-content", b"office:document-contenX")
    with pytest.raises(BadInput) as refused:
        imports.import_file(reps_store, "actuals", broken, file_name="broken.ods")
    assert refused.value.problems[0].file == "broken.ods"

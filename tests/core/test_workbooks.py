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

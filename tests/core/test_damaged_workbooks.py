"""A workbook damaged inside its zip archive is refused with our own error, whichever part is hit.

test_fuzz_imports found it (a mutated workbook raised zipfile.BadZipFile, or zlib.error, from
salesplan/files/workbook.py's _first_sheet_part; its derandomized examples depend on the test's
source, so only an edited copy of the test drew them): the workbook reader
turns a damaged worksheet part into BadInput ("the workbook is damaged and cannot be read"), but
a damaged local header of the workbook part or of its relationships escapes as BadZipFile. The
cases that still escape are marked xfail (strict): when the reader is mended they pass, and the
mark must go.
"""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from salesplan import imports
from salesplan.errors import SalesplanError
from tests.helpers import templates


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["date", "rep", "amount"])
    book.active.append(["2025-03-03", "R001", "1"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


ESCAPES = pytest.mark.xfail(strict=True, raises=zipfile.BadZipFile, reason="BadZipFile escapes the workbook reader")


@pytest.mark.parametrize("part", [
    "xl/worksheets/sheet1.xml",
    pytest.param("xl/workbook.xml", marks=ESCAPES),
    pytest.param("xl/_rels/workbook.xml.rels", marks=ESCAPES),
])
def test_a_damaged_local_header_is_refused_with_our_error(tmp_path, reps_template, part):
    data = _workbook()
    header = data.index(part.encode()) - 30  # a local file header is 30 bytes before its name
    assert data[header:header + 4] == b"PK\x03\x04"
    damaged = data[:header] + b"PK\x03\x00" + data[header + 4:]
    with templates.open_copy(reps_template, tmp_path / "db.duckdb") as store:
        before = store.snapshot()
        with pytest.raises(SalesplanError, match="damaged"):
            imports.import_file(store, "actuals", damaged, file_name="sales.xlsx")
        assert store.snapshot() == before

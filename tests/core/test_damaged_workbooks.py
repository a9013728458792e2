"""A workbook damaged inside its zip archive is refused with our own error, whichever part is hit.

test_fuzz_imports found it (a mutated workbook raised zipfile.BadZipFile, or zlib.error, from
salesplan/files/workbook.py's _first_sheet_part; its derandomized examples depend on the test's
source, so only an edited copy of the test drew them): the workbook reader turned a damaged
worksheet part into BadInput ("the workbook is damaged and cannot be read"), but a damaged local
header or deflated data of the workbook part or of its relationships escaped as BadZipFile or
zlib.error. Now such a workbook is taken as unmeasurable and the streamed reader refuses it.
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


@pytest.mark.parametrize("part", [
    "xl/worksheets/sheet1.xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
])
def test_a_damaged_local_header_is_refused_with_our_error(tmp_path, reps_template, part):
    data = _workbook()
    header = data.index(part.encode()) - 30  # a local file header is 30 bytes before its name
    assert data[header:header + 4] == b"PK\x03\x04"
    _assert_refused(data[:header] + b"PK\x03\x00" + data[header + 4:], reps_template, tmp_path)


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels"])
def test_damaged_deflated_data_is_refused_with_our_error(tmp_path, reps_template, part):
    data = _workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(part)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    # garbage in the middle of the part's deflated stream (zlib.error, or a CRC mismatch)
    middle = start + info.compress_size // 2
    _assert_refused(data[:middle] + b"\xff\xff\xff\xff" + data[middle + 4:], reps_template, tmp_path)


def _assert_refused(damaged: bytes, reps_template, tmp_path) -> None:
    """The damaged workbook is refused with our error, and the store is as it was."""
    with templates.open_copy(reps_template, tmp_path / "db.duckdb") as store:
        before = store.snapshot()
        with pytest.raises(SalesplanError, match="damaged"):
            imports.import_file(store, "actuals", damaged, file_name="sales.xlsx")
        assert store.snapshot() == before

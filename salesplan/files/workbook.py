"""Workbooks (.xlsx, .xlsb, .ods, .xls): extent checks, calamine and the streamed .xlsx reader."""

from __future__ import annotations

import io
import os
import re
import zipfile

import numpy as np
import pyarrow as pa

from salesplan.errors import BadInput
from salesplan.files.header import _locate_header
from salesplan.files.limits import (
    HEADER_SEARCH_RECORDS,
    MAX_COLUMNS,
    MB,
    RawTable,
    UploadLimits,
    _first_line,
    too_large_for_memory,
)


# --------------------------------------------------------------------------- Excel
def _read_workbook(data: bytes, file_name: str, sha256: str, looks_like_header, limits: UploadLimits) -> RawTable:
    """A workbook's first sheet as text cells: .xlsx, .xlsb and .ods (zip archives) and .xls.

    Sheets are read by calamine (Rust), which builds the sheet's whole used range in memory:
    before that, an .xlsx sheet's real extent is measured on its XML (:func:`_xlsx_extent`) and a
    sheet whose range would pass the cell limit, or that holds formulas (calamine reads their
    cached values; salesplan reads a formula as its text, never as a value), is streamed by
    openpyxl instead, which skips blank rows and counts the cells it reads. The other formats
    cannot be measured before they are read, so calamine reads them in a child process whose
    address space is capped at the parser's memory limit.
    """
    fmt = "xls"
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            parts = archive.infolist()
        except Exception as error:  # BadZipFile, and NotImplementedError, ValueError... for damaged headers
            raise BadInput.single(file_name, "the workbook is damaged or truncated (not a readable .xlsx)") from error
        names = {part.filename for part in parts}
        if "xl/workbook.xml" in names:
            fmt = "xlsx"
        elif "xl/workbook.bin" in names:
            fmt = "xlsb"
        elif "content.xml" in names and b"opendocument.spreadsheet" in data[:200]:
            fmt = "ods"
        else:
            raise BadInput.single(file_name, "this is a zip archive, not a CSV file or an Excel or OpenDocument workbook")
        _check_archive(parts, file_name, limits)
        if fmt == "xlsx":
            extent = _xlsx_extent(archive, file_name)
            if extent is None or extent > limits.workbook_cells:
                return _read_xlsx_streamed(data, file_name, sha256, looks_like_header, limits)
    if fmt == "xlsx":
        lines, records, width = _calamine_records(data, file_name, limits)
    else:
        lines, records, width = _calamine_records_capped(data, file_name, limits)
    return _workbook_table(lines, records, width, file_name, sha256, looks_like_header, fmt)


def _workbook_table(lines, records, width, file_name, sha256, looks_like_header, fmt: str) -> RawTable:
    if not records:
        raise BadInput.single(file_name, "the workbook's first sheet is empty")
    columns = {
        f"c{i}": pa.array([record[i] if i < len(record) else None for record in records], type=pa.string())
        for i in range(width)
    }
    del records
    table = pa.table({**columns, "line": pa.array(lines, type=pa.int64())})
    return _locate_header(table, file_name, sha256, looks_like_header, encoding=fmt, delimiter="")


_ROW_NUMBER = re.compile(rb'<row r="(\d+)"')
_UNREFERENCED = re.compile(rb'<f[ >/]|<c(?! r=")[ >/]|<row(?! r=")[ >/]')
_UNMEASURABLE = re.compile(rb'<f[ >/]|<c(?! r=")[ >/]|<row(?! r=")[ >/]|<c r="[A-Z]{2}')
_CELL_COLUMN = re.compile(rb'<c r="([A-Z])[0-9]')
_CELL_COLUMN_WIDE = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')


def _xlsx_extent(archive: zipfile.ZipFile, file_name: str) -> int | None:
    """Rows x columns of the first sheet's used range, measured on its XML as it is inflated (in
    chunks, nothing kept), or None when the sheet cannot be measured that way or holds formulas.

    The ``<dimension>`` a file declares may lie; the cells' own references cannot (calamine
    places a cell by them). A cell or row without a reference, or references in another
    attribute order, make the sheet unmeasurable: it is then streamed by openpyxl.
    """
    sheet = _first_sheet_part(archive)
    if sheet is None:
        return None
    max_row = 0
    letters = b""
    wide = False
    carry = b""
    try:
        with archive.open(sheet) as stream:
            while True:
                chunk = stream.read(16 * MB)
                buffer = carry + chunk
                if chunk:
                    # every tag that starts before the last '<' also ends before it ('<' in text is escaped)
                    cut = buffer.rfind(b"<")
                    if cut <= 0:
                        carry = buffer
                        continue
                    part, carry = buffer[:cut], buffer[cut:]
                else:
                    part, carry = buffer, b""
                # one pass for everything that makes the sheet unmeasurable here: a formula, a cell
                # or row without a leading reference; and for a column past Z (a wide sheet)
                found = _UNMEASURABLE.search(part)
                if found is not None:
                    if not found.group(0).startswith(b'<c r="') or _UNREFERENCED.search(part, found.end()):
                        return None
                    wide = True
                numbers = _ROW_NUMBER.findall(part)
                if numbers:
                    max_row = max(max_row, max(int(number) for number in numbers))
                columns = _CELL_COLUMN_WIDE.findall(part) if wide else _CELL_COLUMN.findall(part)
                if columns:
                    letters = max(letters, max(columns, key=lambda x: (len(x), x)), key=lambda x: (len(x), x))
                if not chunk:
                    break
    except Exception:  # noqa: BLE001 - a damaged part: the streamed reader gives the message
        return None
    return max_row * _column_number(letters)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (letter - 64)
    return max(number, 1)


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The archive path of the workbook's first sheet, from the workbook and its relationships."""
    try:
        workbook = archive.read("xl/workbook.xml")
        relations = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return None
    sheet = re.search(rb"<(?:\w+:)?sheet\b[^>]*?\br:id=\"([^\"]+)\"", workbook)
    if sheet is None:
        return None
    for relation in re.finditer(rb"<Relationship\b[^>]*>", relations):
        tag = relation.group(0)
        if re.search(rb'\bId="' + re.escape(sheet.group(1)) + rb'"', tag):
            target = re.search(rb'\bTarget="([^"]+)"', tag)
            if target is None:
                return None
            path = target.group(1).decode("utf-8", "replace")
            path = path.lstrip("/") if path.startswith("/") else "xl/" + path
            return path if path in archive.namelist() else None
    return None


def _calamine_records(data: bytes, file_name: str, limits: UploadLimits) -> tuple[list[int], list[list[str | None]], int]:
    """(row numbers, cells as text, widest record) of the first sheet's non-blank rows, by calamine."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not book.sheet_names:
            raise BadInput.single(file_name, "the workbook has no sheet")
        sheet = book.get_sheet_by_index(0)
        first_row = sheet.start[0] + 1 if sheet.start else 1
        if sheet.height > limits.rows + HEADER_SEARCH_RECORDS:
            raise BadInput.single(
                file_name, f"the first sheet has {sheet.height:,} rows, more than an upload may hold ({limits.rows:,} rows)",
            )
        if sheet.height * sheet.width > limits.workbook_cells:
            raise BadInput.single(
                file_name,
                f"the first sheet holds more than the {limits.workbook_cells:,} cells an upload may "
                f"({sheet.height:,} rows x {sheet.width:,} columns): remove unused rows and columns, or save it as CSV",
            )
        rows = sheet.to_python(skip_empty_area=False)
    except BadInput:
        raise
    except Exception as error:  # calamine raises its own types for damaged workbooks
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    lines: list[int] = []
    records: list[list[str | None]] = []
    width = 0
    for number, row in enumerate(rows, start=first_row):
        width = max(width, _keep_row(number, row, lines, records))
    return lines, records, width


def _keep_row(number: int, row, lines: list[int], records: list[list[str | None]]) -> int:
    """Append a sheet row's cells as text (without trailing empty ones) unless it is blank; its width."""
    cells = [_excel_cell_text(value) for value in row]
    while cells and cells[-1] is None:
        cells.pop()
    if cells:
        lines.append(number)
        records.append(cells)
    return len(cells)


def _calamine_records_capped(data: bytes, file_name: str, limits: UploadLimits) -> tuple[list[int], list[list[str | None]], int]:
    """:func:`_calamine_records` in a child process whose address space may grow by at most the
    parser's memory limit, for formats whose extent cannot be measured before they are read: a
    crafted file makes the child fail, never the server."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_capped_child, args=(sender, data, file_name, limits), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(120):
            raise BadInput.single(file_name, "the workbook could not be read within 2 minutes: save it as CSV")
        outcome = receiver.recv()
    except EOFError:
        outcome = None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if isinstance(outcome, list):  # the child's problems (an exception does not pickle whole)
        raise BadInput(outcome)
    if not isinstance(outcome, tuple):
        raise too_large_for_memory(file_name, limits.memory_mb)
    return outcome


def _capped_child(sender, data: bytes, file_name: str, limits: UploadLimits) -> None:  # pragma: no cover - in a child
    import resource

    try:
        with open("/proc/self/status") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        cap = size_kb * 1024 + limits.memory_mb * MB
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (OSError, ValueError, StopIteration):
        pass
    try:
        sender.send(_calamine_records(data, file_name, limits))
    except BadInput as error:
        sender.send(list(error.problems))
    except BaseException:  # noqa: BLE001 - out of memory in the child: the parent refuses the file
        sender.send(None)
    finally:
        sender.close()
        os._exit(0)


def _read_xlsx_streamed(data: bytes, file_name: str, sha256: str, looks_like_header, limits: UploadLimits) -> RawTable:
    """An .xlsx whose extent is unknown or large, or that holds formulas, streamed by openpyxl."""
    try:
        import openpyxl

        # read-only: the sheet is streamed, never loaded whole; data_only=False: a formula is read
        # as its text, never as a value
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as error:  # openpyxl raises many types for damaged workbooks
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    try:
        if not book.worksheets:
            raise BadInput.single(file_name, "the workbook has no sheet")
        lines, records, width = _sheet_records(book.worksheets[0], file_name, limits)
    except BadInput:
        raise
    except Exception as error:
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    finally:
        book.close()
    return _workbook_table(lines, records, width, file_name, sha256, looks_like_header, "xlsx")


def _check_archive(parts: list[zipfile.ZipInfo], file_name: str, limits: UploadLimits) -> None:
    """Refuse a workbook whose parts would decompress past the limit, from the sizes the archive
    declares, before anything is decompressed. Python's zipfile never inflates a part past its
    declared size (it stops there and fails the checksum), so a lying archive gains nothing."""
    if len(parts) > limits.workbook_parts:
        raise BadInput.single(
            file_name, f"the workbook holds {len(parts):,} files, more than an .xlsx upload may ({limits.workbook_parts:,})"
        )
    total = sum(part.file_size for part in parts)
    if total > limits.workbook_bytes:
        raise BadInput.single(
            file_name,
            f"the workbook decompresses to {total / MB:,.0f} MB, more than an .xlsx upload may "
            f"({limits.workbook_bytes / MB:,.0f} MB): save it as CSV, or split it",
        )
    # shared strings and styles are read whole (sheets are streamed): each is held to a smaller size
    for part in parts:
        if part.file_size > limits.workbook_part_bytes and not part.filename.startswith("xl/worksheets/"):
            raise BadInput.single(
                file_name,
                f"the workbook's part {part.filename} decompresses to {part.file_size / MB:,.0f} MB, more than an "
                f".xlsx upload may ({limits.workbook_part_bytes / MB:,.0f} MB): save it as CSV",
            )


def _sheet_records(sheet, file_name: str, limits: UploadLimits) -> tuple[list[int], list[list[str | None]], int]:
    """(row numbers, cells as text, widest record) of the sheet's non-blank rows.

    Rows are streamed and only non-blank ones kept, so a lone cell at XFD1048576 costs one row,
    not a grid of 17 billion cells. The cells read (each row up to its last cell) are counted as
    they come, and the read stops with BadInput at the limit: the sheet's declared dimension may
    lie, the count cannot.
    """
    sheet.reset_dimensions()  # ignore the declared used range: rows are not padded to it
    lines: list[int] = []
    records: list[list[str | None]] = []
    width = 0
    read = 0
    for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > limits.rows + HEADER_SEARCH_RECORDS:
            raise BadInput.single(
                file_name, f"the first sheet has rows past row {number - 1:,}, more than an upload may hold ({limits.rows:,} rows)",
                line=number,
            )
        if len(row) > MAX_COLUMNS:
            raise BadInput.single(
                file_name, f"row {number} has {len(row):,} columns, more than a spreadsheet can hold ({MAX_COLUMNS:,})",
                line=number,
            )
        read += len(row)
        if not row:
            continue
        width = max(width, _keep_row(number, row, lines, records))
        if read > limits.workbook_cells or len(records) * width > limits.workbook_cells:
            raise BadInput.single(
                file_name,
                f"the first sheet holds more than the {limits.workbook_cells:,} cells an .xlsx upload may "
                f"(up to row {number:,}, column {width:,}): remove unused rows and columns, or save it as CSV",
                line=number,
            )
    return lines, records, width


def _excel_cell_text(value: object) -> str | None:
    """Excel cell as text, the way a person reads it: dates ISO, whole numbers without '.0'.

    Formulas are never evaluated: openpyxl returns a formula's text, stored as text.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") or len(text) == 10 else text.replace("T", " ")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    text = str(value)
    return text if text.strip() else None

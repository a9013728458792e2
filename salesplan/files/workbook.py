"""Workbooks (.xlsx, .xlsb, .ods, .xls): extent checks, calamine and the streamed .xlsx reader."""

from __future__ import annotations

import functools
import io
import itertools
import os
import re
import zipfile
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
        table = _calamine_records(data, file_name, limits)
    else:
        table = _calamine_records_capped(data, file_name, limits)
    return _workbook_table(table, file_name, sha256, looks_like_header, fmt)


def _workbook_table(table: pa.Table | None, file_name, sha256, looks_like_header, fmt: str) -> RawTable:
    """The RawTable of a sheet's cells (columns c0..cN and ``line``); BadInput when it has none."""
    if table is None or table.num_rows == 0:
        raise BadInput.single(file_name, "the workbook's first sheet is empty")
    return _locate_header(table, file_name, sha256, looks_like_header, encoding=fmt, delimiter="")


def _records_table(lines: list[int], records: list[dict[int, str]], width: int) -> pa.Table | None:
    """The cells table of non-blank records already turned into text (the streamed reader's: each
    record maps the positions of its cells holding text to that text)."""
    if not records:
        return None
    # a column no record has text in is all nulls without a look at the records (a lone cell at
    # XFD makes 16,384 columns, of which a handful hold anything)
    used = set().union(*records)
    columns = {
        f"c{i}": pa.array([record.get(i) for record in records], type=pa.string()) if i in used
        else pa.nulls(len(records), pa.string())
        for i in range(width)
    }
    return pa.table({**columns, "line": pa.array(lines, type=pa.int64())})


def _cells_table(rows: Sequence[Sequence[object]], first_row: int) -> pa.Table | None:
    """The cells table of a sheet's rows as calamine gives them (every row as wide as the used
    range), built column by column: cells as text (:func:`_excel_cell_text`), blank rows dropped,
    columns past the last one holding text dropped. None when no cell holds text."""
    grid = np.array(rows, dtype=object)  # rows x columns of Python objects: the transpose in C
    del rows
    if grid.ndim == 2:
        columns = [_column_text(grid[:, i]) for i in range(grid.shape[1])]
    else:  # rows of unequal widths (not calamine's): padded column by column
        columns = [_column_text(column) for column in itertools.zip_longest(*grid.tolist())]
    del grid
    width = max((i + 1 for i, column in enumerate(columns) if column.null_count < len(column)), default=0)
    if width == 0:
        return None
    columns = columns[:width]
    blank = functools.reduce(pc.and_, (column.is_null() for column in columns))
    lines = pa.array(np.arange(first_row, first_row + len(columns[0]), dtype=np.int64))
    table = pa.table({**{f"c{i}": column for i, column in enumerate(columns)}, "line": lines})
    return table.filter(pc.invert(blank))


# bytes that may end an element's name in a tag: XML whitespace, '>' and '/'
_NAME_END = np.zeros(256, dtype=bool)
_NAME_END[list(b" \t\r\n>/")] = True
_LT, _COLON, _QUOTE = ord("<"), ord(":"), ord('"')
_PREFIXED_NAME = re.compile(rb"<[^\s<>/\"'=!?]+$")  # any name calamine's parser would take (non-ASCII too)
_XML_DECLARATION = re.compile(rb'^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding=["\']([^"\']*)["\']')
_MAX_PREFIX_SUSPECTS = 10_000  # colons that could start a prefixed element name; past it, unmeasurable


def _xlsx_extent(archive: zipfile.ZipFile, file_name: str) -> int | None:
    """Rows x columns of the first sheet's used range, measured on its XML as it is inflated (in
    chunks, nothing kept), or None when the sheet cannot be measured that way or holds formulas.

    The ``<dimension>`` a file declares may lie; the cells' own references cannot (calamine
    places a cell by them). A formula, a cell or row without a leading reference, a reference that
    is not letters and digits, an element name with a namespace prefix or a sheet not in UTF-8
    make the sheet unmeasurable: it is then streamed by openpyxl. The measure is vectorised over
    each chunk's bytes (numpy), one pass for the tags and one for the colons: the sheet is
    inflated once more by calamine, so this pass must cost little next to it.
    """
    sheet = _first_sheet_part(archive)
    if sheet is None:
        return None
    rows = columns = 0
    carry = b""
    first = True
    try:
        with archive.open(sheet) as stream:
            while True:
                chunk = stream.read(16 * MB)
                if first:
                    first = False
                    if not _is_utf8_xml(chunk):
                        return None
                buffer = carry + chunk
                if chunk:
                    # every tag that starts before the last '<' also ends before it ('<' in text is escaped)
                    cut = buffer.rfind(b"<")
                    if cut <= 0:
                        carry = buffer
                        continue
                    carry = buffer[cut:]
                else:
                    cut, carry = len(buffer), b""
                measured = _part_extent(buffer, cut)
                if measured is None:
                    return None
                rows, columns = max(rows, measured[0]), max(columns, measured[1])
                if not chunk:
                    break
    except Exception:  # noqa: BLE001 - a damaged part: the streamed reader gives the message
        return None
    return rows * max(columns, 1)


def _is_utf8_xml(start: bytes) -> bool:
    """Whether a part's first bytes are XML in UTF-8 (or ASCII): the byte scan reads nothing else."""
    if b"\x00" in start[:1024] or not start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return False
    declared = _XML_DECLARATION.match(start)
    return declared is None or declared.group(1).lower() in (b"utf-8", b"utf8", b"us-ascii", b"ascii")


def _part_extent(buffer: bytes, end: int) -> tuple[int, int] | None:
    """(largest row, largest column) referenced by the cells and rows of ``buffer[:end]`` (whole
    tags only), or None when that part of the sheet is unmeasurable (see :func:`_xlsx_extent`)."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    body = data[:end]

    def at(positions: np.ndarray, offset: int) -> np.ndarray:
        # past the buffer's end reads its last byte: only malformed tags look that far
        return np.take(data, positions + offset, mode="clip")

    tags = np.flatnonzero(body == _LT)
    if len(tags) == 0:
        return 0, 0
    second = at(tags, 1)
    ends = _NAME_END[at(tags, 2)]
    if np.any((second == ord("f")) & ends):
        return None  # a formula: calamine would give its cached value, salesplan reads its text
    if _prefixed_element(buffer, data, np.flatnonzero(body == _COLON)):
        return None
    cells = tags[(second == ord("c")) & ends]
    maybe_rows = tags[second == ord("r")]
    row_tags = maybe_rows[(at(maybe_rows, 2) == ord("o")) & (at(maybe_rows, 3) == ord("w")) & _NAME_END[at(maybe_rows, 4)]]
    cell_refs = _references(data, cells, b'<c r="', letters=True)
    row_refs = _references(data, row_tags, b'<row r="', letters=False)
    if cell_refs is None or row_refs is None:
        return None
    return max(cell_refs[0], row_refs[0]), cell_refs[1]


def _prefixed_element(buffer: bytes, data: np.ndarray, colons: np.ndarray) -> bool:
    """Whether a colon starts the local name c, f or row of a prefixed element (``<x:c ...>``),
    which calamine reads like an unprefixed one and the byte scan does not see."""
    if len(colons) == 0:
        return False
    following = np.take(data, colons + 1, mode="clip")
    after = np.take(data, colons + 2, mode="clip")
    suspects = colons[
        (((following == ord("c")) | (following == ord("f"))) & _NAME_END[after])
        | ((following == ord("r")) & (after == ord("o")) & (np.take(data, colons + 3, mode="clip") == ord("w"))
           & _NAME_END[np.take(data, colons + 4, mode="clip")])
    ]
    if len(suspects) > _MAX_PREFIX_SUSPECTS:
        return True
    for colon in suspects.tolist():  # rare: a colon in text followed by "c " or "f>", or a real prefix
        start = buffer.rfind(b"<", max(0, colon - 256), colon)
        if start >= 0 and _PREFIXED_NAME.match(buffer, start, colon):
            return True
    return False


def _references(data: np.ndarray, starts: np.ndarray, opening: bytes, *, letters: bool) -> tuple[int, int] | None:
    """(largest row, largest column) of the tags at ``starts``, each of which must open with
    ``opening`` (the element's name and ``r="``) followed by a reference: one to three capital
    letters (cells only) and one to ten digits, then '"'. None when any tag does not.

    Read one byte position at a time over all tags (1-D arrays, no per-tag Python)."""
    if len(starts) == 0:
        return 0, 0

    def byte(offset: int) -> np.ndarray:
        # past the buffer's end reads its last byte: only a malformed tag looks that far
        return np.take(data, starts + offset, mode="clip")

    for offset in range(2, len(opening)):
        if np.any(byte(offset) != opening[offset]):
            return None  # r is not the first attribute, or is quoted otherwise
    column = np.zeros(len(starts), dtype=np.int64)
    letter_count = np.zeros(len(starts), dtype=np.int64)
    if letters:
        active = np.ones(len(starts), dtype=bool)
        for k in range(3):
            current = byte(len(opening) + k).astype(np.int64)
            active &= (current >= ord("A")) & (current <= ord("Z"))
            column = np.where(active, column * 26 + (current - (ord("A") - 1)), column)
            letter_count += active
        if np.any(letter_count == 0):
            return None  # no letter
    # the digits start where each reference's letters end (a fourth letter is no digit: refused)
    row = np.zeros(len(starts), dtype=np.int64)
    digits = np.zeros(len(starts), dtype=np.int64)
    ended = np.zeros(len(starts), dtype=bool)
    for k in range(11):
        current = np.take(data, starts + len(opening) + letter_count + k, mode="clip").astype(np.int64)
        is_digit = (current >= ord("0")) & (current <= ord("9")) & ~ended
        if k < 10:
            row = np.where(is_digit, row * 10 + (current - ord("0")), row)
            digits += is_digit
        newly = ~is_digit & ~ended
        if np.any(newly & (current != _QUOTE)):
            return None  # the digits end with something other than '"', or an eleventh digit
        ended |= newly
    if np.any(digits == 0) or not np.all(ended):
        return None
    return int(row.max()), int(column.max())


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The archive path of the workbook's first sheet, from the workbook and its relationships."""
    try:
        workbook = archive.read("xl/workbook.xml")
        relations = archive.read("xl/_rels/workbook.xml.rels")
    except Exception:  # noqa: BLE001 - missing (KeyError) or damaged (BadZipFile, zlib.error...): unmeasurable,
        return None    # and the streamed reader then refuses the damaged workbook with its message
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


# the characters str.strip() removes (str.isspace, Python 3.11; a test checks every code point), so
# that Arrow finds the blank cells exactly as _excel_cell_text does
PYTHON_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                     "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_BLANK_TEXT = "^[" + "".join(f"\\x{{{ord(character):x}}}" for character in PYTHON_WHITESPACE) + "]*$"


def _column_text(values: Sequence[object] | np.ndarray) -> pa.Array:
    """One column of calamine's cells as text (:func:`_excel_cell_text`), null where blank."""
    try:
        # the common column is all text: Arrow takes it whole, without a call per cell
        text = pa.array(values, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # numbers, dates, booleans: each turned into text
        return pa.array([(value if value.strip() else None) if type(value) is str else _excel_cell_text(value)
                         for value in values], type=pa.string())
    return pc.if_else(pc.match_substring_regex(text, _BLANK_TEXT), pa.scalar(None, pa.string()), text)


def _calamine_records(data: bytes, file_name: str, limits: UploadLimits) -> pa.Table | None:
    """The first sheet's non-blank rows as text cells, by calamine (see :func:`_cells_table`).

    Raises BadInput for a damaged workbook, one without a sheet, or a sheet over the row or cell
    limit."""
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
    return _cells_table(rows, first_row)


def _keep_row(number: int, row: list[dict], lines: list[int], records: list[dict[int, str]]) -> int:
    """Append a sheet row's cells that hold text ({position: text}; ``row`` is the cells the sheet
    holds, as openpyxl's sheet parser gives them) unless it is blank; its width (the position of
    its last cell holding text, plus one)."""
    cells = {}
    for cell in row:
        text = _excel_cell_text(cell["value"])
        if text is not None:
            cells[cell["column"] - 1] = text
    if cells:
        lines.append(number)
        records.append(cells)
    return max(cells, default=-1) + 1


def _calamine_records_capped(data: bytes, file_name: str, limits: UploadLimits) -> pa.Table | None:
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
    if not isinstance(outcome, tuple):  # the child ran out of memory, or died
        raise too_large_for_memory(file_name, limits.memory_mb)
    return outcome[1]


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
        sender.send(("cells", _calamine_records(data, file_name, limits)))
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
        lines, records, width = _sheet_records(book, book.worksheets[0], file_name, limits)
    except BadInput:
        raise
    except Exception as error:
        raise BadInput.single(
            file_name, f"the workbook is damaged and cannot be read ({_first_line(error)}): save it again from Excel"
        ) from error
    finally:
        book.close()
    return _workbook_table(_records_table(lines, records, width), file_name, sha256, looks_like_header, "xlsx")


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


def _sheet_records(book, sheet, file_name: str, limits: UploadLimits) -> tuple[list[int], list[dict[int, str]], int]:
    """(row numbers, cells as text by position, widest record) of the sheet's non-blank rows.

    The rows and cells the sheet holds are read as they come from openpyxl's sheet parser, and
    only the non-blank ones kept: a lone cell at XFD1048576 costs one row of one cell, not a grid
    of 17 billion cells, nor a walk through the million rows above it, nor a row of 16,384 empty
    cells (openpyxl's row iterator pads rows to their last cell and yields every missing row).
    The cells read (each row up to its last cell) are counted as they come, and the read stops
    with BadInput at the limit: the sheet's declared dimension may lie, the count cannot.
    """
    from openpyxl.worksheet._reader import WorkSheetParser

    lines: list[int] = []
    records: list[dict[int, str]] = []
    width = 0
    read = 0
    last = 0
    with sheet._get_source() as source:
        # as openpyxl's read-only sheet makes it (ReadOnlyWorksheet._cells_by_row)
        parser = WorkSheetParser(source, sheet._shared_strings, data_only=book.data_only, epoch=book.epoch,
                                 date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        for number, row in parser.parse():
            if number <= last:
                continue  # a row out of order or repeated: openpyxl's row iterator skips it too
            last = number
            if number > limits.rows + HEADER_SEARCH_RECORDS:
                raise BadInput.single(
                    file_name, f"the first sheet has rows past row {limits.rows + HEADER_SEARCH_RECORDS:,}, more than an "
                    f"upload may hold ({limits.rows:,} rows)",
                    line=number,
                )
            if not row:
                continue
            # the row's widest cell, not its last: cells without a reference follow the one before,
            # so a row can end with a cell far to the left of others (openpyxl's own row iterator
            # dropped the cells past the last one; every cell is kept here, so every one is counted)
            extent = max(max(cell["column"] for cell in row), len(row))
            if extent > MAX_COLUMNS:
                raise BadInput.single(
                    file_name, f"row {number} has {extent:,} columns, more than a spreadsheet can hold ({MAX_COLUMNS:,})",
                    line=number,
                )
            read += extent
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

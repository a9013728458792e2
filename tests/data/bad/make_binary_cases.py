"""The binary cases of the bad-input corpus: workbooks, archives, foreign files and odd encodings.

They are built at test time (``build(name)``) instead of being committed, so that the repository
holds no opaque blobs and no editor or git setting can silently "fix" an encoding. Their expected
outcomes are in ``expected.json`` next to the committed text cases, marked ``"generated": true``.

Run ``python tests/data/bad/make_binary_cases.py OUT_DIR`` to write them out for a look.
"""

from __future__ import annotations

import datetime
import io
import random
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

CASES: dict[str, Callable[[], bytes]] = {}


def case(name: str):
    def register(function: Callable[[], bytes]) -> Callable[[], bytes]:
        CASES[name] = function
        return function

    return register


def build(name: str) -> bytes:
    return CASES[name]()


def workbook(rows: list[list[object]], merged: tuple[str, ...] = ()) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SALES_ROWS = [["date", "rep", "amount"]] + [["2025-03-03", "R001", index] for index in range(1, 201)]


# ---------------------------------------------------------------- not a table at all
@case("binary_random.csv")
def _binary() -> bytes:
    return random.Random(7).randbytes(3000) + b"\x00" * 16


@case("nul_bytes_in_text.csv")
def _nul() -> bytes:
    return b"date,rep,amount\n2025-03-03,R001,100\x00\x00\x00\n"


@case("truncated.xlsx")
def _truncated() -> bytes:
    data = workbook(SALES_ROWS)
    return data[: len(data) // 2]


@case("zip_renamed_to.csv")
def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sales.csv", "date,rep,amount\n2025-03-03,R001,100\n")
    return buffer.getvalue()


@case("old_excel.xls")
def _xls() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000)


@case("pdf_renamed_to.csv")
def _pdf() -> bytes:
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@case("png_renamed_to.csv")
def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(400)


@case("gzip_renamed_to.csv")
def _gzip() -> bytes:
    import gzip

    return gzip.compress(b"date,rep,amount\n2025-03-03,R001,100\n")


@case("over_the_upload_limit.csv")
def _over_limit() -> bytes:
    # 1.2 MB of valid rows: refused by the 1 MB limit its manifest entry sets, before parsing
    return b"date,rep,amount\n" + b"2025-03-03,R001,1\n" * 70_000


# ---------------------------------------------------------------- encodings
@case("utf16_le_bom.csv")
def _utf16() -> bytes:
    return "date\trep\tamount\n2025-03-03\tJörg Müller\t1.234,50\n2025-03-04\tLi Wei\t765,50\n".encode("utf-16")


@case("utf16_be_no_bom.csv")
def _utf16_be() -> bytes:
    return "date,rep,amount\n2025-03-03,Jörg Müller,100\n2025-03-04,R001,50\n".encode("utf-16-be")


@case("windows1252.csv")
def _cp1252() -> bytes:
    return "date;rep;customer;amount\n2025-03-03;Jörg Müller;Café Größe;1.234,50 €\n2025-03-04;R001;Crème brûlée;100,00 €\n".encode("cp1252")


@case("truncated_utf8.csv")
def _truncated_utf8() -> bytes:
    return "date,rep,amount\n2025-03-03,R001,100\n2025-03-04,Jö".encode("utf-8")[:-1]


# ---------------------------------------------------------------- workbooks
@case("merged_header_cells.xlsx")
def _merged() -> bytes:
    # a group row of merged cells ("Order" over date+rep, "Sales" over amount+cost) above the header
    return workbook(
        [
            ["Order", None, "Sales", None],
            ["Order Date", "Sales Rep", "Amount", "Cost"],
            [datetime.date(2025, 3, 3), "R001", 1200.5, 700],
            [datetime.date(2025, 3, 4), "R002", 799.5, 300],
        ],
        merged=("A1:B1", "C1:D1"),
    )


@case("merged_title_above_header.xlsx")
def _merged_title() -> bytes:
    return workbook(
        [["ACME Corp - sales March 2025"], [], ["date", "rep", "amount"], ["2025-03-03", "R001", 100],
         ["2025-03-04", "R003", 50.25]],
        merged=("A1:C1",),
    )


@case("xlsx_totals_row.xlsx")
def _xlsx_totals() -> bytes:
    return workbook(
        [["date", "rep", "amount"], [datetime.date(2025, 3, 3), "R001", 100], [datetime.date(2025, 3, 4), "R002", 200],
         ["Total", None, "=SUM(C2:C3)"]]
    )


@case("formula_cells.xlsx")
def _formula_text() -> bytes:
    # formulas in text columns are stored as their text, never evaluated
    return workbook(
        [["date", "rep", "amount", "customer"], ["2025-03-03", "R001", 10, '=HYPERLINK("http://evil.example","x")'],
         ["2025-03-04", "R001", 20, "=1+2"]]
    )


@case("formula_amount.xlsx")
def _formula_amount() -> bytes:
    return workbook([["date", "rep", "amount"], ["2025-03-03", "R001", 10], ["2025-03-04", "R001", "=C2*2"]])


@case("only_formulas.xlsx")
def _only_formulas() -> bytes:
    return workbook([["=A2", "=B2", "=C2"], ["=1", "=2", "=3"]])


@case("empty_sheet.xlsx")
def _empty_sheet() -> bytes:
    return workbook([])


@case("xlsx_header_only.xlsx")
def _xlsx_header_only() -> bytes:
    return workbook([["date", "rep", "amount"]])


@case("xlsx_dates_numbers_and_times.xlsx")
def _xlsx_types() -> bytes:
    return workbook(
        [["Close Date", "Opportunity Owner", "Deal Amount", "Deal ID"],
         [datetime.datetime(2025, 3, 3, 14, 30), "R001", 1500, 7],
         [datetime.date(2025, 3, 4), "ava@example.com", 0.25, 8.0],
         ["2025-03-05", "Li Wei", -100, "9"]]
    )


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folder.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        (folder / name).write_bytes(build(name))
        print(folder / name)

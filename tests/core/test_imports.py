"""Imports that succeed (docs/files.md): header synonyms, rep lookup, amounts, dates, encodings,
delimiters, Excel, natural keys, re-imports, overlapping exports, undo and targets."""

from __future__ import annotations

import codecs
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from salesplan import imports
from salesplan.errors import BadInput, Problem
from salesplan.principal import SYSTEM
from tests.helpers.unchanged import changed_tables, fingerprint


def actuals(store, data: str | bytes, file_name: str = "sales.csv", **options):
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return imports.import_file(store, "actuals", payload, file_name=file_name, **options)


def targets(store, data: str, file_name: str = "targets.csv", **options):
    return imports.import_file(store, "targets", data.encode("utf-8"), file_name=file_name, **options)


def day(value) -> dt.date:
    return pd.Timestamp(value).date()


def sale_dates(store) -> list[dt.date]:
    return [day(value) for value in store.actuals(SYSTEM)["sale_date"]]


def dates_by_order(store) -> dict[str, dt.date]:
    return {r.order_id: day(r.sale_date) for r in store.actuals(SYSTEM).itertuples()}


def ledger(store) -> list[tuple]:
    """The current ledger as (row_key, date, rep, territory, revenue, cost, profit, order, line, customer, product)."""
    frame = store.actuals(SYSTEM)
    rows = []
    for row in frame.itertuples(index=False):
        rows.append((
            row.row_key, day(row.sale_date).isoformat(),
            row.rep_id, row.territory, row.revenue,
            None if row.cost != row.cost else row.cost, None if row.profit != row.profit else row.profit,
            row.order_id if isinstance(row.order_id, str) else None,
            row.order_line if isinstance(row.order_line, str) else None,
            row.customer if isinstance(row.customer, str) else None,
            row.product if isinstance(row.product, str) else None,
        ))
    return sorted(rows)


def by_order(store) -> dict[tuple, float]:
    """(order_id, order_line) -> revenue of the current ledger."""
    frame = store.actuals(SYSTEM)
    return {(r.order_id, r.order_line): r.revenue for r in frame.itertuples(index=False)}


def totals(store) -> tuple[int, float]:
    frame = store.actuals(SYSTEM)
    return len(frame), round(float(frame["revenue"].sum()), 4)


def counts(result) -> tuple[int, int, int, int]:
    return result.inserted, result.updated, result.unchanged, result.rejected


# ============================================================================ headers
@pytest.mark.parametrize(
    ("date_header", "rep_header", "amount_header", "order_header"),
    [
        ("Order Date", "Sales Rep", "Revenue", "Order ID"),
        ("Close Date", "Salesperson", "Sales", "Deal ID"),
        ("  close   DATE ", "OPPORTUNITY OWNER", "amount", "Invoice"),
        ("order_date", "sales_rep", "REVENUE", "order-id"),
    ],
)
def test_header_synonyms_are_case_and_space_insensitive(reps_store, date_header, rep_header, amount_header, order_header):
    result = actuals(reps_store, f"{date_header},{rep_header},{amount_header},{order_header}\n2025-03-03,R001,150,SO-9\n")
    assert counts(result) == (1, 0, 0, 0)
    (row,) = ledger(reps_store)
    assert row == ("o|SO-9|#1", "2025-03-03", "R001", "Nordics", 150.0, None, None, "SO-9", None, None, None)


def test_unknown_extra_columns_are_ignored(reps_store):
    result = actuals(reps_store, "date,rep,amount,notes,region code\n2025-03-03,R001,5,call back,N1\n")
    assert counts(result) == (1, 0, 0, 0)
    assert totals(reps_store) == (1, 5.0)


# ============================================================================ reps
def test_rep_by_rep_id_email_or_exact_name(reps_store):
    result = actuals(
        reps_store,
        "date,rep,amount,order id\n"
        "2025-03-03,R001,1,A\n"
        "2025-03-03,r002,2,B\n"              # rep_id, any case
        "2025-03-03,AVA@example.com,3,C\n"   # email, any case
        "2025-03-03,Jörg Müller,4,D\n"       # exact name
        "2025-03-03,  Li Wei  ,5,E\n",       # surrounding spaces are trimmed
    )
    assert counts(result) == (5, 0, 0, 0)
    reps = {r.order_id: r.rep_id for r in reps_store.actuals(SYSTEM).itertuples()}
    assert reps == {"A": "R001", "B": "R002", "C": "R001", "D": "R002", "E": "R003"}


def test_rep_name_must_match_exactly(unchanged_reps):
    with pytest.raises(BadInput) as error:
        actuals(unchanged_reps.store, "date,rep,amount\n2025-03-03,ava berg,1\n")
    assert error.value.problems == [
        Problem("sales.csv", 2, "rep",
                "unknown rep 'ava berg': not a rep_id, email or name in the reps list (import the reps first)")
    ]
    unchanged_reps.assert_unchanged()


def test_a_name_shared_by_two_reps_is_refused(store, reps_file):
    reps_file(store, "rep_id,name,email,territory\nR1,Sam Lee,sam1@example.com,Nordics\nR2,Sam Lee,sam2@example.com,DACH\n")
    with pytest.raises(BadInput) as error:
        actuals(store, "date,rep,amount\n2025-03-03,Sam Lee,1\n2025-03-03,sam2@example.com,2\n")
    assert error.value.problems == [
        Problem("sales.csv", 2, "rep", "rep name 'Sam Lee' matches 2 reps: use the rep_id or email")
    ]


# ============================================================================ amounts
@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1234.5", 1234.5),
        ('"$1,234.50"', 1234.5),
        ("€99", 99.0),
        ("£ 7.25", 7.25),
        ("1234.56 USD", 1234.56),
        ("(100.00)", -100.0),
        ('"($1,000.50)"', -1000.5),
        ("-42", -42.0),
        ("42-", -42.0),
        ("+3", 3.0),
        ("1'234.50", 1234.5),
        (".5", 0.5),
        ('"(1,234.50 USD)"', -1234.5),
        ("EUR 12", 12.0),
        ("100 kr", 100.0),
    ],
)
def test_amount_formats(reps_store, cell, expected):
    actuals(reps_store, f"date,rep,amount\n2025-03-03,R001,{cell}\n")
    assert reps_store.actuals(SYSTEM)["revenue"].tolist() == [expected]


def test_decimal_comma_used_consistently(reps_store):
    result = actuals(
        reps_store,
        "Datum;Verkäufer;Umsatz;Kosten;Order ID\n"
        "2025-03-03;R002;1.234,56;1.000;A\n"
        "2025-03-04;R002;12,5;(2,50);B\n"
        "2025-03-05;R002;€ 2.000.000,00;0,1;C\n",
        column_map={"Datum": "date", "Verkäufer": "rep", "Umsatz": "revenue", "Kosten": "cost"},
    )
    assert counts(result) == (3, 0, 0, 0)
    frame = reps_store.actuals(SYSTEM).set_index("order_id")
    assert frame.loc["A", ["revenue", "cost", "profit"]].tolist() == [1234.56, 1000.0, 234.56]
    assert frame.loc["B", ["revenue", "cost", "profit"]].tolist() == [12.5, -2.5, 15.0]
    assert frame.loc["C", ["revenue", "cost", "profit"]].tolist() == [2_000_000.0, 0.1, 1_999_999.9]


def test_thousands_comma_without_decimals_reads_as_thousands(reps_store):
    actuals(reps_store, 'date,rep,amount\n2025-03-03,R001,"1,234"\n2025-03-04,R001,0.5\n')
    assert sorted(reps_store.actuals(SYSTEM)["revenue"].tolist()) == [0.5, 1234.0]


@pytest.mark.parametrize("decimal, expected", [(None, [1.5, 1234.0]), ("comma", [1.234, 1.5]),
                                               ("point", [1.5, 1234.0])])
def test_a_stated_decimal_separator_decides_how_ambiguous_amounts_read(reps_store, decimal, expected):
    # "1,234" reads as thousands unless the user states a decimal comma (the Upload page's choice)
    actuals(reps_store, 'date,rep,amount\n2025-03-03,R001,"1,234"\n2025-03-04,R001,"1,5"\n'
            if decimal == "comma" else 'date,rep,amount\n2025-03-03,R001,"1,234"\n2025-03-04,R001,1.5\n',
            decimal=decimal)
    assert sorted(reps_store.actuals(SYSTEM)["revenue"].tolist()) == expected


def test_a_stated_decimal_point_refuses_amounts_written_with_a_decimal_comma(reps_store):
    before = fingerprint(reps_store)  # a refused file changes nothing
    with pytest.raises(BadInput) as refused:
        actuals(reps_store, 'date,rep,amount\n2025-03-03,R001,"12,50"\n', decimal="point")
    assert refused.value.problems[0].line == 2 and refused.value.problems[0].column == "amount"
    assert reps_store.actuals(SYSTEM).empty
    assert changed_tables(reps_store, before) == []


def test_an_unknown_decimal_separator_is_refused(reps_store):
    before = fingerprint(reps_store)  # a refused file changes nothing
    with pytest.raises(BadInput, match="decimal separator"):
        actuals(reps_store, "date,rep,amount\n2025-03-03,R001,1\n", decimal="dot")
    assert changed_tables(reps_store, before) == []


# ============================================================================ dates
def test_iso_dates_with_other_separators_and_times(reps_store):
    actuals(
        reps_store,
        "date,rep,amount,order id\n2025-03-03,R001,1,A\n2025/3/4,R001,1,B\n2025.03.05,R001,1,C\n"
        "2025-03-06 14:30:00,R001,1,D\n2025-03-07T09:00,R001,1,E\n",
    )
    dates = dates_by_order(reps_store)
    assert dates == {k: dt.date(2025, 3, d) for k, d in zip("ABCDE", range(3, 8))}


def test_day_first_detected_when_one_date_tells(reps_store):
    actuals(reps_store, "date,rep,amount,order id\n03/04/2025,R001,1,A\n13/04/2025,R001,1,B\n")
    dates = dates_by_order(reps_store)
    assert dates == {"A": dt.date(2025, 4, 3), "B": dt.date(2025, 4, 13)}


def test_month_first_detected_when_one_date_tells(reps_store):
    actuals(reps_store, "date,rep,amount,order id\n03/04/2025,R001,1,A\n12/31/2024,R001,1,B\n")
    dates = dates_by_order(reps_store)
    assert dates == {"A": dt.date(2025, 3, 4), "B": dt.date(2024, 12, 31)}


@pytest.mark.parametrize(
    ("date_format", "expected"),
    [("DMY", dt.date(2025, 4, 3)), ("MDY", dt.date(2025, 3, 4)), ("%m/%d/%Y", dt.date(2025, 3, 4))],
)
def test_date_format_stated_explicitly(reps_store, date_format, expected):
    actuals(reps_store, "date,rep,amount\n03/04/2025,R001,1\n", date_format=date_format)
    assert sale_dates(reps_store) == [expected]


def test_dotted_day_first_pattern(reps_store):
    actuals(reps_store, "date;rep;amount\n31.01.2025;R001;1\n", date_format="%d.%m.%Y")
    assert sale_dates(reps_store) == [dt.date(2025, 1, 31)]


# ============================================================================ encodings and delimiters
GERMAN = "date;rep;amount;customer\n2025-03-03;Jörg Müller;€ 1.234,50;Müller & Söhne\n"


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [
        (GERMAN.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + GERMAN.encode("utf-8"), "utf-8 with BOM"),
        (codecs.BOM_UTF16_LE + GERMAN.encode("utf-16-le"), "utf-16-le with BOM"),
        (GERMAN.encode("cp1252"), "windows-1252"),
    ],
)
def test_encodings(reps_store, payload, encoding):
    result = actuals(reps_store, payload)
    assert counts(result) == (1, 0, 0, 0), encoding
    frame = reps_store.actuals(SYSTEM)
    assert frame[["rep_id", "revenue", "customer"]].values.tolist() == [["R002", 1234.5, "Müller & Söhne"]]


def test_the_same_sale_in_two_encodings_is_one_sale(reps_store):
    actuals(reps_store, GERMAN.encode("cp1252"), file_name="a.csv")
    again = actuals(reps_store, codecs.BOM_UTF16_LE + GERMAN.encode("utf-16-le"), file_name="b.csv")
    assert counts(again) == (0, 0, 1, 0)
    assert totals(reps_store) == (1, 1234.5)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters(reps_store, delimiter):
    text = "\n".join(delimiter.join(cells) for cells in [
        ["date", "rep", "amount", "customer"],
        ["2025-03-03", "R001", "10", "Acme"],
        ["2025-03-04", "R002", "20", "Globex"],
    ]) + "\n"
    result = actuals(reps_store, text)
    assert counts(result) == (2, 0, 0, 0)
    assert sorted(reps_store.actuals(SYSTEM)["customer"].tolist()) == ["Acme", "Globex"]


def test_crlf_line_endings_and_no_final_newline(reps_store):
    result = actuals(reps_store, b"date,rep,amount\r\n2025-03-03,R001,10\r\n2025-03-04,R001,20")
    assert counts(result) == (2, 0, 0, 0)
    assert totals(reps_store) == (2, 30.0)


# ============================================================================ layout
def test_title_rows_above_the_header_are_skipped(reps_store):
    result = actuals(reps_store, "Sales report Q1 2025\nExported 2025-04-01,,\n\ndate,rep,amount\n2025-03-03,R001,10\n")
    assert counts(result) == (1, 0, 0, 0)
    assert result.notes == ["skipped 2 line(s) above the header (line 4)"]
    assert reps_store.actuals(SYSTEM)["line"].tolist() == [5]


def test_trailing_delimiters(reps_store):
    result = actuals(reps_store, "date,rep,amount,\n2025-03-03,R001,10,\n2025-03-04,R001,20,,\n")
    assert counts(result) == (2, 0, 0, 0)
    assert totals(reps_store) == (2, 30.0)


def test_blank_and_empty_rows_are_skipped_and_lines_stay_true(reps_store):
    result = actuals(reps_store, "date,rep,amount\n2025-03-03,R001,10\n\n   \n,,\n2025-03-04,R001,20\n\n")
    assert counts(result) == (2, 0, 0, 0)
    assert reps_store.actuals(SYSTEM)["line"].tolist() == [2, 6]


def test_quoted_newlines_keep_the_line_numbers_of_later_rows(reps_store):
    text = (
        "date,rep,amount,customer,order id\n"
        '2025-03-03,R001,10,"Acme\nHead Office\nLondon",A\n'
        '2025-03-04,R001,20,"He said ""hi""",B\n'
        "2025-03-05,R001,oops,Globex,C\n"
    )
    with pytest.raises(BadInput) as error:
        actuals(reps_store, text)
    assert error.value.problems == [
        Problem("sales.csv", 6, "amount", "'oops' has letters in it: amounts must be numbers")
    ]
    actuals(reps_store, text.replace("oops", "30"))
    frame = reps_store.actuals(SYSTEM).set_index("order_id")
    assert frame["line"].to_dict() == {"A": 2, "B": 5, "C": 6}
    assert frame.loc["A", "customer"] == "Acme\nHead Office\nLondon"
    assert frame.loc["B", "customer"] == 'He said "hi"'


def test_a_stray_quote_in_an_unquoted_field(reps_store):
    before = fingerprint(reps_store)  # a refused file changes nothing
    text = 'date,rep,amount,product\n2025-03-03,R001,10,5" screen\n\n2025-03-04,R001,bad,cable\n'
    with pytest.raises(BadInput) as error:
        actuals(reps_store, text)
    assert error.value.problems == [Problem("sales.csv", 4, "amount", "'bad' has letters in it: amounts must be numbers")]
    assert changed_tables(reps_store, before) == []


# ============================================================================ Excel
def workbook_bytes(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_title_row_date_cells_and_numbers(reps_store):
    data = workbook_bytes([
        ["Pipeline export"],
        [],
        ["Close Date", "Opportunity Owner", "Amount", "Deal ID", "Customer", "Line"],
        [dt.datetime(2025, 3, 3), "R001", 1250.5, "D-1", '=HYPERLINK("http://evil.example","click")', 1],
        [dt.date(2025, 3, 4), "li@example.com", 99, 1002, "@SUM(A1)", 2],
        ["2025-03-05", "Jörg Müller", "1,000.25", "D-3", "Müller GmbH", None],
    ])
    result = actuals(reps_store, data, file_name="export.xlsx")
    assert counts(result) == (3, 0, 0, 0)
    assert result.notes == ["skipped 1 line(s) above the header (line 3)"]
    assert ledger(reps_store) == [
        ("o|1002|2", "2025-03-04", "R003", "DACH", 99.0, None, None, "1002", "2", "@SUM(A1)", None),
        ("o|D-1|1", "2025-03-03", "R001", "Nordics", 1250.5, None, None, "D-1", "1",
         '=HYPERLINK("http://evil.example","click")', None),
        ("o|D-3|#1", "2025-03-05", "R002", "DACH", 1000.25, None, None, "D-3", None, "Müller GmbH", None),
    ]
    assert reps_store.actuals(SYSTEM).set_index("order_id")["line"].to_dict() == {"D-1": 4, "1002": 5, "D-3": 6}
    again = actuals(reps_store, data, file_name="export.xlsx")
    assert counts(again) == (0, 0, 3, 0)


def test_xlsx_problem_lines_are_spreadsheet_rows(reps_store):
    before = fingerprint(reps_store)  # a refused file changes nothing
    data = workbook_bytes([["date", "rep", "amount"], [dt.date(2025, 3, 3), "R001", 5], [], ["2025-02-30", "R001", 6]])
    with pytest.raises(BadInput) as error:
        actuals(reps_store, data, file_name="export.xlsx")
    assert error.value.problems == [Problem("export.xlsx", 4, "date", "'2025-02-30' is not a real date")]
    assert changed_tables(reps_store, before) == []


def test_read_from_a_path(reps_store, tmp_path):
    path = tmp_path / "march.csv"
    path.write_text("date,rep,amount\n2025-03-03,R001,10\n", encoding="utf-8")
    result = imports.import_file(reps_store, "actuals", path)
    assert result.file_name == "march.csv"
    assert counts(result) == (1, 0, 0, 0)
    batch = reps_store.batches(SYSTEM).iloc[0]
    assert batch["file_name"] == "march.csv"
    import hashlib

    assert batch["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


# ============================================================================ territory and profit
def test_territory_from_file_else_the_reps(reps_store):
    actuals(reps_store, "date,rep,amount,territory,order id\n2025-03-03,R001,10,DACH,A\n2025-03-03,R001,10,,B\n")
    assert reps_store.actuals(SYSTEM).set_index("order_id")["territory"].to_dict() == {"A": "DACH", "B": "Nordics"}


def test_profit_is_revenue_minus_cost_or_explicit(reps_store):
    actuals(
        reps_store,
        "date,rep,amount,cost,profit,order id\n"
        "2025-03-03,R001,100,60,,A\n"
        "2025-03-03,R001,100,60,30,B\n"
        "2025-03-03,R001,100,,25,C\n"
        "2025-03-03,R001,100,,,D\n"
        "2025-03-03,R001,-50,-20,,E\n",
    )
    frame = reps_store.actuals(SYSTEM).set_index("order_id")
    profit = {k: (None if v != v else v) for k, v in frame["profit"].to_dict().items()}
    assert profit == {"A": 40.0, "B": 30.0, "C": 25.0, "D": None, "E": -30.0}


# ============================================================================ natural keys
def test_key_is_order_and_line(reps_store):
    actuals(reps_store, "date,rep,amount,order id,line\n2025-03-03,R001,10,A,1\n2025-03-03,R001,20,A,2\n2025-03-03,R001,30,B,1\n")
    assert sorted(reps_store.actuals(SYSTEM)["row_key"]) == ["o|A|1", "o|A|2", "o|B|1"]
    # the same lines in another order and position of the file are the same sales
    again = actuals(reps_store, "order id,line,date,rep,amount\nB,1,2025-03-03,R001,30\nA,2,2025-03-03,R001,20\nA,1,2025-03-03,R001,10\n")
    assert counts(again) == (0, 0, 3, 0)


def test_key_without_line_column_is_occurrence_of_the_order(reps_store):
    actuals(reps_store, "date,rep,amount,order id\n2025-03-03,R001,10,A\n2025-03-03,R001,20,B\n2025-03-03,R001,30,A\n")
    keys = reps_store.actuals(SYSTEM).set_index("row_key")["revenue"].to_dict()
    assert keys == {"o|A|#1": 10.0, "o|B|#1": 20.0, "o|A|#2": 30.0}


def test_identical_rows_without_order_id_are_two_sales(reps_store):
    text = "date,rep,amount\n2025-03-03,R001,10\n2025-03-03,R001,10\n2025-03-03,R002,10\n"
    first = actuals(reps_store, text)
    assert counts(first) == (3, 0, 0, 0)
    assert totals(reps_store) == (3, 30.0)
    second = actuals(reps_store, text)
    assert counts(second) == (0, 0, 3, 0)
    assert totals(reps_store) == (3, 30.0)
    keys = sorted(reps_store.actuals(SYSTEM)["row_key"])
    assert [key.rsplit("|", 1)[1] for key in keys].count("2") == 1


def test_rows_differing_only_in_which_column_is_empty_are_different_sales(reps_store):
    actuals(reps_store, "date,rep,amount,customer,product\n2025-03-03,R001,10,x,\n", file_name="a.csv")
    second = actuals(reps_store, "date,rep,amount,customer,product\n2025-03-03,R001,10,,x\n", file_name="b.csv")
    assert counts(second) == (1, 0, 0, 0)
    assert totals(reps_store) == (2, 20.0)


def test_identical_repeat_of_an_order_line_is_one_sale(reps_store):
    result = actuals(reps_store, "date,rep,amount,order id,line\n2025-03-03,R001,10,A,1\n2025-03-03,R001,10,A,1\n")
    assert counts(result) == (1, 0, 0, 0)
    assert totals(reps_store) == (1, 10.0)


# ============================================================================ re-imports
EXPORT_1 = (
    "date,rep,amount,cost,order id,line\n"
    "2025-03-03,R001,100.00,40,SO-1,1\n"
    "2025-03-03,R001,50.00,20,SO-1,2\n"
    "2025-03-04,R002,200.00,80,SO-2,1\n"
    "2025-03-05,R003,300.00,,SO-3,1\n"
)
EXPORT_2 = (  # overlaps: SO-1/1 unchanged, SO-2/1 changed amount, SO-3/1 unchanged, two new rows
    "date,rep,amount,cost,order id,line\n"
    "2025-03-03,R001,100.00,40,SO-1,1\n"
    "2025-03-04,R002,250.00,80,SO-2,1\n"
    "2025-03-05,R003,300,,SO-3,1\n"
    "2025-03-06,R001,70.00,,SO-4,1\n"
    "2025-03-06,R001,30.00,,SO-4,2\n"
)


def test_reimporting_the_same_file_changes_nothing(reps_store):
    first = actuals(reps_store, EXPORT_1)
    assert counts(first) == (4, 0, 0, 0)
    before = totals(reps_store)
    values_before = [row[1:] for row in ledger(reps_store)]
    again = actuals(reps_store, EXPORT_1)
    assert counts(again) == (0, 0, 4, 0)
    assert totals(reps_store) == before == (4, 650.0)
    assert [row[1:] for row in ledger(reps_store)] == values_before


def test_overlapping_export(reps_store):
    actuals(reps_store, EXPORT_1, file_name="week1.csv")
    second = actuals(reps_store, EXPORT_2, file_name="week2.csv")
    assert counts(second) == (2, 1, 2, 0)
    assert by_order(reps_store) == {
        ("SO-1", "1"): 100.0, ("SO-1", "2"): 50.0, ("SO-2", "1"): 250.0, ("SO-3", "1"): 300.0,
        ("SO-4", "1"): 70.0, ("SO-4", "2"): 30.0,
    }
    assert totals(reps_store) == (6, 800.0)
    batches = reps_store.batches(SYSTEM)
    latest = batches.iloc[0]
    assert (latest["file_name"], latest["rows_inserted"], latest["rows_updated"], latest["rows_unchanged"]) == (
        "week2.csv", 2, 1, 2)


def test_undo_of_the_newer_batch_restores_previous_values_exactly(reps_store):
    first = actuals(reps_store, EXPORT_1)
    before = reps_store.snapshot()["actuals"]
    second = actuals(reps_store, EXPORT_2)
    info = reps_store.undo(SYSTEM, second.batch_id)
    assert info["reverted_at"] is not None
    assert reps_store.snapshot()["actuals"] == before
    assert totals(reps_store) == (4, 650.0)
    assert set(reps_store.actuals(SYSTEM)["batch_id"]) == {first.batch_id}


def test_undo_of_the_older_batch_keeps_the_newer_values(reps_store):
    first = actuals(reps_store, EXPORT_1)
    actuals(reps_store, EXPORT_2)
    reps_store.undo(SYSTEM, first.batch_id)
    # SO-1/2 was only in the first batch; everything else is held by the second
    assert by_order(reps_store) == {
        ("SO-1", "1"): 100.0, ("SO-2", "1"): 250.0, ("SO-3", "1"): 300.0, ("SO-4", "1"): 70.0, ("SO-4", "2"): 30.0,
    }


def test_undo_of_the_only_batch_removes_its_rows_and_twice_is_refused(reps_store):
    before = reps_store.snapshot()["actuals"]
    result = actuals(reps_store, EXPORT_1)
    assert totals(reps_store) == (4, 650.0)
    reps_store.undo(SYSTEM, result.batch_id)
    assert reps_store.snapshot()["actuals"] == before == []
    assert totals(reps_store) == (0, 0.0)
    with pytest.raises(BadInput) as error:
        reps_store.undo(SYSTEM, result.batch_id)
    (problem,) = error.value.problems
    assert problem.file == "uploads"
    assert problem.reason.startswith(f"batch {result.batch_id} was already undone at ")
    # the versions are kept: importing again brings the rows back
    again = actuals(reps_store, EXPORT_1)
    assert counts(again) == (4, 0, 0, 0)


def test_valid_only_imports_good_rows_and_keeps_the_rejected(reps_store):
    text = (
        "date,rep,amount,order id,line\n"
        "2025-03-03,R001,10,A,1\n"
        "2025-03-03,Nobody,11,A,2\n"
        "2025-02-30,R001,x,A,3\n"
        "2025-03-04,R002,12,B,1\n"
    )
    result = actuals(reps_store, text, valid_only=True)
    assert counts(result) == (2, 0, 0, 2)
    assert result.problems == [
        Problem("sales.csv", 3, "rep", "unknown rep 'Nobody': not a rep_id, email or name in the reps list (import the reps first)"),
        Problem("sales.csv", 4, "amount", "'x' has letters in it: amounts must be numbers"),
        Problem("sales.csv", 4, "date", "'2025-02-30' is not a real date"),
    ]
    assert by_order(reps_store) == {("A", "1"): 10.0, ("B", "1"): 12.0}
    rejected = reps_store.rejected_rows(SYSTEM, result.batch_id)
    assert rejected["line"].tolist() == [3, 4]
    assert rejected["problems"].tolist() == [
        "rep: unknown rep 'Nobody': not a rep_id, email or name in the reps list (import the reps first)",
        "amount: 'x' has letters in it: amounts must be numbers; date: '2025-02-30' is not a real date",
    ]
    import json

    assert json.loads(rejected["record"].iloc[1]) == {"date": "2025-02-30", "rep": "R001", "amount": "x", "order id": "A", "line": "3"}
    batch = reps_store.batches(SYSTEM).iloc[0]
    assert (batch["rows_inserted"], batch["rows_rejected"], bool(batch["valid_only"])) == (2, 2, True)


# ============================================================================ targets
def target_cells(store) -> dict[tuple, float]:
    frame = store.targets(SYSTEM)
    return {(r.owner_type, r.owner_id, r.metric, day(r.month).isoformat()[:7]): r.amount for r in frame.itertuples()}


def test_targets_month_rows_and_ranges_by_working_days(reps_store):
    result = targets(
        reps_store,
        "owner_type,owner,metric,month,start,end,amount\n"
        "rep,R001,revenue,2025-01,,,20000\n"
        "rep,ava@example.com,profit,2025-01,,,8000\n"
        "rep,R001,revenue,,2025-03-17,2025-04-11,10000\n"
        "territory,Nordics,revenue,2025-02,,,60000\n",
    )
    assert counts(result) == (5, 0, 0, 0)
    assert target_cells(reps_store) == {
        ("rep", "R001", "profit", "2025-01"): 8000.0,
        ("rep", "R001", "revenue", "2025-01"): 20000.0,
        ("rep", "R001", "revenue", "2025-03"): 5500.0,   # 11 of 20 working days
        ("rep", "R001", "revenue", "2025-04"): 4500.0,   # 9 of 20
        ("territory", "Nordics", "revenue", "2025-02"): 60000.0,
    }


def test_targets_twice_changes_nothing(reps_store):
    text = "owner,month,start,end,amount\nR001,2025-01,,,20000\nR001,,2025-03-17,2025-04-11,10000\n"
    targets(reps_store, text)
    before = target_cells(reps_store)
    again = targets(reps_store, text)
    assert counts(again) == (0, 0, 3, 0)
    assert target_cells(reps_store) == before


def test_changed_target_keeps_the_previous_version_and_undo(reps_store):
    first = targets(reps_store, "owner,month,amount,reason\nR001,2025-01,20000,kick-off\nR001,2025-02,21000,kick-off\n")
    second = targets(reps_store, "owner,month,amount\nR001,2025-01,25000\n", reason="new product line")
    assert counts(second) == (0, 1, 0, 0)
    assert target_cells(reps_store) == {("rep", "R001", "revenue", "2025-01"): 25000.0,
                                        ("rep", "R001", "revenue", "2025-02"): 21000.0}
    history = reps_store.target_history(SYSTEM, "rep", "R001")
    january = history[history["month"].astype(str).str.startswith("2025-01")]
    rows = [(r.amount, None if r.previous_amount != r.previous_amount else r.previous_amount, r.reason, r.batch_id)
            for r in january.itertuples()]
    assert rows == [(25000.0, 20000.0, "new product line", second.batch_id), (20000.0, None, "kick-off", first.batch_id)]
    reps_store.undo(SYSTEM, second.batch_id)
    assert target_cells(reps_store) == {("rep", "R001", "revenue", "2025-01"): 20000.0,
                                        ("rep", "R001", "revenue", "2025-02"): 21000.0}
    reps_store.undo(SYSTEM, first.batch_id)
    assert target_cells(reps_store) == {}


def test_progress_is_reported_by_stage(reps_store):
    store = reps_store
    stages = []
    imports.import_file(store, "actuals", b"date,rep,amount\n2025-01-02,R001,10\n2025-01-03,R001,20\n",
                        file_name="p.csv", progress=lambda fraction, text: stages.append((fraction, text)))
    fractions = [fraction for fraction, _ in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("Checking 2 rows" in text for _, text in stages)


@pytest.mark.parametrize(
    "header",
    [
        "Close Date,Opportunity Owner,Amount,Opportunity ID",          # Salesforce opportunities
        "Close date,Deal owner,Amount,Deal ID",                        # HubSpot deals
        "Invoice Date,Salesperson,Line Total,Invoice Number",          # ERP invoice lines
        "Order Date,Account Manager,Net Value,Sales Order",            # order book
    ],
)
def test_crm_and_erp_export_headers_are_recognised(reps_store, header):
    store = reps_store
    result = imports.import_file(store, "actuals", f"{header}\n2025-01-02,R001,10,X-1\n".encode(), file_name="export.csv")
    assert (result.inserted, store.actual_totals(SYSTEM)["revenue"]) == (1, 10.0)
    assert store.actuals(SYSTEM)["order_id"].tolist() == ["X-1"]


def test_no_synonym_is_claimed_by_two_fields():
    for kind, fields in imports.FIELDS.items():
        owner = {}
        for field in fields:
            for synonym in (field.name, *field.synonyms):
                key = imports.normalise_header(synonym)
                assert owner.setdefault(key, field.name) == field.name, (kind, synonym)


def test_dates_and_months_from_1900_01_to_2199_12_in_every_importer(reps_store):
    # months before 2000-01 were refused by targets while every date column took 1900-2199
    reps = imports.import_file(
        reps_store, "reps",
        b"rep_id,name,territory,start_date,end_date\nR009,Old Timer,Nordics,1900-01-01,2199-12-31\n",
        file_name="reps.csv")
    assert reps.inserted == 1
    holidays = imports.import_file(
        reps_store, "holidays", b"date,name\n1900-01-01,First\n2199-12-31,Last\n", file_name="h.csv")
    assert holidays.inserted == 2
    result = targets(reps_store, "owner,month,amount\nR001,1900-01,10\nR001,2199-12,20\nR001,1999-12,30\n")
    assert result.inserted == 3
    cells = reps_store.targets(SYSTEM)
    assert sorted(pd.to_datetime(cells["month"]).dt.strftime("%Y-%m")) == ["1900-01", "1999-12", "2199-12"]
    ranged = targets(reps_store, "owner,start,end,amount\nR002,1900-01-01,1900-01-31,31\n", file_name="range.csv")
    assert ranged.inserted == 1
    sales = actuals(reps_store, "date,rep,amount\n1900-01-01,R001,1\n2199-12-31,R001,2\n01/01/1900,R001,4\n")
    assert sales.inserted == 3
    assert reps_store.actual_totals(SYSTEM)["revenue"] == 7
    for month in ("1899-12", "2200-01"):
        with pytest.raises(BadInput) as refused:
            targets(reps_store, f"owner,month,amount\nR001,{month},10\n")
        assert refused.value.problems == [
            Problem("targets.csv", 2, "month", f"'{month}' is not a month between 1900-01 and 2199-12 (use YYYY-MM)")]
    for day in ("1899-12-31", "2200-01-01"):
        with pytest.raises(BadInput) as refused:
            actuals(reps_store, f"date,rep,amount\n{day},R001,1\n")
        assert refused.value.problems == [Problem("sales.csv", 2, "date", f"date {day} is out of range")]

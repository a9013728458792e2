"""Fuzzing every importer (issue 7): generated files must import exactly what a pure-Python
reference reading says; mutated files must either import consistently or be refused with our own
error type (a SalesplanError), never another exception, and a refusal changes nothing at all.

Generated files vary what real exports vary: header synonyms, case and spacing, column order,
extra columns, title rows, delimiter, quoting, line endings, encoding (UTF-8 with or without BOM,
UTF-16 with or without BOM, Windows-1252), date and amount formats, and free text holding
delimiters, quotes, newlines, formulas and SQL. Mutations flip, insert, delete and truncate bytes,
insert delimiters and quotes, shuffle lines and re-encode, and a file is sometimes fed to the
importer of another kind.

Examples are derandomised so that CI is reproducible; set SALESPLAN_FUZZ_EXAMPLES=500 to explore
further with fresh random examples.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from salesplan import imports
from salesplan.errors import BadInput, SalesplanError
from salesplan.principal import SYSTEM, Principal
from salesplan.store import Store
from tests.helpers import templates

EXPLORE = int(os.environ.get("SALESPLAN_FUZZ_EXAMPLES", "0"))


def fuzz_settings(examples: int):
    return settings(
        max_examples=EXPLORE or examples, deadline=None, derandomize=not EXPLORE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory, reps_template):
    """One store for the module (reps R000..R003): every example states its outcome against the
    state before it, so the examples need not start empty."""
    with templates.open_copy(reps_template, tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb") as opened:
        yield opened


# ============================================================================ generated files
REP_TEXTS = {"R001": "R001", "r002": "R002", "ava@example.com": "R001", "Li Wei": "R003", "JOERG@example.com": "R002",
             "R000": "R000", "Jörg Müller": "R002"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
HEADERS = {
    "actuals": {
        "date": ["date", "Order Date", "Close Date", "INVOICE DATE", "sale_date", " Booking  Date "],
        "rep": ["rep", "Sales Rep", "Salesperson", "Opportunity Owner", "rep_email", "REP ID"],
        "revenue": ["amount", "Revenue", "Sales", "Net Sales", "deal amount", "Turnover"],
        "order_id": ["order id", "Order ID", "Deal ID", "Invoice", "invoice_no", "Document Number"],
        "customer": ["customer", "Customer Name", "Account", "client"],
    },
    "reps": {
        "rep_id": ["rep_id", "Rep ID", "Employee ID", "rep code"],
        "name": ["name", "Full Name", "Rep Name", "NAME"],
        "email": ["email", "E-mail", "Email Address"],
        "territory": ["territory", "Sales Territory"],
        "manager": ["manager", "Reports To", "Manager ID"],
    },
    "targets": {
        "owner": ["owner", "Rep", "Owner ID", "salesperson"],
        "month": ["month", "Period", "Fiscal Month"],
        "amount": ["amount", "Target", "Quota", "target amount"],
        "reason": ["reason", "Comment", "note"],
    },
    "holidays": {
        "date": ["date", "Holiday Date", "day"],
        "name": ["name", "Holiday", "Description"],
        "territory": ["territory", "Sales Territory"],
    },
}
# free text as people type it: accents, delimiters, quotes, newlines, formulas and SQL. Any
# character UTF-8 can encode: every code point but the surrogates (category Cs), which are left out
# by category, so no codec= is needed (the same characters; with it, hypothesis works the codec's
# characters out by encoding all 1.1 million code points, ~2.5 s of CPU in each process of a run
# from a fresh clone, which has no .hypothesis folder to keep the answer in)
TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=12),
    st.text(alphabet="ab ,;\t\"'\n=+-@é€()|", max_size=10),
    st.sampled_from(["'); DROP TABLE actuals; --", "Robert'); DROP TABLE reps;--", "=HYPERLINK(\"x\")", "@SUM(A1)",
                     "+49 30 1234", "-", "NULL", "null", "\"quoted\"", "a,b;c\td", "line\nbreak", "Total"]),
)


SPACES = "".join(chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) == "Zs")


def cell_text(text: str) -> str | None:
    """What the importer keeps of a text cell: trimmed of spaces (" ", no-break and the other
    Unicode spaces, as DuckDB's trim does; tabs and newlines stay), empty = no value."""
    kept = text.strip(SPACES)
    return kept or None


@dataclass
class Generated:
    kind: str
    data: bytes
    rows: list[dict]  # the reference reading: one dict of field values per row
    options: dict


@st.composite
def layout(draw, kind: str, fields: list[str]):
    """Header names (synonym, case, spacing), column order and extra columns."""
    names = {}
    for field_name in fields:
        name = draw(st.sampled_from(HEADERS[kind][field_name]))
        names[field_name] = draw(st.sampled_from([name, name.upper(), name.lower(), f" {name} "]))
    columns = draw(st.permutations(list(fields)))
    extras = draw(st.lists(st.sampled_from(["notes", "", "Unnamed: 7", "region code"]), max_size=2, unique=True))
    for extra in extras:
        columns.insert(draw(st.integers(0, len(columns))), extra)
    return names, columns


@st.composite
def encoded(draw, kind: str, fields: list[str], records: list[dict], rows: list[dict], options: dict | None = None):
    """The bytes of a file holding ``records`` (field -> cell text), written the way exports vary."""
    names, columns = draw(layout(kind, fields))
    delimiter = options.pop("delimiter") if options and "delimiter" in options else draw(st.sampled_from([",", ";", "\t"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
                        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    if draw(st.booleans()):
        buffer.write(draw(st.sampled_from(["Sales export\n", "ACME Corp report\nGenerated 2025-04-01\n\n"])))
    writer.writerow([names.get(column, column) for column in columns])
    for record in records:
        writer.writerow([record.get(column, "") if column in fields else "x" for column in columns])
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        encoding, data = "utf-8", text.encode("utf-8")
    event(f"encoding {encoding}")
    return Generated(kind, data, rows, dict(options or {}))


def money(draw, low: int = -9_999_999, high: int = 9_999_999) -> Decimal:
    return Decimal(draw(st.integers(low, high))) / 100


def format_amount(value: Decimal, style: str) -> str:
    negative, digits = value < 0, f"{abs(value):.2f}"
    whole, cents = digits.split(".")
    grouped = f"{int(whole):,}"
    body = {
        "plain": digits,
        "thousands": f"{grouped}.{cents}",
        # every style that names a currency names EUR: the examples share one database, and a
        # database without a base currency refuses a second currency (docs/currencies.md)
        "currency": f"€{grouped}.{cents}",
        "code": f"{digits} EUR",
        "comma": f"{grouped.replace(',', '.')},{cents}",
        "comma_space": f"{grouped.replace(',', ' ')},{cents} €",
    }[style]
    if not negative:
        return body
    return {"plain": f"-{body}", "thousands": f"({body})", "currency": f"-{body}", "code": f"{body}-",
            "comma": f"-{body}", "comma_space": f"-{body}"}[style]


def format_date(value: date, style: str) -> str:
    return {
        "iso": value.isoformat(),
        "slashes": value.strftime("%Y/%m/%d"),
        "named": f"{value.day} {MONTHS[value.month - 1]} {value.year}",
        "DMY": value.strftime("%d/%m/%Y"),
        "MDY": value.strftime("%m/%d/%Y"),
    }[style]


@st.composite
def actuals_files(draw):
    count = draw(st.integers(1, 12))
    with_order = draw(st.booleans())
    with_customer = draw(st.booleans())
    amount_style = draw(st.sampled_from(["plain", "thousands", "currency", "code", "comma", "comma_space"]))
    date_style = draw(st.sampled_from(["iso", "slashes", "named", "DMY", "MDY"]))
    options = {"date_format": date_style} if date_style in ("DMY", "MDY") else {}
    # a file with the amounts in decimal-comma style and comma delimiters quotes them (csv does)
    token = draw(st.integers(0, 10**9))
    records, rows = [], []
    for index in range(count):
        sale_date = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 3650)))
        rep_text = draw(st.sampled_from(sorted(REP_TEXTS)))
        amount = money(draw)
        customer = draw(TEXT) if with_customer else ""
        record = {"date": format_date(sale_date, date_style), "rep": rep_text,
                  "revenue": format_amount(amount, amount_style)}
        if with_order:
            record["order_id"] = f"F{token}-{index}"
        if with_customer:
            record["customer"] = customer
        records.append(record)
        rows.append({"sale_date": sale_date, "rep_id": REP_TEXTS[rep_text], "revenue": amount,
                     "customer": cell_text(customer) if with_customer else None})
    fields = ["date", "rep", "revenue"] + (["order_id"] if with_order else []) + (["customer"] if with_customer else [])
    return draw(encoded("actuals", fields, records, rows, options))


@st.composite
def reps_files(draw):
    count = draw(st.integers(1, 6))
    first = draw(st.integers(100, 10**6))
    territories = {"Nordics": "North", "DACH": "Central", None: None}
    records, rows = [], []
    for index in range(count):
        rep_id = f"F{first + index}"
        name = draw(st.sampled_from(["N", "Ø", "'", "="])) + draw(TEXT)
        territory = draw(st.sampled_from(["Nordics", "DACH", None]))
        manager = draw(st.sampled_from(["R000", None] + [row["rep_id"] for row in rows]))
        email = f"f{first + index}@example.com" if draw(st.booleans()) else None
        records.append({"rep_id": rep_id, "name": name, "email": email or "", "territory": territory or "",
                        "manager": manager or ""})
        rows.append({"rep_id": rep_id, "name": cell_text(name), "email": email, "territory": territory,
                     "region": territories[territory], "manager": manager})
    return draw(encoded("reps", ["rep_id", "name", "email", "territory", "manager"], records, rows))


@st.composite
def targets_files(draw):
    cells = draw(st.lists(st.tuples(st.sampled_from(["R000", "R001", "R002", "R003"]), st.integers(0, 59)),
                          min_size=1, max_size=10, unique=True))
    amount_style = draw(st.sampled_from(["plain", "thousands", "currency", "comma"]))
    month_style = draw(st.sampled_from(["%Y-%m", "%Y/%m", "%Y-%m-01"]))
    records, rows = [], []
    for owner, offset in cells:
        month = date(2024 + offset // 12, offset % 12 + 1, 1)
        amount = money(draw, 0, 99_999_999)
        reason = draw(TEXT)
        records.append({"owner": owner, "month": month.strftime(month_style),
                        "amount": format_amount(amount, amount_style), "reason": reason})
        rows.append({"owner": owner, "month": month, "amount": amount, "reason": cell_text(reason)})
    return draw(encoded("targets", ["owner", "month", "amount", "reason"], records, rows))


@st.composite
def holidays_files(draw):
    days = draw(st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(["", "Nordics", "DACH"])),
                         min_size=1, max_size=8, unique=True))
    records, rows = [], []
    for offset, territory in days:
        day = date(2024, 1, 1) + timedelta(days=offset)
        name = draw(TEXT)
        records.append({"date": day.isoformat(), "name": name, "territory": territory})
        rows.append({"date": day, "name": cell_text(name), "territory": territory or None})
    return draw(encoded("holidays", ["date", "name", "territory"], records, rows))


GENERATORS = {"actuals": actuals_files, "reps": reps_files, "targets": targets_files, "holidays": holidays_files}


# ============================================================================ reading back
def batch_rows(store: Store, sql: str, batch_id: int) -> list[tuple]:
    with store.cursor() as cursor:
        return cursor.execute(sql, [batch_id]).fetchall()


def check_generated(store: Store, file: Generated) -> None:
    result = imports.import_file(store, file.kind, file.data, file_name="fuzz.csv", **file.options)
    rows = file.rows
    assert result.rejected == 0 and not result.problems
    if file.kind == "actuals":
        assert result.inserted + result.updated + result.unchanged == len(rows)
        stored = batch_rows(store, "SELECT sale_date, rep_id, revenue, customer FROM actual_batch_rows WHERE batch_id = ? "
                                   "ORDER BY line", result.batch_id)
        expected = [(row["sale_date"], row["rep_id"], row["revenue"], row["customer"]) for row in rows]
        assert [(d, r, Decimal(v).normalize(), c) for d, r, v, c in stored] == [
            (d, r, v.normalize(), c) for d, r, v, c in expected
        ]
    elif file.kind == "reps":
        assert result.inserted + result.updated + result.unchanged == len(rows)
        ids = [row["rep_id"] for row in rows]
        with store.cursor() as cursor:
            stored = cursor.execute(
                "SELECT rep_id, name, email, territory, manager FROM reps WHERE rep_id IN (SELECT unnest(?::VARCHAR[])) "
                "ORDER BY rep_id", [ids]
            ).fetchall()
            regions = dict(cursor.execute("SELECT territory, region FROM territories").fetchall())
        assert stored == sorted((r["rep_id"], r["name"], r["email"], r["territory"], r["manager"]) for r in rows)
        assert all(regions[r["territory"]] == r["region"] for r in rows if r["territory"])
    elif file.kind == "targets":
        assert result.inserted + result.updated + result.unchanged == len(rows)
        stored = batch_rows(store, "SELECT owner_id, month, amount, reason FROM target_versions WHERE batch_id = ? "
                                   "ORDER BY owner_id, month", result.batch_id)
        expected = sorted((r["owner"], r["month"], r["amount"], r["reason"] or "imported from fuzz.csv") for r in rows)
        assert [(o, m, Decimal(a).normalize(), why) for o, m, a, why in stored] == [
            (o, m, a.normalize(), why) for o, m, a, why in expected
        ]
        with store.cursor() as cursor:
            current = cursor.execute(
                "SELECT owner_id, month, amount FROM targets WHERE batch_id = ? ORDER BY owner_id, month", [result.batch_id]
            ).fetchall()
        assert [(o, m, Decimal(a).normalize()) for o, m, a in current] == [(o, m, a.normalize()) for o, m, a, _ in expected]
    else:
        assert result.inserted + result.updated + result.unchanged == len(rows)
        with store.cursor() as cursor:
            stored = cursor.execute(
                "SELECT holiday_date, name, nullif(territory, '') FROM holidays WHERE batch_id = ? "
                "ORDER BY holiday_date, territory", [result.batch_id]
            ).fetchall()
        assert stored == sorted(((r["date"], r["name"], r["territory"]) for r in rows), key=lambda t: (t[0], t[2] or ""))


@fuzz_settings(30)
@given(file=actuals_files())
def test_generated_actuals_import_exactly_the_reference(store, file):
    check_generated(store, file)


@fuzz_settings(12)
@given(file=reps_files())
def test_generated_reps_import_exactly_the_reference(store, file):
    check_generated(store, file)


@fuzz_settings(12)
@given(file=targets_files())
def test_generated_targets_import_exactly_the_reference(store, file):
    check_generated(store, file)


@fuzz_settings(10)
@given(file=holidays_files())
def test_generated_holidays_import_exactly_the_reference(store, file):
    check_generated(store, file)


# ============================================================================ mutated files
@st.composite
def mutated(draw, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "shuffle", "reencode", "splice"]))
        event(f"mutation {operation}")
        position = draw(st.integers(0, len(buffer)))
        if operation == "flip" and buffer:
            buffer[min(position, len(buffer) - 1)] = draw(st.integers(0, 255))
        elif operation == "truncate":
            del buffer[position:]
        elif operation == "insert":
            buffer[position:position] = draw(st.sampled_from(
                [b",", b";", b"\t", b'"', b'""', b"\n", b"\r", b"\r\n", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf",
                 "€".encode(), b"=", b"-", b"(", b"1e999", b"99999999999999999999", b"Total,,", b"date,rep,amount\n"]
            ))
        elif operation == "delete":
            del buffer[position:position + draw(st.integers(1, 12))]
        elif operation == "shuffle":
            lines = bytes(buffer).split(b"\n")
            buffer = bytearray(b"\n".join(draw(st.permutations(lines))))
        elif operation == "reencode":
            try:
                text = bytes(buffer).decode("utf-8")
                buffer = bytearray(text.encode(draw(st.sampled_from(["utf-16", "utf-16-be", "cp1252", "latin-1", "utf-8-sig"]))))
            except (UnicodeDecodeError, UnicodeEncodeError):
                pass
        elif operation == "splice":
            buffer[position:position] = draw(st.binary(max_size=16))
    return bytes(buffer)


@functools.cache
def workbook_of(data: bytes) -> bytes:
    """The same rows as an .xlsx workbook (cells as text); cached, as openpyxl stamps the save time
    into the file and a replayed example must get the same bytes."""
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8", "replace")
    delimiter = max([",", ";", "\t"], key=text.count)
    book = openpyxl.Workbook()
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter):
        book.active.append([ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_snapshots: dict[int, tuple[int, dict]] = {}


def state_before(store: Store) -> dict:
    """``store.snapshot()``, taken again only after the store wrote data (``writes_made``): a
    refused import must leave exactly the state before it (which is asserted), so that state is
    still the one before the next example; every example read every table, a quarter of the
    test's time. A snapshot kept too long could only make a refusal look like a change, never hide one."""
    mark = store.writes_made
    kept = _snapshots.get(id(store))
    if kept is None or kept[0] != mark:
        kept = _snapshots[id(store)] = (mark, store.snapshot())
    return kept[1]


@fuzz_settings(100)
@given(data=st.data())
def test_mutated_files_import_consistently_or_are_refused_with_our_error(store, data):
    kind = data.draw(st.sampled_from(sorted(GENERATORS)), label="kind")
    file = data.draw(GENERATORS[kind](), label="file")
    source = file.data
    if data.draw(st.integers(0, 4), label="as workbook") == 0:
        event("workbook")
        source = workbook_of(source)
    payload = data.draw(mutated(source), label="mutated")
    target = kind if data.draw(st.integers(0, 4)) else data.draw(st.sampled_from(sorted(GENERATORS)), label="fed to")
    valid_only = data.draw(st.booleans(), label="valid_only") if target == "actuals" else False
    before = state_before(store)
    counts_before = {name: len(rows) for name, rows in before.items()}  # the snapshot has every row
    try:
        result = imports.import_file(store, target, payload, file_name="fuzz.csv", valid_only=valid_only)
    except SalesplanError as error:
        event(f"refused: {type(error).__name__}")
        assert store.snapshot() == before, "a refused import changed the database"
        if isinstance(error, BadInput):
            assert error.problems and all(problem.file == "fuzz.csv" and problem.reason for problem in error.problems)
        return
    # no other exception type escapes (pytest reports any as a failure); an import is one whole batch
    event(f"imported ({target})")
    batch = store.batch(result.batch_id)
    assert batch["kind"] == target and batch["reverted_at"] is None
    counts = store.table_counts()
    assert counts["upload_batches"] == counts_before["upload_batches"] + 1
    if target == "actuals":
        versions = batch_rows(store, "SELECT count(*) FROM actual_batch_rows WHERE batch_id = ?", result.batch_id)[0][0]
        assert versions == result.inserted + result.updated + result.unchanged
        assert counts["actuals"] == counts_before["actuals"] + result.inserted
        rejected = batch_rows(store, "SELECT count(*) FROM rejected_rows WHERE batch_id = ?", result.batch_id)[0][0]
        assert rejected == result.rejected
        assert valid_only or result.rejected == 0


def test_an_importer_fed_nothing_but_noise_raises_only_our_error(store):
    """A few hand-picked hostile inputs for every importer, beyond what the generators reach."""
    noise = [b"", b"\x00", b"\xff\xfe", b"\xfe\xff\x00", b'"', b'"""\n"', b"\n" * 1000, b",,,,\n" * 50,
             b"date,rep,amount\n" + b'"' * 5000, b"a" * 100_000, ("\u2028date,rep,amount\u2029\n").encode(),
             b"date,rep,amount\n2025-03-03,R001,1\r\r\r", b"\x1c\x1d\x1e,\x0b\x0c\n1,2,3\n",
             b"PK\x03\x04" + b"\x00" * 100, b"date;rep;amount\n" + b";" * 10_000 + b"\n"]
    # the state before each import: taken again only after an import that went through, since a
    # refused one must leave exactly that state (which is asserted), so it is still the state before
    # the next one (a snapshot reads every table: taking it twice per import doubled the test's time)
    before = store.snapshot()
    for kind in imports.KINDS:
        for payload in noise:
            try:
                imports.import_file(store, kind, payload, file_name="noise.csv")
            except SalesplanError:
                assert store.snapshot() == before, (kind, payload[:40])
                continue
            before = store.snapshot()


# ============================================================================ SQL injection
HOSTILE = ["'); DROP TABLE actuals; --", "Robert'); DROP TABLE reps;--", '"; DROP TABLE targets; --',
           "x' OR '1'='1", "?; $1 %s {0} $$", "\\'; DELETE FROM upload_batches; --"]


def tables(store: Store) -> set[str]:
    with store.cursor() as cursor:
        return {row[0] for row in cursor.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}


def csv_text(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def test_hostile_names_are_stored_verbatim_through_every_import_and_form(reps_store):
    store = reps_store
    names = tables(store)
    admin = Principal(email=HOSTILE[3], role="admin")
    rep_id, territory, other_territory = "R'); DROP TABLE reps;--", HOSTILE[0], HOSTILE[3]

    # reps: ids, names, e-mail, territories and regions
    imports.import_file(store, "reps", csv_text([
        ["rep_id", "name", "email", "territory", "region", "manager"],
        [rep_id, HOSTILE[1], "o'brien@example.com", territory, HOSTILE[2], "R000"],
        ["R9", HOSTILE[0], "", other_territory, HOSTILE[4], rep_id],
    ]), file_name=HOSTILE[5] + ".csv", principal=admin)
    reps = store.reps(SYSTEM).set_index("rep_id")
    assert reps.loc[rep_id, ["name", "email", "territory", "region"]].tolist() == [
        HOSTILE[1], "o'brien@example.com", territory, HOSTILE[2]]
    assert reps.loc["R9", ["name", "manager"]].tolist() == [HOSTILE[0], rep_id]
    assert set(store.territories(SYSTEM)["territory"]) >= {territory, other_territory}

    # actuals: rep by hostile id and by hostile name, hostile text in every text column and the file name
    result = imports.import_file(store, "actuals", csv_text(
        [["date", "rep", "amount", "order id", "line", "customer", "product", "territory"]]
        + [["2025-03-03", rep_id if index % 2 else HOSTILE[0], "10", text, text, text, text,
            territory if index % 2 else other_territory] for index, text in enumerate(HOSTILE)]
    ), file_name=HOSTILE[0] + ".csv", principal=admin)
    assert result.inserted == len(HOSTILE)
    frame = store.actuals(SYSTEM).set_index("order_id")
    assert sorted(frame.index) == sorted(HOSTILE)
    assert all(frame.loc[text, "customer"] == frame.loc[text, "product"] == frame.loc[text, "order_line"] == text
               for text in HOSTILE)
    assert set(frame["rep_id"]) == {rep_id, "R9"}
    batch = store.batch(result.batch_id)
    assert (batch["file_name"], batch["uploaded_by"]) == (HOSTILE[0] + ".csv", HOSTILE[3])

    # a hostile header (mapped by the user) in the problems and in the stored rejected rows
    header = HOSTILE[1]
    data = csv_text([["date", header, "amount"], ["2025-03-04", "R001", "5"], ["2025-03-04", HOSTILE[2], "5"]])
    with pytest.raises(BadInput) as error:
        imports.import_file(store, "actuals", data, file_name="h.csv", column_map={header: "rep"})
    assert [(p.line, p.column) for p in error.value.problems] == [(3, header)]
    partial = imports.import_file(store, "actuals", data, file_name="h.csv", column_map={header: "rep"}, valid_only=True)
    rejected = store.rejected_rows(SYSTEM, partial.batch_id)
    assert header in rejected["record"].iloc[0] and HOSTILE[2] in rejected["record"].iloc[0]
    assert rejected["problems"].iloc[0].startswith(header + ": unknown rep")

    # targets: a hostile rep and territory as owners, hostile reasons (in the file and given)
    imports.import_file(store, "targets", csv_text([
        ["owner_type", "owner", "month", "amount", "reason"],
        ["rep", rep_id, "2025-03", "100", HOSTILE[2]],
        ["territory", territory, "2025-03", "200", ""],
    ]), file_name=HOSTILE[4], reason=HOSTILE[5], principal=admin)
    targets = store.targets(SYSTEM).set_index("owner_id")
    assert targets.loc[rep_id, "amount"] == 100 and targets.loc[territory, "amount"] == 200
    history = store.target_history(SYSTEM, "rep", rep_id)
    assert history["reason"].tolist() == [HOSTILE[2]]
    assert store.target_history(SYSTEM, "territory", territory)["reason"].tolist() == [HOSTILE[5]]

    # holidays: hostile names and territory
    imports.import_file(store, "holidays", csv_text([["date", "name", "territory"], ["2025-12-24", HOSTILE[0], territory],
                                                     ["2025-12-31", HOSTILE[1], ""]]), file_name="h.csv", principal=admin)
    holidays = store.holidays(SYSTEM)
    assert holidays[["name", "territory"]].fillna("").values.tolist() == [[HOSTILE[0], territory], [HOSTILE[1], ""]]

    # a hostile date format is refused, not run
    with pytest.raises(BadInput, match="may not contain quotes"):
        imports.import_file(store, "actuals", b"date,rep,amount\n2025-03-03,R001,1\n", date_format="%Y'); DROP TABLE actuals; --")

    # plans: every text field of the forms
    store.save_plan(admin, rep_id, 2025, status="submitted", summary=HOSTILE[0])
    obstacle = store.add_obstacle(admin, rep_id, 2025, description=HOSTILE[1], likelihood=3, revenue_at_risk=10)
    action = store.add_action(admin, rep_id, 2025, description=HOSTILE[2], owner=HOSTILE[0], due_date=date(2025, 6, 30),
                              expected_impact=5, obstacle_id=obstacle)
    store.add_checkin(admin, rep_id, 2025, checkin_date=date(2025, 3, 14), author=HOSTILE[4], note=HOSTILE[5])
    with pytest.raises(BadInput):
        store.update_action_status(admin, action, HOSTILE[0])
    plan = store.plan(SYSTEM, rep_id, 2025)
    assert plan["summary"] == HOSTILE[0] and plan["updated_by"] == HOSTILE[3]
    assert plan["obstacles"]["description"].tolist() == [HOSTILE[1]]
    assert plan["actions"][["description", "owner"]].values.tolist() == [[HOSTILE[2], HOSTILE[0]]]
    # the author is who writes the check-in, whatever the caller passes
    assert plan["checkins"][["author", "note"]].values.tolist() == [[admin.email, HOSTILE[5]]]
    if hasattr(store, "save_column_map"):
        store.save_column_map(admin, "actuals", [HOSTILE[0], "date", "amount"], {HOSTILE[0]: "rep"})
        # a mapping belongs to who saved it (docs/security.md): the hostile header comes back to them
        assert store.column_map(admin, "actuals", [HOSTILE[0], "date", "amount"]) == {HOSTILE[0]: "rep"}

    # every table is still there, and the audit log names the hostile actor verbatim
    assert tables(store) == names
    assert (store.audit_log(SYSTEM)["actor"] == HOSTILE[3]).sum() >= 8

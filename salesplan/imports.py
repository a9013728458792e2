"""Imports of reps, targets, actuals and holidays files (docs/files.md).

The flow of every import is the same:
  1. ``files.read_table`` turns the bytes into text cells with line numbers;
  2. the header is mapped to fields by name and synonym (case- and space-insensitive);
  3. every cell is parsed and checked in SQL on a private in-memory DuckDB (whole columns, no
     Python loop over rows), collecting problems as (line, column, reason) rows;
  4. with any problem and without ``valid_only``, BadInput lists them all and nothing changes;
  5. the store writes the whole batch in one transaction.

Cells are only ever stored as text or parsed as numbers and dates: a cell starting with ``=``,
``+``, ``-`` or ``@`` is never evaluated.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesplan import policy
from salesplan.currency import CODES, amount_currency_sql, codes_regex
from salesplan.errors import BadInput, Problem
from salesplan.files import (
    RawTable,
    UploadLimits,
    normalise_header,
    quiet_connection,
    read_source,
    read_table,
    too_large_for_memory,
)
from salesplan.principal import SYSTEM, Principal
from salesplan.settings import Settings
from salesplan.store import Store

Kind = Literal["reps", "targets", "actuals", "holidays", "deals", "rates"]
KINDS: tuple[str, ...] = ("reps", "targets", "actuals", "holidays", "deals", "rates")
MAX_PROBLEMS_LISTED = 1000


@dataclass(frozen=True)
class Field:
    name: str
    required: bool
    synonyms: tuple[str, ...]
    kind: str = "text"  # text | amount | date


def _fields(*specs: tuple[str, bool, str, str]) -> list[Field]:
    return [Field(name, required, tuple(s.strip() for s in synonyms.split(",") if s.strip()), kind) for name, required, kind, synonyms in specs]


# Synonyms are compared after lower-casing and removing spaces, underscores, hyphens and dots.
FIELDS: dict[str, list[Field]] = {
    "actuals": _fields(
        ("date", True, "date", "date, order date, close date, closed date, date closed, won date, deal close date, invoice date, billing date, document date, sale date, sales date, transaction date, booking date, posting date, closedate"),
        ("rep", True, "text", "rep, rep id, sales rep, salesrep, sales rep id, sales rep name, salesperson, salesperson name, sales person, sales representative, opportunity owner, deal owner, owner, owner name, owner email, account owner, account manager, account executive, sales owner, sales agent, sales employee, seller, seller name, rep email, rep name"),
        ("revenue", True, "amount", "amount, revenue, sales, net sales, sales amount, sales value, sales revenue, net amount, net value, net revenue, revenue amount, value, total, turnover, deal amount, deal value, opportunity amount, line amount, line total, extended amount, extended price"),
        ("cost", False, "amount", "cost, costs, cogs, cost of sales, cost of goods sold, cost amount, total cost, line cost, extended cost"),
        ("profit", False, "amount", "profit, gross profit, profit amount, net profit, margin amount, gross margin amount"),
        ("order_id", False, "text", "order id, order, order number, order no, order ref, order reference, sales order, sales order number, deal id, deal, deal number, invoice, invoice id, invoice number, invoice no, opportunity id, opportunity number, transaction id, document number, document no, receipt number"),
        ("line", False, "text", "line, line no, line number, order line, line item, position, item no"),
        ("customer", False, "text", "customer, customer name, customer id, account, account name, client, client name, company, company name, sold to, buyer"),
        ("product", False, "text", "product, product name, sku, item, item name, product code"),
        ("territory", False, "text", "territory, sales territory, territory name"),
        ("currency", False, "text", "currency, currency code, ccy, curr, iso currency"),
    ),
    "reps": _fields(
        ("rep_id", True, "text", "rep id, rep, id, employee id, sales rep id, salesperson id, rep code"),
        ("name", True, "text", "name, rep name, full name, sales rep, salesperson, sales person"),
        ("email", False, "text", "email, e mail, email address, mail"),
        ("territory", False, "text", "territory, sales territory"),
        ("region", False, "text", "region, sales region"),
        ("manager", False, "text", "manager, manager id, manager email, reports to, line manager"),
        ("start_date", False, "date", "start date, start, hire date, hired, joined, date joined"),
        ("end_date", False, "date", "end date, end, leave date, left, termination date, leaving date"),
        ("effective_from", False, "date", "effective from, effective date, effective, valid from, as of, moved on, from date"),
    ),
    "targets": _fields(
        ("owner", True, "text", "owner, rep, rep id, owner id, sales rep, salesperson, territory name"),
        ("amount", True, "amount", "amount, target, quota, target amount, value"),
        ("month", False, "text", "month, period, fiscal month"),
        ("start", False, "date", "start, start date, from, date from"),
        ("end", False, "date", "end, end date, to, date to, until"),
        ("owner_type", False, "text", "owner type, type, level"),
        ("metric", False, "text", "metric, measure, kpi"),
        ("reason", False, "text", "reason, comment, note, why"),
        ("currency", False, "text", "currency, currency code, ccy, curr, iso currency"),
    ),
    # open deals (docs/pipeline.md): the headers of CRM exports (Salesforce, HubSpot, Pipedrive, ...)
    "deals": _fields(
        ("deal_id", True, "text", "deal id, deal, deal number, deal no, opportunity id, opportunity number, opportunity no, record id, deal record id, id, crm id"),
        ("owner", True, "text", "owner, rep, rep id, rep email, rep name, sales rep, salesperson, sales person, deal owner, opportunity owner, owner name, owner email, account owner, account manager, account executive, sales owner, seller, assigned to"),
        ("amount", True, "amount", "amount, deal amount, deal value, opportunity amount, opportunity value, value, total, revenue, total contract value, tcv, annual contract value, acv, amount converted"),
        ("expected_close", True, "date", "expected close, expected close date, close date, closing date, expected closing date, estimated close date, est close date, forecast close date, target close date, closedate, close"),
        ("stage", False, "text", "stage, deal stage, opportunity stage, sales stage, pipeline stage, stage name"),
        ("probability", False, "text", "probability, probability (%), probability %, probability percent, win probability, deal probability, close probability, likelihood, chance"),
        ("name", False, "text", "name, deal name, opportunity name, opportunity, deal title, title, subject"),
        ("customer", False, "text", "customer, customer name, account, account name, company, company name, client, client name, organization, organisation, organization name, associated company"),
        ("product", False, "text", "product, product name, products, sku, item"),
        ("currency", False, "text", "currency, currency code, deal currency, opportunity currency, amount currency"),
    ),
    "holidays": _fields(
        ("date", True, "date", "date, holiday date, day"),
        ("name", False, "text", "name, holiday, description, holiday name"),
        ("territory", False, "text", "territory, sales territory"),
    ),
    "rates": _fields(
        ("currency", True, "text", "currency, currency code, ccy, curr, code"),
        ("month", True, "text", "month, period, rate month"),
        ("rate", True, "amount", "rate, exchange rate, fx rate, fx, value"),
    ),
}


@dataclass
class ImportOverview:
    """What went in: the rows written (after the rejected and repeated ones are left out), their
    date range (sale dates; target months), the total of each metric and the reps touched."""

    rows: int
    first_date: date | None
    last_date: date | None
    totals: dict[str, float]
    reps: list[str]

    def text(self) -> str:
        """One plain sentence for the page and the command line."""
        span = f" from {self.first_date} to {self.last_date}" if self.first_date else ""
        totals = ", ".join(f"{metric} {amount:,.2f}" for metric, amount in self.totals.items())
        reps = f"{len(self.reps)} rep{'s' if len(self.reps) != 1 else ''}"
        return f"{self.rows:,} row{'s' if self.rows != 1 else ''}{span}" + (f"; {totals}" if totals else "") + f"; {reps}"


@dataclass
class ImportResult:
    """What an import did: its batch and the counts of docs/files.md."""

    kind: str
    file_name: str
    batch_id: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    overview: ImportOverview | None = None  # actuals and targets: what went in

    def summary(self) -> str:
        text = (
            f"{self.kind} from {self.file_name}: batch {self.batch_id}: {self.inserted} inserted, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected"
        )
        went_in = [f"went in: {self.overview.text()}"] if self.overview is not None else []
        return "\n".join([text, *went_in, *self.notes])




def _synonym_index(kind: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for spec in FIELDS[kind]:
        for synonym in (spec.name, *spec.synonyms):
            index.setdefault(normalise_header(synonym), spec.name)
    return index


def map_header(
    kind: str, header: list[str], file_name: str, header_line: int, column_map: dict[str, str] | None = None
) -> dict[str, int]:
    """Field name -> column position. ``column_map`` (header -> field) overrides synonyms: what the
    user maps decides, and an unmapped column that would mean a mapped field is ignored (see
    :func:`map_columns` for the notes saying so). Raises BadInput on a missing required column
    or two columns that map to the same field (both mapped, or both unmapped synonyms)."""
    return map_columns(kind, header, file_name, header_line, column_map)[0]


def map_columns(
    kind: str, header: list[str], file_name: str, header_line: int, column_map: dict[str, str] | None = None
) -> tuple[dict[str, int], list[str]]:
    """:func:`map_header` plus the notes of the unmapped columns it ignored because the user
    mapped another column to their field ("column 'Customer ID' ignored: 'Customer Name' is
    mapped to customer"). Raises BadInput like :func:`map_header`."""
    index = _synonym_index(kind)
    explicit = {normalise_header(k): v for k, v in (column_map or {}).items()}
    mapping: dict[str, int] = {}
    problems: list[Problem] = []
    notes: list[str] = []
    known = {spec.name for spec in FIELDS[kind]}
    mapped_fields = {field for field in explicit.values() if field in known}
    # two passes: the mapped columns first, so an unmapped synonym never competes with them
    for by_user in (True, False):
        for position, name in enumerate(header):
            key = normalise_header(name)
            if not key or (key in explicit) != by_user:
                continue
            target = explicit[key] if by_user else index.get(key)
            if target is None or target not in known:
                continue
            if not by_user and target in mapped_fields:
                notes.append(f"column {name!r} ignored: {header[mapping[target]]!r} is mapped to {target}")
                continue
            if target in mapping:
                problems.append(
                    Problem(file_name, header_line, name,
                            f"columns {header[mapping[target]]!r} and {name!r} both mean {target}: keep one of them")
                )
                continue
            mapping[target] = position
    for spec in FIELDS[kind]:
        if spec.required and spec.name not in mapping:
            synonyms = ", ".join(spec.synonyms[:4])
            problems.append(
                Problem(file_name, header_line, spec.name,
                        f"required column {spec.name} is missing (accepted names include: {synonyms})")
            )
    if kind == "targets" and "month" not in mapping and not ("start" in mapping and "end" in mapping):
        problems.append(Problem(file_name, header_line, "month", "a targets file needs a month column, or start and end columns"))
    if problems:
        raise BadInput(problems)
    return mapping, notes


def _looks_like_header(kind: str, column_map: dict[str, str] | None = None):
    index = _synonym_index(kind)
    index.update({normalise_header(k): v for k, v in (column_map or {}).items()})
    required = [spec.name for spec in FIELDS[kind] if spec.required]

    def check(cells: list[str]) -> int:
        """0: not a header; 1: names some fields (a header missing a column); 2: names every required field."""
        matched = {index[normalise_header(cell)] for cell in cells if normalise_header(cell) in index}
        if not (len(matched) >= min(2, len(required)) and matched & set(required)):
            return 0
        complete = set(required) <= matched
        if kind == "targets":
            complete = complete and ("month" in matched or {"start", "end"} <= matched)
        return 2 if complete else 1

    return check


# ============================================================================ entry point
def import_file(
    store: Store,
    kind: str,
    source: str | Path | bytes,
    *,
    principal: Principal = SYSTEM,
    file_name: str | None = None,
    valid_only: bool = False,
    date_format: str | None = None,
    column_map: dict[str, str] | None = None,
    reason: str | None = None,
    progress: Callable[[float, str], None] | None = None,
    limits: UploadLimits | None = None,
    as_of: date | None = None,
) -> ImportResult:
    """Import one file of the given kind.

    ``as_of`` is the date of a deals snapshot (default: today); other kinds ignore it.

    ``progress(fraction, text)``, when given, is told each stage (an estimate from the file's
    size, reading, checking, writing, done) with the rows per second so far; a caller that wants
    the numbers themselves reads ``ImportProgress`` from ``progress.last`` (see
    :class:`ImportProgress`). ``limits`` (default: ``UploadLimits`` with the ``upload_limit_mb`` setting) bound
    the file's size, rows, cells and the parser's memory. Raises BadInput (every problem with
    file, line, column and reason; nothing changed; also for a file over a limit or too large to
    check in the parser's memory), NotAllowed when the principal may not import this kind or these
    rows, DatabaseLocked.
    """
    report = ImportProgress(progress)
    if kind not in KINDS:
        raise BadInput.single(str(file_name or source), f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    settings = store.settings()
    limits = limits or UploadLimits.for_upload_limit(settings.upload_limit_mb)
    data, name = read_source(source, file_name, limit_bytes=limits.file_bytes)
    try:
        return _import_data(store, kind, data, name, principal=principal, valid_only=valid_only,
                            date_format=date_format, column_map=column_map, reason=reason, report=report,
                            settings=settings, limits=limits, as_of=as_of)
    except (duckdb.OutOfMemoryException, MemoryError) as error:
        # the parser's memory is capped (it spills to disk first): a file that still does not fit
        # is refused like any other bad input, never a traceback
        raise too_large_for_memory(name, limits.memory_mb) from error


def _import_data(
    store: Store, kind: str, data: bytes, name: str, *, principal: Principal, valid_only: bool,
    date_format: str | None, column_map: dict[str, str] | None, reason: str | None,
    report: ImportProgress, settings: Settings, limits: UploadLimits, as_of: date | None = None,
) -> ImportResult:
    report.start(name, len(data))
    raw = read_table(data, name, looks_like_header=_looks_like_header(kind, column_map), limits=limits)
    mapping, mapping_notes = map_columns(kind, raw.header, name, raw.header_line, column_map)
    if raw.cells.num_rows == 0:
        raise BadInput.single(name, "the file has a header but no rows", line=raw.header_line)
    report.stage(0.35, "Checking", raw.cells.num_rows)
    if kind == "deals":
        from salesplan.imports_deals import import_deals  # it builds on this module's parser

        result = import_deals(store, raw, mapping, principal=principal, valid_only=valid_only,
                              date_format=date_format, settings=settings, as_of=as_of, memory_mb=limits.memory_mb)
    else:
        importer = {"actuals": _import_actuals, "reps": _import_reps, "targets": _import_targets,
                    "holidays": _import_holidays, "rates": _import_rates}[kind]
        result = importer(store, raw, mapping, principal=principal, valid_only=valid_only, date_format=date_format,
                          settings=settings, reason=reason, memory_mb=limits.memory_mb, report=report)
    result.notes.extend(mapping_notes)
    if raw.title_lines:
        result.notes.append(f"skipped {len(raw.title_lines)} line(s) above the header (line {raw.header_line})")
    if raw.repeated_header_lines:
        shown = ", ".join(str(line) for line in raw.repeated_header_lines[:10])
        more = ", ..." if len(raw.repeated_header_lines) > 10 else ""
        result.notes.append(f"skipped {len(raw.repeated_header_lines)} copy(ies) of the header row (line {shown}{more})")
    report.done(result)
    return result


# ============================================================================ progress
# what an import reads per second on the benchmark machine (BENCHMARKS.md), for the estimate
# shown before a long import starts; a workbook is slower per byte (it is compressed XML)
ESTIMATE_MB_PER_SECOND = {"csv": 20.0, "workbook": 2.0}
LONG_IMPORT_SECONDS = 3.0


def estimate_seconds(size_bytes: int, workbook: bool = False) -> float:
    """About how long an import of a file of this size takes (the rate of ESTIMATE_MB_PER_SECOND)."""
    return size_bytes / 1_048_576 / ESTIMATE_MB_PER_SECOND["workbook" if workbook else "csv"]


@dataclass
class ImportProgress:
    """The stages of one import, told to ``progress(fraction, text)`` with rows per second.

    ``fraction`` grows from 0 to 1; ``text`` names the stage, the rows and their rate, and before
    the work starts the estimate from the file's size. ``rows``, ``seconds`` and ``rows_per_second``
    hold the latest figures for callers that show them their own way.
    """

    callback: Callable[[float, str], None] | None
    rows: int = 0
    seconds: float = 0.0
    started: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def __call__(self, fraction: float, text: str) -> None:
        if self.callback is not None:
            self.callback(fraction, text)

    def start(self, name: str, size_bytes: int) -> None:
        self.started = time.perf_counter()
        workbook = name.lower().endswith((".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"))
        estimate = estimate_seconds(size_bytes, workbook)
        about = f"; about {estimate:,.0f} s" if estimate >= LONG_IMPORT_SECONDS else ""
        self(0.02, f"Reading {name} ({size_bytes / 1_048_576:.1f} MB{about})")

    def stage(self, fraction: float, what: str, rows: int) -> None:
        self.rows = rows
        self.seconds = time.perf_counter() - self.started
        self(fraction, f"{what} {rows:,} rows ({self.seconds:.1f} s so far, {self.rows_per_second:,.0f} rows/s)")

    def done(self, result: ImportResult) -> None:
        self.seconds = time.perf_counter() - self.started
        rows = result.inserted + result.updated + result.unchanged + result.rejected
        self.rows = rows or self.rows
        self(1.0, f"Imported {result.file_name}: batch {result.batch_id}, {self.rows:,} rows in {self.seconds:.1f} s "
                  f"({self.rows_per_second:,.0f} rows/s)")


# ============================================================================ SQL building blocks
class _Parser:
    """A private in-memory DuckDB holding the raw cells as table ``raw``."""

    def __init__(self, raw: RawTable, mapping: dict[str, int], kind: str, memory_mb: int):
        self.raw = raw
        self.mapping = mapping
        self.kind = kind
        self.connection = quiet_connection(memory_mb)
        # ``line`` is the record's line in the file; a field of the same name (the order line of
        # actuals) lives in its own column so that the two never shadow each other
        select = ["line"] + [
            f"nullif(trim(c{position}), '') AS {_src_column(name)}" for name, position in mapping.items()
        ]
        # the first cell of the record that reads like the label of a totals row ("Total", "Grand
        # total", "Sum", "Summe", ...), looked for in the first columns and the mapped ones (a
        # sheet may be thousands of columns wide)
        positions = sorted(set(range(min(_TOTALS_LABEL_COLUMNS, len(raw.header)))) | set(mapping.values()))
        labels = [
            f"CASE WHEN regexp_full_match(lower(trim(r.c{position})), '{_TOTALS_LABEL}') THEN trim(r.c{position}) END"
            for position in positions
        ]
        # the label of the raw record ``r`` (computed only for the few rows that are not records)
        self.totals_label = f"coalesce({', '.join(labels)})" if labels else "NULL::VARCHAR"
        # only the columns used go into DuckDB: a sheet may be thousands of columns wide
        used = sorted(set(positions) | set(mapping.values()))
        self._cells = raw.cells.select([f"c{position}" for position in used] + ["line"])
        self.connection.register("raw_arrow", self._cells)
        # a view, not a copy: each query trims only the cells it reads, and the file's text is
        # held once (in Arrow) instead of twice
        self.connection.execute(f"CREATE TEMP VIEW src AS SELECT {', '.join(select)} FROM raw_arrow")
        self.problem_queries: list[str] = []
        # problems that explain their whole line: the line's other problems are left out
        self.line_problem_queries: list[str] = []

    def close(self) -> None:
        self.connection.close()

    def header_name(self, field_name: str) -> str:
        return self.raw.header[self.mapping[field_name]] if field_name in self.mapping else field_name

    def has(self, field_name: str) -> bool:
        return field_name in self.mapping

    def col(self, field_name: str) -> str:
        return _src_column(field_name) if field_name in self.mapping else "NULL::VARCHAR"

    def add_problem(
        self, condition: str, field_name: str | None, reason_sql: str, table: str = "parsed", *, whole_line: bool = False
    ) -> None:
        """A problem (line, column, reason) for every row of ``table`` meeting ``condition``.
        A ``whole_line`` problem (e.g. "this is a totals row") replaces the other problems of its lines."""
        column = _sql_text(self.header_name(field_name)) if field_name else "NULL"
        query = f"SELECT line, {column} AS column_name, {reason_sql} AS reason FROM {table} WHERE {condition}"
        (self.line_problem_queries if whole_line else self.problem_queries).append(query)

    def problem_union(self) -> str | None:
        """SQL of every problem (line, column_name, reason), or None when there are no checks."""
        if not self.problem_queries and not self.line_problem_queries:
            return None
        if not self.line_problem_queries:
            return " UNION ALL ".join(self.problem_queries)
        whole = " UNION ALL ".join(self.line_problem_queries)
        if not self.problem_queries:
            return whole
        cell = " UNION ALL ".join(self.problem_queries)
        return (
            f"SELECT * FROM ({whole}) UNION ALL "
            f"SELECT * FROM ({cell}) WHERE line NOT IN (SELECT line FROM ({whole}))"
        )

    def add_totals_problem(self, not_a_record: str, amount_text: str, field_name: str, table: str = "parsed") -> None:
        """Refuse a totals row with one plain reason instead of "'Total' is not a date; the rep is
        empty": a row that is ``not_a_record`` (its key cells are missing or unreadable) and holds
        a totals label such as "Total" or "Grand total" in any column."""
        label = _TOTALS_COLUMN
        reason = (
            f"'this is a totals row (''' || {label} || ''', ' || coalesce('amount ' || {amount_text}, 'no amount') "
            "|| '), not a sale: delete it and upload again (salesplan adds up the rows itself)'"
        )
        self.add_problem(f"{label} IS NOT NULL", field_name, reason, self.totals_rows(table, not_a_record), whole_line=True)

    def totals_rows(self, table: str, not_a_record: str) -> str:
        """The rows of ``table`` that are ``not_a_record``, with their totals label (or NULL)."""
        return (
            f"(SELECT t.*, {self.totals_label} AS {_TOTALS_COLUMN} "
            f"FROM (SELECT * FROM {table} WHERE {not_a_record}) t JOIN raw_arrow r ON r.line = t.line) totals"
        )

    # ------------------------------------------------------------------ amounts
    def decimal_comma(self, fields: Iterable[str]) -> bool:
        """Whether the file writes amounts with a decimal comma (1.234,56), decided over all its
        amount cells: only when some cell can only be read that way and none only the other way."""
        present = [f for f in fields if self.has(f)]
        if not present:
            return False
        any_comma = self.connection.execute(
            "SELECT count(*) FROM src WHERE " + " OR ".join(f"contains({self.col(f)}, ',')" for f in present)
        ).fetchall()[0][0]
        if not any_comma:
            return False
        cores = " UNION ALL ".join(f"SELECT {_amount_core(self.col(f))} AS core FROM src" for f in present)
        comma_only, dot_only = self.connection.execute(
            f"""
            SELECT count(*) FILTER (WHERE regexp_full_match(core, '{_COMMA_NUMBER}') AND NOT regexp_full_match(core, '{_DOT_NUMBER}')),
                   count(*) FILTER (WHERE regexp_full_match(core, '{_DOT_NUMBER}') AND NOT regexp_full_match(core, '{_COMMA_NUMBER}'))
            FROM ({cores}) WHERE core IS NOT NULL
            """
        ).fetchall()[0]
        return comma_only > 0 and comma_only > dot_only

    def amount_sql(self, field_name: str, decimal_comma: bool) -> tuple[str, str]:
        """(value expression, problem-reason expression or NULL) for one amount column of ``src``."""
        text = self.col(field_name)
        core = _amount_core(text)
        pattern = _COMMA_NUMBER if decimal_comma else _DOT_NUMBER
        number = (
            f"replace(replace({core}, '.', ''), ',', '.')" if decimal_comma else f"replace({core}, ',', '')"
        )
        negative = f"(regexp_full_match({_amount_clean(text)}, '\\(.*\\)') OR regexp_full_match({_amount_clean(text)}, '.*-'))"
        plain = f"try_cast({text} AS DECIMAL(18,4))"
        fast = "" if decimal_comma else f"WHEN regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') AND {plain} IS NOT NULL THEN {plain} "
        value = (
            f"CASE {fast}WHEN regexp_full_match({core}, '{pattern}') THEN "
            f"try_cast({number} AS DECIMAL(18,4)) * CASE WHEN {negative} THEN -1 ELSE 1 END END"
        )
        shown = f"'''' || {text} || ''''"
        style = "a decimal comma" if decimal_comma else "a decimal point"
        fast_reason = "" if decimal_comma else f"WHEN regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') AND {plain} IS NOT NULL THEN NULL "
        reason = (
            f"CASE WHEN {text} IS NULL THEN NULL {fast_reason}"
            f"WHEN regexp_matches({_amount_clean(text)}, '[A-Za-z]') THEN {shown} || ' has letters in it: amounts must be numbers' "
            f"WHEN NOT regexp_full_match({core}, '{pattern}') AND regexp_full_match({core}, '{_COMMA_NUMBER if not decimal_comma else _DOT_NUMBER}') "
            f"THEN {shown} || ' is written differently from the other amounts of the file, which use {style}' "
            f"WHEN NOT regexp_full_match({core}, '{pattern}') THEN {shown} || ' is not a number' "
            f"WHEN try_cast({number} AS DECIMAL(18,4)) IS NULL THEN {shown} || ' is too large' END"
        )
        return value, reason

    # ------------------------------------------------------------------ dates
    def date_order(self, fields: Iterable[str], date_format: str | None) -> str:
        """'DMY' or 'MDY' for dates written with the year last (ISO needs no decision).

        Raises BadInput when the file mixes day-first and month-first dates, or when every such
        date could be read both ways and the user did not say which.
        """
        if date_format:
            return _normalise_date_format(date_format, self.raw.file)
        present = [f for f in fields if self.has(f)]
        if not present:
            return "DMY"
        # a date tells its order only when one part can be a month and the other cannot
        # (99/99/2025 tells nothing: it is no date at all)
        day_first = "p.p1::INT > 12 AND p.p2::INT BETWEEN 1 AND 12"
        month_first = "p.p2::INT > 12 AND p.p1::INT BETWEEN 1 AND 12"
        parts = " UNION ALL ".join(
            f"SELECT line, {_sql_text(self.header_name(f))} AS column_name, {self.col(f)} AS text, "
            f"regexp_extract({self.col(f)}, '{_YEAR_LAST}', ['p1', 'p2']) AS p FROM src "
            f"WHERE regexp_full_match({self.col(f)}, '{_YEAR_LAST}')"
            for f in present
        )
        rows = self.connection.execute(
            f"""
            SELECT arg_min(line, line) FILTER (WHERE {day_first}), arg_min(text, line) FILTER (WHERE {day_first}),
                   arg_min(column_name, line) FILTER (WHERE {day_first}),
                   arg_min(line, line) FILTER (WHERE {month_first}), arg_min(text, line) FILTER (WHERE {month_first}),
                   arg_min(column_name, line) FILTER (WHERE {month_first}),
                   arg_min(line, line) FILTER (WHERE p.p1 <> p.p2), arg_min(text, line) FILTER (WHERE p.p1 <> p.p2),
                   arg_min(column_name, line) FILTER (WHERE p.p1 <> p.p2)
            FROM ({parts})
            """
        ).fetchall()[0]
        (day_first_line, day_first_text, day_first_column, month_first_line, month_first_text, month_first_column,
         ambiguous_line, ambiguous_text, ambiguous_column) = rows
        if day_first_line is not None and month_first_line is not None:
            later_is_month_first = month_first_line > day_first_line
            raise BadInput.single(
                self.raw.file,
                f"dates mix day-first ({day_first_text!r} on line {day_first_line}) and month-first "
                f"({month_first_text!r} on line {month_first_line}) formats; fix the file or {STATE_DATE_FORMAT}",
                line=int(max(day_first_line, month_first_line)),
                column=month_first_column if later_is_month_first else day_first_column,
            )
        if day_first_line is not None:
            return "DMY"
        if month_first_line is not None:
            return "MDY"
        if ambiguous_line is not None:
            raise BadInput.single(
                self.raw.file,
                f"dates such as {ambiguous_text!r} could be day-first or month-first and no date in the file "
                f"tells which; {STATE_DATE_FORMAT} (or use ISO dates, YYYY-MM-DD)",
                line=int(ambiguous_line),
                column=ambiguous_column,
            )
        return "DMY"

    def date_sql(self, field_name: str, order: str) -> tuple[str, str]:
        """(DATE expression, problem-reason expression) for one date column of ``src``."""
        text = self.col(field_name)
        if order.startswith("%"):
            value = f"try_strptime({text}, '{order}')::DATE"
            reason = (
                f"CASE WHEN {text} IS NOT NULL AND {value} IS NULL THEN '''' || {text} || ''' is not a date in the format {order}' END"
            )
            return value, _date_range_check(value, reason)
        iso = f"regexp_extract({text}, '{_ISO}', ['y', 'm', 'd'])"
        year_last = f"regexp_extract({text}, '{_YEAR_LAST}', ['p1', 'p2', 'y'])"
        if order == "YMD":
            year_last_value = "NULL"
        else:
            day, month = ("p1", "p2") if order == "DMY" else ("p2", "p1")
            year_last_value = (
                f"try_strptime(printf('%04d-%02d-%02d', "
                f"CASE WHEN length({year_last}.y) = 2 THEN 2000 + {year_last}.y::INT ELSE {year_last}.y::INT END, "
                f"{year_last}.{month}::INT, {year_last}.{day}::INT), '%Y-%m-%d')::DATE"
            )
        named = " ".join(
            f"WHEN try_strptime({text}, '{pattern}') IS NOT NULL THEN try_strptime({text}, '{pattern}')::DATE"
            for pattern in _NAMED_MONTH_FORMATS
        )
        # the usual export writes YYYY-MM-DD: a cast, before any regular expression
        iso_plain = f"(length({text}) = 10 AND substr({text}, 5, 1) = '-' AND substr({text}, 8, 1) = '-' AND try_cast({text} AS DATE) IS NOT NULL)"
        value = (
            f"CASE WHEN {iso_plain} THEN try_cast({text} AS DATE) "
            f"WHEN regexp_full_match({text}, '{_ISO}') THEN "
            f"try_strptime(printf('%04d-%02d-%02d', {iso}.y::INT, {iso}.m::INT, {iso}.d::INT), '%Y-%m-%d')::DATE "
            f"WHEN regexp_full_match({text}, '{_YEAR_LAST}') THEN {year_last_value} "
            f"{named} END"
        )
        shape = f"(regexp_full_match({text}, '{_ISO}') OR regexp_full_match({text}, '{_YEAR_LAST}'))"
        reason = (
            f"CASE WHEN {text} IS NULL OR {iso_plain} THEN NULL "
            f"WHEN {value} IS NULL AND {shape} THEN '''' || {text} || ''' is not a real date' "
            f"WHEN {value} IS NULL THEN '''' || {text} || ''' is not a date (use YYYY-MM-DD)' END"
        )
        return value, _date_range_check(value, reason)


_TOTALS_COLUMN = '"__totals_label"'
_TOTALS_LABEL_COLUMNS = 8
_TOTALS_LABEL = (
    r"((grand|sub|overall)[ -]?)?(totals?:?( .*)?|sums?:?)|summe:?|gesamt(summe)?:?|totaal|totalt|totale|"
    r"insgesamt|somme|suma|total general"
)
_DOT_NUMBER = r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+"
_COMMA_NUMBER = r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"
_TIME = r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?"
_ISO = r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})([ T]" + _TIME + r"Z?)?$"
_YEAR_LAST = r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})( " + _TIME + r")?$"
_NAMED_MONTH_FORMATS = ("%d %b %Y", "%d-%b-%Y", "%d %B %Y", "%b %d %Y", "%b %d, %Y", "%B %d, %Y", "%B %d %Y", "%d-%b-%y")
# how a message asks for the date order: words the Upload page (a choice) and the command line
# (which adds its --date-format flag when it prints the problem) both fit; no message names a flag
STATE_DATE_FORMAT = "state the date format (day first or month first)"

_DATE_FORMAT_ALIASES = {"ISO": "YMD", "YMD": "YMD", "DMY": "DMY", "MDY": "MDY", "DAYFIRST": "DMY", "MONTHFIRST": "MDY"}


def _normalise_date_format(date_format: str, file_name: str) -> str:
    key = re.sub(r"[^A-Z%a-z]", "", date_format).upper()
    if key in _DATE_FORMAT_ALIASES:
        return _DATE_FORMAT_ALIASES[key]
    if "%" in date_format:
        if "'" in date_format:
            raise BadInput.single(file_name, f"date format {date_format!r} may not contain quotes")
        return date_format
    raise BadInput.single(
        file_name, f"unknown date format {date_format!r}: use ISO, DMY, MDY or a pattern such as %d.%m.%Y"
    )


def _date_range_check(value: str, reason: str) -> str:
    return (
        f"coalesce({reason}, CASE WHEN {value} < DATE '1900-01-01' OR {value} > DATE '2199-12-31' "
        f"THEN 'date ' || {value}::VARCHAR || ' is out of range' END)"
    )


def _amount_clean(text: str) -> str:
    # currency symbols and codes, spaces (also non-breaking and narrow) and apostrophes (1'234.50)
    # a currency code only at the start or the end: "12eur34" is not an amount
    symbols_gone = f"regexp_replace({text}, '[\\s\\x{{00a0}}\\x{{202f}}$€£¥₹'']', '', 'g')"
    leading_gone = f"regexp_replace({symbols_gone}, '^([-+(]*){_CURRENCY_CODES}', '\\1')"
    return f"regexp_replace({leading_gone}, '{_CURRENCY_CODES}([-)]*)$', '\\1')"


# every ISO 4217 code, and "kr", which names no one currency (SEK, NOK, DKK, ISK)
_CURRENCY_CODES = codes_regex()[:-1] + "|kr)"


def _amount_core(text: str) -> str:
    clean = _amount_clean(text)
    # (123.45) and 123.45- are negatives; the sign is applied separately
    return f"regexp_replace(regexp_replace({clean}, '^\\((.*)\\)$', '\\1'), '^(.*[0-9])-$', '\\1')"


def _currency_select(parser: _Parser, amount_fields: Iterable[str], base: str) -> str:
    """Select-list items (for table ``src``) of the currency column and of the currency each
    amount's text names (docs/currencies.md)."""
    items = [f"upper({parser.col('currency')}) AS currency_text"]
    items += [f"{amount_currency_sql(parser.col(f), base)} AS {f}_currency" for f in amount_fields]
    return ", ".join(items)


def _currency_checks(parser: _Parser, store: Store, amount_fields: list[str], base: str, month: str, table: str) -> None:
    """Register the currency problems of ``table`` (built with _currency_select, with a
    ``currency`` column = the row's currency); ``month`` is the SQL of the month the amount
    converts at. Nothing is summed across currencies: with a base currency a row in another
    currency needs a rate for its month; without one, the file and the stored amounts name one
    currency at most (docs/currencies.md)."""
    connection = parser.connection
    connection.execute("CREATE TEMP TABLE currency_codes AS SELECT unnest(?::VARCHAR[]) AS code", [sorted(CODES)])
    parser.add_problem(
        "currency_text IS NOT NULL AND currency_text NOT IN (SELECT code FROM currency_codes)", "currency",
        "'unknown currency ' || currency_text || ': use an ISO 4217 code like EUR or USD'", table=table,
    )
    for name in amount_fields:
        shown = f"{name}_text_shown"
        with_text = f"{table} JOIN (SELECT line, {parser.col(name)} AS {shown} FROM src) USING (line)"
        parser.add_problem(f"{name}_currency = 'MIXED'", name, f"{shown} || ' names two currencies'", table=with_text)
        parser.add_problem(
            f"{name}_currency <> 'MIXED' AND currency <> {name}_currency", name,
            f"{shown} || ' is in ' || {name}_currency || ' but the row''s currency is ' || currency", table=with_text,
        )
    column = "currency" if parser.has("currency") else amount_fields[0]
    known = "currency IN (SELECT code FROM currency_codes)"
    if base:
        connection.register("known_rates", store.rates(SYSTEM)[["currency", "month"]])
        parser.add_problem(
            f"{known} AND currency <> {_sql_text(base)} AND {month} IS NOT NULL AND NOT EXISTS ("
            f"SELECT 1 FROM known_rates r WHERE r.currency = {table}.currency AND CAST(r.month AS DATE) = {month})",
            column, f"'no ' || currency || ' rate for ' || strftime({month}, '%Y-%m')", table=table,
        )
        return
    stored = store.stored_currencies()
    first: str | None
    if stored:
        first, where = stored[0], "the amounts already stored are"
    else:
        rows = connection.execute(f"SELECT currency FROM {table} WHERE {known} ORDER BY line LIMIT 1").fetchall()
        first, where = (rows[0][0] if rows else None), "the file''s first amounts are"
    if first is not None:
        parser.add_problem(
            f"{known} AND currency <> {_sql_text(first)}", column,
            f"'this amount is in ' || currency || ' but {where} in {first}: amounts in different currencies "
            "are never added up; set a base currency (salesplan settings --base-currency CODE) and import rates'",
            table=table,
        )


def _src_column(field_name: str) -> str:
    """The quoted column of table ``src`` holding a field's text (``line`` is the record line)."""
    return '"field_line"' if field_name == "line" else f'"{field_name}"'


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _collect(parser: _Parser, valid_only: bool) -> tuple[list[Problem], set[int]]:
    """The problems to list (all of them up to 10x MAX_PROBLEMS_LISTED, else the first
    MAX_PROBLEMS_LISTED) and the set of bad lines; raises BadInput unless valid_only.

    The problems stay in the parser's DuckDB (memory-capped, spilling): a file where every one
    of millions of rows is wrong never turns into millions of Python objects.
    """
    union = parser.problem_union()
    if union is None:
        return [], set()
    connection = parser.connection
    connection.execute(f"CREATE OR REPLACE TEMP TABLE problem_rows AS {union}")
    shown = connection.execute(
        "SELECT line, column_name, reason FROM problem_rows ORDER BY line, column_name LIMIT ?",
        [MAX_PROBLEMS_LISTED * 10 + 1],
    ).fetchall()
    if len(shown) > MAX_PROBLEMS_LISTED * 10:
        shown = shown[:MAX_PROBLEMS_LISTED]
    problems = [
        Problem(parser.raw.file, int(line), column if isinstance(column, str) else None, reason)
        for line, column, reason in shown
    ]
    if problems and not valid_only:
        raise BadInput(problems)
    bad_lines = {int(row[0]) for row in connection.execute("SELECT DISTINCT line FROM problem_rows").fetchall()}
    return problems, bad_lines


def _rejected_records(parser: _Parser, bad_lines: set[int]) -> pd.DataFrame:
    """(line, record, problems) of the refused lines; ``record`` is a JSON object of every column
    of the file, in the file's order, so the rows can be handed back as the user's own columns
    (:func:`rejected_table`)."""
    if not bad_lines:
        return pd.DataFrame({"line": pd.Series([], dtype="int64"), "record": [], "problems": []})
    parser.connection.execute("CREATE OR REPLACE TEMP TABLE bad_lines AS SELECT unnest(?::BIGINT[]) AS line", [sorted(bad_lines)])
    union = parser.problem_union()
    frame = parser.connection.execute(
        f"""
        SELECT p.line, string_agg(coalesce(p.column_name || ': ', '') || p.reason, '; ' ORDER BY p.column_name) AS problems
        FROM ({union}) p WHERE p.line IN (SELECT line FROM bad_lines)
        GROUP BY p.line ORDER BY p.line
        """
    ).df()
    cells = parser.raw.cells
    picked = cells.filter(pc.is_in(cells["line"], value_set=pa.array(sorted(bad_lines), type=cells["line"].type)))
    names = _unique_names(parser.raw.header)
    columns = [f"c{position}" for position in range(len(names)) if f"c{position}" in cells.column_names]
    by_line = {
        int(row["line"]): json.dumps({names[int(c[1:])]: row[c] for c in columns}, ensure_ascii=False)
        for row in picked.select([*columns, "line"]).to_pylist()
    }
    frame["record"] = [by_line.get(int(line), "{}") for line in frame["line"]]
    return frame[["line", "record", "problems"]]


def _unique_names(header: list[str]) -> list[str]:
    """The header with empty and repeated names made distinct ("column 3", "Name (2)")."""
    seen: dict[str, int] = {}
    out = []
    for position, name in enumerate(header):
        name = str(name).strip() or f"column {position + 1}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def rejected_table(rejected: pd.DataFrame) -> pd.DataFrame:
    """The rows a valid-only import left out (``Store.rejected_rows``) as the file's own columns,
    in its order, then ``line`` and ``problems``: a download the user fixes and uploads again.
    Raises KeyError when the frame lacks the record, line or problems column."""
    records = [json.loads(text) if isinstance(text, str) and text else {} for text in rejected["record"]]
    columns: list[str] = []
    for record in records:
        columns += [name for name in record if name not in columns]
    table = pd.DataFrame([[record.get(name) for name in columns] for record in records], columns=columns, dtype=object)
    for extra in ("line", "problems"):
        name = extra if extra not in columns else f"{extra} (salesplan)"
        table[name] = rejected[extra].to_numpy()
    return table


# ============================================================================ actuals
def _import_actuals(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int,
    report: ImportProgress | None = None,
) -> ImportResult:
    policy.require(principal, "upload_actuals")
    parser = _Parser(raw, mapping, "actuals", memory_mb)
    try:
        connection = parser.connection
        comma = parser.decimal_comma(["revenue", "cost", "profit"])
        order = parser.date_order(["date"], date_format)
        date_value, date_reason = parser.date_sql("date", order)
        revenue_value, revenue_reason = parser.amount_sql("revenue", comma)
        cost_value, cost_reason = parser.amount_sql("cost", comma)
        profit_value, profit_reason = parser.amount_sql("profit", comma)
        lookup = store.rep_lookup()
        connection.register("rep_lookup", lookup)
        known_territories = store.territory_names()
        connection.execute("CREATE TEMP TABLE known_territories AS SELECT unnest(?::VARCHAR[]) AS territory", [known_territories])
        visible = store.visible_rep_ids(principal)
        connection.execute(
            "CREATE TEMP TABLE allowed_reps AS SELECT unnest(?::VARCHAR[]) AS rep_id",
            [sorted(visible) if visible is not None else []],
        )
        # parsed -> resolved -> keyed is one statement: the file's rows are parsed, resolved and keyed
        # in one pass into one table (the intermediate steps were two more copies of the file)
        parsed_sql = f"""
            WITH base AS (
                SELECT line, date AS date_text, {date_value} AS sale_date, {date_reason} AS date_problem,
                       rep AS rep_text,
                       revenue AS revenue_text, {revenue_value} AS revenue, {revenue_reason} AS revenue_problem,
                       {cost_value} AS cost, {cost_reason} AS cost_problem,
                       {profit_value} AS profit_given, {profit_reason} AS profit_problem,
                       {parser.col('order_id')} AS order_id, {parser.col('line')} AS order_line,
                       {parser.col('customer')} AS customer, {parser.col('product')} AS product,
                       {parser.col('territory')} AS territory_given,
                       {_currency_select(parser, ["revenue", "cost", "profit"], settings.base_currency)}
                FROM src
            ),
            by_id AS (SELECT lower(trim(rep_id)) AS k, any_value(rep_id) AS rep_id FROM rep_lookup GROUP BY 1),
            by_email AS (SELECT lower(trim(email)) AS k, any_value(rep_id) AS rep_id FROM rep_lookup WHERE email IS NOT NULL GROUP BY 1),
            by_name AS (SELECT name AS k, any_value(rep_id) AS rep_id, count(*) AS n FROM rep_lookup GROUP BY 1)
            SELECT b.*,
                   coalesce(i.rep_id, e.rep_id, CASE WHEN n.n = 1 THEN n.rep_id END) AS rep_id,
                   n.n AS name_matches
            FROM base b
            LEFT JOIN by_id i ON i.k = lower(b.rep_text)
            LEFT JOIN by_email e ON e.k = lower(b.rep_text)
            LEFT JOIN by_name n ON n.k = b.rep_text
            """
        base_sql = f"nullif({_sql_text(settings.base_currency)}, '')"
        resolved_sql = f"""
            SELECT p.*, coalesce(p.territory_given, r.territory) AS territory,
                   coalesce(p.profit_given, p.revenue - p.cost) AS profit,
                   coalesce(p.currency_text, nullif(p.revenue_currency, 'MIXED'), nullif(p.cost_currency, 'MIXED'),
                            nullif(p.profit_currency, 'MIXED'), {base_sql}) AS currency
            FROM parsed p LEFT JOIN rep_lookup r USING (rep_id)
            """
        parser.add_problem("date_text IS NULL", "date", "'the date is empty'")
        parser.add_problem("date_problem IS NOT NULL", "date", "date_problem")
        parser.add_problem("rep_text IS NULL", "rep", "'the rep is empty'")
        # a totals row under the data ("Total,,12345") is neither dated nor a rep's: one plain reason
        no_sale = "sale_date IS NULL AND rep_id IS NULL"
        parser.add_totals_problem(no_sale, "revenue_text", "date")
        parser.add_problem(
            f"{no_sale} AND date_text IS NULL AND rep_text IS NULL AND revenue_text IS NOT NULL AND order_id IS NULL "
            "AND customer IS NULL AND product IS NULL AND line NOT IN (SELECT line FROM "
            + parser.totals_rows("parsed", no_sale) + " WHERE " + _TOTALS_COLUMN + " IS NOT NULL)",
            "date",
            "'this row holds only an amount (' || revenue_text || '), like a totals row, not a sale: "
            "delete it and upload again (salesplan adds up the rows itself)'",
            whole_line=True,
        )
        parser.add_problem(
            "rep_text IS NOT NULL AND rep_id IS NULL AND coalesce(name_matches, 0) > 1", "rep",
            "'rep name ''' || rep_text || ''' matches ' || name_matches || ' reps: use the rep_id or email'",
        )
        parser.add_problem(
            "rep_text IS NOT NULL AND rep_id IS NULL AND coalesce(name_matches, 0) <= 1", "rep",
            "'unknown rep ''' || rep_text || ''': not a rep_id, email or name in the reps list (import the reps first)'",
        )
        parser.add_problem("revenue_text IS NULL", "revenue", "'the amount is empty'")
        parser.add_problem("revenue_problem IS NOT NULL", "revenue", "revenue_problem")
        parser.add_problem("cost_problem IS NOT NULL", "cost", "cost_problem")
        parser.add_problem("profit_problem IS NOT NULL", "profit", "profit_problem")
        parser.add_problem(
            "territory_given IS NOT NULL AND territory_given NOT IN (SELECT territory FROM known_territories)",
            "territory", "'unknown territory ''' || territory_given || ''''",
        )
        if visible is not None:
            who = "a rep may upload only their own actuals" if principal.role == "rep" else "a manager may upload only the actuals of their team"
            parser.add_problem(
                "rep_id IS NOT NULL AND rep_id NOT IN (SELECT rep_id FROM allowed_reps)", "rep",
                f"'not a rep you may upload for: {who}'",
            )
        # natural keys (docs/files.md): (order id, line), the line being the occurrence of the order id
        # when the file has no line column; else a hash of the row's values + its occurrence
        # the values of a row as one text: a JSON list, so that an empty cell (null) never equals
        # an empty or shifted neighbour (concat_ws would skip nulls: customer=x vs product=x)
        values = (
            "md5(to_json([sale_date::VARCHAR, rep_id, revenue::VARCHAR, cost::VARCHAR, profit_given::VARCHAR, "
            "customer, product, territory_given])::VARCHAR)"
        )
        unusable = "(sale_date IS NULL OR rep_id IS NULL OR revenue IS NULL)"
        connection.execute(
            f"""
            CREATE TEMP TABLE keyed AS
            WITH parsed AS ({parsed_sql}),
            resolved AS ({resolved_sql}),
            hashed AS MATERIALIZED (
                -- md5 names a row without an order id for good; rows with one only need a
                -- cheap fingerprint to spot conflicting repeats of their (order, line) key
                SELECT *, CASE WHEN {unusable} THEN NULL
                               WHEN order_id IS NULL THEN {values}
                               ELSE hash(sale_date, rep_id, revenue, cost, profit_given, customer, product, territory_given)::VARCHAR
                          END AS value_hash
                FROM resolved
            )
            -- four cases, so that the occurrence numbers (a sort each) are computed only for the
            -- rows that need them
            SELECT *, 'o|' || order_id || '|' || order_line AS row_key
            FROM hashed WHERE NOT {unusable} AND order_id IS NOT NULL AND order_line IS NOT NULL
            UNION ALL
            SELECT *, 'o|' || order_id || '|#' || row_number() OVER (PARTITION BY order_id ORDER BY line) AS row_key
            FROM hashed WHERE NOT {unusable} AND order_id IS NOT NULL AND order_line IS NULL
            UNION ALL
            SELECT *, 'h|' || value_hash || '|' || row_number() OVER (PARTITION BY value_hash ORDER BY line) AS row_key
            FROM hashed WHERE NOT {unusable} AND order_id IS NULL
            UNION ALL
            -- a row without a readable date, rep or amount is refused whatever its key: it gets
            -- one of its own (a file of millions of such rows is not numbered and compared)
            SELECT *, 'x|' || line AS row_key FROM hashed WHERE {unusable}
            """
        )
        # keyed holds every column of parsed and resolved: the problem checks read it through views
        # of those names
        for name in ("resolved", "parsed"):
            connection.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM keyed")
        _currency_checks(parser, store, ["revenue", "cost", "profit"], settings.base_currency,
                         "CAST(date_trunc('month', sale_date) AS DATE)", "resolved")
        connection.execute(
            """
            CREATE TEMP TABLE key_first AS
            SELECT row_key, min(line) AS first_line, arg_min(value_hash, line) AS first_hash
            FROM keyed GROUP BY row_key HAVING count(*) > 1
            """
        )
        if visible is not None:
            # a reused order id must not move another rep's sale: keys whose current sale belongs
            # to a rep outside the uploader's scope are refused, without naming that rep
            order_keys = [row[0] for row in connection.execute("SELECT row_key FROM keyed WHERE row_key LIKE 'o|%'").fetchall()]
            foreign = sorted(store.foreign_actual_keys(principal, order_keys))
            connection.execute("CREATE TEMP TABLE foreign_keys AS SELECT unnest(?::VARCHAR[]) AS row_key", [foreign])
            parser.add_problem(
                "row_key IN (SELECT row_key FROM foreign_keys)", "order_id",
                "'order ' || order_id || coalesce(' line ' || order_line, '') || ' is already recorded for a rep "
                "outside your scope: you may not change it (ask their manager or an admin)'",
                table="keyed",
            )
        parser.add_problem(
            "k.value_hash <> f.first_hash",
            "order_id",
            "'order ' || k.order_id || ' line ' || k.order_line || ' is also on line ' || f.first_line || ' with other values'",
            table="keyed k JOIN key_first f ON f.row_key = k.row_key AND k.line > f.first_line",
        )
        problems, bad_lines = _collect(parser, valid_only)
        # identical repeats of an explicit (order, line) are the same sale listed twice: keep the first
        connection.execute("CREATE TEMP TABLE bad AS SELECT unnest(?::BIGINT[]) AS line", [sorted(bad_lines)])
        rows = connection.sql(
            """
            SELECT row_key, line, sale_date, rep_id, territory, revenue, cost, profit, order_id, order_line,
                   customer, product, currency, territory_given IS NOT NULL AS territory_from_file
            FROM keyed k WHERE line NOT IN (SELECT line FROM bad)
              AND NOT EXISTS (SELECT 1 FROM key_first f WHERE f.row_key = k.row_key AND k.line > f.first_line)
            """
        ).to_arrow_table()
        rejected = _rejected_records(parser, bad_lines)
        connection.register("written_rows", rows)
        written = connection.execute(
            "SELECT count(*), min(sale_date), max(sale_date), coalesce(sum(revenue), 0)::DOUBLE, "
            "coalesce(sum(profit), 0)::DOUBLE, list(DISTINCT rep_id ORDER BY rep_id) FROM written_rows"
        ).fetchall()[0]
    finally:
        parser.close()
    if report is not None:
        report.stage(0.8, "Writing", rows.num_rows)
    batch_id, counts = store.apply_actuals(
        principal, rows, rejected, file_name=raw.file, sha256=raw.sha256, valid_only=valid_only
    )
    n, first, last, revenue, profit, reps = written
    overview = ImportOverview(int(n), first, last, {"revenue": revenue, "profit": profit}, list(reps or []))
    return ImportResult("actuals", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        counts.rejected, problems, overview=overview)


# ============================================================================ reps
def _import_reps(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int,
    report: ImportProgress | None = None,
) -> ImportResult:
    if not policy.may(principal, "import_reps"):
        policy.require_role(principal, "add_reps")  # new reps under a manager: the store checks the rows
    parser = _Parser(raw, mapping, "reps", memory_mb)
    try:
        connection = parser.connection
        order = parser.date_order(["start_date", "end_date", "effective_from"], date_format)
        start_value, start_reason = parser.date_sql("start_date", order)
        end_value, end_reason = parser.date_sql("end_date", order)
        effective_value, effective_reason = parser.date_sql("effective_from", order)
        existing = store.rep_lookup()
        connection.register("existing_reps", existing)
        connection.execute(
            f"""
            CREATE TEMP TABLE parsed AS
            SELECT line, rep_id, name, {parser.col('email')} AS email, {parser.col('territory')} AS territory,
                   {parser.col('region')} AS region, {parser.col('manager')} AS manager_text,
                   {start_value} AS start_date, {start_reason} AS start_problem,
                   {end_value} AS end_date, {end_reason} AS end_problem,
                   {effective_value} AS effective_from, {effective_reason} AS effective_problem
            FROM src
            """
        )
        connection.execute(
            """
            CREATE TEMP TABLE everyone AS
            SELECT rep_id, email FROM parsed WHERE rep_id IS NOT NULL
            UNION SELECT rep_id, email FROM existing_reps WHERE rep_id NOT IN (SELECT rep_id FROM parsed WHERE rep_id IS NOT NULL)
            """
        )
        connection.execute(
            """
            CREATE TEMP TABLE resolved AS
            SELECT p.*, coalesce(
                (SELECT any_value(e.rep_id) FROM everyone e WHERE lower(e.rep_id) = lower(p.manager_text)),
                (SELECT any_value(e.rep_id) FROM everyone e WHERE lower(e.email) = lower(p.manager_text))
            ) AS manager
            FROM parsed p
            """
        )
        parser.add_problem("rep_id IS NULL", "rep_id", "'the rep_id is empty'", table="resolved")
        parser.add_problem("name IS NULL", "name", "'the name is empty'", table="resolved")
        parser.add_problem(
            "email IS NOT NULL AND NOT regexp_full_match(email, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')", "email",
            "'''' || email || ''' is not an email address'", table="resolved",
        )
        parser.add_problem("start_problem IS NOT NULL", "start_date", "start_problem", table="resolved")
        parser.add_problem("end_problem IS NOT NULL", "end_date", "end_problem", table="resolved")
        parser.add_problem("end_date < start_date", "end_date", "'the end date is before the start date'", table="resolved")
        parser.add_problem("effective_problem IS NOT NULL", "effective_from", "effective_problem", table="resolved")
        parser.add_problem(
            "manager_text IS NOT NULL AND manager IS NULL", "manager",
            "'unknown manager ''' || manager_text || ''': not a rep_id or email of a rep'", table="resolved",
        )
        parser.add_problem("manager = rep_id", "manager", "'a rep cannot be their own manager'", table="resolved")
        parser.add_problem(
            "line > (SELECT min(line) FROM resolved r2 WHERE r2.rep_id = resolved.rep_id) AND EXISTS ("
            "SELECT 1 FROM resolved r2 WHERE r2.rep_id = resolved.rep_id AND r2.line < resolved.line AND "
            "(r2.name IS DISTINCT FROM resolved.name OR r2.email IS DISTINCT FROM resolved.email OR "
            # a rep moving on several days comes once per effective_from (docs/people.md)
            "(r2.effective_from IS NOT DISTINCT FROM resolved.effective_from AND ("
            "r2.territory IS DISTINCT FROM resolved.territory OR r2.manager IS DISTINCT FROM resolved.manager))))",
            "rep_id", "'rep ' || rep_id || ' is listed again with other values'", table="resolved",
        )
        parser.add_problem(
            "email IS NOT NULL AND EXISTS (SELECT 1 FROM resolved r2 WHERE lower(r2.email) = lower(resolved.email) "
            "AND r2.rep_id <> resolved.rep_id AND r2.line < resolved.line)",
            "email", "'email ' || email || ' is used by another rep in this file'", table="resolved",
        )
        parser.add_problem(
            "email IS NOT NULL AND EXISTS (SELECT 1 FROM existing_reps x WHERE lower(x.email) = lower(resolved.email) "
            "AND x.rep_id <> resolved.rep_id AND x.rep_id NOT IN (SELECT rep_id FROM resolved WHERE rep_id IS NOT NULL))",
            "email", "'email ' || email || ' belongs to another rep already'", table="resolved",
        )
        parser.add_problem(
            "territory IS NOT NULL AND region IS NOT NULL AND EXISTS (SELECT 1 FROM resolved r2 WHERE r2.territory = resolved.territory "
            "AND r2.region IS NOT NULL AND r2.region <> resolved.region AND r2.line < resolved.line)",
            "region", "'territory ' || territory || ' is put in two regions in this file'", table="resolved",
        )
        frame = connection.execute(
            "SELECT line, rep_id, name, email, territory, region, manager, start_date, end_date, effective_from "
            "FROM resolved ORDER BY line"
        ).df()
        cycle_lines = _manager_cycles(frame, existing)
        if cycle_lines:
            connection.execute("CREATE TEMP TABLE cycle_lines AS SELECT unnest(?::BIGINT[]) AS line", [sorted(cycle_lines)])
            parser.add_problem("line IN (SELECT line FROM cycle_lines)", "manager",
                               "'the manager chain of ' || rep_id || ' loops back to itself'", table="resolved")
        problems, bad_lines = _collect(parser, valid_only)
    finally:
        parser.close()
    good = frame[~frame["line"].isin(bad_lines)].drop_duplicates(["rep_id", "effective_from"])
    batch_id, counts = store.apply_reps(principal, good, file_name=raw.file, sha256=raw.sha256)
    return ImportResult("reps", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        len(bad_lines), problems)


def _manager_cycles(frame: pd.DataFrame, existing: pd.DataFrame) -> set[int]:
    """Lines of reps whose manager chain returns to them (the graph is people, not rows)."""
    managers = dict(zip(existing["rep_id"], existing["manager"]))
    managers.update({r: m for r, m in zip(frame["rep_id"], frame["manager"]) if isinstance(r, str)})
    lines = dict(zip(frame["rep_id"], frame["line"]))
    in_cycle: set[int] = set()
    for start in lines:
        seen = {start}
        current = managers.get(start)
        while isinstance(current, str):
            if current == start:
                in_cycle.add(int(lines[start]))
                break
            if current in seen:
                break
            seen.add(current)
            current = managers.get(current)
    return in_cycle


# ============================================================================ holidays
def _import_holidays(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int,
    report: ImportProgress | None = None,
) -> ImportResult:
    policy.require(principal, "import_holidays")
    parser = _Parser(raw, mapping, "holidays", memory_mb)
    try:
        connection = parser.connection
        order = parser.date_order(["date"], date_format)
        date_value, date_reason = parser.date_sql("date", order)
        connection.execute(
            f"CREATE TEMP TABLE parsed AS SELECT line, date AS date_text, {date_value} AS date, {date_reason} AS date_problem, "
            f"{parser.col('name')} AS name, {parser.col('territory')} AS territory FROM src"
        )
        parser.add_problem("date_text IS NULL", "date", "'the date is empty'")
        parser.add_problem("date_problem IS NOT NULL", "date", "date_problem")
        parser.add_problem(
            "EXISTS (SELECT 1 FROM parsed p2 WHERE p2.date = parsed.date AND p2.territory IS NOT DISTINCT FROM parsed.territory "
            "AND p2.line < parsed.line AND p2.name IS DISTINCT FROM parsed.name)",
            "date", "'holiday ' || date || ' is listed twice with different names'",
        )
        problems, bad_lines = _collect(parser, valid_only)
        frame = connection.execute("SELECT line, date, name, territory FROM parsed ORDER BY line").df()
    finally:
        parser.close()
    good = frame[~frame["line"].isin(bad_lines)].drop_duplicates(["date", "territory"])
    batch_id, counts = store.apply_holidays(principal, good, file_name=raw.file, sha256=raw.sha256)
    return ImportResult("holidays", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        len(bad_lines), problems)


# ============================================================================ rates
def _import_rates(store: Store, raw: RawTable, mapping: dict[str, int], **options) -> ImportResult:
    # its own module (docs/currencies.md); imported here because it builds on this one
    from salesplan.rates_import import import_rates

    return import_rates(store, raw, mapping, **options)


# ============================================================================ targets
def _import_targets(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int,
    report: ImportProgress | None = None,
) -> ImportResult:
    policy.require_role(principal, "set_targets")  # the cells' owners are checked by the store
    parser = _Parser(raw, mapping, "targets", memory_mb)
    try:
        connection = parser.connection
        comma = parser.decimal_comma(["amount"])
        amount_value, amount_reason = parser.amount_sql("amount", comma)
        order = parser.date_order(["start", "end"], date_format)
        start_value, start_reason = parser.date_sql("start", order)
        end_value, end_reason = parser.date_sql("end", order)
        lookup = store.rep_lookup()
        connection.register("rep_lookup", lookup)
        connection.execute(
            "CREATE TEMP TABLE known_territories AS SELECT unnest(?::VARCHAR[]) AS territory", [store.territory_names()]
        )
        connection.execute(
            f"""
            CREATE TEMP TABLE parsed AS
            WITH base AS (
                SELECT line, owner AS owner_text, lower(coalesce({parser.col('owner_type')}, 'rep')) AS owner_type,
                       lower(coalesce({parser.col('metric')}, 'revenue')) AS metric,
                       amount AS amount_text, {amount_value} AS amount, {amount_reason} AS amount_problem,
                       {parser.col('month')} AS month_text,
                       regexp_extract({parser.col('month')}, '^(\\d{{4}})[-/](\\d{{1,2}})(-01)?$', ['y', 'm']) AS month_parts,
                       {parser.col('start')} AS start_text, {start_value} AS start_date, {start_reason} AS start_problem,
                       {parser.col('end')} AS end_text, {end_value} AS end_date, {end_reason} AS end_problem,
                       {parser.col('reason')} AS reason,
                       {_currency_select(parser, ["amount"], settings.base_currency)}
                FROM src
            )
            SELECT b.*,
                   CASE WHEN month_parts.y <> '' AND month_parts.m::INT BETWEEN 1 AND 12
                             AND month_parts.y::INT BETWEEN 1900 AND 2199
                        THEN make_date(month_parts.y::INT, month_parts.m::INT, 1) END AS month,
                   CASE WHEN b.owner_type = 'rep' THEN coalesce(
                            (SELECT any_value(rep_id) FROM rep_lookup r WHERE lower(r.rep_id) = lower(b.owner_text)),
                            (SELECT any_value(rep_id) FROM rep_lookup r WHERE lower(r.email) = lower(b.owner_text)),
                            (SELECT CASE WHEN count(*) = 1 THEN any_value(rep_id) END FROM rep_lookup r WHERE r.name = b.owner_text))
                        WHEN b.owner_type = 'territory' THEN
                            (SELECT any_value(territory) FROM known_territories t WHERE lower(t.territory) = lower(b.owner_text))
                   END AS owner_id,
                   coalesce(b.currency_text, nullif(b.amount_currency, 'MIXED'),
                            nullif({_sql_text(settings.base_currency)}, '')) AS currency
            FROM base b
            """
        )
        parser.add_problem("owner_text IS NULL", "owner", "'the owner is empty'")
        parser.add_totals_problem("owner_id IS NULL AND month IS NULL AND start_date IS NULL", "amount_text", "owner")
        parser.add_problem("owner_type NOT IN ('rep', 'territory')", "owner_type",
                           "'owner type ''' || owner_type || ''' must be rep or territory'")
        parser.add_problem("owner_text IS NOT NULL AND owner_type IN ('rep', 'territory') AND owner_id IS NULL", "owner",
                           "'unknown ' || owner_type || ' ''' || owner_text || ''''")
        parser.add_problem("metric NOT IN ('revenue', 'profit')", "metric",
                           "'metric ''' || metric || ''' must be revenue or profit'")
        parser.add_problem("amount_text IS NULL", "amount", "'the amount is empty'")
        parser.add_problem("amount_problem IS NOT NULL", "amount", "amount_problem")
        parser.add_problem("amount < 0", "amount", "'a target cannot be negative (' || amount_text || ')'")
        parser.add_problem("month_text IS NOT NULL AND month IS NULL", "month",
                           "'''' || month_text || ''' is not a month between 1900-01 and 2199-12 (use YYYY-MM)'")
        parser.add_problem("month_text IS NOT NULL AND (start_text IS NOT NULL OR end_text IS NOT NULL)", "month",
                           "'give either a month or a start and end date, not both'")
        parser.add_problem("month_text IS NULL AND (start_text IS NULL OR end_text IS NULL)", "month",
                           "'needs a month, or both a start and an end date'")
        parser.add_problem("start_problem IS NOT NULL", "start", "start_problem")
        parser.add_problem("end_problem IS NOT NULL", "end", "end_problem")
        parser.add_problem("end_date < start_date", "end", "'the end date is before the start date'")
        parser.add_problem(
            "month IS NOT NULL AND EXISTS (SELECT 1 FROM parsed p2 WHERE p2.owner_id = parsed.owner_id AND "
            "p2.owner_type = parsed.owner_type AND p2.metric = parsed.metric AND p2.month = parsed.month AND p2.line < parsed.line)",
            "month", "'the target of ' || owner_id || ' ' || metric || ' ' || strftime(month, '%Y-%m') || ' is given twice'",
        )
        _currency_checks(parser, store, ["amount"], settings.base_currency,
                         "coalesce(month, CAST(date_trunc('month', start_date) AS DATE))", "parsed")
        # a rep who left has no targets after their end date; a 0 says just that (docs/people.md)
        left_on = "(SELECT any_value(r.end_date) FROM rep_lookup r WHERE r.rep_id = parsed.owner_id)"
        parser.add_problem(
            f"owner_type = 'rep' AND amount > 0 AND {left_on} IS NOT NULL AND coalesce(month, end_date) > {left_on}",
            "month" if parser.has("month") else "end",
            f"'rep ' || owner_id || ' left on ' || strftime({left_on}, '%Y-%m-%d') || ': no targets after that'",
        )
        problems, bad_lines = _collect(parser, valid_only)
        frame = connection.execute(
            "SELECT line, owner_type, owner_id, metric, month, start_date, end_date, amount::DOUBLE AS amount, reason, "
            "currency FROM parsed ORDER BY line"
        ).df()
    finally:
        parser.close()
    good = frame[~frame["line"].isin(bad_lines)]
    cells = _target_cells(store, good, settings)
    if cells.empty:
        raise BadInput.single(raw.file, "no valid target rows to import")
    cells["reason"] = cells["reason"].fillna(reason or f"imported from {raw.file}")
    batch_id, counts = store.apply_targets(principal, cells, file_name=raw.file, sha256=raw.sha256, reason=reason)
    months = pd.to_datetime(cells["month"])
    overview = ImportOverview(
        len(good), months.min().date(), months.max().date(),
        {str(metric): float(amount) for metric, amount in cells.groupby("metric")["amount"].sum().items()},
        sorted(set(cells.loc[cells["owner_type"] == "rep", "owner_id"])),
    )
    return ImportResult("targets", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        len(bad_lines), problems, overview=overview)


def _target_cells(store: Store, rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """(owner_type, owner_id, metric, month, amount, reason): month rows as they are, date-range
    rows spread over the months they touch by the owner's working days (docs/files.md, Targets)."""
    columns = ["owner_type", "owner_id", "metric", "month", "amount", "reason", "currency"]
    monthly = rows[rows["month"].notna()][columns].copy()
    ranged = rows[rows["month"].isna()]
    pieces = [monthly]
    if len(ranged):
        from salesplan.calendar import calendar_for
        from salesplan.distribution import spread_range

        holidays = store.holidays(SYSTEM)
        holidays["date"] = pd.to_datetime(holidays["date"])
        reps = store.rep_lookup().set_index("rep_id")["territory"].to_dict()
        # one spread per range row: target files hold a few hundred rows at most
        row: Any  # a named tuple of the frame's columns (pandas-stubs types each field as any scalar)
        for row in ranged.itertuples(index=False):
            territory = reps.get(row.owner_id) if row.owner_type == "rep" else row.owner_id
            calendar = calendar_for(settings, holidays, territory if isinstance(territory, str) else None)
            spread = spread_range(float(row.amount), pd.Timestamp(row.start_date).date(), pd.Timestamp(row.end_date).date(), calendar)
            pieces.append(pd.DataFrame({
                "owner_type": row.owner_type, "owner_id": row.owner_id, "metric": row.metric,
                "month": [pd.Timestamp(month) for month in spread], "amount": list(spread.values()), "reason": row.reason,
                "currency": row.currency,
            }))
    cells = pd.concat(pieces, ignore_index=True)
    if cells.empty:
        return cells
    cells["month"] = pd.to_datetime(cells["month"])
    # contributions of several ranges to one month add up (e.g. 1-15 and 16-31 March), never
    # across currencies
    key = ["owner_type", "owner_id", "metric", "month"]
    cells = (
        cells.groupby(key + ["currency"], as_index=False, dropna=False)
        .agg(amount=("amount", "sum"), reason=("reason", "first"))
    )
    twice = cells[cells.duplicated(key, keep=False)]
    if len(twice):
        first = twice.iloc[0]
        raise BadInput.single(
            "targets",
            f"the target of {first.owner_id} {first.metric} {pd.Timestamp(first.month):%Y-%m} is given in "
            f"{' and '.join(sorted(twice.loc[(twice[key] == first[key]).all(axis=1), 'currency'].astype(str)))}: "
            "amounts in different currencies are never added up", column="currency",
        )
    return cells


def template_csv(kind: str, today: date | None = None) -> str:
    """A small example file of each kind dated around ``today`` (see salesplan/templates.py; the
    files in data/templates/ are the default). Raises KeyError for an unknown kind."""
    from salesplan.templates import template_csv as build

    return build(kind, today)


"""The fields of each kind of file, header mapping, the result types and the example files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from salesplan.errors import BadInput, Problem
from salesplan.files import (
    normalise_header,
)

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


def template_csv(kind: str, today: date | None = None) -> str:
    """A small example file of each kind dated around ``today`` (see salesplan/templates.py; the
    files in data/templates/ are the default). Raises KeyError for an unknown kind."""
    from salesplan.templates import template_csv as build

    return build(kind, today)


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

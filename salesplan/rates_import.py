"""The rates import (docs/currencies.md): ``currency, month (YYYY-MM), rate`` rows, the rate
being units of the base currency for one unit of the currency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salesplan import policy
from salesplan.currency import CODES
from salesplan.files import RawTable
from salesplan.principal import Principal
from salesplan.settings import Settings

if TYPE_CHECKING:
    from salesplan.imports import ImportResult
    from salesplan.store import Store


def import_rates(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int, report: object = None,
) -> ImportResult:
    """Check every row (known code, not the base currency, a month 1900-01..2199-12, a rate above
    0, one rate per currency and month) and store the valid ones as one undoable batch. Raises
    BadInput (every problem, nothing changed; also without a base currency), NotAllowed unless admin."""
    from salesplan.imports import ImportResult, _collect, _Parser, _sql_text

    policy.require(principal, "import_rates")
    parser = _Parser(raw, mapping, "rates", memory_mb)
    try:
        connection = parser.connection
        connection.execute("CREATE TEMP TABLE currency_codes AS SELECT unnest(?::VARCHAR[]) AS code", [sorted(CODES)])
        # rates need more than the 4 decimals of amounts (1 JPY = 0.006712 USD): read as a double,
        # with a decimal comma when the cell has no point
        rate_text = "replace(replace(rate, ' ', ''), ',', CASE WHEN contains(rate, '.') THEN '' ELSE '.' END)"
        connection.execute(
            f"""
            CREATE TEMP TABLE parsed AS
            SELECT line, upper(currency) AS currency, month AS month_text,
                   regexp_extract(month, '^(\\d{{4}})[-/](\\d{{1,2}})(-01)?$', ['y', 'm']) AS parts,
                   rate AS rate_text, try_cast({rate_text} AS DOUBLE) AS rate
            FROM src
            """
        )
        connection.execute(
            """
            CREATE TEMP TABLE checked AS
            SELECT *, CASE WHEN parts.y <> '' AND parts.m::INT BETWEEN 1 AND 12 AND parts.y::INT BETWEEN 1900 AND 2199
                           THEN make_date(parts.y::INT, parts.m::INT, 1) END AS month
            FROM parsed
            """
        )
        base = _sql_text(settings.base_currency)
        parser.add_problem("currency IS NULL", "currency", "'the currency is empty'", table="checked")
        parser.add_problem(
            "currency NOT IN (SELECT code FROM currency_codes)", "currency",
            "'unknown currency ' || currency || ': use an ISO 4217 code like EUR or USD'", table="checked",
        )
        parser.add_problem(f"currency = {base}", "currency",
                           "currency || ' is the base currency: its rate is always 1'", table="checked")
        parser.add_problem("month_text IS NULL", "month", "'the month is empty'", table="checked")
        parser.add_problem("month_text IS NOT NULL AND month IS NULL", "month",
                           "'''' || month_text || ''' is not a month between 1900-01 and 2199-12 (use YYYY-MM)'",
                           table="checked")
        parser.add_problem("rate_text IS NULL", "rate", "'the rate is empty'", table="checked")
        parser.add_problem("rate_text IS NOT NULL AND (rate IS NULL OR NOT isfinite(rate))", "rate",
                           "'''' || rate_text || ''' is not a number'", table="checked")
        parser.add_problem("rate <= 0", "rate", "'a rate must be above 0, not ' || rate_text", table="checked")
        parser.add_problem(
            "EXISTS (SELECT 1 FROM checked c2 WHERE c2.currency = checked.currency AND c2.month = checked.month "
            "AND c2.line < checked.line)",
            "month", "'the ' || currency || ' rate for ' || strftime(month, '%Y-%m') || ' is given twice'", table="checked",
        )
        problems, bad_lines = _collect(parser, valid_only)
        frame = connection.execute("SELECT line, currency, month, rate FROM checked ORDER BY line").df()
    finally:
        parser.close()
    good = frame[~frame["line"].isin(bad_lines)]
    batch_id, counts = store.apply_rates(principal, good, file_name=raw.file, sha256=raw.sha256, rejected=len(bad_lines))
    return ImportResult("rates", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        len(bad_lines), problems)

"""Import of open-deals files: a dated snapshot of the pipeline (docs/pipeline.md).

The same flow as every import of :mod:`salesplan.imports` (its reader, header mapping, parser and
problem collection): whole columns are parsed and checked in SQL on a private DuckDB, every
problem is listed with file, line, column and reason, and nothing changes on refusal unless the
user chose to import the valid rows only.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from salesplan.errors import BadInput
from salesplan.files import RawTable
from salesplan.imports import (
    ImportResult,
    _collect,
    _currency_checks,
    _currency_select,
    _Parser,
    _rejected_records,
    _sql_text,
)
from salesplan.imports.parser import register_frame
from salesplan.principal import Principal
from salesplan.settings import Settings
from salesplan.storage.deals import DEAL_COLUMNS
from salesplan.store import Store

# a message's words for where stage probabilities are set (the command line adds its flag)
STAGE_PROBABILITY_SETTING = "set for each stage in the settings"

EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)


def import_deals(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, as_of: date | None, memory_mb: int,
) -> ImportResult:
    """Check a deals file and record it as the snapshot of open deals on ``as_of`` (default
    today) for every rep in the principal's scope.

    Raises BadInput listing every problem (unknown owner, impossible date, negative amount,
    probability out of range or missing, a deal of a rep outside the scope, ...) unless
    ``valid_only``; NotAllowed for a leader.
    """
    as_of = as_of or date.today()
    if not EARLIEST <= as_of <= LATEST:
        raise BadInput.single(raw.file, f"the snapshot date {as_of.isoformat()} is out of range (1900-01-01 to 2199-12-31)",
                              column="as_of")
    scope = store.deal_scope(principal)  # NotAllowed before any parsing
    parser = _Parser(raw, mapping, "deals", memory_mb)
    try:
        connection = parser.connection
        amount_value, amount_reason = parser.amount_sql("amount", parser.decimal_comma(["amount"]))
        close_value, close_reason = parser.date_sql("expected_close", parser.date_order(["expected_close"], date_format))
        register_frame(connection, "rep_lookup", store.rep_lookup())
        connection.execute("CREATE TEMP TABLE allowed_reps AS SELECT unnest(?::VARCHAR[]) AS rep_id", [scope])
        stages = pd.DataFrame(list(settings.stage_probabilities), columns=["stage", "probability"])
        connection.register("stage_settings", stages)
        probability_text = parser.col("probability")
        # "12,5 %" and "0,4" are read with a decimal point; the sign says percent
        number = f"try_cast(trim(replace(replace({probability_text}, '%', ''), ',', '.')) AS DOUBLE)"
        # a column is in percent when a value without a sign is over 1 (40 means 40 %, not 4000 %)
        percent_column = bool(connection.execute(
            f"SELECT coalesce(bool_or(NOT contains({probability_text}, '%') AND {number} > 1), false) FROM src"
        ).fetchall()[0][0])
        connection.execute(
            f"""
            CREATE TEMP TABLE parsed AS
            WITH base AS (
                SELECT line, deal_id, owner AS owner_text,
                       amount AS amount_text, {amount_value} AS amount, {amount_reason} AS amount_problem,
                       expected_close AS close_text, {close_value} AS expected_close, {close_reason} AS close_problem,
                       {parser.col('stage')} AS stage, {probability_text} AS probability_text, {number} AS probability_number,
                       CASE WHEN contains({probability_text}, '%') OR {str(percent_column).upper()}
                            THEN {number} / 100 ELSE {number} END AS probability_given,
                       {parser.col('name')} AS name, {parser.col('customer')} AS customer,
                       {parser.col('product')} AS product,
                       {_currency_select(parser, ["amount"], settings.base_currency)}
                FROM src
            ),
            by_id AS (SELECT lower(trim(rep_id)) AS k, any_value(rep_id) AS rep_id FROM rep_lookup GROUP BY 1),
            by_email AS (SELECT lower(trim(email)) AS k, any_value(rep_id) AS rep_id FROM rep_lookup WHERE email IS NOT NULL GROUP BY 1),
            by_name AS (SELECT name AS k, any_value(rep_id) AS rep_id, count(*) AS n FROM rep_lookup GROUP BY 1),
            by_stage AS (SELECT lower(regexp_replace(trim(stage), '\\s+', ' ', 'g')) AS k, any_value(probability) AS p
                         FROM stage_settings GROUP BY 1)
            SELECT b.*,
                   coalesce(i.rep_id, e.rep_id, CASE WHEN n.n = 1 THEN n.rep_id END) AS rep_id, n.n AS name_matches,
                   CASE WHEN b.probability_given BETWEEN 0 AND 1 THEN round(b.probability_given, 6)
                        WHEN b.probability_text IS NULL THEN s.p END AS probability,
                   CASE WHEN b.probability_text IS NOT NULL THEN 'file' ELSE 'stage' END AS probability_source,
                   -- the amount's currency as it came (docs/currencies.md); unnamed: the base currency
                   coalesce(b.currency_text, nullif(b.amount_currency, 'MIXED'),
                            nullif({_sql_text(settings.base_currency)}, '')) AS currency
            FROM base b
            LEFT JOIN by_id i ON i.k = lower(b.owner_text)
            LEFT JOIN by_email e ON e.k = lower(b.owner_text)
            LEFT JOIN by_name n ON n.k = b.owner_text
            LEFT JOIN by_stage s ON s.k = lower(regexp_replace(trim(b.stage), '\\s+', ' ', 'g'))
            """
        )
        _add_problems(parser, principal, percent_column)
        # a deal converts at the rate of its snapshot's month (the day its amount was stated)
        _currency_checks(parser, store, ["amount"], settings.base_currency,
                         f"DATE '{as_of.replace(day=1).isoformat()}'", "parsed")
        problems, bad_lines = _collect(parser, valid_only)
        connection.execute("CREATE TEMP TABLE bad AS SELECT unnest(?::BIGINT[]) AS line", [sorted(bad_lines)])
        # an exact repeat of a deal (the same export pasted twice) is the same deal: keep the first
        deals = connection.execute(
            f"""
            SELECT {', '.join(DEAL_COLUMNS)} FROM parsed p
            WHERE line NOT IN (SELECT line FROM bad)
              AND NOT EXISTS (SELECT 1 FROM parsed q WHERE q.deal_id = p.deal_id AND q.line < p.line)
            ORDER BY line
            """
        ).df()
        rejected = _rejected_records(parser, bad_lines)
    finally:
        parser.close()
    if deals.empty:
        # an empty snapshot would close every open deal of the scope: never by accident
        raise BadInput.single(raw.file, "no valid deal rows to import: nothing was changed")
    batch_id, counts, closed = store.apply_deals(
        principal, deals, rejected, as_of=as_of, file_name=raw.file, sha256=raw.sha256, valid_only=valid_only
    )
    result = ImportResult("deals", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                          counts.rejected, problems)
    result.notes.append(
        f"open deals as of {as_of.isoformat()}: {len(deals)} for {len(scope)} rep(s) in scope; "
        f"{closed} deal(s) open before are no longer open"
    )
    return result


def _add_problems(parser: _Parser, principal: Principal, percent_column: bool) -> None:
    """Every refusal of a deals row, as (line, column, reason) queries over table ``parsed``."""
    parser.add_problem("deal_id IS NULL", "deal_id", "'the deal id is empty'")
    parser.add_totals_problem("rep_id IS NULL AND expected_close IS NULL", "amount_text", "deal_id")
    parser.add_problem("owner_text IS NULL", "owner", "'the owner is empty'")
    parser.add_problem(
        "owner_text IS NOT NULL AND rep_id IS NULL AND coalesce(name_matches, 0) > 1", "owner",
        "'owner name ''' || owner_text || ''' matches ' || name_matches || ' reps: use the rep_id or email'",
    )
    parser.add_problem(
        "owner_text IS NOT NULL AND rep_id IS NULL AND coalesce(name_matches, 0) <= 1", "owner",
        "'unknown owner ''' || owner_text || ''': not a rep_id, email or name in the reps list (import the reps first)'",
    )
    who = {"rep": "a rep may upload only their own deals", "manager": "a manager may upload only the deals of their team"}
    parser.add_problem(
        "rep_id IS NOT NULL AND rep_id NOT IN (SELECT rep_id FROM allowed_reps)", "owner",
        f"'not a rep you may upload for: {who.get(principal.role, 'outside your scope')}'",
    )
    parser.add_problem("amount_text IS NULL", "amount", "'the amount is empty'")
    parser.add_problem("amount_problem IS NOT NULL", "amount", "amount_problem")
    parser.add_problem("amount < 0", "amount", "'a deal amount cannot be negative (' || amount_text || ')'")
    parser.add_problem("close_text IS NULL", "expected_close", "'the expected close date is empty'")
    parser.add_problem("close_problem IS NOT NULL", "expected_close", "close_problem")
    parser.add_problem(
        "probability_text IS NOT NULL AND probability_number IS NULL", "probability",
        "'''' || probability_text || ''' is not a probability: use 0-1 (0.4) or a percentage (40 %)'",
    )
    scale = "read as percent, as other values of the column are over 1" if percent_column else "use 0-1 or 0-100 %"
    parser.add_problem(
        "probability_number IS NOT NULL AND NOT (probability_given BETWEEN 0 AND 1)", "probability",
        f"'probability ''' || probability_text || ''' is out of range ({scale})'",
    )
    if percent_column:
        parser.add_problem(
            "NOT contains(probability_text, '%') AND probability_number > 0 AND probability_number < 1", "probability",
            "'''' || probability_text || ''' looks like a fraction, but other values of the column are percentages "
            "(over 1): write them all as 0-1 or all as 0-100'",
        )
    missing_column = "probability" if parser.has("probability") or not parser.has("stage") else "stage"
    parser.add_problem(
        "probability_text IS NULL AND probability IS NULL", missing_column,
        "CASE WHEN stage IS NULL THEN 'no probability: add a probability column, or a stage column with a probability "
        f"{STAGE_PROBABILITY_SETTING}' "
        "ELSE 'no probability: add a probability column or set a probability for stage ' || stage END",
    )
    parser.add_problem(
        "EXISTS (SELECT 1 FROM parsed q WHERE q.deal_id = parsed.deal_id AND q.line < parsed.line AND ("
        + " OR ".join(f"q.{c} IS DISTINCT FROM parsed.{c}" for c in ("rep_id", "amount", "expected_close", "probability",
                                                                     "stage", "name", "customer", "product", "currency"))
        + "))",
        "deal_id",
        "'deal ' || deal_id || ' is also on line ' || (SELECT min(q.line) FROM parsed q WHERE q.deal_id = parsed.deal_id) "
        "|| ' with other values'",
    )

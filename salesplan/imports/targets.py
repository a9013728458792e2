"""Import of targets."""

from __future__ import annotations

from typing import Any

import pandas as pd

from salesplan import policy
from salesplan.errors import BadInput
from salesplan.files import (
    RawTable,
)
from salesplan.imports.fields import ImportOverview, ImportResult
from salesplan.imports.parser import _collect, _currency_checks, _currency_select, _Parser, _sql_text, register_frame
from salesplan.imports.progress import ImportProgress
from salesplan.principal import SYSTEM, Principal
from salesplan.settings import Settings
from salesplan.store import Store


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
        register_frame(connection, "rep_lookup", lookup)
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
    batch_id, counts = store.apply_targets(principal, cells, file_name=raw.file, sha256=raw.sha256, reason=reason,
                                              rejected=len(bad_lines))
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

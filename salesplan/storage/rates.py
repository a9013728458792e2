"""Exchange rates (docs/currencies.md): monthly rates as versioned, undoable batches, and the
checks that no stored amount is ever left without a rate."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd

from salesplan import policy
from salesplan.currency import month_key, validate_code
from salesplan.errors import BadInput
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import BatchCounts
from salesplan.storage.batches import BatchStore

RATES_COLUMNS = ["currency", "month", "rate"]
# the refusals' advice in words that suit the pages and the command line alike (a page never names
# a command-line option); the command line adds its own on a line of its own (salesplan/cli.py)
BASE_CURRENCY_FIRST = "set the base currency first"

# The factor that turns a stored amount (alias a, currency a.currency, dated by DATE_EXPR) into
# the base currency: 1 for the base currency and unnamed amounts (also in a single-currency
# organisation, where no rates exist), else the current rate of its month (NULL: none). The one
# parameter is the base currency ('' for none).
IN_BASE = "(a.currency IS NULL OR a.currency = ? OR ? = '')"


# the deals of every upload not undone (each keeps its snapshot's date, which it converts at)
LIVE_DEALS = (
    "SELECT d.currency, d.snapshot_date, d.amount FROM deal_snapshot_deals d "
    "JOIN upload_batches b ON b.batch_id = d.batch_id AND b.reverted_at IS NULL"
)


def rate_join(date_expr: str) -> str:
    """LEFT JOIN of the current rate (alias x) of each row's currency and month."""
    return (
        "LEFT JOIN rates x ON x.currency = a.currency "
        f"AND x.month = CAST(date_trunc('month', {date_expr}) AS DATE)"
    )


class RatesStore(BatchStore):
    """Exchange rates: monthly rates as versioned, undoable batches, and the checks that no
    stored amount is ever left without a rate."""

    def rates(self, principal: Principal) -> pd.DataFrame:
        """The current rate of each (currency, month): columns currency, month (a date, the
        first of the month), rate (base units per unit), batch_id. Everyone may read them."""
        with self.cursor() as cursor:
            return cursor.execute(
                "SELECT currency, month, rate, batch_id FROM rates ORDER BY currency, month"
            ).df()

    def stored_currencies(self) -> list[str]:
        """The currencies stored actuals, targets and open deals name, sorted (not scoped: imports use it to
        refuse a second currency in a single-currency organisation)."""
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT currency FROM actuals WHERE currency IS NOT NULL "
                "UNION SELECT currency FROM targets WHERE currency IS NOT NULL "
                f"UNION SELECT currency FROM ({LIVE_DEALS}) d WHERE currency IS NOT NULL"
            ).fetchall()
        return sorted(row[0] for row in rows)

    def rate_history(self, principal: Principal, currency: str) -> pd.DataFrame:
        """Every version of ``currency``'s rates, newest batch first: month, rate, previous_rate,
        batch_id, changed_by, changed_at, reverted."""
        with self.cursor() as cursor:
            return cursor.execute(
                """
                SELECT v.month, v.rate, v.previous_rate, v.batch_id, b.uploaded_by AS changed_by,
                       b.uploaded_at AS changed_at, b.reverted_at IS NOT NULL AS reverted
                FROM rate_versions v JOIN upload_batches b USING (batch_id)
                WHERE v.currency = ? ORDER BY v.month, v.batch_id DESC
                """,
                [currency.upper()],
            ).df()

    def set_rate(self, principal: Principal, currency: str, month: str, rate: float) -> tuple[int, BatchCounts]:
        """The Admin page's rates editor: one (currency, 'YYYY-MM', rate) as its own undoable
        batch. Raises BadInput (unknown code, bad month, rate not > 0, no base currency or the
        base currency itself), NotAllowed unless admin."""
        try:
            code = validate_code(currency)
        except ValueError as error:
            raise BadInput.single("rates", str(error), column="currency") from error
        key = month_key(month)
        frame = pd.DataFrame({"currency": [code], "month": [pd.Timestamp(key + "-01")], "rate": [float(rate)]})
        return self.apply_rates(principal, frame, file_name=None, sha256=None)

    def apply_rates(
        self, principal: Principal, rates: pd.DataFrame, *, file_name: str | None, sha256: str | None,
        rejected: int = 0,
    ) -> tuple[int, BatchCounts]:
        """Store validated rates (currency, month = first day, rate) as one batch; each (currency,
        month) keeps its previous rate in rate_versions. Raises NotAllowed unless admin, BadInput
        without a base currency, for a rate of the base currency itself or a rate not a finite
        number above 0."""
        policy.require(principal, "import_rates")
        with self.cursor() as cursor:
            base = stored_base_currency(cursor)
        where = file_name or "rates"
        if not base:
            raise BadInput.single(
                where, f"{BASE_CURRENCY_FIRST}: rates are base units per unit"
            )
        if (rates["currency"] == base).any():
            raise BadInput.single(where, f"{base} is the base currency: its rate is always 1", column="currency")
        numbers = pd.to_numeric(rates["rate"], errors="coerce")
        # infinity is "above 0" too: it would turn every converted amount into infinity
        if not ((numbers > 0) & numbers.map(math.isfinite)).all():
            raise BadInput.single(where, "a rate must be a finite number above 0", column="rate")
        incoming = rates[RATES_COLUMNS].copy()

        def work(cursor: Cursor) -> tuple[int, BatchCounts]:
            cursor.stage("incoming_rates", incoming)
            cursor.temp_table(
                "staged_rates",
                """
                SELECT i.currency, CAST(i.month AS DATE) AS month, CAST(i.rate AS DOUBLE PRECISION) AS rate,
                       r.rate AS previous_rate
                FROM incoming_rates i LEFT JOIN rates r
                  ON r.currency = i.currency AND r.month = CAST(i.month AS DATE)
                """,
            )
            cursor.unstage("incoming_rates")
            inserted, updated, unchanged = cursor.execute(
                "SELECT count(*) FILTER (WHERE previous_rate IS NULL), "
                "count(*) FILTER (WHERE previous_rate IS NOT NULL AND previous_rate <> rate), "
                "count(*) FILTER (WHERE previous_rate = rate) FROM staged_rates"
            ).fetchall()[0]
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), rejected)
            batch_id = self._new_batch(
                cursor, kind="rates", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=rejected > 0,
            )
            cursor.execute(
                "INSERT INTO rate_versions SELECT ?, currency, month, rate, previous_rate FROM staged_rates", [batch_id]
            )
            cursor.execute(
                "DELETE FROM rates WHERE EXISTS (SELECT 1 FROM staged_rates s "
                "WHERE s.currency = rates.currency AND s.month = rates.month)"
            )
            cursor.execute("INSERT INTO rates SELECT currency, month, rate, ? FROM staged_rates", [batch_id])
            cursor.execute("DROP TABLE staged_rates")
            return batch_id, counts

        return self.write(principal, "import rates", f"{file_name or 'editor'}: {len(incoming)} rates", work)


def undo_rates(cursor: Cursor, batch_id: int) -> None:
    """Put each (currency, month) of a reverted rates batch back to the newest batch still
    holding it; raises BadInput (the caller's transaction rolls back) when stored amounts would
    be left without a rate."""
    cursor.temp_table("undo_rates", "SELECT DISTINCT currency, month FROM rate_versions WHERE batch_id = ?", [batch_id])
    cursor.execute(
        "DELETE FROM rates WHERE EXISTS (SELECT 1 FROM undo_rates u WHERE u.currency = rates.currency AND u.month = rates.month)"
    )
    cursor.execute(
        """
        INSERT INTO rates
        SELECT DISTINCT ON (v.currency, v.month) v.currency, v.month, v.rate, v.batch_id
        FROM rate_versions v JOIN upload_batches b USING (batch_id)
        JOIN undo_rates u ON u.currency = v.currency AND u.month = v.month
        WHERE b.reverted_at IS NULL
        ORDER BY v.currency, v.month, v.batch_id DESC
        """
    )
    cursor.execute("DROP TABLE undo_rates")
    missing = unpriced(cursor, stored_base_currency(cursor))
    if missing:
        raise BadInput.single(
            "uploads",
            f"undoing batch {batch_id} would leave stored amounts without a rate ({'; '.join(missing)}); "
            "import rates for those months first",
        )


def unpriced(cursor: Cursor, base: str, limit: int = 5) -> list[str]:
    """Up to ``limit`` descriptions ("no EUR rate for 2025-03 (12 actuals)") of stored actuals,
    targets and open deals (of uploads not undone, by their snapshot's month) in a currency other
    than the base that have no rate for their month."""
    rows = cursor.execute(
        f"""
        SELECT currency, month, what, count(*) FROM (
            SELECT a.currency, CAST(date_trunc('month', a.sale_date) AS DATE) AS month, 'actuals' AS what, x.rate
            FROM actuals a {rate_join('a.sale_date')} WHERE NOT {IN_BASE}
            UNION ALL
            SELECT a.currency, a.month, 'targets' AS what, x.rate
            FROM targets a {rate_join('a.month')} WHERE NOT {IN_BASE}
            UNION ALL
            SELECT a.currency, CAST(date_trunc('month', a.snapshot_date) AS DATE) AS month, 'deals' AS what, x.rate
            FROM ({LIVE_DEALS}) a {rate_join('a.snapshot_date')} WHERE NOT {IN_BASE}
        ) q WHERE rate IS NULL
        GROUP BY currency, month, what ORDER BY month, currency, what LIMIT {int(limit)}
        """,
        [base] * 6,
    ).fetchall()
    return [f"no {code} rate for {_month(month)} ({count} {what})" for code, month, what, count in rows]


def stored_base_currency(cursor: Cursor) -> str:
    """The base currency setting read inside a transaction ('' for none)."""
    rows = cursor.execute("SELECT value FROM settings WHERE key = 'base_currency'").fetchall()
    return rows[0][0] if rows else ""


def _month(value: date | pd.Timestamp) -> str:
    return pd.Timestamp(value).strftime("%Y-%m")


def check_currencies(
    cursor: Cursor, staged: str, date_column: str, where: str | None,
    *, known: tuple[str | None, str | None, str | None] | None = None,
) -> None:
    """Raise BadInput unless the staged rows (columns currency and ``date_column``) can be added
    to what is stored without summing across currencies: with a base currency every other
    currency needs a rate for the row's month; without one, at most one currency is named.

    ``known``: the base currency setting (None or '' for none) and the least and greatest currency
    the staged rows name (None: none), when the caller read them already in a statement of its
    own; every import and target edit pays each statement here."""
    name = where or "editor"
    if known is None:
        known = cursor.execute(
            f"SELECT (SELECT value FROM settings WHERE key = 'base_currency'), min(currency), max(currency) FROM {staged}"
        ).fetchall()[0]
    base, least, greatest = known[0] or "", known[1], known[2]
    if base:
        if least is None or least == greatest == base:
            return  # no staged row names a currency other than the base: none needs a rate
        rows = cursor.execute(
            f"SELECT DISTINCT a.currency, CAST(date_trunc('month', a.{date_column}) AS DATE) AS month "
            f"FROM {staged} a {rate_join('a.' + date_column)} WHERE NOT {IN_BASE} AND x.rate IS NULL "
            "ORDER BY month, a.currency LIMIT 5",
            [base, base],
        ).fetchall()
        if rows:
            raise BadInput.single(name, "; ".join(f"no {code} rate for {_month(month)}" for code, month in rows),
                                  column="currency")
        return
    # the least and greatest currency stored too: all of them equal (or none) is one currency at most
    stored = cursor.execute(
        "SELECT min(currency), max(currency) FROM (SELECT currency FROM actuals UNION ALL SELECT currency FROM targets) c"
    ).fetchall()[0]
    if len({code for code in (least, greatest, *stored) if code is not None}) <= 1:
        return
    named = sorted(
        row[0]
        for row in cursor.execute(
            f"SELECT currency FROM {staged} WHERE currency IS NOT NULL UNION "
            "SELECT currency FROM actuals WHERE currency IS NOT NULL UNION "
            "SELECT currency FROM targets WHERE currency IS NOT NULL"
        ).fetchall()
    )
    if len(named) > 1:
        raise BadInput.single(
            name,
            f"amounts in {' and '.join(named)} would be added up: {BASE_CURRENCY_FIRST} "
            "and import its rates",
            column="currency",
        )

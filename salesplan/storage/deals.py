"""Open deals: dated snapshots of the pipeline, one upload batch each (see docs/pipeline.md).

A snapshot covers a set of reps (the uploader's scope) as of its date. For each rep, the deals
open on a day d are those of the newest snapshot dated on or before d that covered the rep (the
newest upload wins between two of the same date); an undone upload no longer counts. Nothing is
ever updated or deleted: undo only marks the batch, so every read resolves the snapshots anew.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa

from salesplan.errors import BadInput, NotAllowed
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import BatchCounts
from salesplan.storage.ledger import LedgerStore
from salesplan.storage.rates import IN_BASE, rate_join, stored_base_currency, unpriced

DEAL_COLUMNS = [
    "line", "deal_id", "rep_id", "amount", "probability", "probability_source", "expected_close",
    "stage", "name", "customer", "product", "currency",
]
# explicit types, so that a column without any value (no stage in the file) still stages as text
_DEAL_SCHEMA = pa.schema([
    ("line", pa.int64()), ("deal_id", pa.string()), ("rep_id", pa.string()), ("amount", pa.float64()),
    ("probability", pa.float64()), ("probability_source", pa.string()), ("expected_close", pa.date32()),
    ("stage", pa.string()), ("name", pa.string()), ("customer", pa.string()), ("product", pa.string()),
    ("currency", pa.string()),
])
_REJECTED_SCHEMA = pa.schema([("line", pa.int64()), ("record", pa.string()), ("problems", pa.string())])
# the values that make a deal "changed" between two snapshots (line and source do not)
_DEAL_VALUES = ("rep_id", "amount", "probability", "expected_close", "stage", "name", "customer", "product", "currency")


class DealStore(LedgerStore):
    """Open deals: dated snapshots of the pipeline, one upload batch each."""

    def deal_scope(self, principal: Principal) -> list[str]:
        """The reps whose open deals an upload by this principal replaces: every rep for an
        admin (or the command line), a manager's team and themself, a rep's own.
        Raises NotAllowed for a leader or an account without a rep."""
        if principal.role == "leader":
            raise NotAllowed(f"{principal.email} is a leader and may only read.")
        visible = self.visible_rep_ids(principal)
        if visible is None:
            with self.cursor() as cursor:
                return sorted(row[0] for row in cursor.execute("SELECT rep_id FROM reps").fetchall())
        if not visible:
            raise NotAllowed(f"{principal.email} is linked to no rep and may not upload deals.")
        return sorted(visible)

    def apply_deals(
        self,
        principal: Principal,
        deals: pd.DataFrame,
        rejected: pd.DataFrame,
        *,
        as_of: date,
        file_name: str | None,
        sha256: str | None,
        valid_only: bool,
    ) -> tuple[int, BatchCounts, int]:
        """Record one snapshot of open deals (columns DEAL_COLUMNS) as of ``as_of``.

        The snapshot replaces, from ``as_of`` on, the open deals of every rep in the principal's
        scope (``deal_scope``). Counts compare with the deals open on ``as_of`` before it:
        inserted = newly open, updated = other values, unchanged = same values; the third
        number returned is how many deals of the scope are no longer open. ``rejected`` (line,
        record, problems) is stored with the batch. Raises NotAllowed for a leader or for a deal
        of a rep outside the scope.
        """
        scope = self.deal_scope(principal)
        outside = sorted(set(deals["rep_id"]) - set(scope))
        if outside:
            raise NotAllowed(f"{principal.email} may not upload the deals of {', '.join(outside[:5])}.")
        incoming = deals[DEAL_COLUMNS].copy()
        incoming["expected_close"] = pd.to_datetime(incoming["expected_close"]).dt.date
        staged = pa.Table.from_pandas(incoming, schema=_DEAL_SCHEMA, preserve_index=False)
        rejected_rows = pa.Table.from_pandas(rejected[["line", "record", "problems"]], schema=_REJECTED_SCHEMA,
                                             preserve_index=False)
        scope_rows = pa.table({"rep_id": pa.array(scope, type=pa.string())})

        def work(cursor: Cursor) -> tuple[int, BatchCounts, int]:
            cursor.stage("incoming_scope", scope_rows)
            cursor.temp_table("staged_scope", "SELECT rep_id FROM incoming_scope")
            cursor.unstage("incoming_scope")
            cursor.stage("incoming_deals", staged)
            cursor.temp_table(
                "staged_deals",
                "SELECT line, deal_id, rep_id, CAST(amount AS DECIMAL(18,4)) AS amount, "
                "CAST(probability AS DECIMAL(9,6)) AS probability, probability_source, expected_close, stage, name, "
                "customer, product, currency FROM incoming_deals",
            )
            cursor.unstage("incoming_deals")
            # the deals of the scope open on as_of before this upload, to count against
            cursor.temp_table("previous_deals", _OPEN_ON_SQL.format(scope="SELECT rep_id FROM staged_scope"), [as_of])
            same = " AND ".join(f"(s.{c} = p.{c} OR (s.{c} IS NULL AND p.{c} IS NULL))" for c in _DEAL_VALUES)
            # EXISTS, not a join: a deal id may be open under two reps (moved between two teams'
            # snapshots) and must still count once
            total, inserted, unchanged = cursor.execute(
                f"""
                SELECT count(*),
                       coalesce(sum(CASE WHEN NOT EXISTS (SELECT 1 FROM previous_deals p WHERE p.deal_id = s.deal_id)
                                    THEN 1 ELSE 0 END), 0),
                       coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM previous_deals p WHERE p.deal_id = s.deal_id AND {same})
                                    THEN 1 ELSE 0 END), 0)
                FROM staged_deals s
                """
            ).fetchall()[0]
            updated = int(total) - int(inserted) - int(unchanged)
            closed = int(cursor.execute(
                "SELECT count(*) FROM previous_deals p WHERE NOT EXISTS "
                "(SELECT 1 FROM staged_deals s WHERE s.deal_id = p.deal_id)"
            ).fetchall()[0][0])
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), rejected_rows.num_rows)
            batch_id = self._new_batch(
                cursor, kind="deals", file_name=file_name, sha256=sha256, principal=principal, counts=counts,
                valid_only=valid_only,
                reason=f"open deals as of {as_of.isoformat()} for {len(scope)} rep(s); {closed} no longer open",
            )
            cursor.execute(
                "INSERT INTO deal_snapshot_reps (batch_id, snapshot_date, rep_id) SELECT ?, ?, rep_id FROM staged_scope",
                [batch_id, as_of],
            )
            cursor.execute(
                f"INSERT INTO deal_snapshot_deals (batch_id, snapshot_date, {', '.join(DEAL_COLUMNS)}) "
                f"SELECT ?, ?, {', '.join(DEAL_COLUMNS)} FROM staged_deals",
                [batch_id, as_of],
            )
            if rejected_rows.num_rows:
                cursor.stage("incoming_rejected", rejected_rows)
                cursor.execute("INSERT INTO rejected_rows SELECT ?, line, record, problems FROM incoming_rejected", [batch_id])
                cursor.unstage("incoming_rejected")
            for name in ("previous_deals", "staged_deals", "staged_scope"):
                cursor.execute(f"DROP TABLE {name}")
            return batch_id, counts, closed

        return self.write(
            principal, "import deals", f"{file_name or ''}: {len(incoming)} open deals as of {as_of.isoformat()}", work
        )

    # ------------------------------------------------------------------ reads
    def deal_snapshots(self, principal: Principal) -> pd.DataFrame:
        """(snapshot_date, rep_id): every date on which a snapshot (not undone) covered a rep the
        principal may see; a covered rep without rows in ``deal_history`` had no open deals."""
        where, params = self._rep_filter(principal, "s.rep_id")
        with self.cursor() as cursor:
            return cursor.execute(
                f"SELECT DISTINCT s.snapshot_date, s.rep_id {_LIVE_FROM} WHERE {where} ORDER BY s.snapshot_date, s.rep_id",
                params,
            ).df().astype({"snapshot_date": "datetime64[ns]"})

    def deal_history(self, principal: Principal) -> pd.DataFrame:
        """The open deals of every rep the principal may see on every snapshot date covering
        them: the rows of the newest upload (not undone) of that date for that rep.

        Columns: snapshot_date, rep_id, deal_id, amount, probability, expected_close, stage, name,
        customer, product, currency, batch_id; dates datetime64, amounts float.
        """
        where, params = self._rep_filter(principal, "w.rep_id")
        with self.cursor() as cursor:
            base = stored_base_currency(cursor)
            frame = cursor.execute(
                f"""
                WITH winner AS ({_WINNER_SQL})
                SELECT w.snapshot_date, a.rep_id, a.deal_id, {_IN_BASE_AMOUNT} AS amount,
                       CAST(a.probability AS DOUBLE PRECISION) AS probability, a.expected_close, a.stage, a.name,
                       a.customer, a.product, a.currency, a.batch_id,
                       CAST(a.amount AS DOUBLE PRECISION) AS original_amount
                FROM winner w JOIN deal_snapshot_deals a ON a.batch_id = w.batch_id AND a.rep_id = w.rep_id
                {rate_join('w.snapshot_date')}
                WHERE {where}
                ORDER BY w.snapshot_date, a.rep_id, a.expected_close, a.deal_id
                """,
                [base, base, *params],
            ).df()
            _check_priced(cursor, frame, base)
        return frame.astype({"snapshot_date": "datetime64[ns]", "expected_close": "datetime64[ns]"})

    def open_deals(self, principal: Principal, as_of: date) -> pd.DataFrame:
        """The deals open on ``as_of`` of the reps the principal may see (each rep's newest
        snapshot dated on or before it), with the snapshot's date; columns as ``deal_history``."""
        where, params = self._rep_filter(principal, "a.rep_id")
        with self.cursor() as cursor:
            base = stored_base_currency(cursor)
            frame = cursor.execute(
                f"SELECT a.snapshot_date, a.rep_id, a.deal_id, {_IN_BASE_AMOUNT} AS amount, a.probability, "
                "a.expected_close, a.stage, a.name, a.customer, a.product, a.currency, a.batch_id, "
                "CAST(a.amount AS DOUBLE PRECISION) AS original_amount "
                f"FROM ({_OPEN_ON_SQL.format(scope='SELECT rep_id FROM reps')}) a {rate_join('a.snapshot_date')} "
                f"WHERE {where} ORDER BY a.rep_id, a.expected_close, a.deal_id",
                [base, base, as_of, *params]  # the select list's two come first,
            ).df()
            _check_priced(cursor, frame, base)
        frame = frame.astype({"snapshot_date": "datetime64[ns]", "expected_close": "datetime64[ns]"})
        for column in ("amount", "probability", "original_amount"):
            frame[column] = frame[column].astype(float)
        return frame


# a deal's amount in the base currency at the current rate of its snapshot's month (alias a for
# the deal, x for rate_join): converted when read, so new or undone rates re-price the pipeline
# (docs/currencies.md); NULL when the rate is missing. Parameters: IN_BASE's two.
_IN_BASE_AMOUNT = (
    f"CASE WHEN {IN_BASE} THEN CAST(a.amount AS DOUBLE PRECISION) "
    "ELSE CAST(a.amount AS DOUBLE PRECISION) * x.rate END"
)


def _check_priced(cursor: Cursor, frame: pd.DataFrame, base: str) -> None:
    """Raise BadInput naming the currency and month when a deal read has no rate (never reached
    through the imports, the settings or undo, which all refuse it)."""
    if frame["amount"].isna().any():
        raise BadInput.single("deals", "; ".join(unpriced(cursor, base)) or "stored deals without a rate")


# snapshot uploads still counting
_LIVE_FROM = (
    "FROM deal_snapshot_reps s JOIN upload_batches b ON b.batch_id = s.batch_id AND b.reverted_at IS NULL"
)
# per (rep, snapshot date) the newest upload covering the rep
_WINNER_SQL = f"SELECT s.rep_id, s.snapshot_date, max(s.batch_id) AS batch_id {_LIVE_FROM} GROUP BY s.rep_id, s.snapshot_date"
# the deals open on a date (the one parameter) of the reps selected by {scope}: each rep's newest
# snapshot dated on or before it
_OPEN_ON_SQL = f"""
    WITH winner AS ({_WINNER_SQL}),
    latest AS (
        SELECT w.rep_id, max(w.snapshot_date) AS snapshot_date FROM winner w
        WHERE w.snapshot_date <= ? AND w.rep_id IN ({{scope}}) GROUP BY w.rep_id
    )
    SELECT l.snapshot_date, d.rep_id, d.deal_id, d.amount, d.probability, d.expected_close, d.stage, d.name,
           d.customer, d.product, d.currency, d.batch_id
    FROM latest l
    JOIN winner w ON w.rep_id = l.rep_id AND w.snapshot_date = l.snapshot_date
    JOIN deal_snapshot_deals d ON d.batch_id = w.batch_id AND d.rep_id = l.rep_id
"""


"""The ledger: target cells with their versions, actual rows with theirs, and reads of both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesplan import policy
from salesplan.migrations_ledger import FILL_KEYS, VERSION_COLUMNS
from salesplan.errors import BadInput, Problem
from salesplan.principal import Principal
from salesplan.storage.backends import Cursor
from salesplan.storage.base import METRICS, BatchCounts, amount_problem, month_problem
from salesplan.storage.batches import BatchStore
from salesplan.storage.comparison import stage_status
from salesplan.storage.people_history import history_join
from salesplan.storage.rates import check_currencies
from salesplan.storage.refusals import (
    COLLISION_POSSIBLE, collision_impossible, refuse_foreign_keys, refuse_key_collisions, refuse_repeated_keys,
)
from salesplan.storage.records import ActualTotals
from salesplan.storage.workspace import WorkspaceTable


class LedgerStore(BatchStore):
    """The ledger: target cells with their versions, actual rows with theirs, and reads of both."""

    def apply_targets(
        self,
        principal: Principal,
        cells: pd.DataFrame,
        *,
        file_name: str | None,
        sha256: str | None,
        reason: str | None,
        rejected: int = 0,
    ) -> tuple[int, BatchCounts]:
        """Replace the target cells given (owner_type, owner_id, metric, month, amount, reason).

        Every cell is written as a version of this batch with its previous amount, so the
        history says who, when and why; an unchanged cell is counted as unchanged.
        Raises NotAllowed when the principal may not set a target for one of the owners, BadInput
        (nothing written) for a metric other than revenue or profit, a month that is not the first
        day of a real month, or an amount that is not a finite number from 0 to MAX_AMOUNT.
        """
        self._require_target_write(principal, cells)
        _refuse_impossible_cells(cells, file_name)
        incoming = cells[["owner_type", "owner_id", "metric", "month", "amount", "reason"]].copy()
        # the amounts' currency (docs/currencies.md); NULL: unnamed, the organisation's own
        incoming["currency"] = cells["currency"] if "currency" in cells.columns else None
        incoming["currency"] = incoming["currency"].astype(object).where(incoming["currency"].notna(), None)
        self._require_no_target_after_leaving(incoming)

        def work(cursor: Cursor) -> tuple[int, BatchCounts]:
            cursor.stage("incoming_targets", incoming)
            cursor.temp_table(
                "staged_targets",
                """
                SELECT i.owner_type, i.owner_id, i.metric, i.month::DATE AS month,
                       i.amount::DECIMAL(18,4) AS amount, i.reason, t.amount AS previous_amount,
                       CAST(i.currency AS VARCHAR) AS currency, t.currency AS previous_currency
                FROM incoming_targets i
                LEFT JOIN targets t ON t.owner_type = i.owner_type AND t.owner_id = i.owner_id
                    AND t.metric = i.metric AND t.month = i.month::DATE
                """,
            )
            cursor.unstage("incoming_targets")
            check_currencies(cursor, "staged_targets", "month", file_name)
            same = "previous_amount = amount AND previous_currency IS NOT DISTINCT FROM currency"
            inserted, updated, unchanged = cursor.execute(
                "SELECT count(*) FILTER (WHERE previous_amount IS NULL), "
                f"count(*) FILTER (WHERE previous_amount IS NOT NULL AND NOT ({same})), "
                f"count(*) FILTER (WHERE {same}) FROM staged_targets"
            ).fetchall()[0]
            counts = BatchCounts(int(inserted), int(updated), int(unchanged), rejected)
            batch_id = self._new_batch(
                cursor, kind="targets", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=rejected > 0, reason=reason,
            )
            cursor.execute(
                "INSERT INTO target_versions SELECT ?, owner_type, owner_id, metric, month, amount, "
                "previous_amount, reason, currency FROM staged_targets",
                [batch_id],
            )
            cursor.execute(
                "DELETE FROM targets t USING staged_targets s WHERE t.owner_type = s.owner_type "
                "AND t.owner_id = s.owner_id AND t.metric = s.metric AND t.month = s.month"
            )
            cursor.execute(
                "INSERT INTO targets SELECT owner_type, owner_id, metric, month, amount, ?, currency FROM staged_targets",
                [batch_id],
            )
            cursor.execute("DROP TABLE staged_targets")
            return batch_id, counts

        return self.write(principal, "set targets", f"{file_name or 'editor'}: {len(incoming)} cells; {reason or ''}", work)

    def _require_no_target_after_leaving(self, cells: pd.DataFrame) -> None:
        """Raise BadInput for a rep's target cell above 0 of a month starting after the rep's
        end_date (docs/people.md): a leaver has no targets after leaving."""
        reps = cells[cells["owner_type"] == "rep"]
        if reps.empty:
            return
        with self.cursor() as cursor:
            ends = cursor.execute("SELECT rep_id, end_date FROM reps WHERE end_date IS NOT NULL").df()
        if ends.empty:
            return
        joined = reps.merge(ends, left_on="owner_id", right_on="rep_id")
        late = joined[(pd.to_datetime(joined["month"]) > pd.to_datetime(joined["end_date"])) & (joined["amount"] > 0)]
        if len(late):
            first = late.iloc[0]
            raise BadInput.single(
                "targets", f"rep {first.owner_id} left on {pd.Timestamp(first.end_date):%Y-%m-%d}: no targets after that "
                f"({pd.Timestamp(first.month):%Y-%m})", column="month",
            )

    def _require_target_write(self, principal: Principal, cells: pd.DataFrame) -> None:
        policy.require_role(principal, "set_targets")  # no team lookup for a role that may never
        policy.require(
            principal, "set_targets",
            rep_owners=set(cells.loc[cells["owner_type"] == "rep", "owner_id"]),
            other_owners=bool((cells["owner_type"] != "rep").any()),
            team=self.visible_rep_ids(principal),
        )

    def apply_actuals(
        self,
        principal: Principal,
        rows: pd.DataFrame | pa.Table | ds.Dataset | WorkspaceTable,
        rejected: pd.DataFrame,
        *,
        file_name: str | None,
        sha256: str | None,
        valid_only: bool,
        memory_mb: int | None = None,
    ) -> tuple[int, BatchCounts]:
        """Write one batch of validated actual rows (keyed by ``row_key``) atomically.

        Keys new to the ledger are inserted, keys whose values differ are updated (the old
        version stays in actual_versions, no longer flagged current); only those two kinds are
        written, once, as a version flagged current (the ledger ``actuals`` is a view of those). Keys whose values are equal are unchanged: nothing of them is
        copied, the batch records that it holds them (one row per earlier batch whose keys it
        holds all of, else one small row per key), so that undoing an earlier batch keeps their
        value (docs/decisions.md). ``rejected`` (line, record, problems) is stored with the batch
        when the user chose valid rows only.

        ``rows`` may be a dataset (a Parquet file: a large import's rows, never whole in memory),
        scanned as it is read, or a table of the import's workspace in this store's DuckDB
        (:meth:`import_workspace`), read where it is. ``memory_mb``: the most the write may hold in this process's memory
        (an embedded DuckDB file; the import's memory setting), past which its comparison and
        insert spill to disk; None: DuckDB's own limit. Raises NotAllowed for a leader, BadInput
        (nothing written) when a row is, or would change, a sale of a rep outside the principal's
        scope (the import refuses those rows first; this holds against a race), when two rows share a
        ``row_key`` (rows in memory; a dataset's or a workspace's keys are the import's, made
        unique: a caller handing either must make them so) or a row has none, when a row's key is a current
        sale's of another order id or line (a key collision, storage/refusals.py), or when the
        write does not fit in ``memory_mb`` even spilling.
        """
        policy.require(principal, "upload_actuals")
        scope = self.visible_rep_ids(principal)
        columns = [
            "row_key", "line", "sale_date", "rep_id", "territory", "revenue", "cost", "profit",
            "order_id", "order_line", "customer", "product",
        ]
        # optional (docs/currencies.md, docs/people.md): the amounts' currency (NULL: unnamed) and
        # whether the file named the territory (else it is the rep's on the sale date); rows
        # without the flag keep the territory they come with
        # read where they are, several times: a large import's rows (a Parquet file, its workspace)
        in_place = isinstance(rows, (ds.Dataset, WorkspaceTable))
        names = list(rows.columns) if isinstance(rows, (pd.DataFrame, WorkspaceTable)) else rows.schema.names
        columns += [name for name in ("currency", "territory_from_file") if name in names]
        given = ", ".join(columns[:12])
        currency = "currency" if "currency" in names else "NULL::VARCHAR AS currency"
        from_file = "territory_from_file" if "territory_from_file" in names else "true AS territory_from_file"
        # a dataset is staged as it is (its scans read only the columns named): no copy of its rows
        incoming: Any = rows.select(columns) if isinstance(rows, pa.Table) else rows[columns] if isinstance(rows, pd.DataFrame) else rows
        row_count = rows.count_rows() if isinstance(rows, ds.Dataset) else rows.num_rows if isinstance(rows, WorkspaceTable) else len(incoming)
        rejected_frame = rejected[["line", "record", "problems"]]
        # the rep's territory on the sale date is looked up only for rows whose file did not name one
        # (the usual export names it on every row: then no row is joined with the history)
        # (a workspace's rows are asked in the write, below)
        looked_up = "territory_from_file" in names and not isinstance(rows, WorkspaceTable) and not _all_true(
            rows.to_table(columns=["territory_from_file"])["territory_from_file"] if isinstance(rows, ds.Dataset)
            else incoming["territory_from_file"]
        )

        # rows in memory (a small or usual file) are copied once into one small temporary table,
        # typed, with their status and the keys of their rep and territory, that every later
        # statement reads: a small write's cost is the fixed cost of its statements and of each
        # join in them, and a view typed and joined again in each statement cost more than the
        # copy. A dataset (a large import's rows), and on DuckDB a batch of _VIEW_ROWS rows or
        # more in memory, stays a view, scanned as it is read: nothing of an unchanged row is
        # copied, an identical re-import keeps only its rows' number per current batch (at 1M
        # rows the wide copy cost ~0.45 CPU-s more than the view's second scan of the Arrow
        # rows, and ~120 MB of memory)

        def work(cursor: Cursor) -> tuple[int, BatchCounts]:
            nonlocal looked_up
            streamed = in_place or (cursor.dialect == "duckdb" and row_count >= _VIEW_ROWS)
            cursor.stage("incoming_actuals", incoming)
            if isinstance(rows, WorkspaceTable) and "territory_from_file" in names:
                looked_up = bool(cursor.execute(  # (as _all_true: a null is not true)
                    "SELECT count(*) FILTER (WHERE territory_from_file IS NOT TRUE) > 0 FROM incoming_actuals").fetchall()[0][0])
            territory = "CASE WHEN i.territory_from_file THEN i.territory ELSE coalesce(h.territory, i.territory) END"
            # the batch's typed rows and the fingerprint of their texts (migration 81)
            typed = f"""
                SELECT x.*, {_ROW_HASH[cursor.dialect].format(t="x")} AS row_hash
                FROM (
                    SELECT row_key, line::BIGINT AS line, sale_date::DATE AS sale_date,
                           CAST(i.rep_id AS VARCHAR) AS rep_id,
                           CAST({territory if looked_up else "i.territory"} AS VARCHAR) AS territory,
                           revenue::DECIMAL(18,4) AS revenue, cost::DECIMAL(18,4) AS cost,
                           profit::DECIMAL(18,4) AS profit, CAST(order_id AS VARCHAR) AS order_id,
                           CAST(order_line AS VARCHAR) AS order_line, CAST(customer AS VARCHAR) AS customer,
                           CAST(product AS VARCHAR) AS product, CAST(i.currency AS VARCHAR) AS currency,
                           i.territory_from_file
                    FROM (SELECT {given}, {currency}, {from_file} FROM incoming_actuals) i
                    {history_join("i.rep_id", "i.sale_date::DATE") if looked_up else ""}
                ) x
            """
            # each row's status against the current ledger, by key, amounts and date (exactly; a large
            # import's new and unchanged rows are told by hashes first, storage/comparison.py) and
            # the fingerprint: the ledger's text columns are read only for the rows whose
            # fingerprint differs or is missing (status 'check', settled below)
            compared = f"""
                a.batch_id AS current_batch,
                CASE WHEN a.row_key IS NULL THEN 'new' WHEN {_NUMBERS_DIFFER} THEN 'changed'
                     WHEN s.row_hash = a.row_hash THEN 'same' ELSE 'check' END AS status
                FROM {{typed}} s LEFT JOIN (
                    SELECT row_key, batch_id, sale_date, revenue, cost, profit, row_hash
                    FROM actual_versions WHERE is_current
                ) a ON a.row_key = s.row_key
            """
            if streamed:
                cursor.execute(f"CREATE OR REPLACE TEMP VIEW typed_actuals AS {typed}")
                # the batch's typed rows, and the same (alias t) with their status (alias s)
                rows_of, with_status, status = "typed_actuals", "typed_actuals t JOIN staged_actuals s ON s.row_key = t.row_key", "s"
                # the comparison, grouped: the rows per status and current batch, and the key of
                # each row changed or to check (one group each; a large import's comparison with many
                # changed rows: one row each, storage/comparison.py); unchanged and new rows keep none
                # (at 1M rows the key and status of every row cost ~0.1 CPU-s more, their count ~0.05)
                # Each group also tells whether its rows can collide with a sale of another order
                # (refuse_key_collisions), true only for a row whose key is a current sale's: a new
                # key collides with none. The flag, as the fingerprint, is computed before the join:
                # at L the comparison spills, and every column the join carries is spilled with it
                # (the five texts and three columns of the flag carried to be looked at after the
                # join: 18 CPU-s against 10 at L). A ledger without a current version (the first
                # import) has every row new: the rows are only counted (at 1M rows ~0.19 -> ~0.01)
                if cursor.execute(f"SELECT {_ANY_CURRENT}").fetchall()[0][0]:
                    # (no row of the batch can collide: the flag is false, no LIKE per row)
                    odd = "false" if isinstance(incoming, pa.Table) and collision_impossible(incoming) else (
                        COLLISION_POSSIBLE.format(t="t"))

                    # a large import's new and unchanged rows told by 64-bit hashes on DuckDB
                    # (storage/comparison.py): its comparison by the key texts spilled most of itself.
                    # Not an uploader's with a scope: DuckDB's hash is not a secret one, and keys
                    # crafted to meet another's could make a batch hold a batch it does not
                    stage_status(cursor, rows_of, odd, row_count, compared, by_hash=in_place and scope is None)
                else:
                    cursor.temp_table(
                        "staged_actuals",
                        "SELECT CAST(NULL AS VARCHAR) AS row_key, CAST(NULL AS BIGINT) AS current_batch, "
                        "CAST('new' AS VARCHAR) AS status, false AS odd, count(*) AS n FROM typed_actuals",
                    )
                *found, odd_rows = cursor.execute(f"{_counts('n')}, bool_or(odd) FROM staged_actuals").fetchall()[0]
                # the rows' currencies, texts new to actual_keys and versions without keys: looked for below
                currencies, new_texts, unkeyed = None, True, None
                # a dataset or a workspace's table is the import's own large path, whose keys it made unique: counting
                # 10M distinct keys again would cost a hash table of them beside the write
                if not in_place:
                    refuse_repeated_keys(cursor, sum(int(value) for value in found), file_name)
            else:
                cursor.temp_table(
                    "staged_actuals",
                    "SELECT s.*, rk.key_id AS rep_key, CASE WHEN s.territory IS NULL THEN 0 ELSE tk.key_id END AS territory_key, "
                    + compared.format(typed=f"({typed})")
                    + " LEFT JOIN actual_keys rk ON rk.name = s.rep_id LEFT JOIN actual_keys tk ON tk.name = s.territory",
                )
                rows_of, with_status, status = "staged_actuals", "staged_actuals t", "t"
                # what the rest of the write needs to know, in the same statement (see _FACTS)
                *found, base, least, greatest, new_texts, repless, unkeyed, odd_rows, distinct = cursor.execute(
                    f"{_counts('1')}, {_FACTS}, bool_or(status <> 'new' AND {COLLISION_POSSIBLE.format(t='staged_actuals')}), "
                    f"{_KEYS} "
                    "FROM staged_actuals"
                ).fetchall()[0]
                refuse_repeated_keys(cursor, sum(int(value) for value in found), file_name, distinct)
                # rows in memory: told by _FACTS (a row still 'check' then counted as written: at worst
                # a statement below runs and finds nothing to do)
                currencies, unkeyed = (base, least, greatest), bool(repless) or bool(unkeyed)
            inserted, updated, unchanged, checked = (int(value) for value in found)
            if checked:
                # a version without a fingerprint (written before migration 81) or with another
                # backend's (a restored backup), or a text that changed: compared column by column
                texts, joined = (
                    ("t", "typed_actuals t JOIN actuals a ON a.row_key = t.row_key") if streamed
                    else ("staged_actuals", "actuals a")
                )
                cursor.execute(
                    f"""
                    UPDATE staged_actuals SET status = CASE WHEN {_TEXTS_DIFFER.format(t=texts)} THEN 'changed' ELSE 'same' END
                    FROM {joined}
                    WHERE staged_actuals.status = 'check' AND a.row_key = staged_actuals.row_key
                    """
                )
                inserted, updated, unchanged, _ = (
                    int(value) for value in cursor.execute(f"{_counts('n' if streamed else '1')} FROM staged_actuals").fetchall()[0]
                )
            # new rows beside others, read through the view: ``staged_actuals`` has no key of a new row.
            # Once the changed rows' versions stop being current (below), the rows to write are those
            # whose key is not current: read by an anti-join in the insert itself; the texts new to
            # actual_keys looked for among every row (a kept row's are the ledger's already, unless its version
            # has none yet: one written before migration 82 or restored from an older backup, then numbered here)
            mixed = streamed and 0 < inserted < row_count
            check_currencies(cursor, rows_of, "sale_date", file_name, known=currencies)
            if scope is not None:
                refuse_foreign_keys(cursor, rows_of, scope, file_name)
            # (after the scope's check: a direct caller with a scope is not told of another rep's sale)
            refuse_key_collisions(cursor, rows_of, file_name, bool(odd_rows))
            counts = BatchCounts(inserted, updated, unchanged, len(rejected_frame))
            batch_id = self._new_batch(
                cursor, kind="actuals", file_name=file_name, sha256=sha256, principal=principal,
                counts=counts, valid_only=valid_only,
            )
            if updated:
                # the versions a changed row replaces stop being the ledger (migration 80)
                cursor.execute(
                    "UPDATE actual_versions SET is_current = false WHERE is_current "
                    "AND row_key IN (SELECT row_key FROM staged_actuals WHERE status = 'changed')"
                )
            if inserted or updated:
                # written once: the new version is the current ledger (the view ``actuals``); a batch
                # of new rows only (the first import of a file) is written without the status
                source, only = (
                    (f"{rows_of} t", "") if inserted == row_count else (f"{rows_of} t", _NOT_CURRENT) if mixed
                    else (with_status, f" WHERE {status}.status <> 'same'")
                )
                named = f"{rows_of} t" if mixed else f"{source}{only}"
                keys = "t.rep_key, t.territory_key"  # rows in memory of known texts: staged with their keys
                if new_texts:
                    # the keys of the rows' rep and territory (migration 82): texts new to the ledger get one
                    cursor.execute(
                        f"""
                        INSERT INTO actual_keys (name, key_id)
                        SELECT n.name, (SELECT coalesce(max(key_id), 0) FROM actual_keys) + row_number() OVER (ORDER BY n.name)
                        FROM (SELECT t.rep_id AS name FROM {named} UNION SELECT t.territory FROM {named}) n
                        WHERE n.name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM actual_keys k WHERE k.name = n.name)
                        """
                    )
                    keys = "rk.key_id, CASE WHEN t.territory IS NULL THEN 0 ELSE tk.key_id END"
                    source += " LEFT JOIN actual_keys rk ON rk.name = t.rep_id LEFT JOIN actual_keys tk ON tk.name = t.territory"
                cursor.execute(
                    f"INSERT INTO actual_versions ({VERSION_COLUMNS}, is_current, row_hash, rep_key, territory_key) "
                    "SELECT ?, t.row_key, t.line, t.sale_date, t.rep_id, t.territory, t.revenue, t.cost, t.profit, "
                    "t.order_id, t.order_line, t.customer, t.product, t.currency, t.territory_from_file, true, t.row_hash, "
                    f"{keys} FROM {source}{only}",
                    [batch_id],
                )
            # versions without keys (an older salesplan wrote them, or an older backup was restored
            # before migration 82 filled them): given theirs, so the report reads them by key again
            if unkeyed is None:
                unkeyed = bool(cursor.execute(f"SELECT {_UNKEYED}").fetchall()[0][0])
            if unkeyed:
                cursor.execute(FILL_KEYS)
            if unchanged:
                self._record_holds(cursor, batch_id, streamed)
            if streamed:
                # on PostgreSQL the view would outlive its rows' table (dropped at the commit)
                cursor.execute("DROP VIEW typed_actuals")
            if len(rejected_frame):
                cursor.stage("incoming_rejected", rejected_frame)
                cursor.execute(
                    "INSERT INTO rejected_rows SELECT ?, line, record, problems FROM incoming_rejected", [batch_id]
                )
            # what was staged goes with the write: temporary tables are dropped at the commit on
            # PostgreSQL, and a DuckDB cursor (with what it staged) is closed after each write
            return batch_id, counts

        # the comparison with the ledger and the insert spill past the import's memory setting
        return self.write(principal, "import actuals", f"{file_name or ''}: {row_count} rows", work, memory_mb=memory_mb)

    @staticmethod
    def _record_holds(cursor: Cursor, batch_id: int, streamed: bool) -> None:
        """Record that ``batch_id`` holds its unchanged rows (``staged_actuals`` with status
        'same'), whose current values are the versions of the batches in ``current_batch``.

        Per such earlier batch: when this batch holds every key it wrote a version of (an
        identical re-import), one row in actual_batch_holds; else one row per key in
        actual_key_holds. ``streamed``: ``staged_actuals`` holds the unchanged rows' number per
        current batch (``n``), not their keys; those are read from ``typed_actuals``.
        """
        if streamed:
            held = {int(batch): int(rows) for batch, rows in cursor.execute(
                "SELECT current_batch, sum(n) FROM staged_actuals WHERE status = 'same' GROUP BY 1").fetchall()}
            # per batch: its versions, and those still current after the write (each held by at most one row)
            versions = {int(batch): (int(written), int(current)) for batch, written, current in cursor.execute(
                "SELECT batch_id, count(*), count(*) FILTER (WHERE is_current) FROM actual_versions "
                "WHERE batch_id IN (SELECT unnest(?::BIGINT[])) GROUP BY batch_id", [sorted(held)]).fetchall()}
            whole = sorted(batch for batch, rows in held.items() if rows == versions[batch][0])
            # held in part: every version still current (the others changed since), or only some of them
            every = sorted(batch for batch, rows in held.items() if batch not in whole and rows == versions[batch][1])
            if whole:
                cursor.execute("INSERT INTO actual_batch_holds SELECT ?, unnest(?::BIGINT[])", [batch_id, whole])
            for batches, source in ((every, "actual_versions a"), (sorted(set(held) - set(whole) - set(every)),
                                    "typed_actuals t JOIN actual_versions a ON a.row_key = t.row_key")):
                if batches:  # after the write, a key still current in an earlier batch is of a row unchanged
                    cursor.execute(f"INSERT INTO actual_key_holds SELECT ?, a.row_key, a.batch_id FROM {source} "
                                   "WHERE a.is_current AND a.batch_id IN (SELECT unnest(?::BIGINT[]))", [batch_id, batches])
            return
        cursor.execute(
            """
            INSERT INTO actual_batch_holds
            SELECT ?, g.source_batch_id
            FROM (SELECT current_batch AS source_batch_id, count(*) AS held FROM staged_actuals
                  WHERE status = 'same' GROUP BY current_batch) g
            JOIN (SELECT batch_id, count(*) AS versions FROM actual_versions
                  WHERE batch_id IN (SELECT current_batch FROM staged_actuals WHERE status = 'same')
                  GROUP BY batch_id) v ON v.batch_id = g.source_batch_id
            WHERE g.held = v.versions
            """,
            [batch_id],
        )
        # the earlier batches not held whole are those just left out of actual_batch_holds
        cursor.execute(
            "INSERT INTO actual_key_holds SELECT ?, s.row_key, s.current_batch FROM staged_actuals s "
            "WHERE s.status = 'same' AND NOT EXISTS (SELECT 1 FROM actual_batch_holds h "
            "WHERE h.batch_id = ? AND h.source_batch_id = s.current_batch)",
            [batch_id, batch_id],
        )

    # ------------------------------------------------------------------ reads for the engine
    def foreign_actual_keys(self, principal: Principal, row_keys: Sequence[str]) -> set[str]:
        """Those of ``row_keys`` whose current sale belongs to a rep outside the principal's scope
        (always empty for who sees everything). An import refuses such rows: an order id reused
        by one rep must never move another rep's sale. Raises nothing."""
        scope = self.visible_rep_ids(principal)
        if scope is None or not len(row_keys):
            return set()
        with self.cursor() as cursor:
            rows = cursor.execute(
                "SELECT row_key FROM actuals WHERE row_key IN (SELECT unnest(?::VARCHAR[])) "
                "AND rep_id NOT IN (SELECT unnest(?::VARCHAR[]))",
                [list(row_keys), sorted(scope)],
            ).fetchall()
        return {row[0] for row in rows}

    def actual_totals(self, principal: Principal) -> ActualTotals:
        """Row count and sums of the current ledger the principal may see (for checks and summaries)."""
        where, params = self._rep_filter(principal, "rep_id")
        with self.cursor() as cursor:
            count, revenue, profit = cursor.execute(
                f"SELECT count(*), coalesce(sum(revenue), 0)::DOUBLE PRECISION, coalesce(sum(profit), 0)::DOUBLE PRECISION "
                f"FROM actuals WHERE {where}",
                params,
            ).fetchall()[0]
        return {"rows": int(count), "revenue": float(revenue), "profit": float(profit)}

    def last_sale_date(self, principal: Principal) -> date | None:
        """The newest sale date in the current ledger the principal may see (None without sales),
        for the stale-data warning (salesplan.signals). Raises nothing of its own."""
        where, params = self._rep_filter(principal, "rep_id")
        with self.cursor() as cursor:
            value = cursor.execute(f"SELECT max(sale_date) FROM actuals WHERE {where}", params).fetchall()[0][0]
        # a DATE column comes back as datetime.date from both drivers
        return value

    def actuals(self, principal: Principal, *, limit: int | None = None) -> pd.DataFrame:
        where, params = self._rep_filter(principal, "rep_id")
        sql = (
            "SELECT row_key, batch_id, line, sale_date, rep_id, territory, revenue::DOUBLE PRECISION AS revenue, "
            "cost::DOUBLE PRECISION AS cost, profit::DOUBLE PRECISION AS profit, order_id, order_line, customer, product "
            f"FROM actuals WHERE {where} ORDER BY sale_date, row_key"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.cursor() as cursor:
            return cursor.execute(sql, params).df()

    def targets(self, principal: Principal) -> pd.DataFrame:
        """Current target cells the principal may see (territory targets: everyone who sees a rep of it)."""
        with self.cursor() as cursor:
            frame = cursor.execute(
                "SELECT owner_type, owner_id, metric, month, amount::DOUBLE PRECISION AS amount, batch_id "
                "FROM targets ORDER BY owner_type, owner_id, metric, month"
            ).df()
        visible = self.visible_rep_ids(principal)
        if visible is not None:
            frame = frame[(frame["owner_type"] == "rep") & frame["owner_id"].isin(visible)].reset_index(drop=True)
        return frame

    def target_history(self, principal: Principal, owner_type: str, owner_id: str) -> pd.DataFrame:
        """Every version of an owner's target cells: amount, previous amount, who, when, why."""
        if owner_type == "rep":
            self.require_rep_access(principal, owner_id)
        else:
            policy.require(principal, "read_territory_targets")
        with self.cursor() as cursor:
            return cursor.execute(
                """
                SELECT v.metric, v.month, v.amount::DOUBLE PRECISION AS amount, v.previous_amount::DOUBLE PRECISION AS previous_amount,
                       v.reason, b.uploaded_by AS changed_by, b.uploaded_at AS changed_at, b.batch_id,
                       b.reverted_at IS NOT NULL AS reverted
                FROM target_versions v JOIN upload_batches b USING (batch_id)
                WHERE v.owner_type = ? AND v.owner_id = ?
                ORDER BY v.metric, v.month, b.batch_id DESC
                """,
                [owner_type, owner_id],
            ).df()

    def _rep_filter(self, principal: Principal, column: str) -> tuple[str, list[Any]]:
        visible = self.visible_rep_ids(principal)
        if visible is None:
            return "true", []
        return f"{column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(visible)]


# rows in memory from which a DuckDB write reads them through a view instead of a typed copy
# (apply_actuals): measured at 1.08M rows, the store's side of an import took 2.6-2.9 CPU-s
# through the view against 3.1-3.2 with the copy, a re-import 1.0-1.2 against 1.2-1.6
_VIEW_ROWS = 250_000
# whether the ledger holds a current version (on PostgreSQL a look into the partial index of them)
_ANY_CURRENT = "EXISTS (SELECT 1 FROM actual_versions WHERE is_current)"
# the rows ``t`` whose key is not a current sale's (a mixed batch's rows to write, once the versions
# of its changed rows stopped being current)
_NOT_CURRENT = " WHERE NOT EXISTS (SELECT 1 FROM actual_versions a WHERE a.is_current AND a.row_key = t.row_key)"
# amounts and date: compared exactly (a large import's unchanged rows: by hashes, storage/comparison.py)
_NUMBERS_DIFFER = (
    "(s.sale_date IS DISTINCT FROM a.sale_date OR s.revenue IS DISTINCT FROM a.revenue "
    "OR s.cost IS DISTINCT FROM a.cost OR s.profit IS DISTINCT FROM a.profit)"
)
# the texts of a typed incoming row ``{t}`` against its current version ``a``, column by column
_TEXTS_DIFFER = (
    "({t}.rep_id IS DISTINCT FROM a.rep_id OR {t}.territory IS DISTINCT FROM a.territory "
    "OR {t}.customer IS DISTINCT FROM a.customer OR {t}.product IS DISTINCT FROM a.product "
    "OR {t}.currency IS DISTINCT FROM a.currency)"
)
# the number of distinct keys among the rows read (one per row unless a key repeats or is missing)
_KEYS = "count(DISTINCT row_key)"
# whether the ledger holds versions without keys (EXISTS on the partial index of such versions on
# PostgreSQL: not a scan of the ledger)
_UNKEYED = "EXISTS (SELECT 1 FROM actual_versions WHERE rep_key IS NULL OR territory_key IS NULL)"
# with ``_counts`` over a ``staged_actuals`` that holds the typed rows with their keys (rows in
# memory): the base currency setting and the least and greatest currency the rows name (the
# currency check, rates.check_currencies), whether a row written (any not found the same) names a
# rep or territory without a key in ``actual_keys`` (then they are given one; a write of known reps
# and territories, the usual one, skips that statement and the joins of its keys), whether one has
# no rep (its version gets no key), and whether the ledger holds versions without keys
_FACTS = (
    "(SELECT value FROM settings WHERE key = 'base_currency'), min(currency), max(currency), "
    "count(*) FILTER (WHERE status <> 'same' AND ((rep_id IS NOT NULL AND rep_key IS NULL) "
    "OR (territory IS NOT NULL AND territory_key IS NULL))) > 0, "
    "count(*) FILTER (WHERE status <> 'same' AND rep_id IS NULL) > 0, "
    f"{_UNKEYED}"
)

# the fingerprint of a row's texts (``actual_versions.row_hash``, migration 81), per backend: each
# backend's own 64-bit hash (DuckDB's is unsigned: one bit shifted out to fit a BIGINT). Equal
# fingerprints mean equal texts (a chance collision is ~1 in 10^18 per changed row); a different
# one only sends the row to the column-by-column comparison, so a fingerprint made by another
# backend or DuckDB version costs time, never a wrong answer
_ROW_HASH = {
    "duckdb": "CAST(hash({t}.rep_id, {t}.territory, {t}.customer, {t}.product, {t}.currency) >> 1 AS BIGINT)",
    "postgres": "hashtextextended(ROW({t}.rep_id, {t}.territory, {t}.customer, {t}.product, {t}.currency)::text, 0)",
}


def _all_true(column: Any) -> bool:
    """Whether every value of a boolean Arrow or pandas column is true (a null is not)."""
    if isinstance(column, (pa.ChunkedArray, pa.Array)):
        return column.null_count == 0 and bool(pc.all(column).as_py())
    return bool(column.notna().all() and column.astype(bool).all())


def _counts(rows: str) -> str:
    """The rows of ``staged_actuals`` per status (new, changed, same, still to check), each of its
    rows standing for ``rows`` rows (``1``, or ``n``: a group of them)."""
    return "SELECT " + ", ".join(
        f"coalesce(sum({rows}) FILTER (WHERE status = '{status}'), 0)" for status in ("new", "changed", "same", "check")
    )


def _refuse_impossible_cells(cells: pd.DataFrame, file_name: str | None) -> None:
    """Target cells the database could not hold, or that mean nothing, as BadInput (the imports and
    the editor check first; a direct caller meets this)."""
    problems: list[Problem] = []
    for number, cell in enumerate(cells[["owner_id", "metric", "month", "amount"]].itertuples(index=False), start=1):
        where = f"cell {number} ({cell.owner_id})"
        if cell.metric not in METRICS:
            problems.append(Problem(file_name or "targets", None, "metric",
                                    f"{where}: the metric must be one of {', '.join(METRICS)}, not {cell.metric!r}"))
        for column, problem in (("month", month_problem(cell.month)), ("amount", amount_problem(cell.amount, "the amount"))):
            if problem is not None:
                problems.append(Problem(file_name or "targets", None, column, f"{where}: {problem}"))
    if problems:
        raise BadInput(problems[:100])

"""Everything the engine needs, read in one place and scoped to the principal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from salesplan import policy
from salesplan.errors import BadInput
from salesplan.inputs import DAILY_ACTUALS_COLUMNS, REP_HISTORY_COLUMNS, EngineInputs
from salesplan.principal import Principal
from salesplan.storage.base import OPEN_ACTION_STATUSES
from salesplan.storage.deals import DealStore
from salesplan.storage.ledger import LedgerStore
from salesplan.storage.people import PeopleStore
from salesplan.storage.people_history import PeopleHistoryStore, history_join
from salesplan.storage.rates import IN_BASE, RatesStore, rate_join, unpriced
from salesplan.storage.settings import SettingsStore


# a territory the file did not name: the one of the rep on the sale date (docs/people.md)
_NS_PER_DAY = 86_400 * 10**9
_TERRITORY = "CASE WHEN a.territory_from_file THEN a.territory ELSE coalesce(h.territory, a.territory) END"


class EngineReads(DealStore, LedgerStore, RatesStore, PeopleStore, PeopleHistoryStore, SettingsStore):
    """Everything the engine needs, read in one place and scoped to the principal."""

    def engine_inputs(self, principal: Principal) -> EngineInputs:
        """Everything the engine needs, as frames, limited to what the principal may see.

        ``daily_actuals`` (inputs.DAILY_ACTUALS_COLUMNS): in a one-currency organisation one row
        per stored actuals line (date, rep, territory and the two amounts only; rep_id and
        territory categorical), the engine sums them; with a base currency the lines summed per
        (date, rep, territory) in the base currency inside the database, in one order on every
        backend. Either way the engine's sums are the same on every backend (inputs.py says why).

        Raises BadInput when a stored amount or target has no rate for its month.
        """
        settings = self.settings()  # read once: each read is a query of its own
        base = settings.base_currency
        with self.cursor() as cursor:
            daily = self._daily_converted(cursor, principal, base) if base else None
            where, params = self._rep_filter(principal, "rep_id")
            open_actions = cursor.execute(
                f"""
                SELECT rep_id, fy, sum(expected_impact)::DOUBLE PRECISION AS open_impact
                FROM actions WHERE status IN ({', '.join(repr(x) for x in OPEN_ACTION_STATUSES)}) AND {where}
                GROUP BY rep_id, fy
                ORDER BY rep_id, fy
                """,
                params,
            ).df()
        reps = self.reps(principal)
        for column in ("start_date", "end_date"):
            reps[column] = pd.to_datetime(reps[column])
        holidays = self.holidays(principal)
        holidays["date"] = pd.to_datetime(holidays["date"])
        targets = self._engine_targets(principal, base)
        territories = self.territories(principal)
        if not policy.may(principal, "read_all"):
            territories = territories[territories["territory"].isin(set(reps["territory"].dropna()))]
        # the open-deals snapshots (docs/pipeline.md): each rep's deals per snapshot date and the
        # reps every snapshot covered (a covered rep without deals has none open); both fields are
        # optional in EngineInputs, so they are handed over only where it has them
        pipeline = {
            name: read(principal)
            for name, read in (("deals", self.deal_history), ("deal_scopes", self.deal_snapshots))
            if name in EngineInputs.__dataclass_fields__
        }
        if daily is None:
            daily = self._daily_lines(principal)
        return EngineInputs(
            **pipeline,
            settings=settings,
            reps=reps,
            territories=territories.reset_index(drop=True),
            holidays=holidays,
            targets=targets,
            daily_actuals=daily,
            open_actions=open_actions,
            rep_history=self._engine_rep_history(principal),
        )

    def _daily_converted(self, cursor: Any, principal: Principal, base: str) -> pd.DataFrame:
        """Daily actuals summed per (date, rep, territory) in the base currency ``base``.

        Amounts stay in their own currency in the ledger and are converted here at the current
        rate of their month, so that new or undone rates re-price them (docs/currencies.md);
        base-currency amounts are summed as exact decimals, the others converted. The rows come
        in one order on every backend, so the engine's float sums of converted amounts are the
        same too."""
        where, params = self._rep_filter(principal, "a.rep_id")
        converted = "\n".join(
            f"""coalesce(sum(a.{column}) FILTER (WHERE {IN_BASE}), 0)::DOUBLE PRECISION
                + coalesce(sum(a.{column}::DOUBLE PRECISION * x.rate) FILTER (WHERE NOT {IN_BASE}), 0)
                AS {column},"""
            for column in ("revenue", "profit")
        )
        # through Arrow: half the peak memory of .df() on millions of rows
        daily = cursor.frame(
            f"""
            SELECT a.sale_date::TIMESTAMP AS date, a.rep_id, {_TERRITORY} AS territory,
                   {converted}
                   count(*) FILTER (WHERE NOT {IN_BASE} AND x.rate IS NULL) AS unpriced
            FROM actuals a {rate_join("a.sale_date")} {history_join('a.rep_id', 'a.sale_date')}
            WHERE {where}
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3 NULLS FIRST
            """,
            [base] * 10 + params,  # IN_BASE five times, two placeholders each
        )
        if daily["unpriced"].sum():
            # never reached through the imports, the settings or undo, which all refuse it
            raise BadInput.single("actuals", "; ".join(unpriced(cursor, base)) or "stored amounts without a rate")
        return daily.drop(columns="unpriced")

    def _daily_lines(self, principal: Principal) -> pd.DataFrame:
        """The actuals lines of a one-currency organisation, narrow: the day, rep and territory as
        integer codes made in the database, amounts as doubles (each the nearest double of its
        exact decimal), turned into a frame with categorical rep_id and territory here.

        Not summed per (date, rep, territory) in the database: at 10M lines that grouping costs
        several times the scan (a hash table of ~10M groups), while the engine sums the lines
        into its owners x days matrix anyway, exactly (inputs.py), so the order of the rows does
        not matter. The codes number the reps of the reps list and the territories of the
        territories list and the reps' history (every territory an import accepts); a line
        whose rep or territory is in none of them (not made by any import) sends the read
        again with codes of every distinct value of the lines."""
        where, params = self._rep_filter(principal, "a.rep_id")
        small = (
            f"SELECT rep_id FROM reps a WHERE {where}",
            f"SELECT territory FROM territories UNION SELECT a.territory FROM rep_history a WHERE {where}",
        )
        every = (
            f"SELECT DISTINCT a.rep_id FROM actuals a WHERE {where}",
            f"SELECT a.territory FROM actuals a WHERE {where} UNION SELECT a.territory FROM rep_history a WHERE {where}",
        )
        # the lines with keys of their rep and territory (migration 82) whose territory came from the
        # file (most of them) are read without a join: their keys become codes through a small table
        # here; the others (no keys: written before the migration or by an older salesplan; or the
        # territory is the rep's on the sale date) by their texts, as every line is on the second pass
        keyed = "a.rep_key IS NOT NULL AND a.territory_key IS NOT NULL AND a.territory_from_file"
        for (reps, territories), times, by_key in ((small, (1, 1), True), (every, (1, 2), False)):
            codes = f"""
                rc AS (SELECT rep_id, (row_number() OVER (ORDER BY rep_id) - 1)::INTEGER AS code FROM ({reps}) r),
                tc AS (SELECT territory, (row_number() OVER (ORDER BY territory) - 1)::INTEGER AS code
                       FROM ({territories}) t WHERE territory IS NOT NULL)"""
            code_params = params * times[0] + params * times[1]
            texts = f"({keyed}) IS NOT TRUE" if by_key else "true"  # the lines the keyed read leaves
            with self.atomic(snapshot=True) as cursor:  # every statement sees one state
                names = cursor.execute(
                    f"WITH {codes} SELECT 0 AS kind, code, rep_id AS name FROM rc "
                    f"UNION ALL SELECT 1, code, territory FROM tc ORDER BY 1, 2",
                    code_params,
                ).fetchall()
                # the lines, and how many of them are read by their texts (none, usually: that read
                # is skipped, its scan and joins cost ~0.2 CPU-s at 10M lines even when empty)
                count, by_text = cursor.execute(
                    f"SELECT count(*), count(*) FILTER (WHERE {texts}) FROM actual_versions a "
                    f"WHERE a.is_current AND {where}", params,
                ).fetchall()[0]
                lines = _Lines(count, sum(1 for kind, _, _ in names if kind == 0), len(names))
                if by_key:
                    lines.read(cursor, f"""
                        SELECT (a.sale_date - DATE '1970-01-01')::INTEGER AS day, a.rep_key AS rep,
                               a.territory_key AS territory, a.revenue::DOUBLE PRECISION AS revenue,
                               coalesce(a.profit, 0)::DOUBLE PRECISION AS profit
                        FROM actual_versions a WHERE a.is_current AND {keyed} AND {where}
                        """, params, keys=_key_tables(cursor, names, lines))
                # lines whose territory came from the file skip the history join (``actual_versions``
                # where current: the ledger ``actuals`` is a view of them without their keys)
                if by_text:
                    lines.read(cursor, f"""
                        WITH {codes},
                        b AS (SELECT a.sale_date, a.rep_id, a.territory, a.revenue, a.profit FROM actual_versions a
                              WHERE a.is_current AND a.territory_from_file AND {texts} AND {where}
                              UNION ALL
                              SELECT a.sale_date, a.rep_id, {_TERRITORY}, a.revenue, a.profit
                              FROM actuals a {history_join('a.rep_id', 'a.sale_date')}
                              WHERE a.territory_from_file IS NOT TRUE AND {where})
                        SELECT (b.sale_date - DATE '1970-01-01')::INTEGER AS day, coalesce(rc.code, -2) AS rep,
                               CASE WHEN b.territory IS NULL THEN -1 ELSE coalesce(tc.code, -2) END AS territory,
                               b.revenue::DOUBLE PRECISION AS revenue,
                               coalesce(b.profit, 0)::DOUBLE PRECISION AS profit
                        FROM b LEFT JOIN rc ON rc.rep_id = b.rep_id LEFT JOIN tc ON tc.territory = b.territory
                        """, code_params + params + params)
                lines.done()
            rep_codes, territory_codes = lines.rep, lines.territory
            if not lines.unknown:
                break
        reps_index = pd.Index([name for kind, _, name in names if kind == 0], dtype=object)
        territory_index = pd.Index([name for kind, _, name in names if kind == 1], dtype=object)
        # only the territories the lines name (the lists hold every one, also others' for a rep)
        used = lines.territories_used[1:len(territory_index) + 1]
        if not used.all():
            remap = np.append(np.cumsum(used) - 1, -1).astype(territory_codes.dtype)
            territory_codes = remap[territory_codes]
            territory_index = territory_index[used]
        # copy=False: the columns stay apart (consolidating the two float columns copies them)
        return pd.DataFrame({
            "date": lines.date,
            "rep_id": _categorical(rep_codes, reps_index),
            "territory": _categorical(territory_codes, territory_index),
            "revenue": lines.revenue,
            "profit": lines.profit,
        }, columns=DAILY_ACTUALS_COLUMNS, copy=False)

    def _engine_targets(self, principal: Principal, base: str) -> pd.DataFrame:
        """Current target cells in the base currency at their month's rate, without a rep's
        cells of months that start after the rep's end_date (docs/people.md)."""
        with self.cursor() as cursor:
            # through Arrow: ~3x faster than .df() for the 350k string-keyed rows at 10,000 reps
            frame = cursor.frame(
                f"""
                SELECT a.owner_type, a.owner_id, a.metric, a.month::TIMESTAMP AS month,
                       CASE WHEN {IN_BASE} THEN a.amount::DOUBLE PRECISION
                            ELSE a.amount::DOUBLE PRECISION * x.rate END AS amount
                FROM targets a {rate_join('a.month')}
                LEFT JOIN reps r ON a.owner_type = 'rep' AND r.rep_id = a.owner_id
                WHERE r.end_date IS NULL OR a.month <= r.end_date
                ORDER BY a.owner_type, a.owner_id, a.metric, a.month
                """,
                [base, base],
            )
        if frame["amount"].isna().any():
            with self.cursor() as cursor:
                raise BadInput.single("targets", "; ".join(unpriced(cursor, base)) or "stored targets without a rate")
        visible = self.visible_rep_ids(principal)
        if visible is not None:
            frame = frame[(frame["owner_type"] == "rep") & frame["owner_id"].isin(visible)].reset_index(drop=True)
        return frame

    def _engine_rep_history(self, principal: Principal) -> pd.DataFrame:
        """inputs.REP_HISTORY_COLUMNS of the reps the principal may see."""
        frame = self.rep_history(principal)[REP_HISTORY_COLUMNS].copy()
        frame["effective_from"] = pd.to_datetime(frame["effective_from"])
        return frame


def _key_tables(cursor: Any, names: list[tuple[int, int, str]], lines: _Lines) -> tuple[np.ndarray, np.ndarray]:
    """The read's codes of every key in ``actual_keys`` (migration 82): rep codes and territory
    codes by key, in the widths of ``lines``; -2 for a key whose text is in neither list (the
    read then starts again with every distinct text, as for a line read by its texts), -1 for
    key 0 (no territory). One more entry, -2, at the end (see _Lines.read)."""
    known = cursor.execute("SELECT key_id, name FROM actual_keys").fetchall()
    size = max((key for key, _ in known), default=0) + 2
    reps = np.full(size, -2, dtype=lines.rep.dtype)
    territories = np.full(size, -2, dtype=lines.territory.dtype)
    territories[0] = -1
    rep_code = {name: code for kind, code, name in names if kind == 0}
    territory_code = {name: code for kind, code, name in names if kind == 1}
    for key, name in known:
        reps[key] = rep_code.get(name, -2)
        territories[key] = territory_code.get(name, -2)
    return reps, territories


def _code_width(categories: int) -> type[np.signedinteger]:
    """The code width pandas keeps for that many categories (any other makes one more copy)."""
    return np.int8 if categories < 127 else np.int16 if categories < 32767 else np.int32


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """A categorical column from codes made by the read (each -1 or a position in
    ``categories``, so not checked again)."""
    dtype = pd.CategoricalDtype(categories)
    width = _code_width(len(categories))
    return pd.Categorical.from_codes(codes.astype(width, copy=False), dtype=dtype, validate=False)


class _Lines:
    """The columns of the actuals lines read, filled batch by batch into arrays of their final
    type made once: the day as datetime64[ns], the codes in the width of their categorical
    column, the amounts as doubles. On DuckDB the rows stream in batches of Arrow columns, so
    the result is never held whole in another form (Arrow's table and pandas' consolidated
    blocks were two more copies of ~300 MB at 10M lines, and fresh memory costs more than the
    copying); other backends hand over one frame, converted the same way.

    ``count``: the lines expected (the arrays grow if the read brings more); ``reps`` and
    ``codes``: how many rep codes and codes in all the read may use (the widths)."""

    _BATCH = 1 << 17  # rows per batch: the batches' own memory is reused, not fresh

    def __init__(self, count: int, reps: int, codes: int):
        self.n = 0
        self.date = np.empty(count, dtype="datetime64[ns]")
        self.rep = np.empty(count, dtype=_code_width(reps))
        self.territory = np.empty(count, dtype=_code_width(max(codes - reps, 0)))
        self.revenue = np.empty(count)
        self.profit = np.empty(count)
        # found batch by batch, while the batch is in the cache: a line coded -2 (a rep or
        # territory in none of the lists), and which territory codes (+ 1) the lines use
        self.unknown = False
        self.territories_used = np.zeros(max(codes - reps, 0) + 2, dtype=bool)

    def read(self, cursor: Any, sql: str, params: list[Any],
             keys: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Run ``sql`` (columns day, rep, territory, revenue, profit) and keep its rows. ``keys``:
        the rep and territory columns are keys (migration 82), made codes by these two tables
        (index: the key; the last entry, -2, stands for every key beyond the others)."""
        native: Any = getattr(cursor, "native", None)
        if getattr(cursor, "dialect", None) == "duckdb" and hasattr(native, "sql"):
            for batch in native.sql(sql, params=params or None).to_arrow_reader(self._BATCH):
                self._add([column.to_numpy(zero_copy_only=False) for column in batch.columns], keys)
        else:
            frame = cursor.frame(sql, params)
            self._add([frame[name].to_numpy() for name in frame.columns], keys)

    def done(self) -> None:
        """Cut the arrays to the lines read (fewer than counted: a write in between elsewhere)."""
        if self.n < len(self.date):
            for name in ("date", "rep", "territory", "revenue", "profit"):
                setattr(self, name, getattr(self, name)[:self.n])

    def _add(self, columns: list[np.ndarray], keys: tuple[np.ndarray, np.ndarray] | None) -> None:
        day, rep, territory, revenue, profit = columns
        k = len(day)
        if self.n + k > len(self.date):  # more lines than counted (a write in between elsewhere)
            for name in ("date", "rep", "territory", "revenue", "profit"):
                old = getattr(self, name)
                grown = np.empty(max(2 * len(old), self.n + k), dtype=old.dtype)
                grown[:self.n] = old[:self.n]
                setattr(self, name, grown)
        part = slice(self.n, self.n + k)
        # days since 1970 -> datetime64[ns] by arithmetic (numpy's unit casts are ~7x slower)
        ticks = self.date[part].view(np.int64)
        ticks[:] = day
        ticks *= _NS_PER_DAY
        if keys is None:
            self.rep[part] = rep
            self.territory[part] = territory
        else:
            # codes by key, straight into place; a key beyond the tables (none is expected) is
            # clipped onto their last entry, -2
            np.take(keys[0], rep, out=self.rep[part], mode="clip")
            np.take(keys[1], territory, out=self.territory[part], mode="clip")
        rep, territory = self.rep[part], self.territory[part]
        self.unknown = self.unknown or bool((rep == -2).any() or (territory == -2).any())
        if not self.unknown:
            self.territories_used[territory + 1] = True
        self.revenue[part] = revenue
        self.profit[part] = profit
        self.n += k

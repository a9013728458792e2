"""Import of actuals (closed sales)."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from salesplan import policy
from salesplan.files import (
    MB,
    RawTable,
)
from salesplan.imports.amountsql import LARGEST_AMOUNT
from salesplan.imports.cellfacts import has_empty_cell, passed_cells, with_passed
from salesplan.imports.fields import ImportOverview, ImportResult
from salesplan.imports.parser import (
    _SMALL_FILE_ROWS,
    _collect,
    _create_currency_codes,
    _currency_checks,
    _currency_select,
    _Parser,
    _rejected_records,
    _sql_text,
    register_frame,
)
from salesplan.imports.problems import _hashes_repeat, _keys_repeat
from salesplan.imports.progress import ImportProgress
from salesplan.imports.written import _OVERVIEW, _overview_of, _unread_columns
from salesplan.imports.rowsfile import _remove, _write_rows_file
from salesplan.principal import Principal
from salesplan.settings import Settings
from salesplan.store import Store
from salesplan.storage import ImportWorkspace, WorkspaceTable


# ============================================================================ actuals
def _import_actuals(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int,
    report: ImportProgress | None = None, workspace: ImportWorkspace | None = None,
) -> ImportResult:
    # ``workspace``: the store's, when it lends one (an embedded DuckDB store): then ``raw``'s
    # connection is the workspace's, and a large file's rows are left in it for the store's write
    # to read where they are (no rows file)
    policy.require(principal, "upload_actuals")
    parser = _Parser(raw, mapping, "actuals", memory_mb)
    try:
        connection = parser.connection
        comma = parser.decimal_comma(["revenue", "cost", "profit"])
        order = parser.date_order(["date"], date_format)
        # each date and amount cell is cast once (the usual ISO date, plain number); only the cells
        # that fail take the path of regular expressions
        casts, cast_of = parser.fast_casts(["date"], ["revenue", "cost", "profit"])
        date_value, date_reason = parser.date_sql("date", order, cast_of.get("date"))
        revenue_value, revenue_reason = parser.amount_sql("revenue", comma, cast_of.get("revenue"), cast_of.get("revenue__plain"))
        cost_value, cost_reason = parser.amount_sql("cost", comma, cast_of.get("cost"), cast_of.get("cost__plain"))
        profit_value, profit_reason = parser.amount_sql("profit", comma, cast_of.get("profit"), cast_of.get("profit__plain"))
        full_values = {"date": date_value, "revenue": revenue_value, "cost": cost_value, "profit": profit_value}
        # a small file's rows are first read by the usual cells' rules only (a plain YYYY-MM-DD, a
        # plain number; ``fast``): a row with any other date or amount has it NULL there, so it is
        # suspect, and takes its values from the full rules with the other suspect rows below.
        # The full rules are a few hundred expressions: planning them twice cost ~10 ms, more
        # than a small file's whole parse (a large file's rows are read once, with every rule)
        fast = raw.cells.num_rows <= _SMALL_FILE_ROWS
        fast_read = {"date": parser.date_sql("date", order, cast_of.get("date"), fast_only=True)} | {
            name: parser.amount_sql(name, comma, cast_of.get(name), cast_of.get(f"{name}__plain"), fast_only=True)
            for name in ("revenue", "cost", "profit")
        } if fast else {}
        fast_values = {name: value for name, (value, _) in fast_read.items()} if fast else full_values
        # (with a decimal comma an amount has no fast path: read in full, it names its currency)
        fast_currencies = ["revenue", "cost", "profit"] if fast and not comma else []
        lookup = store.rep_lookup()
        register_frame(connection, "rep_lookup", lookup)
        # the territories and the reps allowed are read only by the checks of a territory column
        # and of an uploader with a scope: a file without either asks the store for neither
        if parser.has("territory"):
            connection.execute("CREATE TEMP TABLE known_territories AS SELECT unnest(?::VARCHAR[]) AS territory",
                               [store.territory_names()])
        visible = store.visible_rep_ids(principal)
        if visible is not None:
            connection.execute("CREATE TEMP TABLE allowed_reps AS SELECT unnest(?::VARCHAR[]) AS rep_id", [sorted(visible)])
        # the reps the file names, each distinct text resolved once (a rep_id, else an email, in any
        # case, else a name only one rep has) with the rep's territory: the rows then take their
        # rep by one join on the text (at 1M rows, four joins of every row were ~0.4 s of CPU)
        connection.execute(
            f"""
            CREATE TEMP TABLE file_reps AS
            WITH by_id AS (SELECT lower(trim(rep_id)) AS k, any_value(rep_id) AS rep_id FROM rep_lookup GROUP BY 1),
            by_email AS (SELECT lower(trim(email)) AS k, any_value(rep_id) AS rep_id FROM rep_lookup WHERE email IS NOT NULL GROUP BY 1),
            by_name AS (SELECT name AS k, any_value(rep_id) AS rep_id, count(*) AS n FROM rep_lookup GROUP BY 1),
            named AS (
                SELECT t.rep_text, coalesce(i.rep_id, e.rep_id, CASE WHEN n.n = 1 THEN n.rep_id END) AS rep_id,
                       n.n AS name_matches
                FROM (SELECT text AS rep_text FROM {parser.distinct_texts('rep')}) t
                LEFT JOIN by_id i ON i.k = lower(t.rep_text)
                LEFT JOIN by_email e ON e.k = lower(t.rep_text)
                LEFT JOIN by_name n ON n.k = t.rep_text
            )
            SELECT f.*, r.territory AS rep_territory FROM named f LEFT JOIN rep_lookup r USING (rep_id)
            """
        )
        # parsed -> resolved -> keyed is one statement: the file's rows are parsed, resolved and keyed
        # in one pass into one table (the intermediate steps were two more copies of the file).
        # The reasons of the cells' problems are read for the suspect rows only (cell_problems):
        # the keyed statement names none (each costs a few ms to plan, even where nothing reads it)
        all_reasons = {"date": date_reason, "revenue": revenue_reason, "cost": cost_reason, "profit": profit_reason}
        no_reasons = {name: "NULL::VARCHAR" for name in all_reasons}

        def parsed_sql(
            source: str, reasons: dict[str, str], cells: dict[str, str], currencies_elsewhere: list[str], joined: bool = True,
        ) -> str:
            # (not ``joined``: every rep text is a rep_id as written, and every row gives its territory)
            reps = ("SELECT b.*, f.rep_id, f.name_matches, f.rep_territory FROM base b LEFT JOIN file_reps f ON f.rep_text = b.rep_text"
                    if joined else "SELECT b.*, b.rep_text AS rep_id, NULL::BIGINT AS name_matches, NULL::VARCHAR AS rep_territory FROM base b")
            return f"""
            WITH base AS (
                SELECT line, date AS date_text, {cells['date']} AS sale_date, {reasons['date']} AS date_problem,
                       rep AS rep_text,
                       revenue AS revenue_text, {cells['revenue']} AS revenue, {reasons['revenue']} AS revenue_problem,
                       {parser.col('cost')} AS cost_text, {cells['cost']} AS cost, {reasons['cost']} AS cost_problem,
                       {parser.col('profit')} AS profit_text, {cells['profit']} AS profit_given, {reasons['profit']} AS profit_problem,
                       {parser.col('order_id')} AS order_id, {parser.col('line')} AS order_line,
                       {parser.col('customer')} AS customer, {parser.col('product')} AS product,
                       {parser.col('territory')} AS territory_given,
                       {_currency_select(parser, ["revenue", "cost", "profit"], settings.base_currency, cast_of, currencies_elsewhere)}
                FROM (SELECT *, {casts} FROM {source})
            )
            {reps}
            """
        base_sql = f"nullif({_sql_text(settings.base_currency)}, '')"
        resolved_sql = f"""
            SELECT p.*, coalesce(p.territory_given, p.rep_territory) AS territory,
                   coalesce(p.profit_given, p.revenue - p.cost) AS profit,
                   coalesce(p.currency_text, nullif(p.revenue_currency, 'MIXED'), nullif(p.cost_currency, 'MIXED'),
                            nullif(p.profit_currency, 'MIXED'), {base_sql}) AS currency
            FROM parsed p
            """

        def cell_problems() -> None:
            # the problems of the cells, read from the wide table of the suspect rows
            parser.add_problem("date_text IS NULL", "date", "'the date is empty'")
            parser.add_problem("date_problem IS NOT NULL", "date", "date_problem")
            parser.add_problem("rep_text IS NULL", "rep", "'the rep is empty'")
            # a totals row under the data ("Total,,12345") is neither dated nor a rep's: one plain reason
            no_sale = "sale_date IS NULL AND rep_id IS NULL"
            # a row of nothing but an amount, without a label, is refused the same way
            if maybe_totals:
                parser.add_totals_problem(no_sale, "revenue_text", "date", otherwise=(
                    "date_text IS NULL AND rep_text IS NULL AND revenue_text IS NOT NULL AND order_id IS NULL "
                    "AND customer IS NULL AND product IS NULL",
                    "'this row holds only an amount (' || revenue_text || '), like a totals row, not a sale: "
                    "delete it and upload again (salesplan adds up the rows itself)'",
                ))
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
            # the checks of a column the file does not have never hold: they are not even planned
            for name in ("cost", "profit"):
                if parser.has(name):
                    parser.add_problem(f"{name}_problem IS NOT NULL", name, f"{name}_problem")
            if parser.has("cost"):  # (a profit given is an amount of its own, checked above)
                parser.add_problem(*parser.profit_too_large(comma))
            if parser.has("territory"):
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
        # natural keys (docs/files.md): (order id, line), the line being the occurrence of the order id when
        # the file has no line column; else a hash of the row's values + its occurrence. The values of a
        # row as one text: a JSON list, so that an empty cell (null) never equals an empty or shifted
        # neighbour (concat_ws would skip nulls: customer=x vs product=x), read from ``keyed``
        values = (
            "md5(to_json([sale_date::VARCHAR, rep_id, revenue::VARCHAR, cost::VARCHAR, "
            f"{'profit_given::VARCHAR' if parser.has('profit') else 'NULL::VARCHAR'}, "
            "customer, product, CASE WHEN territory_from_file THEN territory END])::VARCHAR)"
        )
        unusable = "(sale_date IS NULL OR rep_id IS NULL OR revenue IS NULL)"
        # one pass: every row parsed, resolved and given its key where the row itself tells it
        # (an explicit (order, line), or the line of an unusable row); the rows whose key is an
        # occurrence number get it below, so that a file of explicit keys never sorts.
        # ``keyed`` is narrow: the typed values the store and the key checks read, and whether the
        # row may have a problem of its cells (``suspect``, a cheap test that every row with such a
        # problem passes); the texts and reasons are worked out below for the suspect rows only
        # (the tests of a column the file does not have never hold: they are left out, each costs
        # a few ms to plan)
        suspect = [unusable, "sale_date < DATE '1900-01-01' OR sale_date > DATE '2199-12-31'"]
        suspect += ["cost IS NULL AND cost_text IS NOT NULL", f"abs(profit) > {LARGEST_AMOUNT}"] if parser.has("cost") else []
        suspect += ["profit_given IS NULL AND profit_text IS NOT NULL"] if parser.has("profit") else []
        # a large file's territories are looked up once per distinct text first: when all are known,
        # no row's can be unknown, and its rows skip the lookup (~0.03 CPU-s at 1M rows)
        if parser.has("territory") and (fast or connection.execute(
            f"SELECT count(*) FROM {parser.distinct_texts('territory')} WHERE text NOT IN (SELECT territory FROM known_territories)"
        ).fetchall()[0][0]):
            suspect.append("territory_given IS NOT NULL AND territory_given NOT IN (SELECT territory FROM known_territories)")
        if parser.has("currency"):
            _create_currency_codes(parser)
            suspect.append("currency_text IS NOT NULL AND currency_text NOT IN (SELECT code FROM currency_codes)")
        suspect += [
            f"{name}_currency = 'MIXED' OR currency <> {name}_currency"
            for name in ("revenue", "cost", "profit") if parser.has(name)
        ]
        if visible is not None:
            suspect.append("rep_id NOT IN (SELECT rep_id FROM allowed_reps)")
        # ``keyed`` also holds the columns the store is given (``profit``, ``territory_from_file``, in the
        # store's order first), so that the rows written are a projection of it, not a copy. Nothing else
        # is fetched that another column tells: the territory given is the territory when it came from the
        # file (else NULL), the profit given NULL in every row of a file without a profit column
        # (:func:`_fingerprint` and the rows' ``values`` read them so); each text fetched ~0.02 CPU-s at 1M rows
        # a row without a readable date, rep or amount is refused whatever its key: it gets one of
        # its own (a file of millions of such rows is not numbered and compared). One concat: each
        # || of a chain makes a string of its own (~0.1 s at 1M rows)
        row_key = (
            f"CASE WHEN {unusable} THEN 'x|' || line "
            "WHEN order_id IS NOT NULL AND order_line IS NOT NULL THEN concat('o|', order_id, '|', order_line) END"
        )
        keyed_columns = {
            "row_key": row_key, **{name: name for name in _WRITTEN[1:-1]},
            "territory_from_file": "territory_given IS NOT NULL",
            **({"profit_given": "profit_given"} if parser.has("profit") else {}),
            "suspect": f"coalesce({' OR '.join(f'({condition})' for condition in suspect)}, false)",
        }

        def keyed_sql_of(left_out: Iterable[str] = (), joined: bool | None = None) -> str:
            items = ", ".join(sql if sql == name else f"{sql} AS {name}" for name, sql in keyed_columns.items() if name not in left_out)
            joined = "rep_id" not in left_out if joined is None else joined  # (None: unless rep_id is passed)
            return f"""
            WITH parsed AS ({parsed_sql("src", no_reasons, fast_values, fast_currencies, joined=joined)}),
            resolved AS ({resolved_sql})
            SELECT {items}
            FROM resolved
            """
        keyed_sql = keyed_sql_of()
        # the statement is run by ``execute``: the relation API of DuckDB's Python client scans a
        # query's text for parameter markers in Python (~1 ms per kB of SQL, ~40 ms for this one),
        # and ``execute`` hands the text to DuckDB's own parser. Its regular expressions and casts
        # cost ~40 ms to plan, whatever the size of the file, so it is planned once:
        keyed_arrow: pa.Table | None = None
        numbered_later: bool | None
        # a parse larger than a share of the parser's memory stays in DuckDB (the store's workspace
        # or the parser database, held to the memory setting and spilling to disk past it): held
        # in Python beside the file's text cells it was the import's peak (at 10M rows, ~1.1 GB of
        # cells and ~1.8 GB of parse)
        spilled = raw.cells.nbytes > memory_mb * MB * _PARSE_IN_MEMORY_SHARE
        # the tables the store's write reads: in the workspace (not temporary: the store's
        # connection sees them), else the connection's own
        handed = "TABLE" if spilled and workspace is not None else "TEMP TABLE"
        # a small file's keyed rows are fetched: what is left to do is decided on those few rows
        # in Python (a suspect row, rows to number, a repeated key), and a clean file's rows
        # written are that fetch, without more statements (each costs ~1-5 ms to plan)
        small = fast and not spilled
        if small:
            connection.execute(f"CREATE TEMP TABLE keyed AS {keyed_sql}")
            keyed_arrow = connection.sql("SELECT * FROM keyed").to_arrow_table()
            suspects = pc.any(keyed_arrow["suspect"]).as_py()
            # a totals row is dated by neither rule and names no rep: a file without such a row
            # has none, and its query (a regular expression per column) is not planned
            maybe_totals = pc.any(pc.and_kleene(pc.is_null(keyed_arrow["sale_date"]), pc.is_null(keyed_arrow["rep_id"]))).as_py()
            # (the rows to number once the suspect rows have their values, else now)
            numbered_later = None if suspects else keyed_arrow["row_key"].null_count > 0
        elif spilled:
            # a large file's rows go into a table, read by short statements below; they join the
            # reps only when a rep text or a missing territory needs it (~0.9 CPU-s at 10M rows)
            if workspace is not None:
                workspace.limit_memory()  # (the parse may now grow past the setting: it spills)
            connection.execute(f"CREATE {handed} keyed AS {keyed_sql_of(joined=not _reps_as_written(parser, connection))}")
            numbered_later = None  # asked of the table once its suspect rows have their values
        else:
            # a large file's rows stay the Arrow result (the rows written are then a projection of
            # it: no copy of millions of rows), read through a view by a short query
            # the texts handed on as the file gives them are its cells, not a copy fetched from DuckDB
            passed = _passed_columns(parser, connection)
            connection.execute(f"CREATE OR REPLACE TEMP VIEW keyed_rows AS {keyed_sql_of(passed)}")
            keyed_arrow = with_passed(connection.sql("SELECT * FROM keyed_rows").to_arrow_table(), raw.cells, passed,
                                      list(keyed_columns))
            # the usual file gives every row its key; a file with rows keyed by occurrence copies
            # it into a table that the numbering below updates
            numbered_later = keyed_arrow.column("row_key").null_count > 0
            if numbered_later:
                connection.register("keyed_arrow", keyed_arrow)
                connection.execute("CREATE TEMP TABLE keyed AS SELECT * FROM keyed_arrow")
                connection.unregister("keyed_arrow")
                keyed_arrow = None
            else:
                connection.register("keyed", keyed_arrow)
        early_overview = spilled and not fast  # (see below)
        if not small:
            maybe_totals = True
            # a spilled parse's overview is read in the same scan, saving a scan of all its rows (~0.7 s
            # at 10M rows): it is that of the rows written unless a line is left out (then it is
            # read again, below) or a value changes after this: a large file's rows are read with
            # every rule at once (only keys are numbered below), but the suspect rows of a file of
            # at most _SMALL_FILE_ROWS rows (``fast``) take the full rules' values afterwards
            suspect_rows, keyed_count, *spilled_overview = connection.execute(
                f"SELECT count(*) FILTER (WHERE suspect), count(*){', ' + _OVERVIEW if early_overview else ''} FROM keyed"
            ).fetchall()[0]
            suspects = suspect_rows > 0
        # the problems of the cells are read from every column of parsed and resolved (texts, reasons), computed again
        # for the suspect rows only; a valid file has none, and then not even the wide statement is planned (~0.15 s)
        if suspects:
            parser.src_of_lines("suspect_src", "SELECT line FROM keyed WHERE suspect")
            # a small file's suspect rows are read with the full rules of the columns where one
            # of them has a cell the usual rules did not read (the others' are planned for nothing)
            full = set(all_reasons) if not small else _unread_columns(parser, keyed_arrow, comma, order)
            values_of = {name: full_values[name] if name in full else fast_values[name] for name in full_values}
            reasons_of = {name: all_reasons[name] if name in full else fast_read[name][1] for name in all_reasons}
            plain_amounts = [name for name in ("revenue", "cost", "profit") if name not in full]
            connection.execute(
                f"CREATE TEMP TABLE resolved AS WITH parsed AS ({parsed_sql('suspect_src', reasons_of, values_of, plain_amounts)}) {resolved_sql}"
            )
            connection.execute("CREATE TEMP VIEW parsed AS SELECT * FROM resolved")
            if fast_values is not full_values:
                # the suspect rows of a small file take the values of the full rules (the same as
                # the usual cells' rules wherever those read the cell), then their keys; the rows
                # numbered by occurrence are numbered again below, with those values
                connection.execute(
                    f"""
                    UPDATE keyed SET sale_date = f.sale_date, revenue = f.revenue, cost = f.cost,
                           {"profit_given = f.profit_given, " if parser.has("profit") else ""}profit = f.profit,
                           currency = f.currency, row_key = f.row_key
                    FROM (SELECT line, sale_date, revenue, cost, profit_given, profit, currency, {row_key} AS row_key
                          FROM resolved) f
                    WHERE keyed.line = f.line
                    """
                )
            cell_problems()
        if numbered_later is None:
            numbered_later = bool(connection.execute("SELECT count(*) FROM keyed WHERE row_key IS NULL").fetchall()[0][0])
        if numbered_later:
            # occurrence numbers, one sort per kind, over the rows that need them only; md5 names
            # a row without an order id for good; rows with one are compared by a fingerprint only
            # when their (order, line) key repeats (key_first below). A small file's fetched rows
            # tell which kinds it needs (the other is not planned)
            unkeyed = None if suspects or keyed_arrow is None else keyed_arrow.filter(pc.is_null(keyed_arrow["row_key"]))
            kinds = [
                """SELECT line, 'o|' || order_id || '|#' || row_number() OVER (PARTITION BY order_id ORDER BY line) AS row_key
                    FROM keyed WHERE row_key IS NULL AND order_id IS NOT NULL"""
                if unkeyed is None or unkeyed["order_id"].null_count < unkeyed.num_rows else None,
                f"""SELECT line, 'h|' || value_hash || '|' || row_number() OVER (PARTITION BY value_hash ORDER BY line) AS row_key
                    FROM (SELECT line, {values} AS value_hash FROM keyed WHERE row_key IS NULL AND order_id IS NULL)"""
                if unkeyed is None or unkeyed["order_id"].null_count > 0 else None,
            ]
            connection.execute(
                f"""
                UPDATE keyed SET row_key = numbered.row_key
                FROM ({" UNION ALL ".join(kind for kind in kinds if kind)}) numbered WHERE keyed.line = numbered.line
                """
            )
        if small and (suspects or numbered_later):
            keyed_arrow = connection.sql("SELECT * FROM keyed").to_arrow_table()  # with the values and keys of now
        # keys listed more than once: an explicit (order, line) listed twice (the same sale, or a
        # conflict), or a key made the same way as another one (order A line '#1' and the first
        # row of order A without a line are both 'o|A|#1'; order 'A|1' line 2 and order A line '1|2'
        # are both 'o|A|1|2'), so every key is looked at; a small file's in its fetched keys
        if small:
            repeats = _keys_repeat(keyed_arrow)
            candidates = "SELECT hash(row_key) AS h FROM keyed GROUP BY 1 HAVING count(*) > 1"
        else:
            repeats = _hashes_repeat(connection, keyed_count)
            candidates = "SELECT h FROM repeated_hashes"
        # a row names a currency other than the base (or the file's first) only through a currency
        # column, or an amount read by the full rules (a suspect row's, or with a decimal comma):
        # else every row's currency is the base currency or none, and no check can hold
        if parser.has("currency") or comma or suspects or not fast:
            _currency_checks(parser, store, ["revenue", "cost", "profit"], settings.base_currency,
                             "CAST(date_trunc('month', sale_date) AS DATE)", "resolved",
                             texts={"revenue": "revenue_text", "cost": "cost_text", "profit": "profit_text"},
                             whole_table="keyed", cells=suspects)
        # The repeats are found by the keys' 64-bit hashes first (numbers, not a million strings),
        # then confirmed on the keys themselves; only their rows get a fingerprint of their values
        fingerprint = _fingerprint("k", parser.has("profit"))
        if repeats:
            connection.execute(
                f"""
                CREATE TEMP TABLE key_first AS
                WITH candidates AS ({candidates}),
                repeated AS (
                    SELECT row_key, min(line) AS first_line FROM keyed
                    WHERE hash(row_key) IN (SELECT h FROM candidates)
                    GROUP BY row_key HAVING count(*) > 1
                )
                SELECT r.row_key, r.first_line, {fingerprint} AS first_hash,
                       k.order_id AS first_order, k.order_line AS first_order_line
                FROM repeated r JOIN keyed k ON k.row_key = r.row_key AND k.line = r.first_line
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
        if repeats:
            # a later row of a repeated key: another sale whose key came out the same (its order
            # or line differs from the first row's), else the same sale with other values
            other_sale = "(k.order_id IS DISTINCT FROM f.first_order OR k.order_line IS DISTINCT FROM f.first_order_line)"
            parser.add_problem(
                f"{other_sale} OR {fingerprint} <> f.first_hash",
                "order_id",
                f"CASE WHEN {other_sale} THEN {_SAME_KEY_REASON} "
                "ELSE 'order ' || k.order_id || ' line ' || k.order_line || ' is also on line ' || f.first_line || ' with other values' END",
                table="keyed k JOIN key_first f ON f.row_key = k.row_key AND k.line > f.first_line",
            )
        problems, bad_lines = _collect(parser, valid_only)
        # identical repeats of an explicit (order, line) are the same sale listed twice: keep the first
        if repeats:
            connection.execute(
                f"""
                CREATE {handed} left_out AS
                SELECT unnest(?::BIGINT[]) AS line
                UNION ALL
                SELECT k.line FROM keyed k JOIN key_first f ON f.row_key = k.row_key AND k.line > f.first_line
                """,
                [sorted(bad_lines)],
            )
            # the usual file leaves nothing out: then the rows are read as they are, without an anti-join
            leaves_out = connection.execute("SELECT count(*) FROM left_out").fetchall()[0][0] > 0
        else:
            leaves_out = bool(bad_lines)
            if leaves_out:
                connection.execute(f"CREATE {handed} left_out AS SELECT unnest(?::BIGINT[]) AS line", [sorted(bad_lines)])
        rejected = _rejected_records(parser, bad_lines)
        # the checks are done: the file's text cells are not read again (the caller keeps only the
        # header's facts), so they go before the rows written are made, not beside them (the
        # columns handed on as the cells themselves stay, as the rows written)
        parser.release_cells()
        written_sql = (
            f"SELECT {', '.join(_WRITTEN)} FROM keyed "
            f"{'WHERE line NOT IN (SELECT line FROM left_out)' if leaves_out else ''}"
        )
        rows_file: str | None = None
        try:
            if spilled and workspace is not None:
                # the rows stay where they are: the store's write reads them in the same DuckDB
                kept = f"WHERE line NOT IN (SELECT line FROM {workspace.qualified('left_out')})" if leaves_out else ""
                connection.execute(f"CREATE VIEW rows_written AS SELECT {', '.join(_WRITTEN)} FROM {workspace.qualified('keyed')} {kept}")
                rows: pa.Table | ds.Dataset | WorkspaceTable = workspace.table("rows_written")
            elif spilled:
                # a large file's rows go to a Parquet file in the parser's private spill folder, which
                # the store reads as it writes: they are never whole in Python memory, and the
                # parser's DuckDB is closed before the store's write begins
                rows_file = _write_rows_file(connection, written_sql)
                rows = ds.dataset(rows_file, format="parquet")
            elif leaves_out or keyed_arrow is None:
                rows = connection.sql(written_sql).to_arrow_table()
            else:
                rows = keyed_arrow.select(_WRITTEN)  # no copy of a large file's rows
                # the parse's other columns (the given texts, the suspect flag) go with the parser
                del keyed_arrow
            written = tuple(spilled_overview) if early_overview and not leaves_out else _overview_of(
                connection, rows, "keyed" if small else None, leaves_out)
        except BaseException:
            _remove(rows_file)
            raise
    finally:
        parser.close()
        if workspace is not None:
            workspace.end_parse()  # (its memory is the parse's: the write sets its own)
    try:
        if report is not None:
            report.stage(0.8, "Writing", int(written[0]))
        # a large file's write gets the import's memory setting: past it, it spills to disk. Only a
        # large file's: DuckDB's limit belongs to the whole files database, so the dashboard's
        # reads meanwhile share it, and a small file's write has nothing to spill
        batch_id, counts = store.apply_actuals(
            principal, rows, rejected, file_name=raw.file, sha256=raw.sha256, valid_only=valid_only,
            memory_mb=memory_mb if spilled else None,
        )
    finally:
        _remove(rows_file)
    n, first, last, revenue, profit, reps = written
    overview = ImportOverview(int(n), first, last, {"revenue": revenue, "profit": profit}, list(reps or []))
    return ImportResult("actuals", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        counts.rejected, problems, overview=overview)


def _passed_columns(parser: _Parser, connection: duckdb.DuckDBPyConnection) -> dict[str, pa.ChunkedArray]:
    """The columns of a large file's ``keyed`` taken from its cells as they are (:func:`passed_cells`),
    when every rep text is a rep_id as written (``file_reps``) and every row gives its territory:
    the rows then need no join with the reps (DuckDB's parallel join gives them in any order, and
    costs ~0.09 CPU-s at 1M rows), and its rep, territory, order id and line, customer and product
    are the cells themselves. None (``{}``) otherwise."""
    # (the cheap conditions first; the territory cells, none null or empty, are the parse's then)
    if not _reps_as_written(parser, connection):
        return {}
    fields = {name: parser.mapping[field] for name, field in _PASSED.items() if parser.has(field) and name != "territory"}
    passed = passed_cells(parser.raw.cells, fields, parser.raw.padded)
    if "rep_id" not in passed:
        return {}
    passed["territory"] = parser.raw.cells.column(f"c{parser.mapping['territory']}")
    passed["territory_from_file"] = pa.chunked_array([pa.array(np.ones(parser.raw.cells.num_rows, dtype=bool))])
    return passed


def _reps_as_written(parser: _Parser, connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether the rows of a large file need no join with the reps: every rep text is a rep_id as
    written (``file_reps``) and every row gives its territory (its cells untrimmed, none null or
    empty): the join would give each row its own rep text as rep_id and the territory given."""
    if parser.raw.padded or not parser.has("territory"):
        return False
    territory = parser.raw.cells.column(f"c{parser.mapping['territory']}")
    if territory.null_count or territory.type != pa.string():
        return False
    if connection.execute("SELECT count(*) FROM file_reps WHERE rep_id IS DISTINCT FROM rep_text").fetchall()[0][0]:
        return False
    return not has_empty_cell(territory)


# the columns of ``keyed`` that may be a field's text as the file gives it (:func:`_passed_columns`)
_PASSED = {
    "rep_id": "rep", "territory": "territory", "order_id": "order_id", "order_line": "line", "customer": "customer",
    "product": "product",
}


# the columns of ``keyed`` the store is given (LedgerStore.apply_actuals)
_WRITTEN = [
    "row_key", "line", "sale_date", "rep_id", "territory", "revenue", "cost", "profit", "order_id", "order_line",
    "customer", "product", "currency", "territory_from_file",
]


def _fingerprint(k: str, has_profit: bool) -> str:
    """SQL of the values of row ``k`` of ``keyed`` with an (order, line) key, to tell an exact
    repeat from a conflicting one: its date, rep, amounts as given (the profit column's cell, NULL
    without one), texts, territory as given (NULL unless from the file) and currency."""
    profit = f"{k}.profit_given" if has_profit else "NULL::DECIMAL(18,4)"
    return (
        f"hash({k}.sale_date, {k}.rep_id, {k}.revenue, {k}.cost, {profit}, {k}.customer, {k}.product, "
        f"CASE WHEN {k}.territory_from_file THEN {k}.territory END, {k}.currency)"
    )


# a later row ``k`` whose key is the same text as that of the first row ``f`` of another sale
_SAME_KEY_REASON = (
    "'order ' || k.order_id || coalesce(' line ' || k.order_line, ' without a line') || ' is taken for the same sale as order ' "
    "|| f.first_order || coalesce(' line ' || f.first_order_line, ' without a line') || ' on line ' || f.first_line "
    "|| CASE WHEN k.order_line IS NULL OR f.first_order_line IS NULL "
    "THEN ' (the rows of an order without a line are its lines #1, #2, ... in the file''s order)' ELSE '' END "
    "|| ': change the order id or the line of one of them'"
)


# a parse is kept in DuckDB (the workspace, or the parser database) when the file's text cells take more than this share of
# the parser's memory (the parse is ~1.6 times the cells): a file of a few hundred thousand rows
# keeps the cheaper path of one Arrow result
_PARSE_IN_MEMORY_SHARE = 0.5


def parse_may_be_kept(file_bytes: int, memory_mb: int) -> bool:
    """Whether a file of ``file_bytes`` may have its parse kept in DuckDB (its text cells, which
    take about its bytes or more, over the share above; with room to spare): its read is then held
    to the memory setting from the start, as the parser database's reads are."""
    return file_bytes * 2 > memory_mb * MB * _PARSE_IN_MEMORY_SHARE

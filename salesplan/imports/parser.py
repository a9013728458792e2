"""SQL building blocks shared by every import: the cell parser, amounts, dates, currencies and
the problems and rejected rows it collects.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from salesplan.currency import CODES, amount_currency_sql
from salesplan.errors import BadInput
from salesplan.files import (
    RawTable,
    quiet_connection,
)
from salesplan.imports.amountsql import LARGEST_AMOUNT, _amount_clean, _amount_core, _core_of, _let, _plain_number
from salesplan.imports.cellfacts import _iso_shaped, comma_free, iso_dates_only, plain_numbers_only
from salesplan.imports.fields import (  # noqa: F401  (the parser's interface, kept)
    _DATE_FORMAT_ALIASES,
    STATE_DATE_FORMAT,
    _normalise_date_format,
)
from salesplan.imports.problems import (  # noqa: F401  (the parser's interface, kept)
    _SMALL_FILE_ROWS,
    _collect,
    _rejected_records,
    _unique_names,
    register_frame,
    rejected_table,
)
from salesplan.principal import SYSTEM
from salesplan.store import Store


# ============================================================================ SQL building blocks
class _Parser:
    """A private connection (of the parser database, files.quiet_connection, or of the workspace an
    embedded store lends an actuals import, storage/workspace.py) holding the raw
    cells as the registered Arrow table ``raw_arrow`` and the view ``src``."""

    def __init__(self, raw: RawTable, mapping: dict[str, int], kind: str, memory_mb: int):
        self.raw = raw
        self.mapping = mapping
        self.kind = kind
        # the import's one private connection when the caller opened it (the reader's: no second
        # one is made), else one of its own; either way the parser closes it when done, so the
        # parsed tables (temporary, seen by this connection only) are let go before the store writes
        self.connection = quiet_connection(memory_mb) if raw.connection is None else raw.connection
        # ``line`` is the record's line in the file; a field of the same name (the order line of
        # actuals) lives in its own column so that the two never shadow each other
        # cells are trimmed unless the reader saw that none starts or ends with a space
        self._trimmed = "nullif(trim(c{}), '')" if raw.padded else "nullif(c{}, '')"
        select = ["line"] + [
            f"{self._trimmed.format(position)} AS {_src_column(name)}" for name, position in mapping.items()
        ]
        # the first cell of the record that reads like the label of a totals row ("Total", "Grand total", "Sum",
        # "Summe", ...), looked for in the first columns and the mapped ones (a sheet may be thousands of columns wide)
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
        self._src_select = ", ".join(select)
        self.connection.execute(f"CREATE TEMP VIEW src AS SELECT {self._src_select} FROM raw_arrow")
        self.problem_queries: list[str] = []
        # problems that explain their whole line: the line's other problems are left out
        self.line_problem_queries: list[str] = []
        self._line_problems: str | None = None  # the query the temp table line_problems holds
        # the temp table of every problem once :func:`_collect` made one (None: none made)
        self.problems_table: str | None = None
        self.currency_codes_made = False  # (see _create_currency_codes)
        self._shapes: dict[tuple[str, str], bool] = {}  # (see known_shape)

    def release_cells(self) -> None:
        """Let go of the file's text cells once no check reads them again (``raw_arrow`` and the
        views over it are unusable after this): the rows written are made without them beside,
        except the columns a large file hands on as its cells (``_passed_columns`` in actuals.py),
        which the rows written keep (in place of a fetched copy of the same texts)."""
        self.connection.unregister("raw_arrow")
        self.raw.cells = self.raw.cells.slice(0, 0)
        self._cells = self.raw.cells

    def close(self) -> None:
        self.connection.close()
        if self.raw.connection is self.connection:
            self.raw.connection = None

    def distinct_texts(self, field_name: str) -> str:
        """SQL of the distinct texts of a mapped field (``text``, no NULL) as ``src`` reads them; a large file's distinct
        raw cells are found in Arrow (1M cells ~0.015 CPU-s; DISTINCT over ``src`` ~0.04), then trimmed (two may trim alike)."""
        if self.raw.cells.num_rows <= _SMALL_FILE_ROWS:  # (registering costs more than a few rows' DISTINCT)
            return f"(SELECT DISTINCT {self.col(field_name)} AS text FROM src WHERE {self.col(field_name)} IS NOT NULL)"
        position = self.mapping[field_name]
        cells = f"c{position}"
        self.connection.register(f"distinct_{cells}", pa.table({cells: pc.unique(self._cells[cells])}))
        trimmed = self._trimmed.format(position)
        return f"(SELECT DISTINCT {trimmed} AS text FROM distinct_{cells} WHERE {trimmed} IS NOT NULL)"

    def src_of_lines(self, name: str, lines: str) -> None:
        """Create the temp table ``name``: the rows of ``src`` whose line is in the query ``lines``.
        The raw records are picked before any cell is trimmed: the few lines with a problem are
        read again in full without trimming every cell of the file a second time."""
        self.connection.execute(
            f"CREATE TEMP TABLE {name} AS SELECT {self._src_select} FROM raw_arrow WHERE line IN ({lines})"
        )

    def known_shape(self, field_name: str, shape: str) -> bool:
        """Whether every cell of a mapped field is known by its bytes to be of ``shape``: "iso" shaped like
        YYYY-MM-DD (:func:`iso_dates_only`), "plain" a plain number (:func:`plain_numbers_only`); asked once
        per field. Never known of a file whose cells may be padded (``src`` trims them)."""
        if (field_name, shape) not in self._shapes:
            test = iso_dates_only if shape == "iso" else plain_numbers_only
            self._shapes[field_name, shape] = not self.raw.padded and test(self.raw.cells.column(f"c{self.mapping[field_name]}"))
        return self._shapes[field_name, shape]

    def header_name(self, field_name: str) -> str:
        return self.raw.header[self.mapping[field_name]] if field_name in self.mapping else field_name

    def profit_too_large(self, decimal_comma: bool) -> tuple[str, str, str]:
        """(condition, field, reason) of :meth:`add_problem` for a row without a profit cell whose
        profit, worked out as revenue minus cost, is larger than the ledger can hold: a problem of
        its cost cell, naming both columns as the file does and the difference as it writes numbers
        (a profit cell that cannot be read is that cell's problem alone)."""
        difference, largest = "(revenue - cost)", LARGEST_AMOUNT.replace(".", "," if decimal_comma else ".")
        shown = f"replace({difference}::VARCHAR, '.', ',')" if decimal_comma else f"{difference}::VARCHAR"
        said = f"{self.header_name('revenue')} minus {self.header_name('cost')} ("
        return (f"profit_text IS NULL AND abs{difference} > {LARGEST_AMOUNT}", "cost",
                f"{_sql_text(said)} || {shown} || ') is too large for a profit: at most {largest} either way'")

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
        """SQL of every problem (line, column_name, reason), or None when there are no checks.
        The problems that explain their whole line are worked out once, into the temp table
        ``line_problems`` (read twice by the union, their query was planned twice)."""
        if not self.problem_queries and not self.line_problem_queries:
            return None
        if not self.line_problem_queries:
            return " UNION ALL ".join(self.problem_queries)
        whole = " UNION ALL ".join(self.line_problem_queries)
        if self._line_problems != whole:
            self.connection.execute(f"CREATE OR REPLACE TEMP TABLE line_problems AS {whole}")
            self._line_problems = whole
        if not self.problem_queries:
            return "SELECT line, column_name, reason FROM line_problems"
        cell = " UNION ALL ".join(self.problem_queries)
        return (
            "SELECT line, column_name, reason FROM line_problems UNION ALL "
            f"SELECT * FROM ({cell}) WHERE line NOT IN (SELECT line FROM line_problems)"
        )

    def add_totals_problem(
        self, not_a_record: str, amount_text: str, field_name: str, table: str = "parsed",
        otherwise: tuple[str, str] | None = None,
    ) -> None:
        """Refuse a totals row with one plain reason instead of "'Total' is not a date; the rep is
        empty": a row that is ``not_a_record`` (its key cells are missing or unreadable) and holds
        a totals label such as "Total" or "Grand total" in any column. ``otherwise`` (condition,
        reason): a whole-line problem of the other rows that are ``not_a_record`` (no label),
        found by the same query (each query of the labels plans a regular expression per column)."""
        label = _TOTALS_COLUMN
        reason = (
            f"'this is a totals row (''' || {label} || ''', ' || coalesce('amount ' || {amount_text}, 'no amount') "
            "|| '), not a sale: delete it and upload again (salesplan adds up the rows itself)'"
        )
        condition = f"{label} IS NOT NULL"
        if otherwise is not None:
            condition = f"{condition} OR ({otherwise[0]})"
            reason = f"CASE WHEN {label} IS NOT NULL THEN {reason} ELSE {otherwise[1]} END"
        self.add_problem(condition, field_name, reason, self.totals_rows(table, not_a_record), whole_line=True)

    def totals_rows(self, table: str, not_a_record: str) -> str:
        """The rows of ``table`` that are ``not_a_record``, with their totals label (or NULL)."""
        # the label reads both sides (``t.line``), so the optimizer cannot push a filter on it
        # down into the scan of every raw record: it is computed for the few joined rows only
        return (
            f"(SELECT t.*, CASE WHEN t.line = r.line THEN {self.totals_label} END AS {_TOTALS_COLUMN} "
            f"FROM (SELECT * FROM {table} WHERE {not_a_record}) t JOIN raw_arrow r ON r.line = t.line) totals"
        )

    # ------------------------------------------------------------------ amounts
    def decimal_comma(self, fields: Iterable[str]) -> bool:
        """Whether the file writes amounts with a decimal comma (1.234,56), decided over all its
        amount cells: only when some cell can only be read that way and none only the other way.
        A separator the user stated (``RawTable.decimal``) decides instead."""
        if self.raw.decimal is not None:
            return self.raw.decimal == "comma"
        present = [f for f in fields if self.has(f)]
        if not present:
            return False
        # on the raw cells (trimming adds no comma), up to the first: their bytes first (the usual file has none;
        # a column known to be plain numbers has none: the usual file's bytes are not looked at twice),
        # then a small file's in Arrow (planning a query costs more), a large one's in DuckDB
        unknown = [f for f in present if not self.known_shape(f, "plain")]
        if not unknown or comma_free([self._cells[f"c{self.mapping[f]}"] for f in unknown]):
            return False
        commas = " OR ".join(f"contains(c{self.mapping[f]}, ',')" for f in present)
        any_comma = any(pc.any(pc.match_substring(self._cells[f"c{self.mapping[f]}"], ",")).as_py() for f in present) \
            if self.raw.cells.num_rows <= _SMALL_FILE_ROWS else \
            self.connection.execute(f"SELECT count(*) FROM (SELECT 1 FROM raw_arrow WHERE {commas} LIMIT 1)").fetchall()[0][0]
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

    def fast_casts(self, dates: Iterable[str], amounts: Iterable[str]) -> tuple[str, dict[str, str]]:
        """(select items, field -> column) of the one cast of each mapped date and amount cell,
        for a projection between ``src`` and the expressions of :meth:`date_sql` and
        :meth:`amount_sql` (given ``cast=``): each cell is cast once, whatever reads it."""
        items, columns = [], {}
        for names, type_name in ((dates, "DATE"), (amounts, "DECIMAL(18,4)")):
            for name in names:
                if self.has(name):
                    columns[name] = f'"{name}__cast"'
                    items.append(f"try_cast({self.col(name)} AS {type_name}) AS {columns[name]}")
                    if type_name != "DATE":
                        # whether the amount is a plain number, tested once: the amount's value
                        # and the currency it names both ask (``f"{name}__plain"`` in the dict)
                        columns[f"{name}__plain"] = f'"{name}__plain"'
                        known = f"({self.col(name)} IS NOT NULL)" if self.known_shape(name, "plain") else None
                        items.append(f"{known or _plain_number(self.col(name))} AS {columns[f'{name}__plain']}")
        return ", ".join(items), columns

    def amount_sql(
        self, field_name: str, decimal_comma: bool, cast: str | None = None, plain: str | None = None,
        *, fast_only: bool = False,
    ) -> tuple[str, str]:
        """(value expression, problem-reason expression or NULL) for one amount column of ``src``.

        ``cast`` names a column of the same row holding ``try_cast(text AS DECIMAL(18,4))``
        (see :meth:`fast_casts`): the usual plain number is then read by that one cast, and only
        the other cells take the path of regular expressions. ``plain`` names the column of the
        same row telling whether the text is a plain number (:meth:`fast_casts`).
        ``fast_only``: the value of a plain number only, NULL for any other text (and no reason),
        for a caller that reads such cells again with the full rules; with a decimal comma there
        is no fast path and the full value is given."""
        if not self.has(field_name):
            # a column the file does not have is empty on every row: nothing to plan
            return "NULL::DECIMAL(18,4)", "NULL::VARCHAR"
        text = self.col(field_name)
        pattern, other = (_COMMA_NUMBER, _DOT_NUMBER) if decimal_comma else (_DOT_NUMBER, _COMMA_NUMBER)
        # the cleaned text (sp_clean) and its number (sp_core) are each worked out once (_let)
        number = "replace(replace(sp_core, '.', ''), ',', '.')" if decimal_comma else "replace(sp_core, ',', '')"
        negative = "(regexp_full_match(sp_clean, '\\(.*\\)') OR regexp_full_match(sp_clean, '.*-'))"
        read = _let(_amount_clean(text), "sp_clean", _let(_core_of("sp_clean"), "sp_core", (
            f"CASE WHEN regexp_full_match(sp_core, '{pattern}') THEN "
            f"try_cast({number} AS DECIMAL(18,4)) * CASE WHEN {negative} THEN -1 ELSE 1 END END"
        )))
        cast_value = cast or f"try_cast({text} AS DECIMAL(18,4))"
        fast = f"{cast_value} IS NOT NULL AND {plain or _plain_number(text)}"
        if fast_only and not decimal_comma:
            return f"CASE WHEN {fast} THEN {cast_value} END", "NULL::VARCHAR"
        value = read if decimal_comma else f"CASE WHEN {fast} THEN {cast_value} ELSE {read} END"
        shown = f"'''' || {text} || ''''"
        style = "a decimal comma" if decimal_comma else "a decimal point"
        not_read = _let(_core_of("sp_clean"), "sp_core", (
            f"CASE WHEN NOT regexp_full_match(sp_core, '{pattern}') AND regexp_full_match(sp_core, '{other}') "
            f"THEN {shown} || ' is written differently from the other amounts of the file, which use {style}' "
            f"WHEN NOT regexp_full_match(sp_core, '{pattern}') THEN {shown} || ' is not a number' "
            f"WHEN try_cast({number} AS DECIMAL(18,4)) IS NULL THEN {shown} || ' is too large' END"
        ))
        checked = _let(_amount_clean(text), "sp_clean", (
            f"CASE WHEN regexp_matches(sp_clean, '[A-Za-z]') THEN {shown} || ' has letters in it: amounts must be numbers' "
            f"ELSE {not_read} END"
        ))
        fast_reason = "" if decimal_comma else f"WHEN {fast} THEN NULL "
        reason = f"CASE WHEN {text} IS NULL THEN NULL {fast_reason}ELSE {checked} END"
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
        if not present or not self._any_year_last(present):
            return "DMY"
        # a date tells its order only when one part can be a month and the other cannot
        # (99/99/2025 tells nothing: it is no date at all)
        day_first = "p.p1::INT > 12 AND p.p2::INT BETWEEN 1 AND 12"
        month_first = "p.p2::INT > 12 AND p.p1::INT BETWEEN 1 AND 12"
        parts = " UNION ALL ".join(
            f"SELECT line, {_sql_text(self.header_name(f))} AS column_name, {self.col(f)} AS text, "
            f"regexp_extract({self.col(f)}, '{_YEAR_LAST}', ['p1', 'p2']) AS p FROM src "
            # an ISO date (10 characters, '-' 5th and 8th) cannot have the year last: the usual
            # cell skips the regular expression (a CASE, so the optimizer keeps that order)
            f"WHERE CASE WHEN {_iso_shaped(self.col(f))} THEN false ELSE regexp_full_match({self.col(f)}, '{_YEAR_LAST}') END"
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

    def _any_year_last(self, fields: list[str]) -> bool:
        """Whether a cell of ``fields`` may be a date with the year last (False: none is, and
        :meth:`date_order` has nothing to decide). Cells of nothing but the shape of YYYY-MM-DD are
        known by their bytes (:func:`iso_dates_only`); else a small file's are looked at in Arrow,
        where planning the query costs more than the look (both use RE2, trimming spaces as ``src``
        does), and a large file is always asked in DuckDB."""
        if all(self.known_shape(name, "iso") for name in fields):
            return False
        if self.raw.cells.num_rows > _SMALL_FILE_ROWS:
            return True
        for name in fields:
            cells = self.raw.cells.column(f"c{self.mapping[name]}")
            if self.raw.padded:
                cells = pc.utf8_trim(cells, characters=" ")
            if pc.any(pc.match_substring_regex(cells, _YEAR_LAST)).as_py():
                return True
        return False

    def date_sql(
        self, field_name: str, order: str, cast: str | None = None, *, fast_only: bool = False
    ) -> tuple[str, str]:
        """(DATE expression, problem-reason expression) for one date column of ``src``.

        ``cast`` names a column of the same row holding ``try_cast(text AS DATE)`` (see
        :meth:`fast_casts`): an ISO date is then read by that one cast. ``fast_only``: the date
        of a plain YYYY-MM-DD only, NULL for any other text (and its reason only for such a date),
        for a caller that reads other cells again with the full rules; a stated pattern
        (``%d.%m.%Y``) has no fast path and gives the full value."""
        if not self.has(field_name):
            # a column the file does not have is empty on every row: nothing to plan
            return "NULL::DATE", "NULL::VARCHAR"
        text = self.col(field_name)
        if order.startswith("%"):
            value = f"try_strptime({text}, '{order}')::DATE"
            not_read = (
                f"CASE WHEN {text} IS NOT NULL AND sp_date IS NULL THEN '''' || {text} || ''' is not a date in the format {order}' END"
            )
            return value, _let(value, "sp_date", _date_range_check("sp_date", not_read))
        # the usual export writes YYYY-MM-DD: a cast, before any regular expression
        date_cast = cast or f"try_cast({text} AS DATE)"
        shaped = f"{text} IS NOT NULL" if self.known_shape(field_name, "iso") else _iso_shaped(text)
        iso_plain = f"({date_cast} IS NOT NULL AND {shaped})"
        if fast_only:  # (the reason: that of a date the cast reads, out of range only)
            return f"CASE WHEN {iso_plain} THEN {date_cast} END", f"CASE WHEN {iso_plain} THEN {_date_range(date_cast)} END"
        read = _date_read(text, order)
        value = f"CASE WHEN {iso_plain} THEN {date_cast} ELSE {read} END"
        not_read = (
            f"CASE WHEN sp_read.d IS NULL AND sp_read.shaped THEN '''' || {text} || ''' is not a real date' "
            f"WHEN sp_read.d IS NULL THEN '''' || {text} || ''' is not a date (use YYYY-MM-DD)' END"
        )
        # a date the cast reads can be out of range only; any other is read once (sp_read), then checked
        checked = _let(_date_read(text, order, shaped=True), "sp_read", _date_range_check("sp_read.d", not_read))
        reason = f"CASE WHEN {text} IS NULL THEN NULL WHEN {iso_plain} THEN {_date_range(date_cast)} ELSE {checked} END"
        return value, reason


def _date_read(text: str, order: str, shaped: bool = False) -> str:
    """SQL of the DATE a text reads as when it is not a plain YYYY-MM-DD (NULL: none), ``order``
    being 'DMY', 'MDY' or 'YMD': an ISO date (other separators, a time), else a date with the year
    last, else one with a named month (the first of _NAMED_MONTH_FORMATS that reads it). A text of
    one of the first two shapes that is no real date reads as NULL, whatever the later rules say.
    ``shaped``: a struct instead, of the DATE (d) and whether the text has one of those shapes."""

    def out(date: str, shape: bool) -> str:
        return f"struct_pack(d := {date}, shaped := {str(shape).lower()})" if shaped else date

    named = out(f"try_strptime({text}, [{', '.join(_sql_text(pattern) for pattern in _NAMED_MONTH_FORMATS)}])::DATE", False)
    if order == "YMD":
        year_last = f"CASE WHEN regexp_full_match({text}, '{_YEAR_LAST}') THEN {out('NULL::DATE', True)} ELSE {named} END"
    else:
        day, month = ("p1", "p2") if order == "DMY" else ("p2", "p1")
        # a match has a year of 2 or 4 digits, no match an empty one
        year_last = _let(f"regexp_extract({text}, '{_YEAR_LAST}', ['p1', 'p2', 'y'])", "sp_ylast", (
            "CASE WHEN sp_ylast.y <> '' THEN " + out(
                "try_strptime(printf('%04d-%02d-%02d', "
                "CASE WHEN length(sp_ylast.y) = 2 THEN 2000 + sp_ylast.y::INT ELSE sp_ylast.y::INT END, "
                f"sp_ylast.{month}::INT, sp_ylast.{day}::INT), '%Y-%m-%d')::DATE", True
            ) + f" ELSE {named} END"
        ))
    return _let(f"regexp_extract({text}, '{_ISO}', ['y', 'm', 'd'])", "sp_iso", (
        "CASE WHEN sp_iso.y <> '' THEN " + out(
            "try_strptime(printf('%04d-%02d-%02d', sp_iso.y::INT, sp_iso.m::INT, sp_iso.d::INT), '%Y-%m-%d')::DATE", True
        ) + f" ELSE {year_last} END"
    ))


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
_NAMED_MONTH_FORMATS = ("%d-%b-%y", "%d %b %y", "%d %b %Y", "%d-%b-%Y", "%d %B %Y", "%b %d %Y", "%b %d, %Y", "%B %d, %Y", "%B %d %Y")  # %y first: %Y reads "25" as the year 25; %y never matches four digits
def _date_range_check(value: str, reason: str) -> str:
    return f"coalesce({reason}, {_date_range(value)})"


def _date_range(value: str) -> str:
    """SQL of the problem of a DATE ``value`` outside 1900-01-01..2199-12-31 (NULL: none)."""
    return (
        f"CASE WHEN {value} < DATE '1900-01-01' OR {value} > DATE '2199-12-31' "
        f"THEN 'date ' || {value}::VARCHAR || ' is out of range' END"
    )


def _currency_select(
    parser: _Parser, amount_fields: Iterable[str], base: str, plain: dict[str, str] | None = None,
    fast_only: Iterable[str] = (),
) -> str:
    """Select-list items (for table ``src``) of the currency column and of the currency each
    amount's text names (docs/currencies.md). ``plain`` (from :meth:`_Parser.fast_casts`) names
    the columns telling whether an amount is a plain number. The amounts of ``fast_only`` name
    none here: only a text other than a plain number could, and the caller reads those again
    with the full rules (:meth:`_Parser.amount_sql` with ``fast_only``)."""
    plain = plain or {}
    fast = set(fast_only)
    items = [f"upper({parser.col('currency')}) AS currency_text"]
    # a plain number (the usual export) names no currency: only other texts pay for the search
    # of every currency code at their start and end; a column the file lacks names none
    items += [
        f"CASE WHEN {plain.get(f + '__plain') or _plain_number(parser.col(f))} THEN NULL "
        f"ELSE {amount_currency_sql(parser.col(f), base)} END AS {f}_currency"
        if parser.has(f) and f not in fast else f"NULL::VARCHAR AS {f}_currency"
        for f in amount_fields
    ]
    return ", ".join(items)


def _currency_checks(
    parser: _Parser, store: Store, amount_fields: list[str], base: str, month: str, table: str,
    texts: dict[str, str] | None = None, whole_table: str | None = None, cells: bool = True,
) -> None:
    """Register the currency problems of ``table`` (built with _currency_select, with a
    ``currency`` column = the row's currency); ``month`` is the SQL of the month the amount
    converts at. ``texts`` names the column of ``table`` holding each amount's text (else it is
    joined from ``src`` by line). ``whole_table`` (default ``table``) holds every row with its
    ``currency`` and the columns ``month`` reads, for the checks of the row's currency as a whole
    (a rate for its month, one currency in the file): then ``table`` may hold only the rows that
    could have a problem of their cells (``cells`` False: no row can, and only the checks of
    ``whole_table`` are registered). Nothing is summed across currencies: with a base currency a row
    in another currency needs a rate for its month; without one, the file and the stored amounts
    name one currency at most (docs/currencies.md)."""
    connection = parser.connection
    _create_currency_codes(parser)
    # the checks of a column the file does not have never hold: they are not even planned
    if cells and parser.has("currency"):
        parser.add_problem(
            "currency_text IS NOT NULL AND currency_text NOT IN (SELECT code FROM currency_codes)", "currency",
            "'unknown currency ' || currency_text || ': use an ISO 4217 code like EUR or USD'", table=table,
        )
    for name in [name for name in amount_fields if parser.has(name)] if cells else []:
        if texts is not None and name in texts:
            # the text is a column of the table: no join of the whole file by line
            shown, with_text = texts[name], table
        else:
            shown = f"{name}_text_shown"
            with_text = f"{table} JOIN (SELECT line, {parser.col(name)} AS {shown} FROM src) USING (line)"
        parser.add_problem(f"{name}_currency = 'MIXED'", name, f"{shown} || ' names two currencies'", table=with_text)
        parser.add_problem(
            f"{name}_currency <> 'MIXED' AND currency <> {name}_currency", name,
            f"{shown} || ' is in ' || {name}_currency || ' but the row''s currency is ' || currency", table=with_text,
        )
    column = "currency" if parser.has("currency") else amount_fields[0]
    known = "currency IN (SELECT code FROM currency_codes)"
    table = whole_table or table
    if base:
        register_frame(connection, "known_rates", store.rates(SYSTEM)[["currency", "month"]])
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
            "are never added up; set a base currency in the settings and import rates'",
            table=table,
        )


def _create_currency_codes(parser: _Parser) -> None:
    """The temp table ``currency_codes`` (code) of every ISO 4217 code, once per parser (asked again, no statement)."""
    if not parser.currency_codes_made:
        parser.connection.execute("CREATE TEMP TABLE IF NOT EXISTS currency_codes AS SELECT unnest(?::VARCHAR[]) AS code", [sorted(CODES)])
        parser.currency_codes_made = True


def _src_column(field_name: str) -> str:
    """The quoted column of table ``src`` holding a field's text (``line`` is the record line)."""
    return '"field_line"' if field_name == "line" else f'"{field_name}"'


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"

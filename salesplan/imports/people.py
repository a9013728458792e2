"""Import of reps and holidays."""

from __future__ import annotations

import pandas as pd

from salesplan import policy
from salesplan.files import (
    RawTable,
)
from salesplan.imports.fields import ImportResult
from salesplan.imports.parser import _collect, _Parser, register_frame
from salesplan.imports.progress import ImportProgress
from salesplan.principal import Principal
from salesplan.settings import Settings
from salesplan.store import Store


# ============================================================================ reps
def _import_reps(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int,
    report: ImportProgress | None = None,
) -> ImportResult:
    if not policy.may(principal, "import_reps"):
        policy.require_role(principal, "add_reps")  # new reps under a manager: the store checks the rows
    parser = _Parser(raw, mapping, "reps", memory_mb)
    try:
        connection = parser.connection
        order = parser.date_order(["start_date", "end_date", "effective_from"], date_format)
        start_value, start_reason = parser.date_sql("start_date", order)
        end_value, end_reason = parser.date_sql("end_date", order)
        effective_value, effective_reason = parser.date_sql("effective_from", order)
        existing = store.rep_lookup()
        register_frame(connection, "existing_reps", existing)
        connection.execute(
            f"""
            CREATE TEMP TABLE parsed AS
            SELECT line, rep_id, name, {parser.col('email')} AS email, {parser.col('territory')} AS territory,
                   {parser.col('region')} AS region, {parser.col('manager')} AS manager_text,
                   {start_value} AS start_date, {start_reason} AS start_problem,
                   {end_value} AS end_date, {end_reason} AS end_problem,
                   {effective_value} AS effective_from, {effective_reason} AS effective_problem
            FROM src
            """
        )
        connection.execute(
            """
            CREATE TEMP TABLE everyone AS
            SELECT rep_id, email FROM parsed WHERE rep_id IS NOT NULL
            UNION SELECT rep_id, email FROM existing_reps WHERE rep_id NOT IN (SELECT rep_id FROM parsed WHERE rep_id IS NOT NULL)
            """
        )
        connection.execute(
            """
            CREATE TEMP TABLE resolved AS
            SELECT p.*, coalesce(
                (SELECT any_value(e.rep_id) FROM everyone e WHERE lower(e.rep_id) = lower(p.manager_text)),
                (SELECT any_value(e.rep_id) FROM everyone e WHERE lower(e.email) = lower(p.manager_text))
            ) AS manager
            FROM parsed p
            """
        )
        frame = connection.execute(
            "SELECT line, rep_id, name, email, territory, region, manager, start_date, end_date, effective_from "
            "FROM resolved ORDER BY line"
        ).df()
        # a check of a column the file does not have cannot find anything (its cells are all NULL),
        # nor can a check of a rep listed again in a file that names each rep once: such checks are
        # left out of the statement that lists the problems (each costs ~2-4 ms to plan)
        has = parser.has
        repeats = bool(frame["rep_id"].dropna().duplicated().any())
        parser.add_problem("rep_id IS NULL", "rep_id", "'the rep_id is empty'", table="resolved")
        parser.add_problem("name IS NULL", "name", "'the name is empty'", table="resolved")
        if has("email"):
            parser.add_problem(
                "email IS NOT NULL AND NOT regexp_full_match(email, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')", "email",
                "'''' || email || ''' is not an email address'", table="resolved",
            )
        for field_name, problem in (("start_date", "start_problem"), ("end_date", "end_problem"),
                                    ("effective_from", "effective_problem")):
            if has(field_name):
                parser.add_problem(f"{problem} IS NOT NULL", field_name, problem, table="resolved")
        if has("start_date") and has("end_date"):
            parser.add_problem("end_date < start_date", "end_date", "'the end date is before the start date'", table="resolved")
        if has("manager"):
            parser.add_problem(
                "manager_text IS NOT NULL AND manager IS NULL", "manager",
                "'unknown manager ''' || manager_text || ''': not a rep_id or email of a rep'", table="resolved",
            )
            parser.add_problem("manager = rep_id", "manager", "'a rep cannot be their own manager'", table="resolved")
        if repeats:
            parser.add_problem(
                "line > (SELECT min(line) FROM resolved r2 WHERE r2.rep_id = resolved.rep_id) AND EXISTS ("
                "SELECT 1 FROM resolved r2 WHERE r2.rep_id = resolved.rep_id AND r2.line < resolved.line AND "
                "(r2.name IS DISTINCT FROM resolved.name OR r2.email IS DISTINCT FROM resolved.email OR "
                # a rep moving on several days comes once per effective_from (docs/people.md)
                "(r2.effective_from IS NOT DISTINCT FROM resolved.effective_from AND ("
                "r2.territory IS DISTINCT FROM resolved.territory OR r2.manager IS DISTINCT FROM resolved.manager))))",
                "rep_id", "'rep ' || rep_id || ' is listed again with other values'", table="resolved",
            )
        if has("email"):
            parser.add_problem(
                "email IS NOT NULL AND EXISTS (SELECT 1 FROM resolved r2 WHERE lower(r2.email) = lower(resolved.email) "
                "AND r2.rep_id <> resolved.rep_id AND r2.line < resolved.line)",
                "email", "'email ' || email || ' is used by another rep in this file'", table="resolved",
            )
            parser.add_problem(
                "email IS NOT NULL AND EXISTS (SELECT 1 FROM existing_reps x WHERE lower(x.email) = lower(resolved.email) "
                "AND x.rep_id <> resolved.rep_id AND x.rep_id NOT IN (SELECT rep_id FROM resolved WHERE rep_id IS NOT NULL))",
                "email", "'email ' || email || ' belongs to another rep already'", table="resolved",
            )
        if has("territory") and has("region"):
            parser.add_problem(
                "territory IS NOT NULL AND region IS NOT NULL AND EXISTS (SELECT 1 FROM resolved r2 WHERE r2.territory = resolved.territory "
                "AND r2.region IS NOT NULL AND r2.region <> resolved.region AND r2.line < resolved.line)",
                "region", "'territory ' || territory || ' is put in two regions in this file'", table="resolved",
            )
        cycle_lines = _manager_cycles(frame, existing)
        if cycle_lines:
            connection.execute("CREATE TEMP TABLE cycle_lines AS SELECT unnest(?::BIGINT[]) AS line", [sorted(cycle_lines)])
            parser.add_problem("line IN (SELECT line FROM cycle_lines)", "manager",
                               "'the manager chain of ' || rep_id || ' loops back to itself'", table="resolved")
        problems, bad_lines = _collect(parser, valid_only)
    finally:
        parser.close()
    good = frame[~frame["line"].isin(bad_lines)].drop_duplicates(["rep_id", "effective_from"])
    batch_id, counts = store.apply_reps(principal, good, file_name=raw.file, sha256=raw.sha256, rejected=len(bad_lines))
    return ImportResult("reps", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        len(bad_lines), problems)


def _manager_cycles(frame: pd.DataFrame, existing: pd.DataFrame) -> set[int]:
    """Lines of reps whose manager chain returns to them (the graph is people, not rows)."""
    managers = dict(zip(existing["rep_id"], existing["manager"]))
    managers.update({r: m for r, m in zip(frame["rep_id"], frame["manager"]) if isinstance(r, str)})
    lines = dict(zip(frame["rep_id"], frame["line"]))
    in_cycle: set[int] = set()
    for start in lines:
        seen = {start}
        current = managers.get(start)
        while isinstance(current, str):
            if current == start:
                in_cycle.add(int(lines[start]))
                break
            if current in seen:
                break
            seen.add(current)
            current = managers.get(current)
    return in_cycle


# ============================================================================ holidays
def _import_holidays(
    store: Store, raw: RawTable, mapping: dict[str, int], *, principal: Principal, valid_only: bool,
    date_format: str | None, settings: Settings, reason: str | None, memory_mb: int,
    report: ImportProgress | None = None,
) -> ImportResult:
    policy.require(principal, "import_holidays")
    parser = _Parser(raw, mapping, "holidays", memory_mb)
    try:
        connection = parser.connection
        order = parser.date_order(["date"], date_format)
        date_value, date_reason = parser.date_sql("date", order)
        connection.execute(
            f"CREATE TEMP TABLE parsed AS SELECT line, date AS date_text, {date_value} AS date, {date_reason} AS date_problem, "
            f"{parser.col('name')} AS name, {parser.col('territory')} AS territory FROM src"
        )
        parser.add_problem("date_text IS NULL", "date", "'the date is empty'")
        parser.add_problem("date_problem IS NOT NULL", "date", "date_problem")
        parser.add_problem(
            "EXISTS (SELECT 1 FROM parsed p2 WHERE p2.date = parsed.date AND p2.territory IS NOT DISTINCT FROM parsed.territory "
            "AND p2.line < parsed.line AND p2.name IS DISTINCT FROM parsed.name)",
            "date", "'holiday ' || date || ' is listed twice with different names'",
        )
        problems, bad_lines = _collect(parser, valid_only)
        frame = connection.execute("SELECT line, date, name, territory FROM parsed ORDER BY line").df()
    finally:
        parser.close()
    good = frame[~frame["line"].isin(bad_lines)].drop_duplicates(["date", "territory"])
    batch_id, counts = store.apply_holidays(principal, good, file_name=raw.file, sha256=raw.sha256,
                                             rejected=len(bad_lines))
    return ImportResult("holidays", raw.file, batch_id, counts.inserted, counts.updated, counts.unchanged,
                        len(bad_lines), problems)

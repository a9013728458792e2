"""People from the exports: the reps an actuals file names that the database does not know,
creating them in one step once the user confirmed the list, and a rep taken from another column
(region, territory, store...) through a lookup the user confirmed.

The page flow: :func:`unknown_reps` lists the names (and e-mails where the file gives them);
the user confirms (and may edit) the list; :func:`create_reps` adds them through the reps import
(validated, one undo-less batch, audited). For a file without a person column,
:func:`lookup_values` lists the values of the chosen column, the user picks a rep for each, and
:func:`apply_rep_lookup` returns the file with a ``rep`` column to import.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import numpy as np
import pandas as pd

from salesplan import imports, policy
from salesplan.errors import BadInput
from salesplan.files import RawTable, UploadLimits, normalise_header, read_source, read_table
from salesplan.principal import Principal
from salesplan.store import Store

__all__ = ["apply_rep_lookup", "create_reps", "lookup_values", "map_file_columns", "unknown_reps", "with_rep_ids"]

REP_COLUMN = "rep"  # the column apply_rep_lookup adds (a synonym of the actuals' rep field)
# the column with_rep_ids adds to a people file without rep ids, mapped to rep_id explicitly (a
# name no export uses and no synonym means, so that it never competes with the file's columns)
MADE_REP_ID_COLUMN = "salesplan rep id"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _raw(store: Store, source: str | bytes, file_name: str | None, column_map: dict[str, str] | None,
         kind: str = "actuals") -> RawTable:
    limits = UploadLimits.for_upload_limit(store.settings().upload_limit_mb)
    data, name = read_source(source, file_name, limit_bytes=limits.file_bytes)
    return read_table(data, name, looks_like_header=imports._looks_like_header(kind, column_map), limits=limits)


def map_file_columns(kind: str, header: list[str], file_name: str, header_line: int,
                     column_map: dict[str, str] | None) -> tuple[dict[str, int], list[str], bool]:
    """The import's header mapping (:func:`imports.map_columns`: field -> position, and the notes
    of unmapped columns it ignores), except that a people (``reps``) file may lack a rep_id
    column: then the third value is True and :func:`with_rep_ids` gives the ids. Raises BadInput
    like the import (missing required columns other than a people file's rep_id, duplicates)."""
    try:
        positions, notes = imports.map_columns(kind, header, file_name, header_line, column_map)
        return positions, notes, False
    except BadInput as error:
        if kind != "reps" or not any(problem.column == "rep_id" for problem in error.problems):
            raise
        others = [problem for problem in error.problems if problem.column != "rep_id"]
        if others:
            raise BadInput(others) from None
    made = {**(column_map or {}), MADE_REP_ID_COLUMN: "rep_id"}
    positions, notes = imports.map_columns(kind, [*header, MADE_REP_ID_COLUMN], file_name, header_line, made)
    positions.pop("rep_id")
    return positions, notes, True


def with_rep_ids(store: Store, source: bytes, *, file_name: str,
                 column_map: dict[str, str] | None) -> tuple[bytes, dict[str, str] | None, list[str]]:
    """A people (reps) file ready for the reps import: unchanged when it has a rep_id column,
    else the file as CSV (each record on its line in the user's file, so that problems name the
    user's lines) with a rep_id column made for it: a known rep's id for a person the database
    knows (same e-mail, any case, else a name only one rep has), a new id ``R<n>`` after the
    highest in use for everyone else (one per e-mail, else per name, across the file's rows).
    Returns (data, column map to import with, notes naming the new ids). Raises BadInput
    (unreadable file, missing columns)."""
    raw = _raw(store, source, file_name, column_map, kind="reps")
    positions, _, makes = map_file_columns("reps", list(raw.header), raw.file, raw.header_line, column_map)
    if not makes:
        return source, column_map or None, []
    names = _cells(raw, positions["name"])
    emails = _cells(raw, positions["email"]) if "email" in positions else [None] * len(names)
    known = store.rep_lookup()
    by_email = {str(e).lower(): r for e, r in zip(known["email"], known["rep_id"]) if isinstance(e, str) and e}
    name_counts = known["name"].value_counts()
    by_name = {n: r for n, r in zip(known["name"], known["rep_id"]) if name_counts.get(n, 0) == 1}
    people: dict[str, str] = {}  # e-mail or name -> id given in this file
    fresh: list[tuple[str, str]] = []  # (key, name) of the people new to the database, in file order
    for name, email in zip(names, emails):
        key = (email or "").lower() or (name or "")
        if not key or key in people:
            continue
        existing = by_email.get((email or "").lower()) or (by_name.get(name or "") if not email else None)
        if existing:
            people[key] = existing
        else:
            people[key] = ""
            fresh.append((key, name or key))
    for (key, _), rep_id in zip(fresh, _next_ids(list(known["rep_id"]), len(fresh))):
        people[key] = rep_id
    made = [people.get((e or "").lower() or (n or "")) for n, e in zip(names, emails)]
    data = _rewritten(raw, MADE_REP_ID_COLUMN, made)
    notes = ["new rep ids: " + ", ".join(f"{people[key]} {name}" for key, name in fresh)] if fresh else []
    return data, {**(column_map or {}), MADE_REP_ID_COLUMN: "rep_id"}, notes


def _rewritten(raw: RawTable, column: str, values: list[Any]) -> bytes:
    """The file's records as CSV with one more ``column`` holding ``values``, the header and each
    record on the line where it starts in the user's file: the lines in between (title lines,
    blank lines) are left empty, which the reader skips but counts, so the import's problems and
    rejected rows name the user's own lines. Only a spreadsheet cell holding a line break takes
    more lines than its row; the records after it then move down by as many."""
    table = raw.cells.drop_columns(["line"]).to_pandas()
    table.columns = imports._unique_names(list(raw.header))[: len(table.columns)]
    table[column] = values
    starts = raw.cells["line"].to_numpy()
    out = io.StringIO()
    table.to_csv(out, index=False, lineterminator="\n")
    text = out.getvalue()
    if text.count("\n") == len(table) + 1:  # one line a record (no cell holds a line break)
        # empty lines before each record: from the line after the one before it to its own
        before = np.diff(starts, prepend=raw.header_line) - 1
        if raw.header_line == 1 and not before.any():
            return text.encode()
        lines = text.split("\n")
        for i in np.flatnonzero(before > 0).tolist():
            lines[i + 1] = "\n" * int(before[i]) + lines[i + 1]
        return ("\n" * (raw.header_line - 1) + "\n".join(lines)).encode()
    # cells with line breaks: written record by record, counting the lines each one takes
    parts = ["\n" * (raw.header_line - 1), _csv_record(list(table.columns))]
    line = raw.header_line + parts[-1].count("\n")
    rows = table.astype(object).where(table.notna(), None).itertuples(index=False, name=None)
    for start, row in zip(starts.tolist(), rows):
        parts.append("\n" * max(start - line, 0))
        parts.append(_csv_record(row))
        line = max(start, line) + parts[-1].count("\n")
    return "".join(parts).encode()


def _csv_record(values: Any) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def _cells(raw: RawTable, position: int) -> list[str | None]:
    values = raw.cells[f"c{position}"].to_pylist()
    return [v.strip() if isinstance(v, str) and v.strip() else None for v in values]


def _column(raw: RawTable, header_name: str) -> list[str | None]:
    keys = [normalise_header(h) for h in raw.header]
    wanted = normalise_header(header_name)
    if wanted not in keys:
        raise BadInput.single(raw.file, f"the file has no column {header_name!r}", line=raw.header_line,
                              column=header_name)
    return _cells(raw, keys.index(wanted))


def _resolver(store: Store):
    """The import's rule for naming a rep: rep_id or e-mail (any case), or a name only one rep has."""
    lookup = store.rep_lookup()
    by_id = {str(r).lower(): r for r in lookup["rep_id"]}
    by_email = {str(e).lower(): r for e, r in zip(lookup["email"], lookup["rep_id"]) if isinstance(e, str) and e}
    names = lookup["name"].value_counts()

    def known(text: str) -> bool:
        return text.lower() in by_id or text.lower() in by_email or text in names.index

    return known


def unknown_reps(
    store: Store, source: str | bytes, *, file_name: str | None = None, column_map: dict[str, str] | None = None,
    email_column: str | None = None,
) -> pd.DataFrame:
    """The people an actuals file names in its rep column (after ``column_map``) whom the
    database does not know: columns ``rep_text`` (as written), ``name``, ``email`` (the value
    when it is an address, else the ``email_column`` value of its first row, else None) and
    ``rows`` (how many rows name them), most rows first. A name several reps share is not
    unknown (the import asks for the rep_id). Raises BadInput (unreadable file, no rep column,
    no such email column)."""
    if email_column and not any(normalise_header(k) == normalise_header(email_column) for k in (column_map or {})):
        # the e-mail column is read here, never as a second rep column ("Owner Email")
        column_map = {**(column_map or {}), email_column: ""}
    raw = _raw(store, source, file_name, column_map)
    mapping, _ = imports.map_columns("actuals", raw.header, raw.file, raw.header_line, column_map)
    reps = raw.cells[f"c{mapping['rep']}"].to_pylist()
    emails = _column(raw, email_column) if email_column else [None] * len(reps)
    known = _resolver(store)
    found: dict[str, dict[str, Any]] = {}
    for text, email in zip(reps, emails):
        text = text.strip() if isinstance(text, str) else ""
        if not text or known(text):
            continue
        entry = found.setdefault(text, {"rep_text": text, "name": None, "email": None, "rows": 0})
        entry["rows"] += 1
        if _EMAIL.fullmatch(text):
            entry["email"] = text
            entry["name"] = entry["name"] or _name_from_email(text)
        else:
            entry["name"] = text
            if email and not entry["email"] and _EMAIL.fullmatch(email):
                entry["email"] = email
    frame = pd.DataFrame(list(found.values()), columns=["rep_text", "name", "email", "rows"])
    return frame.sort_values(["rows", "rep_text"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _name_from_email(email: str) -> str:
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in re.split(r"[._\-+]+", local) if part) or email


def _next_ids(existing: list[str], count: int) -> list[str]:
    """New rep_ids R<n> after the highest R-number in use (R001 style, at least three digits)."""
    numbers = [int(m.group(1)) for r in existing if (m := re.fullmatch(r"R(\d+)", str(r)))]
    start = max(numbers, default=0) + 1
    width = max(3, len(str(start + count)))
    return [f"R{n:0{width}d}" for n in range(start, start + count)]


def create_reps(
    store: Store, principal: Principal, people: pd.DataFrame, *, territory: str | None = None,
    region: str | None = None, manager: str | None = None,
) -> imports.ImportResult:
    """Create the confirmed people (a frame with ``name`` and ``email``, e.g. the one
    :func:`unknown_reps` returned, possibly edited) as new reps in one reps-import batch, with
    new rep_ids (R<n>), the given territory, region and manager (rep_id or e-mail; a manager's
    new reps always report to the manager). Returns the import's result; the new ids are in
    ``result.notes``. An admin may create anyone; a manager only new reps under themself.
    Raises NotAllowed (policy ``add_reps``), BadInput (an empty list, a row without a name, an
    e-mail another rep has: nothing is created)."""
    if principal.role == "manager":
        manager = principal.rep_id
    policy.require_role(principal, "add_reps")
    rows = people.reset_index(drop=True)
    if rows.empty:
        raise BadInput.single("new reps", "no people to create")
    existing = store.rep_lookup()
    ids = _next_ids(list(existing["rep_id"]), len(rows))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rep_id", "name", "email", "territory", "region", "manager"])
    for rep_id, (_, row) in zip(ids, rows.iterrows()):
        name = row.get("name")
        email = row.get("email")
        writer.writerow([rep_id, "" if pd.isna(name) else str(name).strip(), "" if email is None or pd.isna(email) else email,
                         territory or "", region or "", manager or ""])
    result = imports.import_file(store, "reps", out.getvalue().encode(), principal=principal, file_name="new reps")
    result.notes.append("new reps: " + ", ".join(f"{rep_id} {name}" for rep_id, name in zip(ids, rows["name"])))
    return result


def lookup_values(store: Store, source: str | bytes, column: str, *, principal: Principal,
                  file_name: str | None = None) -> pd.DataFrame:
    """The distinct values of ``column`` in an actuals file (columns ``value``, ``rows``), with a
    suggested rep for each (``rep_id``: the value itself when it names a rep, else the manager of
    the territory of that name when it has one, else None), for the user to confirm as a lookup.
    Only reps the ``principal`` may see are suggested: a suggestion would tell the rep_id behind
    an e-mail or territory (docs/security.md). Raises BadInput (unreadable file, no such column)."""
    raw = _raw(store, source, file_name, None)
    values = pd.Series(_column(raw, column), dtype=object).dropna()
    counts = values.value_counts(sort=False)
    reps = store.rep_lookup()
    visible = store.visible_rep_ids(principal)
    if visible is not None:
        reps = reps[reps["rep_id"].isin(visible)]
    by_key = {str(k).lower(): r for col in ("rep_id", "email") for k, r in zip(reps[col], reps["rep_id"]) if isinstance(k, str)}
    territory_manager: dict[str, str] = {}
    for territory, managed in reps.groupby("territory")["rep_id"]:
        heads = [r for r in managed if (reps["manager"] == r).any()]  # who manages others in it
        if len(heads) == 1:
            territory_manager[str(territory).lower()] = heads[0]
    suggested = [by_key.get(str(v).lower()) or territory_manager.get(str(v).lower()) for v in counts.index]
    return pd.DataFrame({"value": list(counts.index), "rows": counts.to_numpy(),
                         "rep_id": pd.Series(suggested, dtype=object)})


def apply_rep_lookup(
    store: Store, source: str | bytes, column: str, lookup: dict[str, str], *, file_name: str | None = None
) -> bytes:
    """The file as CSV (header, then its records, each on its line in the user's file, so that
    problems name the user's lines) with a ``rep`` column taken from ``column`` through the
    confirmed ``lookup`` (value -> rep_id or e-mail). A value without an entry
    leaves the rep empty, so the import refuses that row with its line and reason ("the rep is
    empty") unless only the valid rows are imported. Raises BadInput (unreadable file, no such
    column, a column already named rep, a lookup naming an unknown rep)."""
    raw = _raw(store, source, file_name, None)
    source_values = _column(raw, column)
    if REP_COLUMN in {normalise_header(h) for h in raw.header}:
        raise BadInput.single(raw.file, f"the file already has a column {REP_COLUMN!r}", column=REP_COLUMN)
    known = _resolver(store)
    unknown = sorted(str(rep) for rep in lookup.values() if not known(str(rep)))
    if unknown:
        raise BadInput.single("rep lookup", f"unknown rep {', '.join(repr(u) for u in unknown)} in the lookup",
                              column=column)
    return _rewritten(raw, REP_COLUMN, [lookup.get(v) if v is not None else None for v in source_values])

"""The Upload page's work, without the screen: preview a file the way the import will read it, and run
an import to an outcome the page can show.

The preview locates the header with the importer's own header test and maps it with
:func:`salesplan.imports.map_header`, so what the page shows is what the import does. Plain Python:
no streamlit here (the page caches and draws).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from salesplan import imports, people_import, policy
from salesplan.errors import BadInput, Problem, SalesplanError
from salesplan.files import RawTable, UploadLimits, normalise_header, read_table
from salesplan.principal import Principal
from salesplan.store import Store

PREVIEW_ROWS = 10
OVERVIEW_REPS_SHOWN = 20  # the reps an import touched, named in its overview (then "and N more")
KIND_LABELS = {"actuals": "Actuals (sales)", "targets": "Targets", "deals": "Open deals (pipeline)",
               "reps": "People (reps)"}
UPLOAD_KINDS = tuple(KIND_LABELS)  # the Upload page's kinds, in its order
UNDOABLE = ("actuals", "targets", "deals")  # reps and holidays: import the previous file again
LINE_LABEL = "Line in file"  # the preview's first column: where each record is in the file
DATE_FORMATS: dict[str | None, str] = {
    None: "Recognise it",
    "DMY": "Day first (31/12/2026)",
    "MDY": "Month first (12/31/2026)",
    "ISO": "Year first (2026-12-31)",
}
DECIMALS: dict[str | None, str] = {
    None: "Recognise it",
    "point": "Point (1,234.56)",
    "comma": "Comma (1.234,56)",
}


def required(kind: str, spec: imports.Field) -> bool:
    """Whether the page asks for a field's column: the import's rule, except a people file's rep_id
    (the import makes it, see :func:`people_import.with_rep_ids`)."""
    return spec.required and not (kind == "reps" and spec.name == "rep_id")


def has_amounts(kind: str) -> bool:
    """Whether files of this kind carry amounts (so a decimal separator means something)."""
    return any(spec.kind == "amount" for spec in imports.FIELDS[kind])


def kinds_for(principal: Principal) -> list[str]:
    """The kinds of file the principal may upload on the Upload page (policy ``upload_kind``)."""
    return [kind for kind in UPLOAD_KINDS if policy.may(principal, "upload_kind", kind=kind)]


@dataclass
class Preview:
    """What a file looks like before importing: its header, the first rows, and how the header maps."""

    header: list[str]
    header_line: int
    rows: pd.DataFrame  # LINE_LABEL, then one column per header cell (labels made unique)
    total_rows: int
    mapping: dict[str, str]  # field -> header cell (automatic or from the column map)
    problems: list[Problem]  # header problems (missing required columns, duplicates); empty when importable
    # how the importer reads the date and amount cells of the first rows: LINE_LABEL, then one column
    # per mapped date (ISO text) and amount field (a number; empty where the cell is not one)
    readings: pd.DataFrame | None = None
    reading_problem: str | None = None  # why the first rows cannot be read (ambiguous or mixed dates)
    decimal_comma: bool = False  # the amounts are read with a decimal comma
    # unmapped columns the import ignores because the user mapped another column to their field
    notes: list[str] = field(default_factory=list)
    makes_rep_ids: bool = False  # a people file without rep ids: the import gives them (people_import)


def header_key(kind: str, header: list[str]) -> tuple[str, tuple[str, ...]]:
    """The key a column map is remembered under in a session: the kind and the normalised header."""
    return kind, tuple(normalise_header(cell) for cell in header)


def unique_labels(names: list[str], taken: set[str] | None = None) -> list[str]:
    """Column labels for a table: empty names become ``(column N)``, repeats get `` (2)``, `` (3)``...

    A file may repeat a header cell or name a column like one the preview adds (``line``); a table
    with two columns of one name cannot be drawn.
    """
    seen = set(taken or ())
    labels = []
    for position, name in enumerate(names):
        base = name if name else f"(column {position + 1})"
        label, copy = base, 1
        while label in seen:
            copy += 1
            label = f"{base} ({copy})"
        seen.add(label)
        labels.append(label)
    return labels


def _any_two_cells(cells: list[str]) -> bool:
    return sum(bool(cell) for cell in cells) >= 2


def _recognised(kind: str, header: list[str], column_map: dict[str, str] | None) -> dict[str, int]:
    """Field -> position of the header cells that name a field on their own (first one wins), to
    pre-fill the mapping step of a header that :func:`imports.map_header` refuses."""
    index = imports._synonym_index(kind)  # the importer's own synonyms, not a copy
    index.update({normalise_header(cell): name for cell, name in (column_map or {}).items()})
    known = {spec.name for spec in imports.FIELDS[kind]}
    found: dict[str, int] = {}
    for position, cell in enumerate(header):
        name = index.get(normalise_header(cell))
        if name in known:
            found.setdefault(name, position)
    return found


def page_reason(reason: str) -> str:
    """A problem's reason in the page's words: the importer's advice names the command line's
    ``--date-format`` option, which the page offers as its "Dates in the file" choice."""
    return (reason.replace("state the format with --date-format DMY or MDY",
                           "choose the date format under “Dates in the file”")
                  .replace("state the date format (day first or month first)",
                           "choose the date format (day first or month first) under “Dates in the file”")
                  .replace("--date-format DMY or MDY", "the “Dates in the file” choice"))


def _readings(kind: str, raw: RawTable, positions: dict[str, int], date_format: str | None,
              memory_mb: int, decimal: str | None = None) -> tuple[pd.DataFrame | None, str | None, bool]:
    """The first rows' date and amount cells as the importer reads them, with its own parser and
    the stated ``decimal`` separator (None: recognised from the first rows)."""
    head = dataclasses.replace(raw, cells=raw.cells.slice(0, PREVIEW_ROWS), decimal=decimal)
    fields = [spec for spec in imports.FIELDS[kind] if spec.name in positions]
    dates = [spec.name for spec in fields if spec.kind == "date"]
    amounts = [spec.name for spec in fields if spec.kind == "amount"]
    if head.cells.num_rows == 0 or not (dates or amounts):
        return None, None, False
    # the import's own cell parsing (private to the imports package: this module reads exactly as it does)
    parser = imports._Parser(head, positions, kind, memory_mb)
    try:
        try:
            order = parser.date_order(dates, date_format)
        except BadInput as error:
            return None, page_reason(error.problems[0].reason), False
        comma = parser.decimal_comma(amounts)
        columns = ["line"]
        for name in dates:
            value, _ = parser.date_sql(name, order)
            columns.append(f"strftime({value}, '%Y-%m-%d') AS {imports._src_column(name)}")
        for name in amounts:
            value, _ = parser.amount_sql(name, comma)
            columns.append(f"({value})::DOUBLE AS {imports._src_column(name)}")
        frame = parser.connection.execute(f"SELECT {', '.join(columns)} FROM src ORDER BY line").df()
    finally:
        parser.close()
    frame.columns = [LINE_LABEL, *dates, *amounts]
    return frame, None, comma


def preview(kind: str, data: bytes, file_name: str, column_map: dict[str, str] | None, *,
            limits: UploadLimits, date_format: str | None = None, decimal: str | None = None) -> Preview:
    """The header, the first rows and the header mapping of an upload, as the import will read them,
    and (once the header maps) the first rows' dates and amounts as the importer reads them with
    ``date_format`` (a key of :data:`DATE_FORMATS`) and ``decimal`` (a key of :data:`DECIMALS`).
    A people (``reps``) file may lack rep ids: ``makes_rep_ids`` says the import gives them.

    A file whose header the importer does not recognise is previewed from its first record of two
    or more cells, so that the user can map its columns. Raises BadInput for an unreadable file
    (empty, binary, over ``limits`` (the import's: ``UploadLimits.for_upload_limit``), no header).
    """
    # the importer's own header test (imports._looks_like_header): the same header line as the import
    looks = imports._looks_like_header(kind, column_map)
    try:
        raw = read_table(data, file_name, looks_like_header=looks, limits=limits)
    except BadInput as error:
        if not any("no header row" in problem.reason for problem in error.problems):
            raise
        raw = read_table(data, file_name, looks_like_header=_any_two_cells, limits=limits)
    header = list(raw.header)
    head = raw.cells.slice(0, PREVIEW_ROWS).to_pandas()
    columns = [name for name in head.columns if name != "line"]  # c0..cN, in header order
    labels = unique_labels([header[i] if i < len(header) else "" for i in range(len(columns))], {LINE_LABEL})
    rows = head[columns].copy()
    rows.columns = labels
    rows.insert(0, LINE_LABEL, head["line"].astype("int64"))
    readings, reading_problem, comma, makes_ids = None, None, False, False
    notes: list[str] = []
    try:
        positions, notes, makes_ids = people_import.map_file_columns(kind, header, file_name, raw.header_line,
                                                                     column_map)
        problems: list[Problem] = []
        readings, reading_problem, comma = _readings(kind, raw, positions, date_format, limits.memory_mb, decimal)
    except BadInput as error:
        positions, problems = _recognised(kind, header, column_map), error.problems
    mapping = {name: header[position] for name, position in positions.items()}
    return Preview(header, raw.header_line, rows, raw.cells.num_rows, mapping, problems, readings, reading_problem,
                   comma, notes, makes_ids)


def problems_frame(error: BadInput) -> pd.DataFrame:
    """The problems of a refused input as a table (line, column, reason), to show and download."""
    return _problem_table(error.problems)


def _problem_table(problems: list[Problem]) -> pd.DataFrame:
    table = pd.DataFrame(
        [{"line": p.line, "column": p.column, "reason": p.reason} for p in problems],
        columns=["line", "column", "reason"],
    ).astype({"line": "Int64"})
    table["reason"] = table["reason"].map(page_reason)
    return table


@dataclass
class Outcome:
    """What pressing Import came to: counts of a batch, every problem of a refused file, or a refusal."""

    sha: str
    file: str
    kind: str = ""
    batch_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)  # inserted, updated, unchanged, rejected
    notes: list[str] = field(default_factory=list)
    problems: pd.DataFrame | None = None  # the file was refused: nothing changed
    error: str | None = None  # not allowed, database locked
    overview: imports.ImportOverview | None = None  # actuals and targets: what went in
    # the rows a valid-only import left out, as the file's own columns then line and problems
    # (actuals: kept with the batch)
    rejected: pd.DataFrame | None = None
    # every kind: the problems of the rows a valid-only import left out (line, column, reason), so
    # that the user learns which rows did not go in even where the kind keeps no rejected rows
    left_out: pd.DataFrame | None = None

    @property
    def imported(self) -> bool:
        return self.batch_id is not None


def run_import(store: Store, principal: Principal, kind: str, data: bytes, *, file_name: str, sha: str,
               header: list[str], column_map: dict[str, str] | None, valid_only: bool,
               reason: str | None = None, date_format: str | None = None, decimal: str | None = None,
               as_of: date | None = None, progress: Callable[[float, str], None] | None = None) -> Outcome:
    """Import an upload and say how it went; never raises for a refused file or a refused user.
    ``as_of`` is the snapshot date of a deals file (default today); other kinds ignore it.
    ``decimal`` states the amounts' separator ("point", "comma"; None recognises it). A people
    (``reps``) file without rep ids gets them (:func:`people_import.with_rep_ids`).

    A column map, date format or decimal separator that led to a successful import is saved for
    the principal and this ``header``, so the next file with the same columns comes pre-set.
    The outcome carries the import's overview and, when rows were left out, the rejected rows
    as the file's own columns.
    """
    try:
        # before the file is read: a people file's ids are looked up by e-mail (with_rep_ids), and
        # a refusal naming them would tell who may not import people the rep_id behind an e-mail
        policy.require(principal, "upload_kind", kind=kind)
        source, used_map = data, column_map or None
        made: list[str] = []
        if kind == "reps":
            source, used_map, made = people_import.with_rep_ids(store, data, file_name=file_name,
                                                                column_map=column_map)
        result = imports.import_file(store, kind, source, principal=principal, file_name=file_name,
                                     valid_only=valid_only, column_map=used_map,
                                     reason=reason or None, date_format=date_format, decimal=decimal,
                                     progress=progress, as_of=as_of if kind == "deals" else None)
        rejected = (imports.rejected_table(store.rejected_rows(principal, result.batch_id))
                    if result.rejected else None)
    except BadInput as error:
        return Outcome(sha, file_name, kind, problems=problems_frame(error))
    except SalesplanError as error:  # NotAllowed, DatabaseLocked
        return Outcome(sha, file_name, kind, error=str(error))
    if (column_map or date_format or decimal) and header:
        store.save_column_map(principal, kind, header, column_map or {}, date_format=date_format, decimal=decimal)
    counts = {"inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged,
              "rejected": result.rejected}
    return Outcome(sha, file_name, kind, batch_id=result.batch_id, counts=counts, notes=[*made, *result.notes],
                   overview=result.overview, rejected=rejected if rejected is not None and len(rejected) else None,
                   left_out=_problem_table(result.problems) if result.rejected else None)


def remembered_choices(store: Store, principal: Principal, kind: str,
                       header: list[str]) -> tuple[dict[str, str] | None, str | None, str | None]:
    """What the principal saved for files of this kind and header: (column map or None when
    there is none to apply, date format, decimal separator). Raises nothing of its own."""
    choices = store.column_choices(principal, kind, header) or {}
    date_format = choices.get("date_format")
    decimal = choices.get("decimal")
    return (store.column_map(principal, kind, header) or None,
            date_format if date_format in DATE_FORMATS else None, decimal if decimal in DECIMALS else None)


def overview_table(overview: imports.ImportOverview) -> pd.DataFrame:
    """What went in, as rows of (what, value) for the page: rows, first and last date, the total
    of each metric and the reps touched."""
    rows = [("Rows", f"{overview.rows:,}")]
    if overview.first_date is not None:
        rows.append(("From", str(overview.first_date)))
        rows.append(("To", str(overview.last_date)))
    rows += [(f"Total {metric}", f"{amount:,.2f}") for metric, amount in overview.totals.items()]
    shown = ", ".join(overview.reps[:OVERVIEW_REPS_SHOWN])
    more = len(overview.reps) - OVERVIEW_REPS_SHOWN
    rows.append(("Reps", f"{len(overview.reps):,}" + (f": {shown}" if shown else "") + (f" and {more:,} more" if more > 0 else "")))
    return pd.DataFrame(rows, columns=["what", "value"])


def undo_choices(batches: pd.DataFrame) -> dict[int, str]:
    """The batches that can be undone, newest first (the default of the picker), with their labels."""
    undoable = batches[batches["reverted_at"].isna() & batches["kind"].isin(UNDOABLE)]
    undoable = undoable.sort_values("batch_id", ascending=False)
    rows = zip(undoable["batch_id"].tolist(), undoable["kind"].tolist(), undoable["file_name"].tolist())
    return {int(batch_id): f"Batch {batch_id}: {kind} from "
                           + ("the editor" if pd.isna(name) or not name else str(name))
            for batch_id, kind, name in rows}


def batch_state(reverted_at: Any) -> str:
    """A batch's state in the history table."""
    return "current" if reverted_at is None or pd.isna(reverted_at) else "undone"


def column_map_from_choices(kind: str, header: list[str], chosen: dict[str, str | None]) -> dict[str, str]:
    """The column map of the mapping step's choices (field -> header cell, None: not in the file).
    What the user maps decides: a column their synonyms would read for a field the user set to
    "not in the file" is mapped to no field (``""``), so it is not read (docs/files.md)."""
    mapping = {cell: name for name, cell in chosen.items() if cell}
    index = imports._synonym_index(kind)  # the importer's own synonyms
    left_out = {name for name, cell in chosen.items() if not cell}
    for cell in header:
        if cell and cell not in mapping and index.get(normalise_header(cell)) in left_out:
            mapping[cell] = ""
    return mapping


def unknown_people(store: Store, principal: Principal, kind: str, data: bytes, *, file_name: str,
                   column_map: dict[str, str] | None) -> pd.DataFrame:
    """The people an actuals file names whom the database does not know (``people_import.unknown_reps``:
    rep_text, name, email, rows), for a principal who may create reps (policy ``add_reps``); an
    empty frame for other kinds, other principals and files whose rep column cannot be read.
    Raises nothing of its own."""
    empty = pd.DataFrame(columns=["rep_text", "name", "email", "rows"])
    if kind != "actuals" or principal.role not in policy.RULES["add_reps"].roles:
        return empty
    try:
        header = read_table(data, file_name, limits=UploadLimits.for_upload_limit(store.settings().upload_limit_mb),
                            looks_like_header=imports._looks_like_header(kind, column_map)).header
        emails = [cell for cell in header if cell and normalise_header(cell) in EMAIL_HEADERS
                  and not (column_map or {}).get(cell)]
        return people_import.unknown_reps(store, data, file_name=file_name, column_map=column_map,
                                          email_column=emails[0] if emails else None)
    except BadInput:
        return empty


# headers of an actuals export's e-mail column beside its person column (Salesforce, HubSpot, ...)
EMAIL_HEADERS = frozenset(normalise_header(name) for name in (
    "email", "e-mail", "owner email", "rep email", "sales rep email", "salesperson email", "opportunity owner email",
    "deal owner email", "account owner email", "seller email"))


def needs_rep_lookup(kind: str, view: Preview) -> bool:
    """Whether an actuals file has no person column, so that the page offers to take the rep from
    another column through a lookup (``people_import.lookup_values`` / ``apply_rep_lookup``)."""
    return kind == "actuals" and "rep" not in view.mapping and any(p.column == "rep" for p in view.problems)

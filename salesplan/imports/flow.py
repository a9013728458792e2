"""The entry point of every import: read, map, check, write (and the rates import hand-off)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from datetime import date
from pathlib import Path

import duckdb

from salesplan.errors import BadInput
from salesplan.files import (
    RawTable,
    Upload,
    UploadLimits,
    open_upload,
    parsing_session,
    quiet_connection,
    read_table,
    too_large_for_memory,
)
from salesplan.imports.actuals import _import_actuals, parse_may_be_kept
from salesplan.imports.fields import KINDS, ImportResult, _looks_like_header, map_columns
from salesplan.imports.people import _import_holidays, _import_reps
from salesplan.imports.progress import ImportProgress
from salesplan.imports.targets import _import_targets
from salesplan.principal import SYSTEM, Principal
from salesplan.settings import Settings
from salesplan.store import Store
from salesplan.storage import ImportWorkspace


# ============================================================================ entry point
def import_file(
    store: Store,
    kind: str,
    source: str | Path | bytes,
    *,
    principal: Principal = SYSTEM,
    file_name: str | None = None,
    valid_only: bool = False,
    date_format: str | None = None,
    column_map: dict[str, str] | None = None,
    reason: str | None = None,
    progress: Callable[[float, str], None] | None = None,
    limits: UploadLimits | None = None,
    as_of: date | None = None,
    decimal: str | None = None,
) -> ImportResult:
    """Import one file of the given kind.

    ``as_of`` is the date of a deals snapshot (default: today); other kinds ignore it.
    ``decimal`` states the amounts' decimal separator, "point" (1,234.56) or "comma" (1.234,56);
    None recognises it from the amounts.

    ``progress(fraction, text)``, when given, is told each stage (an estimate from the file's
    size, reading, checking, writing, done) with the rows per second so far; a caller that wants
    the numbers themselves reads ``ImportProgress`` from ``progress.last`` (see
    :class:`ImportProgress`). ``limits`` (default: ``UploadLimits`` with the ``upload_limit_mb`` setting) bound
    the file's size, rows, cells and the parser's memory. Raises BadInput (every problem with
    file, line, column and reason; nothing changed; also for a file over a limit or too large to
    check in the parser's memory), NotAllowed when the principal may not import this kind or these
    rows, DatabaseLocked.
    """
    report = ImportProgress(progress)
    if kind not in KINDS:
        raise BadInput.single(str(file_name or source), f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    settings = store.settings()
    limits = limits or UploadLimits.for_upload_limit(settings.upload_limit_mb)
    # a file on disk is read a chunk at a time, never whole; bytes are handed over in an Upload
    # that lets them go once DuckDB's reader has them in a file: a large upload is not held for
    # the whole import (at 10M rows the file is ~0.7 GB beside its parsed rows)
    upload = open_upload(source, file_name, limit_bytes=limits.file_bytes)
    name = upload.name
    if decimal not in (None, "point", "comma"):
        raise BadInput.single(name, f"unknown decimal separator {decimal!r}; use point or comma")
    try:
        return _import_data(store, kind, upload, name, principal=principal, valid_only=valid_only,
                            date_format=date_format, column_map=column_map, reason=reason, report=report,
                            settings=settings, limits=limits, as_of=as_of, decimal=decimal)
    except (duckdb.OutOfMemoryException, MemoryError) as error:
        # the parser's memory is capped (it spills to disk first): a file that still does not fit
        # is refused like any other bad input, never a traceback
        raise too_large_for_memory(name, limits.memory_mb) from error


def _import_data(
    store: Store, kind: str, data: bytes | Upload, name: str, *, principal: Principal, valid_only: bool,
    date_format: str | None, column_map: dict[str, str] | None, reason: str | None,
    report: ImportProgress, settings: Settings, limits: UploadLimits, as_of: date | None = None,
    decimal: str | None = None,
) -> ImportResult:
    # ``data``: the file's bytes, or an Upload that lets them go once read (see import_file)
    upload = data if isinstance(data, Upload) else Upload(name, data=data)
    del data
    report.start(name, upload.size)
    # one private connection for the whole import: the CSV reader's, then the parser's, which
    # closes it when its checks are done (its temporary tables go with it); closed here too when
    # the import stops before a parser takes it (closing twice is harmless). It is a cursor of the
    # process's parser database, or, for actuals on an embedded DuckDB store, of the workspace the
    # store lends in its own DuckDB, where a large file's rows are then written from (a server
    # lends none)
    with store.import_workspace(limits.memory_mb) if kind == "actuals" else nullcontext(None) as workspace:
        connection = quiet_connection(limits.memory_mb) if workspace is None else parsing_session(workspace.connection)
        if workspace is not None and parse_may_be_kept(upload.size, limits.memory_mb):
            # a large file's read is held to the memory setting too (a small one sets no limit on
            # the store's DuckDB, which the dashboard's reads share)
            workspace.limit_memory()
        try:
            return _import_read(store, kind, upload, name, principal=principal, valid_only=valid_only,
                                date_format=date_format, column_map=column_map, reason=reason, report=report,
                                settings=settings, limits=limits, as_of=as_of, decimal=decimal, connection=connection,
                                workspace=workspace)
        finally:
            connection.close()


def _import_read(
    store: Store, kind: str, upload: Upload, name: str, *, principal: Principal, valid_only: bool,
    date_format: str | None, column_map: dict[str, str] | None, reason: str | None,
    report: ImportProgress, settings: Settings, limits: UploadLimits, as_of: date | None,
    decimal: str | None, connection: duckdb.DuckDBPyConnection, workspace: ImportWorkspace | None = None,
) -> ImportResult:
    raw = read_table(upload, name, looks_like_header=_looks_like_header(kind, column_map), limits=limits,
                     connection=connection)
    raw.connection = connection
    raw.decimal = decimal
    mapping, mapping_notes = map_columns(kind, raw.header, name, raw.header_line, column_map)
    if raw.cells.num_rows == 0:
        raise BadInput.single(name, "the file has a header but no rows", line=raw.header_line)
    report.stage(0.35, "Checking", raw.cells.num_rows)
    if kind == "deals":
        from salesplan.imports_deals import import_deals  # it builds on this module's parser

        result = import_deals(store, raw, mapping, principal=principal, valid_only=valid_only,
                              date_format=date_format, settings=settings, as_of=as_of, memory_mb=limits.memory_mb)
    else:
        importers: dict[str, Callable[..., ImportResult]] = {
            "actuals": partial(_import_actuals, workspace=workspace), "reps": _import_reps,
            "targets": _import_targets, "holidays": _import_holidays, "rates": _import_rates,
        }
        importer = importers[kind]
        result = importer(store, raw, mapping, principal=principal, valid_only=valid_only, date_format=date_format,
                          settings=settings, reason=reason, memory_mb=limits.memory_mb, report=report)
    result.notes.extend(mapping_notes)
    if raw.title_lines:
        result.notes.append(f"skipped {len(raw.title_lines)} line(s) above the header (line {raw.header_line})")
    if raw.repeated_header_lines:
        shown = ", ".join(str(line) for line in raw.repeated_header_lines[:10])
        more = ", ..." if len(raw.repeated_header_lines) > 10 else ""
        result.notes.append(f"skipped {len(raw.repeated_header_lines)} copy(ies) of the header row (line {shown}{more})")
    report.done(result)
    return result


# ============================================================================ rates
def _import_rates(store: Store, raw: RawTable, mapping: dict[str, int], **options) -> ImportResult:
    # its own module (docs/currencies.md); imported here because it builds on this one
    from salesplan.rates_import import import_rates

    return import_rates(store, raw, mapping, **options)

"""CSV and Excel downloads of engine frames, with formula-like text cells neutralised so that a
spreadsheet shows them instead of running them. The report and watch-list downloads are the
readable frame (:func:`salesplan.report.readable`: rounded money, percentages, status labels,
names); the Excel file keeps the unrounded engine values on a second sheet."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pandas as pd

from salesplan import imports, report

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    return out


def _export_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(
                lambda v: v.isoformat() if isinstance(v, (date, datetime)) else v
            )
    return neutralise_frame(out)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return _export_ready(frame).to_csv(index=False).encode("utf-8")


def rejected_csv(rejected: pd.DataFrame) -> bytes:
    """The rows a valid-only import left out (``Store.rejected_rows``) as a CSV of the file's own
    columns, then line and problems (:func:`salesplan.imports.rejected_table`). Raises KeyError
    when the frame lacks the record, line or problems column."""
    return csv_bytes(imports.rejected_table(rejected))


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = _export_ready(frame)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_localize(None)
    return out


def excel_bytes(frame: pd.DataFrame, sheet: str = "salesplan") -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _excel_ready(frame).to_excel(writer, index=False, sheet_name=sheet[:31])
    return buffer.getvalue()


RAW_SHEET = "raw values"


def report_csv(frame: pd.DataFrame) -> bytes:
    """An engine report or watch list as people read it (:func:`salesplan.report.readable`), as CSV.
    Raises nothing."""
    return csv_bytes(report.readable(frame))


def report_excel(frame: pd.DataFrame, sheet: str) -> bytes:
    """An engine report or watch list as an Excel workbook: the readable sheet ``sheet`` first, then
    the engine's unrounded values (ids included) on the sheet :data:`RAW_SHEET`. Raises nothing."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _excel_ready(report.readable(frame)).to_excel(writer, index=False, sheet_name=sheet[:31])
        _excel_ready(frame).to_excel(writer, index=False, sheet_name=RAW_SHEET)
    return buffer.getvalue()

"""Render engine frames as text (docs/cli.md): ``csv`` and ``json`` for machines, ``table`` for people.

csv: the docs/cli.md header exactly (REPORT_COLUMNS, then any extra columns of the frame such as the
watch list's ``recommended_action`` and ``plan_needs_update``), fractions as plain decimals, money
unrounded (the shortest decimal that round-trips to the same float, never in exponent notation;
integral values without ``.0``), dates ISO, booleans ``true``/``false``, empty cells for empty
values; a text cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a
carriage return: an owner or territory named "=HYPERLINK(...)") gets a leading apostrophe, as the
dashboard's exports do, while numbers are never touched (a negative amount stays a number, -500).
json: a list of objects with the same keys and values, ``null`` for empty. table: aligned
columns, money with 2 decimals and thousands separators, attainment/pace/coverage as percentages,
acceleration as a multiple.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from salesplan.currency import symbol_of
from salesplan.engine import MONEY_COLUMNS, RATIO_COLUMNS, REPORT_COLUMNS
from salesplan.errors import BadInput

FORMATS = ("table", "csv", "json")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe; anything
    else (numbers included) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _is_empty(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return math.isnan(v)
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    return False


def _plain_number(v: float) -> str:
    """Shortest round-tripping decimal without exponent ('8000', '0.95', '1272.7272727272727')."""
    text = np.format_float_positional(float(v), unique=True, trim="-")
    return "0" if text == "-0" else text


def _machine(v: Any) -> Any:
    """One cell -> a JSON-able value (None for empty)."""
    if _is_empty(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, np.datetime64):
        return _machine(pd.Timestamp(v))
    return str(v)


def _csv_cell(v: Any) -> str:
    m = _machine(v)
    if m is None:
        return ""
    if isinstance(m, bool):
        return "true" if m else "false"
    if isinstance(m, int):
        return str(m)
    if isinstance(m, float):
        return _plain_number(m)
    return neutralise(m)  # only text: numbers returned above, so -500 stays -500


def _columns(df: pd.DataFrame) -> list[str]:
    """REPORT_COLUMNS in the documented order when the frame has them all; extra columns keep their side
    (before: e.g. status history's week_end; after: e.g. the watch list's advice)."""
    cols = list(df.columns)
    if all(c in cols for c in REPORT_COLUMNS):
        first = min(cols.index(c) for c in REPORT_COLUMNS)
        extra = [c for c in cols if c not in REPORT_COLUMNS]
        return [c for c in extra if cols.index(c) < first] + REPORT_COLUMNS + [c for c in extra if cols.index(c) > first]
    return cols


def _human(col: str, v: Any, symbol: str = "") -> str:
    if _is_empty(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if col in MONEY_COLUMNS and isinstance(v, (int, float, np.integer, np.floating)):
        return f"{'-' if v < 0 else ''}{symbol}{abs(float(v)):,.2f}"
    if col in RATIO_COLUMNS and isinstance(v, (int, float, np.integer, np.floating)):
        return f"{float(v) * 100:.1f} %"
    if col == "acceleration" and isinstance(v, (int, float, np.integer, np.floating)):
        return f"{float(v):.2f}x"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):,.4g}"
    m = _machine(v)
    return str(m)


def _is_numeric_col(df: pd.DataFrame, col: str) -> bool:
    return pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])


def render(df: pd.DataFrame, fmt: str = "table", *, currency: str = "") -> str:
    """``df`` (a report, watch list or status history frame) as ``table``, ``csv`` or ``json`` text;
    the table shows money with the symbol of ``currency`` (the base currency; csv and json stay
    plain numbers). Raises BadInput for an unknown format."""
    if fmt not in FORMATS:
        raise BadInput.single("format", f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    cols = _columns(df)
    rows = df[cols].itertuples(index=False, name=None)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([neutralise(c) for c in cols])
        for row in rows:
            w.writerow([_csv_cell(v) for v in row])
        return buf.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(cols, (_machine(v) for v in row))) for row in rows],
                          indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    if len(df) == 0:
        return "(no rows)\n"
    symbol = symbol_of(currency)
    cells = [[_human(c, v, symbol) for c, v in zip(cols, row)] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    right = [_is_numeric_col(df, c) or c in MONEY_COLUMNS or c in RATIO_COLUMNS for c in cols]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    out = [line(list(cols)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out) + "\n"


def render_backtest(result: Any, fmt: str = "table") -> str:
    """A :class:`salesplan.backtest.BacktestResult` as text: ``csv`` one (section, name, value) row
    per number; ``json`` an object with summary, by_status and calibration; ``table`` the summary
    then the two tables.

    Raises BadInput for an unknown format."""
    if fmt not in FORMATS:
        raise BadInput.single("format", f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "csv":
        return render(result.to_frame(), "csv")
    if fmt == "json":
        doc = {
            "summary": {k: _machine(v) for k, v in result.summary.items()},
            "by_status": [{k: _machine(v) for k, v in r.items()} for r in result.by_status.to_dict("records")],
            "calibration": [{k: _machine(v) for k, v in r.items()} for r in result.calibration.to_dict("records")],
        }
        return json.dumps(doc, indent=1, allow_nan=False) + "\n"
    s = result.summary

    def pct(v: Any) -> str:
        return "" if _is_empty(v) else f"{float(v) * 100:.1f} %"

    lead = "" if _is_empty(s["median_lead_weeks"]) else f"{s['median_lead_weeks']:.1f}"
    gap = "" if _is_empty(s["calibration_gap"]) else f"{s['calibration_gap']:.3f}"
    lines = [
        f"fiscal years replayed          {s['fiscal_years'] or '(none complete)'}",
        f"owner-years with a target      {s['owners']:,} ({s['misses']:,} missed)",
        f"weekly checks                  {s['checks']:,}",
        f"too_late right                 {pct(s['too_late_precision'])} of {s['too_late_checks']:,} checks "
        f"(without the chance rule: {pct(s['too_late_precision_without_chance'])})",
        f"on_track that still missed     {pct(s['on_track_miss_rate'])}",
        f"misses flagged 8+ weeks ahead  {pct(s['flagged_in_time'])} (median lead {lead} weeks)",
        f"chance calibration gap         {gap} (mean |predicted - observed| over the bins)",
        "",
    ]
    by_status = result.by_status.assign(miss_rate=result.by_status["miss_rate"].map(pct))
    calibration = result.calibration.assign(predicted=result.calibration["predicted"].map(pct),
                                            observed=result.calibration["observed"].map(pct))
    return "\n".join(lines) + render(by_status, "table") + "\n" + render(calibration, "table")


# --------------------------------------------------------------------------- exports people read
READABLE_LABELS = {
    "owner_type": "Level", "owner_name": "Owner", "metric": "Metric", "period": "Period",
    "period_start": "Period start", "period_end": "Period end", "as_of": "As of", "target": "Target",
    "expected_to_date": "Expected to date", "actual_to_date": "Actual to date", "attainment": "Attainment %",
    "pace": "Pace %", "gap_to_date": "Gap to date (+ = behind plan)", "remaining": "Still to sell",
    "working_days_elapsed": "Working days elapsed", "working_days_left": "Working days left",
    "required_per_working_day": "Required per working day", "current_per_working_day": "Current per working day",
    "acceleration": "Acceleration (×)", "best_per_working_day": "Best per working day",
    "projection_linear": "Projection at current run-rate", "projection_seasonal": "Projection at current pace",
    "status": "Status", "point_of_no_return": "Point of no return", "working_days_to_act": "Working days to act",
    "action_coverage": "Plan coverage %", "pipeline": "Pipeline", "weighted_pipeline": "Weighted pipeline",
    "overdue_pipeline": "Overdue pipeline", "pipeline_coverage": "Pipeline coverage %",
    "weighted_coverage": "Weighted coverage %", "projection_with_pipeline": "Projection with pipeline",
    "uncovered_gap": "Uncovered gap", "chance_to_reach": "Chance to reach %",
    "recommended_action": "What to do", "plan_needs_update": "Plan needs an update",
}
READABLE_STATUS = {"achieved": "Achieved", "on_track": "On track", "at_risk": "At risk", "off_track": "Off track",
                   "too_late": "Too late", "not_started": "Not started", "no_target": "No target"}
READABLE_LEVEL = {"rep": "Rep", "territory": "Territory", "region": "Region", "org": "Organisation"}


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """An engine frame (report or watch list) as people read it in a spreadsheet: money rounded to
    whole units, ratios as percentages with one decimal, acceleration with two, statuses and levels
    as their labels, the point of no return as a date or "passed", yes/no for flags, dates ISO,
    empty cells (never "nan") for empty values, and the owner's name instead of its id (the ids
    stay in the raw values). Gap to date keeps the one sign convention: positive = behind plan.
    Columns are renamed to :data:`READABLE_LABELS`; others keep their name. Raises nothing."""
    cols = [c for c in _columns(df) if not (c == "owner_id" and "owner_name" in df.columns)]
    out = pd.DataFrame(index=df.index)
    for col in cols:
        values = df[col]
        if col in MONEY_COLUMNS:
            cells: list[Any] = [None if _is_empty(v) else round(float(v)) for v in values]
        elif col in RATIO_COLUMNS:
            cells = [None if _is_empty(v) else round(float(v) * 100, 1) for v in values]
        elif col == "acceleration":
            cells = [None if _is_empty(v) else round(float(v), 2) for v in values]
        elif col == "status":
            cells = [None if _is_empty(v) else READABLE_STATUS.get(str(v), str(v)) for v in values]
        elif col == "owner_type":
            cells = [None if _is_empty(v) else READABLE_LEVEL.get(str(v), str(v)) for v in values]
        else:
            cells = []
            for v in values:
                m = _machine(v)
                cells.append("yes" if m is True else "no" if m is False else m)
        out[READABLE_LABELS.get(col, col)] = pd.Series(cells, index=df.index, dtype=object)
    return out.reset_index(drop=True)

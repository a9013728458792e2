"""Formatting for the screens: money, percentages, dates, statuses and labels, and user text made
inert in markdown and in plotly labels. Every number is the engine's; only its text is made here."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from salesplan import engine
from salesplan.currency import symbol_of

STATUS_LABEL = {
    "achieved": "Achieved",
    "on_track": "On track",
    "at_risk": "At risk",
    "off_track": "Off track",
    "too_late": "Too late",
    "not_started": "Not started",
    "no_target": "No target",
}
STATUS_COLOR = {
    "achieved": "green",
    "on_track": "green",
    "at_risk": "orange",
    "off_track": "red",
    "too_late": "violet",
    "not_started": "gray",
    "no_target": "gray",
}
STATUS_ICON = {
    "achieved": ":material/emoji_events:",
    "on_track": ":material/check_circle:",
    "at_risk": ":material/warning:",
    "off_track": ":material/trending_down:",
    "too_late": ":material/block:",
    "not_started": ":material/schedule:",
    "no_target": ":material/flag_circle:",
}
METRIC_LABEL = {"revenue": "Revenue", "profit": "Profit"}
LEVEL_LABEL = {"rep": "Reps", "territory": "Territories", "region": "Regions", "org": "Whole organisation"}


def is_empty(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def money(value: Any, decimals: int = 0, *, currency: str | None = None) -> str:
    """An amount with the symbol of ``currency`` (default: the organisation's base currency,
    docs/currencies.md): "€1,234", "-$50", "CHF 1,234", or the plain number in a
    single-currency organisation. Raises nothing; an empty value is a dash."""
    if is_empty(value):
        return "—"
    number = float(value)
    symbol = symbol_of(base_currency() if currency is None else currency)
    return f"{'-' if number < 0 else ''}{symbol}{abs(number):,.{decimals}f}"


def base_currency() -> str:
    """The base currency setting of the store the page reads ('' for none, and outside a page
    run, where there is no store to ask)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return ""
    from salesplan.ui.data import settings  # the data module formats its own messages with md()

    return str(getattr(settings(), "base_currency", "") or "")


# the table columns that hold money: the engine's, and those of deals, plans and target edits
MONEY_KEYS = frozenset((*engine.MONEY_COLUMNS, "amount", "weighted", "expected_impact", "revenue_at_risk", "required",
                        "current", "new", "change", "previous_amount", "territory_target", "reps_target"))


def money_columns(column_config: dict[str, Any] | None) -> dict[str, Any] | None:
    """``column_config`` with the base currency's symbol in the header of each money column
    (MONEY_KEYS shown as numbers, "Target (€)"): a table's cells cannot carry a symbol for every
    currency, its header can. Unchanged in a single-currency organisation."""
    symbol = symbol_of(base_currency()).strip()
    if not symbol or not column_config:
        return column_config
    out = dict(column_config)
    for key, config in column_config.items():
        if key in MONEY_KEYS and isinstance(config, dict) and config.get("label") \
                and (config.get("type_config") or {}).get("type") == "number":
            out[key] = {**config, "label": f"{config['label']} ({symbol})"}
    return out


def pct(value: Any, decimals: int = 1) -> str:
    if is_empty(value):
        return "—"
    return f"{float(value) * 100:,.{decimals}f} %"


def times(value: Any) -> str:
    if is_empty(value):
        return "—"
    return f"{float(value):,.2f}×"


def day_text(value: Any) -> str:
    """A date in words (``Thu 24 Dec 2026``)."""
    if is_empty(value):
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.date()
    return f"{value:%a} {value.day} {value:%b %Y}"


def month_label(value: Any, *, short: bool = False) -> str:
    value = pd.Timestamp(value)
    return f"{value:%b}" if short else f"{value:%b %Y}"


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for on-screen tables: money rounded to whole units, ratios to 0.1 %. Exports use the
    unrounded engine frame."""
    out = frame.copy()
    for column in engine.MONEY_COLUMNS:
        if column in out.columns:
            out[column] = out[column].round(0)
    for column in (*engine.RATIO_COLUMNS, "acceleration"):
        if column in out.columns:
            out[column] = out[column].round(3 if column != "acceleration" else 2)
    return out


def status_label(status: Any) -> str:
    return STATUS_LABEL.get(str(status), str(status)) if not is_empty(status) else "—"


def row_status(row: Any) -> str:
    """The status to show for an engine row: ``no_target`` for an owner without a target (T = 0),
    which is never on track. The engine's report says so itself once it has that status; this
    keeps an older report's status for such a row off the screen."""
    target = row["target"]
    return "no_target" if is_empty(target) or not float(target) > 0 else str(row["status"])


def status_badge(status: str) -> None:
    st.badge(status_label(status), icon=STATUS_ICON.get(status), color=STATUS_COLOR.get(status, "gray"))  # type: ignore[arg-type]


def ponr_text(value: Any) -> str:
    if is_empty(value):
        return "—"
    if value == engine.PASSED:
        return "passed"
    return day_text(value)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: Any) -> str:
    """User text made inert inside Streamlit markdown (no links, images, emphasis, HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", "" if is_empty(text) else str(text))


def plotly_text(text: Any) -> str:
    """User text made inert inside plotly labels, hover texts and axis ticks, which render a subset
    of HTML (``<a href>``, ``<b>``, ``<br>``...): the tags are shown as typed."""
    return html.escape("" if is_empty(text) else str(text), quote=False)


def rep_label(reps: pd.DataFrame) -> Callable[[str], str]:
    names = dict(zip(reps["rep_id"], reps["name"]))
    return lambda rep_id: f"{names.get(rep_id, rep_id)} ({rep_id})"

"""The Streamlit dashboard's UI package: the one part of ``salesplan`` that imports streamlit and plotly.

By concern, so that the pages read like descriptions of their screens:

* :mod:`~salesplan.ui.auth`: who is looking (built-in accounts with a signed cookie, or ``st.login``),
  sessions, sign-out and the sign-in screens;
* :mod:`~salesplan.ui.navigation`: the pages of each role, the guard every page starts with
  (:func:`page`), moving between pages and the rep a page is about;
* :mod:`~salesplan.ui.data`: the process-wide store and the cached reads (caching lives there only);
* :mod:`~salesplan.ui.widgets`: writes that report refusals in words, tables, one-shot messages;
* :mod:`~salesplan.ui.formatting`: money, percentages, statuses, user text made inert;
* :mod:`~salesplan.ui.charts`, :mod:`~salesplan.ui.exports`, :mod:`~salesplan.ui.printable`.

No formula is computed here: every number comes from :mod:`salesplan.engine`; the work a screen
needs beyond drawing lives in plain core modules (:mod:`salesplan.upload_flow`,
:mod:`salesplan.targets_editor`, :mod:`salesplan.plan_view`). The names below are the ones the pages
use, as ``ui.<name>``.
"""

from __future__ import annotations

from salesplan.ui.auth import (
    SESSION_COOKIE,
    SESSION_HOURS,
    SESSION_SECONDS,
    SIGNED_IN_KEY,
    account_box,
    current_principal,
    email_from_token,
    email_text,
    session_token,
    sign_in_page,
    sign_out,
)
from salesplan.ui.charts import (
    bridge_figure,
    burnup_figure,
    heatmap_figure,
    monthly_bars_figure,
    pipeline_trend_figure,
    reliability_figure,
)
from salesplan.ui.data import (
    allocation,
    backtest,
    chance_details,
    fy_of,
    pipeline_trend,
    preview,
    prior_year_actuals,
    read,
    report,
    settings,
    start_run,
    store,
    today,
    watchlist,
    year_curve,
)
from salesplan.ui.exports import csv_bytes, excel_bytes, neutralise, neutralise_frame, rejected_csv
from salesplan.ui.formatting import (
    LEVEL_LABEL,
    METRIC_LABEL,
    STATUS_COLOR,
    STATUS_LABEL,
    day_text,
    for_display,
    is_empty,
    md,
    money,
    month_label,
    pct,
    plotly_text,
    ponr_text,
    rep_label,
    row_status,
    status_badge,
    status_label,
    times,
)
from salesplan.ui.navigation import (
    MENU,
    PAGES,
    go_to,
    mark_routed,
    may_open,
    may_set_targets,
    may_write,
    menu,
    page,
    pages_for,
    pick_rep,
    sign_in_pages,
)
from salesplan.ui.printable import plan_html
from salesplan.ui.widgets import (
    WATCHLIST_PAGE_SIZE,
    attempt,
    attempt_plan,
    flash,
    problems_frame,
    reps_or_stop,
    show_problems,
    table,
)

__all__ = [
    "LEVEL_LABEL",
    "MENU",
    "METRIC_LABEL",
    "PAGES",
    "SESSION_COOKIE",
    "SESSION_HOURS",
    "SESSION_SECONDS",
    "SIGNED_IN_KEY",
    "STATUS_COLOR",
    "STATUS_LABEL",
    "WATCHLIST_PAGE_SIZE",
    "account_box",
    "allocation",
    "attempt",
    "attempt_plan",
    "backtest",
    "bridge_figure",
    "burnup_figure",
    "chance_details",
    "csv_bytes",
    "current_principal",
    "day_text",
    "email_from_token",
    "email_text",
    "excel_bytes",
    "flash",
    "for_display",
    "fy_of",
    "go_to",
    "heatmap_figure",
    "is_empty",
    "mark_routed",
    "may_open",
    "may_set_targets",
    "may_write",
    "md",
    "menu",
    "money",
    "month_label",
    "monthly_bars_figure",
    "neutralise",
    "neutralise_frame",
    "page",
    "pages_for",
    "pct",
    "pipeline_trend",
    "pipeline_trend_figure",
    "pick_rep",
    "plan_html",
    "plotly_text",
    "ponr_text",
    "preview",
    "prior_year_actuals",
    "problems_frame",
    "read",
    "rejected_csv",
    "reliability_figure",
    "rep_label",
    "report",
    "reps_or_stop",
    "row_status",
    "session_token",
    "settings",
    "show_problems",
    "sign_in_page",
    "sign_in_pages",
    "sign_out",
    "status_badge",
    "status_label",
    "store",
    "table",
    "times",
    "start_run",
    "today",
    "watchlist",
    "year_curve",
]

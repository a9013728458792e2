"""Plotly figures built from engine frames (burn-up, monthly bars, heatmap). User text on an axis or
in a hover goes through :func:`~salesplan.ui.formatting.plotly_text`. Money axes and hovers carry
the base currency's symbol (docs/currencies.md): each money chart takes ``currency`` (default: the
organisation's base currency setting, as :func:`~salesplan.ui.formatting.money` reads it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from salesplan import engine
from salesplan.currency import symbol_of
from salesplan.ui.formatting import (
    METRIC_LABEL,
    base_currency,
    day_text,
    is_empty,
    money,
    month_label,
    pct,
    plotly_text,
)

COLORS = {
    "target": "#8c8c8c",
    "plan": "#1f77b4",
    "actual": "#2ca02c",
    "linear": "#ff7f0e",
    "seasonal": "#9467bd",
    "required": "#d62728",
}


def money_prefix(currency: str | None = None) -> str:
    """The text put before money on an axis tick or in a hover: the symbol of ``currency`` (default
    the base currency), made inert for plotly; '' in a single-currency organisation."""
    return plotly_text(symbol_of(base_currency() if currency is None else currency))


def money_axis(currency: str | None = None, **axis: Any) -> dict[str, Any]:
    """A y axis of money: whole units with thousands separators and the currency's symbol."""
    return {"tickformat": ",.0f", "tickprefix": money_prefix(currency), **axis}


def money_hover(currency: str | None = None, value: str = "%{y:,.0f}", *, named: bool = False) -> str:
    """A hovertemplate (or its part) that shows a money value with the currency's symbol; ``named``:
    a whole template that starts with the trace's name, for the charts whose hover lists every
    trace at one x (``hovermode="x unified"``)."""
    money_text = f"{money_prefix(currency)}{value}"
    return f"%{{fullData.name}}: {money_text}<extra></extra>" if named else money_text


def burnup_figure(curve: pd.DataFrame, row: pd.Series, metric: str, *, currency: str | None = None) -> go.Figure:
    """Cumulative plan (with its seasonality), cumulative actuals, both projections and the required
    path, from engine numbers only: ``curve`` is :func:`year_curve`, ``row`` the owner's year row.
    Money is shown in ``currency`` (default: the base currency)."""
    start, end = row["period_start"], row["period_end"]
    as_of = row["as_of"]
    e = min(as_of, end)
    target = float(row["target"])
    plan_x = [start, *curve["week_end"].tolist(), end]
    plan_y = [0.0, *curve["expected_to_date"].astype(float).tolist(), target]
    hover = money_hover(currency, named=True)
    traces = [{"type": "scatter", "x": plan_x, "y": plan_y, "name": "Plan (cumulative target)", "mode": "lines",
               "line": {"color": COLORS["plan"], "width": 2}, "hovertemplate": hover}]
    past = curve[curve["week_end"] <= e]
    actual_x = [start, *past["week_end"].tolist(), e]
    actual_y = [0.0, *past["actual_to_date"].astype(float).tolist(), float(row["actual_to_date"])]
    traces.append({"type": "scatter", "x": actual_x, "y": actual_y, "name": "Actual (cumulative)", "mode": "lines",
                   "line": {"color": COLORS["actual"], "width": 3}, "hovertemplate": hover})
    A = float(row["actual_to_date"])
    if e < end:
        for key, name, color, dash in (
            ("projection_linear", "Projection at current run-rate", COLORS["linear"], "dash"),
            ("projection_seasonal", "Projection at current pace vs plan", COLORS["seasonal"], "dot"),
        ):
            if not is_empty(row[key]):
                traces.append({"type": "scatter", "x": [e, end], "y": [A, float(row[key])], "name": name,
                               "mode": "lines", "line": {"color": color, "dash": dash, "width": 2},
                               "hovertemplate": hover})
        if target > A:
            traces.append({"type": "scatter", "x": [e, end], "y": [A, target], "name": "Required path to target",
                           "mode": "lines", "line": {"color": COLORS["required"], "dash": "dashdot", "width": 2},
                           "hovertemplate": hover})
    # the target line and the day lines as the layout's shapes and annotations, as add_hline and
    # add_vline would place them: those two check every subplot of the figure at each call, which
    # took a fifth of a cached run of My plan (the figure drawn is the same)
    shapes = [{"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": target, "y1": target,
               "line": {"color": COLORS["target"], "dash": "dot", "width": 1}}]
    notes = [{"text": f"Target {money(target, currency=currency)}", "showarrow": False, "xref": "x domain", "x": 0,
              "xanchor": "left", "yref": "y", "y": target, "yanchor": "bottom"}]

    def day_line(day: Any, line: dict[str, Any], text: str, xanchor: str) -> None:
        x = pd.Timestamp(day).timestamp() * 1000
        shapes.append({"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "y domain", "y0": 0, "y1": 1,
                       "line": line})
        notes.append({"text": text, "showarrow": False, "xref": "x", "x": x, "xanchor": xanchor,
                      "yref": "y domain", "y": 1, "yanchor": "top"})

    day_line(e, {"color": "#555", "width": 1, "dash": "dot"}, f"as of {day_text(e)}", "right")  # top left
    ponr = row["point_of_no_return"]
    if not is_empty(ponr) and ponr != engine.PASSED:
        day_line(ponr, {"color": COLORS["required"], "width": 1}, "point of no return", "left")  # top right
    return go.Figure(data=traces, layout={
        "title": f"{METRIC_LABEL[metric]}: burn-up for {row['period']}",
        "height": 420, "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "legend": {"orientation": "h", "y": -0.15}, "hovermode": "x unified", "shapes": shapes, "annotations": notes,
        "yaxis": money_axis(currency, title=METRIC_LABEL[metric], rangemode="tozero"),
    })


def monthly_bars_figure(months: pd.DataFrame, metric: str, *, currency: str | None = None) -> go.Figure:
    """Target vs actual per fiscal month (engine.report with period='month'), money in ``currency``
    (default: the base currency)."""
    labels = [month_label(s) for s in months["period_start"]]
    return go.Figure(data=[
        {"type": "bar", "x": labels, "y": months["target"], "name": "Target", "marker": {"color": "#c7d7ea"},
         "hovertemplate": f"%{{x}}: {money_hover(currency)}<extra>Target</extra>"},
        {"type": "bar", "x": labels, "y": months["actual_to_date"], "name": "Actual",
         "marker": {"color": COLORS["actual"]}, "customdata": [[pct(v)] for v in months["attainment"]],
         "hovertemplate": f"%{{x}}: {money_hover(currency)} (%{{customdata[0]}} of target)<extra>Actual</extra>"},
    ], layout={"barmode": "group", "title": f"{METRIC_LABEL[metric]}: target vs actual by month", "height": 340,
               "margin": {"l": 10, "r": 10, "t": 50, "b": 10}, "legend": {"orientation": "h", "y": -0.2},
               "yaxis": money_axis(currency)})


HEAT_MIN, HEAT_MAX = 0.5, 1.5


def heat_scale(at_risk: float) -> list[list[Any]]:
    """Red below the at-risk band, amber inside it, green from 100 % (the statuses' colours)."""
    risk = min(max((at_risk - HEAT_MIN) / (HEAT_MAX - HEAT_MIN), 0.001), 0.499)
    return [[0.0, "#a50f15"], [risk - 0.001, "#f08060"], [risk, "#fdd97a"], [0.499, "#fff1c1"],
            [0.5, "#d9f0d3"], [1.0, "#1b7837"]]


IN_PROGRESS_SCALE = [[0.0, "#eeeeee"], [1.0, "#eeeeee"]]  # a month in progress: no verdict colour yet


def heatmap_figure(grid: pd.DataFrame, value_label: str, title: str, at_risk: float = 0.9,
                   in_progress: tuple[str, ...] = ()) -> go.Figure:
    """Reps x months heatmap. ``grid`` has columns region, territory, rep_id, name, then one column per
    month label plus 'YTD', holding engine ratios (NaN = empty). The ``in_progress`` columns (the
    month of the as-of date, coloured by attainment) are drawn grey with their value as text: a
    month that has only begun would read red for everyone. Raises KeyError for a missing column."""
    value_columns = [c for c in grid.columns if c not in ("region", "territory", "rep_id", "name")]
    # every array goes to plotly as a numpy array: nested lists are validated cell by cell, which
    # took most of a Team overview rerun at 1,000 reps (the figure drawn is the same)
    # user text on the axis and in the hover: plotly renders a subset of HTML (links included)
    y = np.array([
        [plotly_text(f"{r} · {t}") for r, t in zip(grid["region"].fillna("—"), grid["territory"].fillna("—"))],
        [plotly_text(name) for name in grid["name"]],
    ], dtype=object).reshape(2, len(grid))
    z = grid[value_columns].astype(float).to_numpy()
    empty = np.isnan(z)
    text = np.where(empty, "", np.array([[pct(v, 0) for v in line] for line in z], dtype=object).reshape(z.shape))
    muted = np.isin(np.array(value_columns, dtype=object), list(in_progress))
    coloured = np.where(muted, np.nan, z)
    wide = len(value_columns) > 20  # weeks: the percentages would not fit in the cells; they stay in the hover
    # one figure of its traces and layout (see the burn-up): add_trace and update_layout each
    # validate and merge the whole figure again
    traces: list[dict[str, Any]] = [{
        "type": "heatmap", "x": value_columns, "y": y, "z": coloured, "text": np.where(muted, "", text),
        "texttemplate": "" if wide else "%{text}", "textfont": {"size": 11}, "colorscale": heat_scale(at_risk),
        "zmin": HEAT_MIN, "zmax": HEAT_MAX, "xgap": 2, "ygap": 2,
        "colorbar": {"title": {"text": value_label, "side": "right"}, "tickformat": ".0%"},
        "hovertemplate": "%{y}<br>%{x}: %{text}<extra></extra>", "name": value_label,
    }]
    if muted.any():
        # the same grid (same cells, same geometry), empty but for the columns in progress
        traces.append({
            "type": "heatmap", "x": value_columns, "y": y, "z": np.where(muted & ~empty, 0.0, np.nan),
            "text": np.where(muted, text, ""),
            "texttemplate": "" if wide else "%{text}", "textfont": {"size": 11, "color": "#555"},
            "colorscale": IN_PROGRESS_SCALE, "showscale": False, "xgap": 2, "ygap": 2,
            "hovertemplate": "%{y}<br>%{x}: %{text} so far (in progress)<extra></extra>", "name": "in progress",
        })
    return go.Figure(data=traces, layout={
        "height": max(320, 28 * len(grid) + 130), "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
        "yaxis": {"autorange": "reversed", "type": "multicategory"},
        "xaxis": {"side": "top", "tickangle": -90 if wide else 0, "tickfont": {"size": 9 if wide else 12}},
        "title": {"text": title},
    })


BRIDGE_COLORS = {"Target": "#8c8c8c", "Actual to date": COLORS["actual"], "Weighted pipeline": "#17becf",
                 "Open plan actions": COLORS["plan"], "Uncovered gap": COLORS["required"]}


def bridge_figure(steps: pd.DataFrame, metric: str, *, currency: str | None = None) -> go.Figure:
    """The gap bridge (a waterfall): the target, then what the actual, the weighted pipeline and the
    open plan actions each cover of it, and the uncovered gap. ``steps`` is
    :func:`salesplan.pipeline_view.bridge`; each bar spans the part of the target its step covers
    (from ``left`` up to ``left + covers``), its label says the step's own ``amount``.

    When the actual covers most of the target, the rest would be a sliver under two tall bars: the
    axis is then cut at about twice what is still to sell, so that the pipeline, the actions and the
    uncovered gap can be read, and the chart says so. Money is shown in ``currency`` (default: the
    base currency)."""
    last = len(steps) - 1
    bases, heights, text = [], [], []
    for i, (amount, covers, left) in enumerate(steps[["amount", "covers", "left"]].astype(float).to_numpy()):
        ends = i in (0, last)
        bases.append(0.0 if ends else float(left))
        heights.append(float(covers))
        label = money(amount, currency=currency)
        if not ends and amount > covers + 0.5:
            label += f" (covers {money(covers, currency=currency)})"
        text.append(label)
    target = float(steps["covers"].iloc[0]) or 1.0
    to_sell = float(steps["left"].iloc[1])
    cut = 0 < to_sell < 0.3 * target
    top = to_sell * 2.0 if cut else target * 1.15
    # bars that run past a cut axis carry their label inside, near their visible foot
    positions = ["inside" if cut and bases[i] + heights[i] > top else "outside" for i in range(len(heights))]
    bars = {"type": "bar", "x": list(steps["step"]), "y": heights, "base": bases, "text": text,
            "textposition": positions, "cliponaxis": True, "insidetextanchor": "start",
            "insidetextfont": {"color": "white"},
            "marker": {"color": [BRIDGE_COLORS.get(step, "#999") for step in steps["step"]]},
            "hovertemplate": "%{x}: %{text}<extra></extra>"}
    notes = [{"x": 0.5, "y": 1.0, "xref": "x domain", "yref": "y domain", "yanchor": "bottom", "showarrow": False,
              "text": f"axis cut at {money(top, currency=currency)} so that the "
                      f"{money(to_sell, currency=currency)} still to sell can be read: "
                      f"the first two bars go on up to {money(target, currency=currency)}",
              "font": {"size": 11, "color": "#666"}}] if cut else []
    layout = {"title": f"{METRIC_LABEL[metric]}: what covers the target", "height": 400, "showlegend": False,
              "margin": {"l": 10, "r": 10, "t": 70, "b": 10}, "bargap": 0.35,
              "yaxis": money_axis(currency, range=[0, top], title=METRIC_LABEL[metric])}
    return go.Figure(data=[bars], layout={**layout, "annotations": notes} if notes else layout)


def pipeline_trend_figure(points: pd.DataFrame, *, currency: str | None = None) -> go.Figure:
    """Weighted pipeline (and weighted coverage, on a second axis) at each deal snapshot:
    ``points`` is :func:`salesplan.pipeline_view.trend`; money in ``currency`` (default: the base
    currency)."""
    x = [day_text(d) for d in points["snapshot_date"]]
    traces = [{"type": "scatter", "x": x, "y": points["weighted_pipeline"].astype(float), "name": "Weighted pipeline",
               "mode": "lines+markers", "line": {"color": BRIDGE_COLORS["Weighted pipeline"], "width": 3},
               "hovertemplate": money_hover(currency, named=True)}]
    coverage = points["weighted_coverage"].astype(float)
    if coverage.notna().any():
        traces.append({"type": "scatter", "x": x, "y": coverage, "name": "Weighted coverage of the gap",
                       "yaxis": "y2", "mode": "lines+markers", "line": {"color": "#555", "dash": "dot", "width": 2}})
    return go.Figure(data=traces, layout={
        "title": "Pipeline at each snapshot", "height": 300, "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "legend": {"orientation": "h", "y": -0.25}, "hovermode": "x unified",
        "yaxis": money_axis(currency, rangemode="tozero", title="Weighted pipeline"),
        "yaxis2": {"overlaying": "y", "side": "right", "tickformat": ".0%", "rangemode": "tozero",
                   "title": "Coverage", "showgrid": False},
    })


def reliability_figure(calibration: pd.DataFrame) -> go.Figure:
    """The reliability diagram of chance_to_reach: per bin, the mean predicted chance against the
    share of checks that reached the target, with the diagonal of a perfect forecast.
    ``calibration`` is ``BacktestResult.calibration``."""
    filled = calibration[calibration["checks"] > 0]
    return go.Figure(data=[
        {"type": "scatter", "x": [0, 1], "y": [0, 1], "name": "Perfect calibration", "mode": "lines",
         "line": {"color": COLORS["target"], "dash": "dash", "width": 1}, "hoverinfo": "skip"},
        {"type": "scatter", "x": filled["predicted"].astype(float), "y": filled["observed"].astype(float),
         "name": "This organisation", "mode": "lines+markers+text",
         "text": [f"{int(n)} checks" for n in filled["checks"]], "textposition": "top left",
         "marker": {"size": 10, "color": COLORS["plan"]}, "line": {"color": COLORS["plan"], "width": 2},
         "customdata": filled[["bin"]].to_numpy(),
         "hovertemplate": "bin %{customdata[0]}: predicted %{x:.0%}, reached %{y:.0%} (%{text})<extra></extra>"},
    ], layout={
        "title": "Chance to reach: predicted vs what happened", "height": 420,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10}, "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"title": "Predicted chance (mean of the bin)", "range": [-0.02, 1.02], "tickformat": ".0%",
                  "dtick": 0.2},
        "yaxis": {"title": "Share that reached the target", "range": [-0.02, 1.12], "tickformat": ".0%",
                  "dtick": 0.2},
    })

"""Charts write money with the base currency's symbol (docs/currencies.md): the money axes' ticks
carry it as a prefix and the money hovers and labels show it; a single-currency organisation keeps
plain numbers. The figures are built directly (salesplan/ui/charts.py), then drawn by My plan."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from salesplan import engine, pipeline_view, ui
from salesplan.principal import SYSTEM

from tests.helpers.engine import D, worked_example
from tests.helpers.pages import app, fresh_db, open_store


@pytest.fixture(scope="module")
def year_row() -> pd.Series:
    return engine.report(worked_example(), D(2025, 3, 14)).iloc[0]  # the year row: target 22,000


def _curve() -> pd.DataFrame:
    return pd.DataFrame({"week_end": [D(2025, 3, 2), D(2025, 3, 9)], "expected_to_date": [0.0, 5_000.0],
                         "actual_to_date": [0.0, 4_000.0]})


def _figures(row: pd.Series, currency: str) -> dict:
    months = pd.DataFrame({"period_start": [D(2025, 3, 1)], "target": [22_000.0], "actual_to_date": [9_000.0],
                           "attainment": [9 / 22]})
    year = row.copy()
    year["weighted_pipeline"] = 2_000.0
    points = pd.DataFrame({"snapshot_date": [D(2025, 3, 3), D(2025, 3, 10)], "weighted_pipeline": [1_000.0, 2_000.0],
                           "weighted_coverage": [0.1, 0.2]})
    return {
        "burnup": ui.burnup_figure(_curve(), row, "revenue", currency=currency),
        "months": ui.monthly_bars_figure(months, "revenue", currency=currency),
        "bridge": ui.bridge_figure(pipeline_view.bridge(year), "revenue", currency=currency),
        "trend": ui.pipeline_trend_figure(points, currency=currency),
    }


def _money_hovers(figure) -> list[str]:
    """The hovertemplates of the traces that plot money (the pipeline trend's coverage is a ratio)."""
    return [trace.hovertemplate for trace in figure.data if trace.name != "Weighted coverage of the gap"]


@pytest.mark.parametrize(("currency", "prefix"), [("EUR", "€"), ("USD", "$"), ("CHF", "CHF ")])
def test_money_axes_and_hovers_carry_the_base_currency_symbol(year_row, currency, prefix):
    figures = _figures(year_row, currency)
    for name, figure in figures.items():
        assert figure.layout.yaxis.tickprefix == prefix, name
        assert figure.layout.yaxis.tickformat == ",.0f", name
    for name in ("burnup", "months", "trend"):
        hovers = _money_hovers(figures[name])
        assert hovers and all(f"{prefix}%{{y:,.0f}}" in hover for hover in hovers), (name, hovers)
    # the unified hovers (one box for every trace at a date) name each trace before its amount
    for name in ("burnup", "trend"):
        assert all(hover == f"%{{fullData.name}}: {prefix}%{{y:,.0f}}<extra></extra>"
                   for hover in _money_hovers(figures[name])), name
    # the coverage axis of the trend stays a percentage
    assert figures["trend"].layout.yaxis2.tickformat == ".0%" and not figures["trend"].layout.yaxis2.tickprefix
    # the burn-up's target line and the bridge's bar labels are money texts
    target = [a.text for a in figures["burnup"].layout.annotations if a.text.startswith("Target")]
    assert target == [f"Target {prefix}22,000"]
    bridge = figures["bridge"].data[0]
    assert bridge.text[0] == f"{prefix}22,000" and all(prefix in text for text in bridge.text)


def test_a_single_currency_organisation_keeps_plain_numbers(year_row):
    for name, figure in _figures(year_row, "").items():
        assert not figure.layout.yaxis.tickprefix, name
        assert not any("€" in hover or "$" in hover for hover in _money_hovers(figure) if hover), name
        assert not any("€" in str(text) or "$" in str(text) for text in (figure.data[0].text or ())), name
    # without a page run there is no store to ask: the default is no symbol
    assert not ui.monthly_bars_figure(pd.DataFrame({"period_start": [D(2025, 3, 1)], "target": [1.0],
                                                    "actual_to_date": [1.0], "attainment": [1.0]}),
                                      "revenue").layout.yaxis.tickprefix


def test_my_plan_draws_its_charts_with_the_stored_base_currency(monkeypatch, tmp_path):
    db = fresh_db(tmp_path)
    store = open_store(db)
    try:
        store.save_settings(SYSTEM, base_currency="EUR")
    finally:
        store.close()
    at = app(monkeypatch, db, page="my_plan")
    assert not at.exception, [e.value for e in at.exception]
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert specs, "My plan draws its charts"
    for spec in specs:
        assert spec["layout"]["yaxis"]["tickprefix"] == "€", spec["layout"].get("title")

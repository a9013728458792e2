"""In a real browser, signed in as the demo admin: My plan's gap bridge with the deals behind the
pipeline and its trend, and the leaders' Warning track record page with its reliability diagram.
Screenshots go to tests/artifacts/ (my-plan-top.png, my-plan-bridge.png,
my-plan-bridge-chart.png, trust-page.png). The journey only reads, on the run's shared server in
the admin's signed-in context (tests/browser/conftest.py): the rep it reads is not one
test_journeys.py writes. (The team's weekly heatmap is test_journeys.py's team journey.)"""

from __future__ import annotations

import os

import pytest

from salesplan import engine, ui
from salesplan.principal import Principal
from salesplan.store import Store
from tests.helpers.browser import ARTIFACTS, metric, open_page, shoot
from tests.helpers.pages import DEMO_TODAY, fresh_db

if os.environ.get("CI", "").lower() == "true":
    from playwright.sync_api import expect
else:
    expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

ADMIN = Principal("admin@local", "admin")


def test_my_plan_gap_bridge_and_the_trust_page(server, admin_page, tmp_path):
    page = admin_page
    twin = tmp_path / "twin"
    twin.mkdir()
    with Store.open(fresh_db(twin)) as store:  # the server holds its own copy of the same demo
        year = engine.report(store.engine_inputs(ADMIN), DEMO_TODAY)
    with_target = year.loc[year["target"] > 0, "owner_id"]
    written = {with_target.iloc[0], with_target.iloc[-1]}  # test_journeys.py changes these two on the shared server
    row = year[(year["uncovered_gap"] > 0) & (year["action_coverage"] > 0) & (year["overdue_pipeline"] > 0)
               & ~year["owner_id"].isin(written)].iloc[0]
    open_page(page, f"{server.url}/?rep={row['owner_id']}")  # signed in by the admin's cookie
    expect(page.get_by_text(f"{row['owner_name']} · FY2026")).to_be_visible()
    expect(page.get_by_text("This week and last week")).to_be_visible()
    assert metric(page, "Chance to reach the target") == ui.pct(row["chance_to_reach"], 0)
    shoot(page, "my-plan-top")
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="what covers the target")
    expect(chart).to_be_visible()
    assert metric(page, "Weighted pipeline") == ui.money(row["weighted_pipeline"])
    expect(page.get_by_text(f"{ui.money(row['uncovered_gap'])} is not covered by any deal")).to_be_visible()
    expect(page.get_by_text("were expected to close by now")).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Pipeline at each snapshot")).to_be_visible()
    chart.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    chart.screenshot(path=str(ARTIFACTS / "my-plan-bridge-chart.png"))
    shoot(page, "my-plan-bridge")

    page.get_by_role("link", name="Warning track record").click()
    expect(page.get_by_role("heading", name="Warning track record")).to_be_visible()
    diagram = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="predicted vs what happened")
    expect(diagram).to_be_visible()
    shoot(page, "trust-page")

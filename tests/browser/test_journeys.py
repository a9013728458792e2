"""User journeys in a real browser, signed in as the demo admin: the team heatmap (by month and by
week, attainment and pace), upload → updated figures, the plan editor. They share the run's server
and the admin's signed-in context (tests/browser/conftest.py): the upload adds a sale of the first
rep with a target, the plan editor sets the targets of the last one, and the heatmap reads titles
only, so none reads what another wrote (nor does a journey of another module:
test_pipeline_journey.py reads a third rep)."""

from __future__ import annotations

import os
import re

import pytest

from salesplan import engine, imports, ui
from salesplan.principal import Principal
from salesplan.store import Store
from tests.helpers.browser import ARTIFACTS, IDLE, metric, open_page, shoot, submit
from tests.helpers.pages import DEMO_TODAY, fresh_db

if os.environ.get("CI", "").lower() == "true":
    from playwright.sync_api import expect
else:
    expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

ADMIN = Principal("admin@local", "admin")


def twin(tmp_path):
    """A copy of the demo database the test may open while the server holds its own copy."""
    folder = tmp_path / "twin"
    folder.mkdir()
    return Store.open(fresh_db(folder))


def year_report(store):
    return engine.report(store.engine_inputs(ADMIN), DEMO_TODAY)


def test_team_heatmap(server):
    # the tab that made the fresh server's first request (conftest.py, ``server``, whichever journey
    # runs first): it opened the team page by its address and signed in there, so it must have
    # landed on that page, with the role menu
    page = server.first_page
    page.bring_to_front()  # the admin's journeys share another tab of its context (conftest.py, ``admin_page``)
    expect(page.get_by_role("heading", name="Team overview")).to_be_visible()
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart.locator("text=Monthly attainment · FY2026")).to_be_visible()
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_text("Watch list")).to_be_visible()
    expect(nav.get_by_text("app", exact=True)).to_have_count(0)
    shoot(page, "team-heatmap-attainment")

    buttons = page.locator('[data-testid="stButtonGroup"]')
    buttons.get_by_text("Week", exact=True).click()
    expect(chart.locator("text=Weekly attainment · FY2026")).to_be_visible()
    expect(chart.locator("text=W48*")).to_be_visible()
    page.wait_for_selector(IDLE)
    chart.screenshot(path=str(ARTIFACTS / "team-heatmap-weeks.png"))

    buttons.get_by_text("Month", exact=True).click()
    expect(chart.locator("text=Monthly attainment · FY2026")).to_be_visible()
    buttons.get_by_text("Pace vs plan", exact=True).click()
    expect(chart.locator("text=Pace vs plan · FY2026")).to_be_visible()
    shoot(page, "team-heatmap-pace")


def test_upload_then_the_figures_change(server, admin_page, tmp_path):
    page = admin_page
    store = twin(tmp_path)
    year = year_report(store)
    rep = year[year["target"] > 0].iloc[0]
    sale = f"Order Date,Sales Rep,Order ID,Revenue\n{DEMO_TODAY.isoformat()},{rep['owner_id']},E2E-1,\"80,000.00\"\n"
    imports.import_file(store, "actuals", sale.encode(), principal=ADMIN, file_name="november.csv")
    after = year_report(store).set_index("owner_id").loc[rep["owner_id"]]
    store.close()
    open_page(page, f"{server.url}/?rep={rep['owner_id']}")  # signed in by the admin's cookie
    expect(page.get_by_text(f"{rep['owner_name']} · FY2026")).to_be_visible()
    before = metric(page, "Attainment")
    assert before == ui.pct(rep["attainment"])

    page.get_by_role("link", name="Upload").click()
    expect(page.get_by_text("Choose a file to upload")).to_be_visible()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files({
        "name": "november.csv", "mimeType": "text/csv",
        "buffer": sale.encode(),
    })
    expect(page.get_by_text("1 row below the header on line 1")).to_be_visible()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported november.csv as batch")).to_be_visible()
    assert metric(page, "Inserted") == "1"
    shoot(page, "upload-result")

    page.get_by_role("button", name="See the updated figures").click()
    expect(page.get_by_text(f"{rep['owner_name']} · FY2026")).to_be_visible()
    expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text(ui.pct(after["attainment"]))
    assert metric(page, "Attainment") != before
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    shoot(page, "upload-my-plan-after")


def test_plan_editor(server, admin_page, tmp_path):
    page = admin_page
    with twin(tmp_path) as store:
        year = year_report(store)
    rep = year[year["target"] > 0].iloc[-1]
    open_page(page, f"{server.url}/plan?rep={rep['owner_id']}")
    expect(page.get_by_role("heading", name="Obstacles")).to_be_visible()

    page.get_by_text("Add an obstacle").click()
    description = page.get_by_label("Obstacle", exact=True)
    description.fill("Distributor <b>changes</b> its terms")
    page.get_by_label("Revenue at risk", exact=True).fill("30000")
    # submit(): in fresh-clone CI runs the click was lost (the form still filled, no message after
    # 20 s) while the expander still animated open and the number input committed on the button's
    # mousedown; submit() clicks once both are over, and fails at once should a click still be lost
    submit(page, page.get_by_role("button", name="Add obstacle"))
    expect(description).to_have_value("")  # clear_on_submit: the browser took the submit
    expect(page.get_by_text("Obstacle added.")).to_be_visible()
    shoot(page, "plan-obstacle-added")

    page.get_by_role("tab", name="Targets").click()
    page.get_by_text("Also rewrite the closed months").click()  # the editor leaves them alone by default
    amount = page.get_by_label("Annual amount")
    amount.fill("900000")
    amount.press("Enter")
    expect(page.get_by_role("button", name=re.compile(r"Save 12 changed month"))).to_be_enabled()
    page.get_by_label("Reason for the change").fill("Raised after the October review")
    page.get_by_role("button", name=re.compile(r"Save 12 changed month")).click()
    expect(page.get_by_text(re.compile(r"Targets saved \(batch \d+\): 12 month"))).to_be_visible()
    shoot(page, "plan-targets-saved")
    expect(page.get_by_text("current revenue target for FY2026: 900,000")).to_be_visible()

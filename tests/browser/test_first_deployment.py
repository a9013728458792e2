"""A first real deployment in Chromium: `salesplan serve` on an EMPTY database, then everything a
new team does in the pages alone (no command line, no edited files): the first admin on the sign-in
page, organisation settings, people from an export whose headers need the mapping step (the Admin
page's People tab leads to the Upload page, which makes the rep ids), targets, an actuals export
whose dates are all ambiguous (every day <= 12) imported by stating the date format on the Upload
page, a rep's account added on the Admin page, and that rep signing in to their plan.
Screenshots: tests/artifacts/first-*.png."""

from __future__ import annotations

import contextlib
import os
import re
import sys

import pytest

from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers.browser import IDLE, SERVER_ENV, free_port, metric, open_page, pick, rerun, shoot, sign_in, starting, submit
from tests.helpers.pages import DEMO_TODAY

if os.environ.get("CI", "").lower() == "true":
    from playwright.sync_api import expect
else:
    expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

ADMIN, ADMIN_PASSWORD = "owner@acme.test", "first-admin-pw-1"
REP, REP_PASSWORD = "ada@acme.test", "rep-pw-12345"
# a people export as a CRM gives it: no rep_id, its own header names
PEOPLE_EXPORT = ("Sales Person,E-mail,Region Name\n"
                 "Ada Lovelace,ada@acme.test,North\n"
                 "Brian Kernighan,brian@acme.test,South\n")
TARGETS = "owner,month,amount\n" + "".join(
    f"{email},2026-{month:02d},{amount}\n" for email, amount in (("ada@acme.test", 10000), ("brian@acme.test", 8000))
    for month in range(1, 13))
# day first, and every day <= 12: each date could be read both ways
ACTUALS = ("Order Date,Sales Rep,Order ID,Revenue\n"
           "03/11/2026,ada@acme.test,SO-1,1200.00\n"
           "05/11/2026,ada@acme.test,SO-2,800.00\n"
           "10/11/2026,brian@acme.test,SO-3,950.00\n"
           "12/11/2026,brian@acme.test,SO-4,400.00\n")


@contextlib.contextmanager
def salesplan_serve(folder, db):
    """`salesplan serve --db DB --port N` (the console command's code, through ``-m``), as-of pinned;
    yields it started (tests.helpers.browser.Starting: ``up()`` waits until it answers)."""
    port = free_port()
    env = {**os.environ, **SERVER_ENV, "SALESPLAN_TODAY": DEMO_TODAY.isoformat(), "SALESPLAN_MAIL_SCHEDULER": "off"}
    command = [sys.executable, "-c", "import sys; from salesplan.cli import main; sys.exit(main())",
               "--db", str(db), "serve", "--port", str(port)]
    with starting(command, env, folder / f"serve-{port}.log", f"http://127.0.0.1:{port}", "/_stcore/health",
                  "salesplan serve") as server:
        yield server


def upload(scope, name: str, text: str) -> None:
    scope.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": text.encode()})


def upload_until(page, name: str, text: str, shown: str) -> None:
    """Upload a file and wait until the page shows ``shown``. The uploader is keyed by the kind of
    file: one chosen just before may still be replacing the uploader when the file is set (it then
    lands on the uploader that goes away), so a file the page does not show is set once more."""
    upload(page, name, text)
    try:
        expect(page.get_by_text(shown)).to_be_visible(timeout=15_000)
    except AssertionError:
        page.wait_for_selector(IDLE)
        upload(page, name, text)
        expect(page.get_by_text(shown)).to_be_visible(timeout=30_000)


def test_from_an_empty_database_to_a_rep_reading_their_plan(page, tmp_path):
    with salesplan_serve(tmp_path, tmp_path / "acme.duckdb") as server:
        url = server.up()
        # 1. the first admin, on the sign-in page of an empty database
        open_page(page, url)
        expect(page.get_by_text("Create the first admin")).to_be_visible()
        shoot(page, "first-1-create-admin")
        page.get_by_label("Email", exact=True).fill(ADMIN)
        page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        page.get_by_label("Repeat the password", exact=True).fill(ADMIN_PASSWORD)
        submit(page, page.get_by_role("button", name="Create the admin account"))
        page.get_by_role("button", name="Sign out").wait_for()
        expect(page.get_by_text(f"Signed in as {ADMIN} (admin)")).to_be_visible()

        # 2. organisation settings, on the Admin page
        page.get_by_role("link", name="Admin", exact=True).click()
        page.get_by_role("tab", name="Settings").click()
        window = page.get_by_role("spinbutton", name="Run-rate window (working days)")
        window.fill("60")  # in the settings form: committed by submit()
        submit(page, page.get_by_role("button", name="Save settings"))
        expect(page.get_by_text("Settings saved")).to_be_visible()
        shoot(page, "first-2-settings-saved")

        # 3. people from an export whose headers need the mapping step: the People tab leads there
        page.get_by_role("tab", name="People").click()
        people = page.get_by_role("tabpanel", name="People")
        people.get_by_role("link", name="Upload people").click()
        expect(page.get_by_role("heading", name="Upload", exact=True)).to_be_visible()
        with rerun(page):
            page.locator('[data-testid="stButtonGroup"]').get_by_text("People (reps)", exact=True).click()
        upload_until(page, "people-export.csv", PEOPLE_EXPORT, "2 rows below the header on line 1")
        expect(page.get_by_text("The file has no rep_id column")).to_be_visible()
        page.wait_for_selector(IDLE)  # the upload's run has ended: the expander stays as clicked
        page.get_by_text("Column mapping", exact=True).click()
        expect(page.get_by_label("region", exact=True)).to_be_visible()
        pick(page, "region", "Region Name")
        expect(page.get_by_text("region from “Region Name”")).to_be_visible()
        shoot(page, "first-3-people-mapped")
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("Imported people-export.csv as batch")).to_be_visible()
        expect(page.get_by_text("new rep ids: R001 Ada Lovelace, R002 Brian Kernighan")).to_be_visible()
        assert metric(page, "Inserted") == "2"
        shoot(page, "first-3-people-imported")

        # 4. targets, on the Upload page
        page.get_by_role("link", name="Upload", exact=True).click()
        with rerun(page):
            page.locator('[data-testid="stButtonGroup"]').get_by_text("Targets", exact=True).click()
        upload_until(page, "targets-2026.csv", TARGETS, "24 rows below the header on line 1")
        reason = page.get_by_label("Reason for these targets")
        reason.fill("FY2026 targets")
        with rerun(page):  # outside a form: Enter commits it and runs the page, before the click
            reason.press("Enter")
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("Imported targets-2026.csv as batch")).to_be_visible()
        shoot(page, "first-4-targets-imported")

        # 5. actuals whose dates are all ambiguous: the date format stated on the page
        with rerun(page):
            page.locator('[data-testid="stButtonGroup"]').get_by_text("Actuals (sales)", exact=True).click()
        upload_until(page, "crm-export.csv", ACTUALS, "4 rows below the header on line 1")
        shoot(page, "first-5-actuals-ambiguous")
        pick(page, "Dates in the file", "Day first (31/12/2026)")
        # how the first row is read (the grid draws on a canvas: its cells are in the DOM, not visible)
        expect(page.locator("td[role=gridcell]", has_text="2026-11-03").first).to_be_attached()
        expect(page.get_by_text("--date-format")).to_have_count(0)  # no command-line flag on a page
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.get_by_text("Imported crm-export.csv as batch")).to_be_visible()
        assert metric(page, "Inserted") == "4"
        shoot(page, "first-5-actuals-imported")

        # 6. an account for a rep, on the Admin page
        page.get_by_role("link", name="Admin", exact=True).click()
        page.get_by_role("tab", name="Users").click()
        form = page.locator('[data-testid="stForm"]').filter(has_text="Add an account")
        form.get_by_label("Email", exact=True).fill(REP)
        form.get_by_label("Password (empty: single sign-on only)").fill(REP_PASSWORD)
        form.get_by_label("Linked rep", exact=True).click()
        page.get_by_role("option", name=re.compile("Ada Lovelace")).click()
        submit(page, form.get_by_role("button", name="Add account"))
        expect(page.get_by_text(re.compile(rf"Account .*{re.escape(REP)}.* added as rep"))).to_be_visible()
        shoot(page, "first-6-rep-account")

        # 7. the rep signs in and sees their plan
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        open_page(page, url)  # as the rep would: the address of the dashboard, nothing of the admin's left
        sign_in(page, REP, REP_PASSWORD)
        expect(page.get_by_text(f"Signed in as {REP} (rep)")).to_be_visible()
        expect(page.get_by_role("heading", name="My plan")).to_be_visible()
        expect(page.get_by_text("Ada Lovelace · FY2026").first).to_be_visible()
        assert metric(page, "Attainment") == "1.7 %"  # 2,000 sold of 120,000
        shoot(page, "first-7-rep-my-plan")
    with Store.open(tmp_path / "acme.duckdb") as store:  # the server has stopped: what the pages wrote
        settings = store.settings()
        sales = store.actuals(SYSTEM)
        users = store.users(SYSTEM).set_index("email")
    assert settings.window == 60
    assert sorted(str(d)[:10] for d in sales["sale_date"]) == ["2026-11-03", "2026-11-05", "2026-11-10", "2026-11-12"]
    assert users.loc[REP, "role"] == "rep" and users.loc[REP, "rep_id"] == "R001"  # Ada, id made by the import
    reps = store_reps(tmp_path / "acme.duckdb")
    assert reps.to_dict("records") == [
        {"rep_id": "R001", "name": "Ada Lovelace", "email": "ada@acme.test", "region": "North"},
        {"rep_id": "R002", "name": "Brian Kernighan", "email": "brian@acme.test", "region": "South"}]


def store_reps(db):
    with Store.open(db) as store:
        return store.reps(SYSTEM)[["rep_id", "name", "email", "region"]].sort_values("rep_id").reset_index(drop=True)

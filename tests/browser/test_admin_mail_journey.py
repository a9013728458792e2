"""The Admin page's E-mail tab in a real browser: the settings as stored, "Send me a test" to a
real SMTP server on 127.0.0.1 (aiosmtpd), and the HTML digest preview of a rep's account, drawn in
its own frame; a screenshot goes to tests/artifacts/admin-email.png. On the run's shared server,
in the admin's signed-in context (tests/browser/conftest.py): its mail settings name the run's
SMTP server and its mail scheduler is off, so the test message is the only mail sent."""

from __future__ import annotations

import os

import pytest

from tests.helpers.browser import open_page, pick, shoot

if os.environ.get("CI", "").lower() == "true":
    from playwright.sync_api import expect
else:
    expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect


def test_admin_email_tab_sends_a_test_and_previews_a_reps_digest(server, admin_page):
    page = admin_page
    open_page(page, f"{server.url}/admin")  # signed in by the admin's cookie
    page.get_by_role("tab", name="E-mail").click()
    expect(page.get_by_label("Mail server (SMTP host)")).to_have_value("127.0.0.1")
    expect(page.get_by_label("Sender")).to_have_value("Sales plan <plan@demo.test>")

    page.get_by_role("button", name="Send me a test").click()
    expect(page.get_by_text("A test digest was sent to admin@demo.test")).to_be_visible()
    [received] = server.smtp.collector.received
    assert received.rcpt_tos == ["admin@demo.test"]
    assert str(received.message["Subject"]).startswith("[Test] Weekly digest")

    pick(page, "Whose digest", "rep1@demo.test")
    page.get_by_role("button", name="Show the digest").click()
    frame = page.frame_locator('iframe[src^="data:text/html"]')
    expect(frame.get_by_text("This fiscal year")).to_be_visible()
    path = shoot(page, "admin-email")
    assert path.exists()

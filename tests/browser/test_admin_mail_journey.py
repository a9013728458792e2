"""The Admin page's E-mail tab in a real browser: the settings as stored, "Send me a test" to a
real SMTP server on 127.0.0.1 (aiosmtpd), and the HTML digest preview of a rep's account, drawn in
its own frame; a screenshot goes to tests/artifacts/admin-email.png."""

from __future__ import annotations

import os

import pytest

from salesplan.principal import SYSTEM
from tests.browser.conftest import require_browser
from tests.helpers.browser import open_page, shoot, sign_in, streamlit_server, wait_for_rerun
from tests.helpers.mail import running_server
from tests.helpers.pages import fresh_db, open_store

if os.environ.get("CI", "").lower() == "true":
    from playwright.sync_api import expect
else:
    expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect


@pytest.fixture
def smtp():
    yield from running_server()


def test_admin_email_tab_sends_a_test_and_previews_a_reps_digest(tmp_path, monkeypatch, page, smtp):
    require_browser()
    db = fresh_db(tmp_path)
    store = open_store(db)
    try:
        store.save_settings(SYSTEM, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls="off",
                            mail_from="Sales plan <plan@demo.test>", timezone="Europe/Berlin",
                            dashboard_url="https://plan.example.com")
    finally:
        store.close()
    monkeypatch.setenv("SALESPLAN_MAIL_SCHEDULER", "off")  # the server sends the test only, not the week's digests
    with streamlit_server(tmp_path, db) as base:
        open_page(page, f"{base}/admin")
        sign_in(page)
        page.get_by_role("tab", name="E-mail").click()
        expect(page.get_by_label("Mail server (SMTP host)")).to_have_value("127.0.0.1")
        expect(page.get_by_label("Sender")).to_have_value("Sales plan <plan@demo.test>")

        page.get_by_role("button", name="Send me a test").click()
        expect(page.get_by_text("A test digest was sent to admin@demo.test")).to_be_visible()
        [received] = smtp.collector.received
        assert received.rcpt_tos == ["admin@demo.test"]
        assert str(received.message["Subject"]).startswith("[Test] Weekly digest")

        page.get_by_label("Whose digest").click()
        page.get_by_role("option", name="rep1@demo.test").click()
        wait_for_rerun(page)
        page.get_by_role("button", name="Show the digest").click()
        frame = page.frame_locator('iframe[src^="data:text/html"]')
        expect(frame.get_by_text("This fiscal year")).to_be_visible()
        path = shoot(page, "admin-email")
    assert path.exists()

"""Sign-in in a real browser: the built-in accounts (sign-in, a refresh stays signed in, sign-out,
lock-out, a page refused by address) and a full `st.login` round trip against a local OpenID
provider (oidc-provider-mock on a loopback port, configured through a temporary secrets file).
The two built-in journeys use the run's shared server (tests/browser/conftest.py), each starting
signed out (``page``): one signs in as the admin, signs out on the Admin page and signs in as
rep1 (who lands on their home page), the other locks rep2 out and signs in as rep1 (a lock-out is
per account; no other journey signs in as rep2)."""

from __future__ import annotations

import os
import re
import secrets

import pytest

from tests.helpers.browser import IDLE, free_port, oidc_provider, open_page, shoot, sign_in, starting_streamlit_server
from tests.helpers.pages import fresh_db

if os.environ.get("CI", "").lower() == "true":
    from playwright.sync_api import expect
else:
    expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

COOKIE = "salesplan_session"


def session_cookies(page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == COOKIE and c["value"]]


def test_built_in_sign_in_refresh_sign_out(server, page):
    open_page(page, server.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator('[data-testid="stSidebar"]')).to_have_count(0)  # signed out: nothing but the form
    shoot(page, "sign-in-form")

    sign_in(page, "admin@demo.test", "wrong", expect_success=False)
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    assert not session_cookies(page)
    shoot(page, "sign-in-wrong-password")

    sign_in(page, "admin@demo.test", "demo")
    expect(page.get_by_text("Signed in as admin@demo.test (admin)")).to_be_visible()
    expect(page.get_by_role("heading", name="My plan")).to_be_visible()
    [cookie] = session_cookies(page)
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg')
    shoot(page, "sign-in-admin-signed-in")

    # the refresh on the Admin page, the journey's next stop: My plan's charts, drawn once more by a
    # refresh there, cost Chromium seconds of CPU
    page.get_by_role("link", name="Admin", exact=True).click()
    page.wait_for_url(f"{server.url}/admin")
    page.wait_for_selector(IDLE)
    page.reload()  # a new Streamlit session: the cookie signs it in before anything renders
    page.wait_for_selector(IDLE)
    expect(page.get_by_text("Signed in as admin@demo.test (admin)")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    page.get_by_role("tab", name="Users").click()
    expect(page.get_by_text("Sign-in accounts.")).to_be_visible()
    shoot(page, "admin-users")
    page.get_by_role("tab", name="Audit log").click()
    expect(page.get_by_text("Who uploaded, undid")).to_be_visible()
    page.wait_for_selector('[data-testid="stDataFrame"]:visible')
    shoot(page, "admin-audit-log")

    page.get_by_role("button", name="Sign out").click()  # on the Admin page
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.wait_for_selector(IDLE)
    # polled every 100 ms: the default (every animation frame) keeps Chromium drawing frames meanwhile
    page.wait_for_function(f"!document.cookie.includes('{COOKIE}=')", polling=100)
    assert not session_cookies(page)
    page.wait_for_url(f"{server.url}/")  # sent home: not left on a page the next account may not open
    shoot(page, "sign-in-signed-out")
    page.reload()
    page.wait_for_selector(IDLE)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)

    sign_in(page, "rep1@demo.test", "demo")  # the next account lands on its home page, not on /admin
    expect(page.get_by_text("Signed in as rep1@demo.test (rep)")).to_be_visible()
    expect(page.get_by_role("heading", name="My plan")).to_be_visible()
    expect(page.get_by_text("Not allowed")).to_have_count(0)
    assert page.url == f"{server.url}/"


def test_lock_out_and_a_refused_page(server, page):
    open_page(page, f"{server.url}/admin")
    for attempt in range(4):
        sign_in(page, "rep2@demo.test", f"guess-{attempt}", expect_success=False)
        expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    sign_in(page, "rep2@demo.test", "guess-4", expect_success=False)
    expect(page.get_by_text(re.compile(r"Too many failed sign-ins: this account is locked until \d\d:\d\d"))).to_be_visible()
    sign_in(page, "rep2@demo.test", "demo", expect_success=False)  # the right password: still locked
    expect(page.get_by_text("Too many failed sign-ins")).to_be_visible()
    shoot(page, "sign-in-locked-out")

    sign_in(page, "rep1@demo.test", "demo")  # lands on /admin, which a rep may not open
    expect(page.get_by_text("Not allowed: the Admin page is not available to the rep role.")).to_be_visible()
    expect(page.get_by_role("tab", name="Audit log")).to_have_count(0)
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_text("Upload", exact=True)).to_be_visible()
    expect(nav.get_by_text("Admin")).to_have_count(0)
    shoot(page, "sign-in-rep-admin-refused")


def test_st_login_round_trip(page, tmp_path):
    """st.login → the provider's authorization page → back in the app as the mapped account;
    an email without an account gets the "ask an admin" screen and nothing else."""
    db = fresh_db(tmp_path)
    port = free_port()
    with oidc_provider(tmp_path) as started:  # the provider and the dashboard start side by side
        provider = started.base
        secrets_file = tmp_path / "secrets.toml"  # a temporary file: never in the repository
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
            'client_id = "salesplan-e2e"\n'
            f'client_secret = "{secrets.token_urlsafe(16)}"\n'
            f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        )
        with starting_streamlit_server(tmp_path, db, port=port, extra_args=["--secrets.files", str(secrets_file)]) as server:
            started.up()
            base = server.up()
            open_page(page, base)
            expect(page.get_by_label("Email", exact=True)).to_have_count(0)  # no password form under OIDC
            shoot(page, "oidc-sign-in")
            _sign_in_at_provider(page, provider, base, "manager1@demo.test")
            expect(page.get_by_text("Signed in as manager1@demo.test (manager)")).to_be_visible()
            nav = page.locator('[data-testid="stSidebarNav"]')
            expect(nav.get_by_text("Team overview")).to_be_visible()
            expect(nav.get_by_text("Admin")).to_have_count(0)
            shoot(page, "oidc-signed-in-manager")

            page.reload()  # Streamlit's identity cookie keeps the session
            page.wait_for_selector(IDLE)
            expect(page.get_by_text("Signed in as manager1@demo.test (manager)")).to_be_visible()

            page.get_by_role("button", name="Sign out").click()  # st.logout: the provider's end-session page
            page.wait_for_url(f"{provider}/**")
            page.get_by_role("button", name="End session").click()
            page.wait_for_url(f"{base}/**")
            page.wait_for_selector(IDLE)
            expect(page.get_by_role("button", name="Sign in")).to_be_visible()

            _sign_in_at_provider(page, provider, base, "stranger@example.com")
            expect(page.get_by_text("There is no salesplan account for stranger@example.com")).to_be_visible()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            expect(page.locator('[data-testid="stSidebar"]')).to_have_count(0)
            expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
            shoot(page, "oidc-no-account")


def _sign_in_at_provider(page, provider: str, base: str, email: str) -> None:
    """Press "Sign in", authorize as ``email`` at the local OpenID provider, and wait for the app."""
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{provider}/**")
    page.locator('input[name="sub"]').fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**")
    page.wait_for_selector(IDLE)

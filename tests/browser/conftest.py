"""Playwright journeys in Debian's Chromium against a real `streamlit run app.py`.

Chromium comes from Debian (``apt-get install -y chromium``, giving /usr/bin/chromium); the tests
skip when it is missing, except under CI=true where a missing browser is a failure. The journeys
of the run share one server on a free port over a private copy of the demo database (the
``server`` fixture; journeys that need a server set up otherwise start their own): starting a
server and its first script run cost seconds of CPU, and its caches serve every journey after.
The admin's journeys share one signed-in browser context (``admin_page``): the server fixture
signs in through the form once, and each journey opens its page in the context's one journey tab,
which the session cookie signs in; loading the app in a new context (its scripts not cached, a
sign-in form to fill) costs Chromium seconds of CPU. Journeys that sign in as someone else, fail
to, or sign out, and the journeys with servers of their own, start signed out in the one tab of a
second context, shared by the run and cleared of cookies for each (``page``). The servers run
without Streamlit's file watcher (tests.helpers.browser.SERVER_ENV). Screenshots go to
tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from salesplan.principal import SYSTEM
from tests.helpers.browser import launch_chromium, new_context, new_page, open_page, sign_in, starting_streamlit_server
from tests.helpers.mail import SmtpServer
from tests.helpers.pages import fresh_db, open_store

CHROMIUM = Path("/usr/bin/chromium")
# --process-per-site: the tabs of one site share a renderer process, whose V8 has compiled the
# app's scripts already; with a process per tab each new tab compiled them again (~0.5 s of CPU a tab
# measured).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--process-per-site",
]
FIRST_PAGE = "team"  # the address the fresh shared server is first asked for (test_journeys.py checks it)


def require_browser() -> None:
    if CHROMIUM.exists():
        return
    message = "Debian's Chromium is not installed (/usr/bin/chromium): apt-get install -y chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    require_browser()
    if os.environ.get("CI", "").lower() == "true":
        from playwright import sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    sync_api.expect.set_options(timeout=20_000)  # a busy 2-core runner can take a few seconds per rerun
    with sync_api.sync_playwright() as playwright:
        launched = launch_chromium(playwright.chromium, CHROMIUM, CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class SharedServer:
    url: str
    db: Path
    smtp: Any  # tests.helpers.mail.SmtpServer: where the server's mail settings point
    admin: Any  # the signed-in admin's browser context (``admin_page``)
    first_page: Any  # the tab that made the server's first request: /team, then the sign-in form


@pytest.fixture(scope="session")
def server(tmp_path_factory, request):
    """`streamlit run app.py` on a fresh copy of the demo database, one per test run; yields a
    SharedServer. Starting a server and its first script run (the imports) take seconds, so the
    journeys of test_journeys.py, test_pipeline_journey.py, test_sign_in_journey.py and
    test_admin_mail_journey.py share one, and journeys that write do so for accounts or reps no
    other journey reads: the upload journey adds a sale of the first rep with a target, the plan
    editor sets the targets of the last one (test_journeys.py), the pipeline journey reads a rep
    that is neither, the lock-out journey locks rep2 (test_sign_in_journey.py), the mail journey
    only sends a test to the admin, and every other journey signs in as the admin and reads titles
    or that rep only.

    The mail settings name a local SMTP server (``smtp``) and the process's mail scheduler is off
    ($SALESPLAN_MAIL_SCHEDULER), so that only the mail journey's test message is ever sent. The
    first request to the fresh server opens a page by its address (FIRST_PAGE) and signs in there
    through the form, whatever journey runs first: test_journeys.py checks that tab
    (``first_page``), and its context is the admin's (``admin``)."""
    require_browser()
    folder = tmp_path_factory.mktemp("server")
    db = fresh_db(folder)
    smtp = SmtpServer().start()
    try:
        store = open_store(db)
        try:
            store.save_settings(SYSTEM, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls="off",
                                mail_from="Sales plan <plan@demo.test>", timezone="Europe/Berlin",
                                dashboard_url="https://plan.example.com")
        finally:
            store.close()
        with starting_streamlit_server(folder, db, env={"SALESPLAN_MAIL_SCHEDULER": "off"}) as started:
            first = new_page(request.getfixturevalue("browser"))  # launched while the server starts
            base = started.up()
            try:
                open_page(first, f"{base}/{FIRST_PAGE}")
                sign_in(first)  # admin@demo.test: lands on the page asked for
                yield SharedServer(base, db, smtp, first.context, first)
            finally:
                first.context.close()
    finally:
        smtp.stop()


class SharedTab:
    """The one tab a context's journeys share, opened again when a journey closed it (a failing
    journey's close would otherwise fail every later journey of that context)."""

    def __init__(self, context: Any, timeout_ms: int | None = None):
        self.context, self.timeout_ms, self.tab = context, timeout_ms, None

    def get(self) -> Any:
        if self.tab is None or self.tab.is_closed():
            self.tab = self.context.new_page()
            if self.timeout_ms is not None:
                self.tab.set_default_timeout(self.timeout_ms)
        return self.tab


@pytest.fixture(scope="session")
def admin_tab(server):
    """The tab of the admin's context that the admin's journeys share (``admin_page``), closed with
    the context."""
    return SharedTab(server.admin, timeout_ms=30_000)


@pytest.fixture
def admin_page(admin_tab):
    """A tab of the signed-in admin's context: a page opened in it is signed in by the cookie. One
    tab for the run: a new tab per journey cost Chromium ~0.8 CPU-s more than a page opened in a
    tab already there (measured); each journey opens its page by its address first. Brought to the
    front: the context's other tab (``server.first_page``) may have been last, and a tab behind
    another drew its reruns seconds late (the team journey's wall time doubled, measured)."""
    tab = admin_tab.get()
    tab.bring_to_front()
    return tab


@pytest.fixture(scope="session")
def signed_out_context(browser):
    """The browser context of the journeys that start signed out (``page``). One for the run: a
    context of its own per journey cost Chromium a renderer process that compiled the app's scripts
    again, and a window (~2 s of CPU each measured); the journeys' pages are never open together,
    and ``page`` clears the cookies (every sign-in the app and the OpenID provider keep) on the
    way in and out."""
    context = new_context(browser)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="session")
def signed_out_tab(signed_out_context):
    """The one tab of ``signed_out_context`` (``page``)."""
    return SharedTab(signed_out_context)


@pytest.fixture
def page(signed_out_context, signed_out_tab):
    """A page that starts signed out, with no cookies: the tab of ``signed_out_context``, the same
    for each journey (a new tab per journey cost Chromium ~0.8 CPU-s more, measured). On the way out
    it leaves the journey's page for a blank one (a page of a server the journey stopped would try
    to reconnect) and closes any other tab the journey opened."""
    signed_out_context.clear_cookies()
    shared = signed_out_tab.get()
    try:
        yield shared
    finally:
        for tab in signed_out_context.pages:
            if tab is not shared:
                tab.close()
        if not shared.is_closed():
            shared.goto("about:blank")
        signed_out_context.clear_cookies()

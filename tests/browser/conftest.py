"""Playwright journeys in Debian's Chromium against a real `streamlit run app.py`.

Chromium comes from Debian (``apt-get install -y chromium``, giving /usr/bin/chromium); the tests
skip when it is missing, except under CI=true where a missing browser is a failure. The journeys
of a module share one server on a free port over a private copy of the demo database (the
``server`` fixture; journeys that need a server set up otherwise start their own). Each journey
signs in (the demo accounts, password ``demo``) in a browser context of its own and saves
screenshots to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.browser import streamlit_server
from tests.helpers.pages import fresh_db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


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
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run app.py` on a fresh copy of the demo database, one per test module; yields its
    base URL and db path. Starting a server and its first script run (the imports) take seconds, so
    a module's journeys share one: each signs in its own browser context, and journeys that write
    do so for accounts or reps no other journey of the module reads (said in each module)."""
    require_browser()
    folder = tmp_path_factory.mktemp("server")
    db = fresh_db(folder)
    with streamlit_server(folder, db) as base:
        yield {"url": base, "db": db}


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        context.close()

"""Playwright journeys in Debian's Chromium against a real `streamlit run app.py`.

Chromium comes from Debian (``apt-get install -y chromium``, giving /usr/bin/chromium); the tests
skip when it is missing, except under CI=true where a missing browser is a failure. The journeys
of the run share one server on a free port over a private copy of the demo database (the
``server`` fixture; journeys that need a server set up otherwise start their own): starting a
server and its first script run cost seconds of CPU, and its caches serve every journey after. Each journey
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


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """`streamlit run app.py` on a fresh copy of the demo database, one per test run; yields its
    base URL and db path. Starting a server and its first script run (the imports) take seconds, so
    the journeys of test_journeys.py, test_pipeline_journey.py and test_sign_in_journey.py share
    one: each signs in its own browser context, and journeys that write do so for accounts or reps
    no other journey reads: the upload journey adds a sale of the first rep with a target, the plan
    editor sets the targets of the last one (test_journeys.py), the pipeline journey reads a rep
    that is neither, the lock-out journey locks rep2 (test_sign_in_journey.py), and every other
    journey signs in as the admin and reads titles or that rep only. The first request to the
    server is test_journeys.py's first journey's (modules run in file name order), which opens a
    page by its address on a fresh server."""
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

"""Playwright journeys in Debian's Chromium against a real `streamlit run app.py`.

Chromium comes from Debian (``apt-get install -y chromium``, giving /usr/bin/chromium); the tests
skip when it is missing, except under CI=true where a missing browser is a failure. Each journey
starts its own server on a free port over a private copy of the demo database, signs in (the demo
accounts, password ``demo``) and saves screenshots to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
ARTIFACTS = TESTS / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from test_pages_support import DEMO_TODAY, fresh_db  # noqa: E402


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    message = "Debian's Chromium is not installed (/usr/bin/chromium): apt-get install -y chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _require_browser()
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, what: str, timeout: float = 60) -> None:
    """Poll ``url`` until it answers 200; fail with the process log when it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{log_path.read_text()}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def streamlit_server(folder: Path, db: Path, *, extra_args: list[str] | None = None, port: int | None = None):
    """`streamlit run app.py` over ``db``; yields its base URL. ``extra_args`` are more config
    options, e.g. ``["--secrets.files", path]``."""
    port = port or free_port()
    env = {**os.environ, "SALESPLAN_DB": str(db), "SALESPLAN_TODAY": DEMO_TODAY.isoformat(),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless",
               "true", "--server.address", "127.0.0.1", *(extra_args or [])]
    with _serve(command, env, folder / f"streamlit-{port}.log", f"http://127.0.0.1:{port}", "/_stcore/health",
                "streamlit") as base:
        yield base


@contextlib.contextmanager
def _serve(command: list[str], env: dict, log_path: Path, base: str, health: str, name: str):
    """Start a local server process, wait until ``base + health`` answers, yield ``base``, stop it."""
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(f"{base}{health}", process, log_path, name)
            yield base
        finally:
            _stop(process)


@pytest.fixture
def server(tmp_path):
    """`streamlit run app.py` on a fresh copy of the demo database; yields its base URL and db path."""
    _require_browser()
    db = fresh_db(tmp_path)
    with streamlit_server(tmp_path, db) as base:
        yield {"url": base, "db": db}


@contextlib.contextmanager
def oidc_provider(folder: Path):
    """A local OpenID provider (the PyPI package oidc-provider-mock) on a loopback port: its
    authorization page signs in whoever's email is typed as the subject. Yields its base URL."""
    for module, requirement in (("oidc_provider_mock", "oidc-provider-mock"), ("authlib", "streamlit[auth]")):
        if os.environ.get("CI", "").lower() == "true":
            __import__(module)  # part of the test extras: missing is a failure in CI
        else:
            pytest.importorskip(module, reason=f"pip install '{requirement}'")
    port = free_port()
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1"}  # plain http on loopback
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--host", "127.0.0.1"]
    with _serve(command, env, folder / f"oidc-{port}.log", f"http://127.0.0.1:{port}",
                "/.well-known/openid-configuration", "oidc-provider-mock") as base:
        yield base


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        context.close()

"""Helpers of the Playwright journeys: local servers (streamlit, an OpenID provider) on free
loopback ports, and page actions."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.pages import DEMO_TODAY

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the journeys skip without playwright
    PlaywrightTimeout = TimeoutError  # type: ignore[misc,assignment]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'
# The journeys' window. The app scrolls inside it (a full-page screenshot is the window), and
# Chromium draws every frame of it while a journey waits: a lower one costs less CPU.
VIEWPORT = {"width": 1400, "height": 800}  # the width the charts' axis labels are checked at


# Reduced motion: Streamlit then draws no animation (its loading skeletons pulse otherwise), and
# Chromium composites no frames while a journey waits; the longer the waits of a busy machine, the
# more that saves (measured: the GPU process's CPU while a page loads fell from 1-5 s to 0.2-0.4 s).
MOTION = "reduce"


def new_page(browser, **options):
    """A page in a new browser context of the journeys' size and reduced motion (the caller closes
    ``page.context``)."""
    context = browser.new_context(viewport=VIEWPORT, reduced_motion=MOTION, **options)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    return opened


def open_page(page, url: str) -> None:
    """Load a URL and wait until the script run finished."""
    page.goto(url)
    page.wait_for_selector(IDLE)


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    ).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def shoot(page, name: str) -> Path:
    """Save a screenshot of the app's window to tests/artifacts/<name>.png (the app scrolls inside
    the window: a full-page screenshot would show the same)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_selector(IDLE)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page, email: str = "admin@demo.test", password: str = "demo", *, expect_success: bool = True) -> None:
    """Fill the built-in sign-in form and submit it; by default wait until the app shows the
    signed-in sidebar (the Sign out button), else until the rerun the click started has ended
    (so that a message on screen is this attempt's, not the previous one's)."""
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    if expect_success:
        page.get_by_role("button", name="Sign out").wait_for()
    else:
        wait_for_rerun(page)
    page.wait_for_selector(IDLE)


def wait_for_rerun(page, timeout_ms: int = 5_000) -> None:
    """After a click: wait until the app is running the script, then until it is idle again. A run
    shorter than the browser's polling may be missed: then give up after ``timeout_ms``."""
    try:
        page.wait_for_selector(RUNNING, timeout=timeout_ms, state="attached")
    except PlaywrightTimeout:
        pass
    page.wait_for_selector(IDLE)


def pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label``. A list opened while the page
    was still drawing may close again: then it is opened once more."""
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        page.wait_for_selector(IDLE)
        page.get_by_label(label, exact=True).click()
        try:
            choice.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    choice.click()
    wait_for_rerun(page)


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
def streamlit_server(folder: Path, db: Path, *, extra_args: list[str] | None = None, port: int | None = None,
                     env: dict[str, str] | None = None):
    """`streamlit run app.py` over ``db``; yields its base URL. ``extra_args`` are more config
    options, e.g. ``["--secrets.files", path]``; ``env`` more environment variables."""
    port = port or free_port()
    env = {**os.environ, "SALESPLAN_DB": str(db), "SALESPLAN_TODAY": DEMO_TODAY.isoformat(),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **(env or {})}
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


@contextlib.contextmanager
def oidc_provider(folder: Path, verified: tuple[str, ...] = ("manager1@demo.test", "stranger@example.com")):
    """A local OpenID provider (the PyPI package oidc-provider-mock) on a loopback port: its
    authorization page signs in whoever's email is typed as the subject; the ``verified`` users
    carry ``email_verified: true`` (the dashboard refuses an unverified e-mail, docs/sign-in.md).
    Yields its base URL."""
    for module, requirement in (("oidc_provider_mock", "oidc-provider-mock"), ("authlib", "streamlit[auth]")):
        if os.environ.get("CI", "").lower() == "true":
            __import__(module)  # part of the test extras: missing is a failure in CI
        else:
            pytest.importorskip(module, reason=f"pip install '{requirement}'")
    port = free_port()
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1"}  # plain http on loopback
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--host", "127.0.0.1"]
    for email in verified:
        command += ["--user-claims", json.dumps({"sub": email, "email": email, "email_verified": True})]
    with _serve(command, env, folder / f"oidc-{port}.log", f"http://127.0.0.1:{port}",
                "/.well-known/openid-configuration", "oidc-provider-mock") as base:
        yield base

"""Helpers of the Playwright journeys: local servers (streamlit, an OpenID provider) on free
loopback ports, and page actions."""

from __future__ import annotations

import contextlib
import importlib.util
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
# Idle: no script run going, and connected (Streamlit disables every widget while its websocket is
# not connected: a click then does nothing, as in Streamlit's own e2e helper wait_for_app_run).
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'
# Counts the messages the page sent to its server (window.__framesSent): a form's submit is one. Set
# up in every context before the app's scripts run (new_page).
SENT_COUNTER = """(() => {
  const send = WebSocket.prototype.send;
  window.__framesSent = 0;
  WebSocket.prototype.send = function (...args) { window.__framesSent += 1; return send.apply(this, args); };
})();"""
# Before a form's submit button is clicked: focus leaves the field last typed into, so that the field
# commits its value now and not on the button's mousedown (a number input commits on blur and
# re-renders then: between the mousedown and the mouseup, measured). Playwright checks only the
# first pointer event of a click against the element; if the button moved or was clipped by the
# mouseup, the browser fires the click on another element and Playwright still reports success.
BLUR = """() => {
  const active = document.activeElement;
  if (active && active.matches("input, textarea")) active.blur();
}"""
# No expander is still animating: Streamlit opens one by animating its height (500 ms) with its
# content clipped (overflow hidden, an inline height), and animates it again whenever its content's
# height changes; the journeys fill a form inside one right after opening it.
STILL = """() => [...document.querySelectorAll("details")].every(d => !d.style.height && d.getAnimations().length === 0)"""
# Counts the script runs the page has seen end (window.__scriptRunsEnded), from a MutationObserver on
# the app's script state: it sees a run however short, where polling for the "running" state (every
# 20-500 ms) missed short ones and then waited out its whole timeout. Ends, not starts: a click during
# a run makes the server run the script again without the state leaving "running". A record's new
# value is the next record's old value (the attribute may have changed again before the observer is
# called).
RUN_COUNTER = """() => {
  if (window.__scriptRunsEnded === undefined) {
    window.__scriptRunsEnded = 0;
    new MutationObserver(records => {
      records.forEach((record, i) => {
        const later = records.slice(i + 1).find(r => r.target === record.target);
        const value = later ? later.oldValue : record.target.getAttribute("data-test-script-state");
        if (record.oldValue === "running" && value !== "running") window.__scriptRunsEnded += 1;
      });
    }).observe(document.documentElement,
               {subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-test-script-state"]});
  }
  return window.__scriptRunsEnded;
}"""
# The journeys' window. The app scrolls inside it (a full-page screenshot is the window), and
# Chromium draws every frame of it while a journey waits: a lower one costs less CPU.
VIEWPORT = {"width": 1400, "height": 800}  # the width the charts' axis labels are checked at


# Reduced motion: Streamlit then draws no animation (its loading skeletons pulse otherwise), and
# Chromium composites no frames while a journey waits; the longer the waits of a busy machine, the
# more that saves (measured: the GPU process's CPU while a page loads fell from 1-5 s to 0.2-0.4 s).
MOTION = "reduce"


# Features Chromium's --disable-features turns off for the journeys, beside Playwright's own list:
# Chromium 156 opens the address bar's popup as two WebUI pages (chrome://omnibox-popup.top-chrome/)
# in every browser context's window, each in a renderer of its own, for an address bar a headless
# browser never shows: ~1.3 s of CPU a context measured (renderers and the browser process).
DISABLED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
# Playwright 1.65's own --disable-features list (chromiumSwitches.ts). Chromium reads the last
# --disable-features switch only, so the journeys' switch repeats it; should Playwright's list grow,
# launch_chromium() finds the difference on the running browser's command line and launches again
# with both lists.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding", "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying",
    "AimEnabled", "PreconnectToSearch", "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)


def launch_chromium(chromium, executable: Path, args: list[str]):
    """Launch ``executable`` through Playwright's ``chromium`` (a BrowserType) with ``args`` and one
    --disable-features switch naming Playwright's features and DISABLED_FEATURES. Launches again
    when the browser's command line shows a --disable-features switch of Playwright's with features
    the journeys' switch lacks (a newer Playwright): Chromium would have ignored them."""
    features = [*PLAYWRIGHT_DISABLED_FEATURES, *DISABLED_FEATURES]
    for _ in range(2):
        before = _chromium_pids()
        browser = chromium.launch(executable_path=str(executable),
                                  args=[*args, "--disable-features=" + ",".join(features)])
        missing = [name for name in _disabled_elsewhere(_chromium_pids() - before) if name not in features]
        if not missing:
            return browser
        browser.close()
        features += missing
    raise RuntimeError(f"Chromium's --disable-features switches still differ after a relaunch: {missing}")


def _chromium_pids() -> set[int]:
    """This process's descendants that are Chromium browser processes (not its helpers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    ours, found = {os.getpid()}, True
    while found:
        found = {pid for pid, parent in parents.items() if parent in ours and pid not in ours}
        ours |= found
    browsers = set()
    for pid in ours:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command[0].endswith(b"chromium") and not any(arg.startswith(b"--type=") for arg in command):
            browsers.add(pid)
    return browsers


def _disabled_elsewhere(pids: set[int]) -> list[str]:
    """The features named by every --disable-features switch but the last, on the command lines of
    the browser processes ``pids``."""
    names = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        switches = [arg.split("=", 1)[1] for arg in command if arg.startswith("--disable-features=")]
        names += [name for value in switches[:-1] for name in value.split(",") if name]
    return names


def new_context(browser, **options):
    """A browser context of the journeys' size and reduced motion (the caller closes it)."""
    context = browser.new_context(viewport=VIEWPORT, reduced_motion=MOTION, **options)
    context.add_init_script(SENT_COUNTER)
    context.set_default_timeout(30_000)
    return context


def new_page(browser, **options):
    """A page in a new browser context (:func:`new_context`; the caller closes ``page.context``)."""
    return new_context(browser, **options).new_page()


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
    submit(page, page.get_by_role("button", name="Sign in"))
    if expect_success:
        page.get_by_role("button", name="Sign out").wait_for()
    page.wait_for_selector(IDLE)


@contextlib.contextmanager
def rerun(page, timeout_ms: int = 5_000):
    """Around an action (a click): wait until a script run has ended since the action began (the
    run it started, or the run it joined) and the app is idle. An action that starts no run is
    given up on after ``timeout_ms``."""
    page.wait_for_selector(IDLE)  # a run still going (a page the journey moved to) is not the action's
    before = page.evaluate(RUN_COUNTER)
    yield
    try:
        page.wait_for_function(f"() => window.__scriptRunsEnded > {before}", polling=100, timeout=timeout_ms)
    except PlaywrightTimeout:
        pass
    page.wait_for_selector(IDLE)


def submit(page, button, timeout_ms: int = 5_000) -> None:
    """Click a form's submit button ``button`` (a locator) once the form is still, and wait for the
    run the submit starts. Still: the field last typed into has committed its value (focus moved
    out of it), no expander is animating, the app is idle and connected. Fails at once, saying so,
    when the click sent nothing to the server (the browser lost it), instead of a journey waiting
    out its timeout for a result that cannot come. Only for buttons of forms: a field outside a form
    starts a run of its own when it loses focus (commit those with Enter first)."""
    page.evaluate(BLUR)
    page.wait_for_function(STILL, polling=50)
    with rerun(page):
        sent = page.evaluate("window.__framesSent")
        button.click()
        try:
            page.wait_for_function(f"window.__framesSent > {sent}", polling=50, timeout=timeout_ms)
        except PlaywrightTimeout:
            raise AssertionError(f"clicking {button} sent nothing to the server within {timeout_ms} ms: the "
                                 "browser lost the click (the form was not submitted)") from None


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
    with rerun(page):
        choice.click()


# The environment of every dashboard server the journeys start (Streamlit reads its options from
# STREAMLIT_<SECTION>_<OPTION> too): no usage statistics, and no file watcher. Streamlit's watcher
# (on by default) watches the app's modules for edits to rerun on, and after every script run walks
# sys.modules for new ones (realpath of every module's file) and schedules inotify watches: about
# half of a server's CPU per script run in the journeys, measured (py-spy; a new tab of the Admin
# page 0.6 -> 0.3 CPU-s of the server). The journeys edit no source while a server runs.
SERVER_ENV = {"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}


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
    """`streamlit run app.py` over ``db``; yields its base URL once it answers. ``extra_args`` are
    more config options, e.g. ``["--secrets.files", path]``; ``env`` more environment variables."""
    with starting_streamlit_server(folder, db, extra_args=extra_args, port=port, env=env) as server:
        yield server.up()


def starting_streamlit_server(folder: Path, db: Path, *, extra_args: list[str] | None = None, port: int | None = None,
                              env: dict[str, str] | None = None):
    """:func:`streamlit_server`, not waited for: yields a :class:`Starting` server, so that a
    journey sets up its browser (or another server) while Streamlit imports."""
    port = port or free_port()
    env = {**os.environ, **SERVER_ENV, "SALESPLAN_DB": str(db), "SALESPLAN_TODAY": DEMO_TODAY.isoformat(),
           **(env or {})}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless",
               "true", "--server.address", "127.0.0.1", *(extra_args or [])]
    return starting(command, env, folder / f"streamlit-{port}.log", f"http://127.0.0.1:{port}", "/_stcore/health",
                    "streamlit")


class Starting:
    """A local server process started but perhaps not answering yet: ``up()`` waits until it
    answers and gives its base URL."""

    def __init__(self, process: subprocess.Popen, base: str, health: str, log_path: Path, name: str):
        self.process, self.base, self.health, self.log_path, self.name = process, base, health, log_path, name
        self._up = False

    def up(self) -> str:
        if not self._up:
            _wait_until_up(f"{self.base}{self.health}", self.process, self.log_path, self.name)
            self._up = True
        return self.base


@contextlib.contextmanager
def starting(command: list[str], env: dict, log_path: Path, base: str, health: str, name: str):
    """Start a local server process and yield it as :class:`Starting` (the caller waits with
    ``up()``); stop it on the way out."""
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield Starting(process, base, health, log_path, name)
        finally:
            _stop(process)


@contextlib.contextmanager
def oidc_provider(folder: Path, verified: tuple[str, ...] = ("manager1@demo.test", "stranger@example.com")):
    """A local OpenID provider (the PyPI package oidc-provider-mock) on a loopback port: its
    authorization page signs in whoever's email is typed as the subject; the ``verified`` users
    carry ``email_verified: true`` (the dashboard refuses an unverified e-mail, docs/sign-in.md).
    Yields it as :class:`Starting`: its address (``base``) is known at once, ``up()`` waits until
    it answers, so that the dashboard that names it starts meanwhile."""
    # looked for, not imported: importing the provider (flask, authlib, joserfc) into this process,
    # which only starts it, cost ~2 CPU-s (py-spy); the provider's own process imports them
    for module, requirement in (("oidc_provider_mock", "oidc-provider-mock"), ("authlib", "streamlit[auth]")):
        if importlib.util.find_spec(module) is None:
            message = f"{module} is not installed: pip install '{requirement}'"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)  # part of the test extras: missing is a failure in CI
            pytest.skip(message)
    port = free_port()
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1"}  # plain http on loopback
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--host", "127.0.0.1"]
    for email in verified:
        command += ["--user-claims", json.dumps({"sub": email, "email": email, "email_verified": True})]
    with starting(command, env, folder / f"oidc-{port}.log", f"http://127.0.0.1:{port}",
                  "/.well-known/openid-configuration", "oidc-provider-mock") as provider:
        yield provider

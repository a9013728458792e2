"""Small helpers of the Playwright journeys."""

from __future__ import annotations

from pathlib import Path

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the journeys skip without playwright
    PlaywrightTimeout = TimeoutError  # type: ignore[misc,assignment]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'


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
    """Save a screenshot of the whole app to tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_selector(IDLE)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
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

"""Small helpers of the Playwright journeys."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


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

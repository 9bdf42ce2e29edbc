"""Headless Chromium as the browser tests and the UI benchmark launch it (Debian's package;
Playwright's own downloads are blocked here)."""

from __future__ import annotations

import contextlib
import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Streamlit's own e2e tests wait for this: the app is up and its script has finished running.
STREAMLIT_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def chromium_executable() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


STREAMLIT_RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'


def wait_for_run(page: object, timeout: float = 60_000) -> None:
    """Waits for the script run an action caused to finish; a quick run may be over before we
    look, so not seeing it start is no error."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_selector(STREAMLIT_RUNNING, timeout=1_500)
    page.wait_for_selector(STREAMLIT_IDLE, timeout=timeout)

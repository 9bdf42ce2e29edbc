"""Headless Chromium as the browser tests and the UI benchmark launch it (Debian's package;
Playwright's own downloads are blocked here)."""

from __future__ import annotations

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

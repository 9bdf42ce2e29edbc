"""Browser tests: `streamlit run app.py` on a free loopback port, driven by Playwright in
Debian's headless Chromium. Skipped with a message when Chromium is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ctct.crm import demo
from ctct.crm.services import create_company, create_contact
from ctct.db import Database
from ctct.sandbox.process import free_port, running_console, running_sandbox
from tests.activated import activate_database, sandbox_env
from tests.browser import CHROMIUM_ARGS, STREAMLIT_IDLE, chromium_executable

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = chromium_executable()
    if path is None:
        pytest.skip("browser tests skipped: Chromium is not installed (apt-get install -y chromium; .ci/run does)")
    return path


@pytest.fixture(scope="session")
def sandbox_url(chromium_path: str) -> Iterator[str]:
    with running_sandbox("--activity-seconds", "0.5") as url:
        yield url


def demo_database(folder: Path) -> str:
    """The demo CRM, with a company and a contact whose names are markup (shown as text, never run)."""
    database_url = f"sqlite:///{folder / 'console.db'}"
    database = Database(database_url)
    with database.session() as session:
        demo.load_demo_data(session)
        company = create_company(session, "<script>alert(1)</script>", "prospect")
        create_contact(session, company.id, email="xss@example.org", first_name="<img src=x onerror=alert(2)>")
    database.dispose()
    return database_url


@contextmanager
def activated_console(database_url: str, sandbox_url: str, key_file: str) -> Iterator[str]:
    """A demo-mode console on `database_url`, activated against the sandbox first (email lists
    exist only then); yields its URL."""
    activate_database(database_url, sandbox_url, key_file)
    port = free_port()
    env = {**sandbox_env(sandbox_url, port), "CTCT_DATABASE_URL": database_url, "CTCT_DEMO_MODE": "1"}
    with running_console({**env, "CTCT_SECRET_KEY_FILE": key_file}, port) as url:
        yield url


@contextmanager
def activated_on_own_sandbox(
    work: Path, activity_seconds: float
) -> Iterator[tuple[dict[str, str], Database, str, int]]:
    """Demo data (12 companies) activated with its import committed — `activate --yes`, as a
    consultant runs it — against a sandbox of its own whose activities take `activity_seconds`;
    yields the console's environment, the database, the sandbox's URL and the console's port."""
    database_url = f"sqlite:///{work / 'console.db'}"
    database = Database(database_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=12)
    port = free_port()
    with running_sandbox("--activity-seconds", str(activity_seconds)) as sandbox_url:
        env = {
            **sandbox_env(sandbox_url, port),
            "CTCT_DATABASE_URL": database_url,
            "CTCT_DEMO_MODE": "1",
            "CTCT_SECRET_KEY_FILE": str(work / "secret.key"),
        }
        activated = subprocess.run(
            [sys.executable, "-m", "ctct", "activate", "--yes"],
            env={**os.environ, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert activated.returncode == 0, activated.stderr
        try:
            yield env, database, sandbox_url, port
        finally:
            database.dispose()


@pytest.fixture(scope="session")
def console_url(chromium_path: str, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo-mode console before activation."""
    database_url = demo_database(tmp_path_factory.mktemp("e2e"))
    port = free_port()
    env = {
        **sandbox_env(sandbox_url, port),
        "CTCT_DATABASE_URL": database_url,
        "CTCT_DEMO_MODE": "1",
        "CTCT_SECRET_KEY_FILE": str(tmp_path_factory.mktemp("key") / "secret.key"),
    }
    with running_console(env, port) as url:
        yield url


@pytest.fixture(scope="session")
def activated_console_url(
    chromium_path: str, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A console whose Constant Contact is activated, on demo data."""
    folder = tmp_path_factory.mktemp("activated")
    with activated_console(demo_database(folder), sandbox_url, str(folder / "secret.key")) as url:
        yield url


@pytest.fixture
def page(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        # SPEC §11: the console works offline — no page (nor popup) fetches anything from elsewhere.
        outside: list[str] = []
        context.on("request", lambda request: outside.append(request.url) if leaves_the_machine(request.url) else None)
        browser_page = context.new_page()
        browser_page.set_default_timeout(20_000)
        yield browser_page
        context.close()
        browser.close()
        assert not outside, f"the browser fetched from outside the machine: {outside[:5]}"


def leaves_the_machine(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname != "127.0.0.1"


def wait_for_app(page: object) -> None:
    """Streamlit is idle when its app root says the script is not running."""
    page.wait_for_selector(STREAMLIT_IDLE, timeout=30_000)

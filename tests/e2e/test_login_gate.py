"""The login gate as an outsider meets it: every page URL opened first on a freshly started server
(a bookmarked page, a tab that reconnects after a restart) shows the login and nothing of the CRM."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ctct.crm import demo
from ctct.db import Database
from ctct.db.models import Company, Contact
from ctct.sandbox.process import free_port, running_console
from tests.e2e.conftest import SCREENSHOTS, leaves_the_machine, wait_for_app

# Every page's URL, and the root.
PAGE_PATHS = ["", "email_lists", "synchronize", "history", "customers", "settings_ctct", "marketing_tags"]


@pytest.fixture(scope="module")
def gated_setup(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path, set[str]]:
    folder = tmp_path_factory.mktemp("gate")
    database_url = f"sqlite:///{folder / 'console.db'}"
    database = Database(database_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=15)
        crm_values = set(session.scalars(select(Contact.email))) | set(session.scalars(select(Company.name)))
    database.dispose()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:9/oauth2callback"\n'
        'cookie_secret = "a-long-random-string-for-the-test-only"\n'
        'client_id = "console"\n'
        'client_secret = "secret"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
    )
    env = {"CTCT_DATABASE_URL": database_url, "CTCT_SECRET_KEY_FILE": str(folder / "secret.key")}
    return env, secrets, {value for value in crm_values if value}


@pytest.mark.parametrize("path", PAGE_PATHS, ids=lambda path: path or "root")
def test_every_page_url_opened_first_on_a_fresh_server_shows_only_the_login(page, gated_setup, path):
    env, secrets, crm_values = gated_setup
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if leaves_the_machine(request.url) else None)
    with running_console(env, free_port(), ["--secrets.files", str(secrets)]) as url:
        page.goto(f"{url}/{path}")
        wait_for_app(page)
        page.get_by_role("button", name="Log in").wait_for()
        text = page.inner_text("body")
        page.screenshot(path=str(SCREENSHOTS / f"login-gate-{path or 'root'}.png"))
        # A second look after the first run: the page must not appear once the server has warmed up.
        page.goto(f"{url}/customers")
        wait_for_app(page)
        page.get_by_role("button", name="Log in").wait_for()
        text += page.inner_text("body")
    shown = sorted(value for value in crm_values if value in text)
    assert not shown, f"/{path} showed CRM data without a login: {shown[:5]}"
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    for title in ("Customers & Prospects", "Email Lists", "Synchronize", "Marketing Tags"):
        assert title not in text
    assert not outside, f"requests left the machine: {outside[:3]}"


@pytest.mark.parametrize("path", PAGE_PATHS[1:])
def test_every_page_url_opened_first_on_a_fresh_server_runs_through_the_console(page, gated_setup, path):
    """Without a login configured: the page comes with the console's sidebar (navigation, the
    connection's status, the demo banner) — app.py ran, not the page file on its own — and
    nothing is fetched from outside the machine."""
    env, _, _ = gated_setup
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if leaves_the_machine(request.url) else None)
    with running_console({**env, "CTCT_DEMO_MODE": "1"}, free_port()) as url:
        page.goto(f"{url}/{path}")
        wait_for_app(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Constant Contact: not activated").wait_for()
        sidebar.get_by_text("Demo mode").wait_for()
        navigation = page.locator('[data-testid="stSidebarNav"]').inner_text()
        page.wait_for_timeout(500)  # icons and components load after the run
    assert "Customers & Prospects" in navigation and "settings ctct" not in navigation
    assert not outside, f"requests left the machine: {outside[:3]}"

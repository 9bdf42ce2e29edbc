"""SPEC §11: with an [auth] section in secrets, every page needs the OIDC login (AppTest, a real
SQLite database with demo data)."""

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ctct.crm import demo
from ctct.db import Database
from ctct.db.models import Company, Contact

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "views/email_lists.py": "Email Lists",
    "views/synchronize.py": "Synchronize",
    "views/history.py": "History",
    "views/customers.py": "Customers & Prospects",
    "views/settings_ctct.py": "Settings · Constant Contact",
    "views/marketing_tags.py": "Settings · Marketing Tags",
}
AUTH = {
    "redirect_uri": "http://127.0.0.1:9/oauth2callback",
    "cookie_secret": "a-long-random-string-for-the-test-only",
    "client_id": "console",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture
def crm_values(sqlite_url, monkeypatch) -> set[str]:
    database = Database(sqlite_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=12)
        values = set(session.scalars(select(Contact.email))) | set(session.scalars(select(Company.name)))
    database.dispose()
    monkeypatch.setenv("CTCT_DATABASE_URL", sqlite_url)
    return values


def gated_app(user: dict) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.secrets["auth"] = AUTH
    app.user = user
    return app


def page_text(app: AppTest) -> str:
    return "\n".join(str(getattr(element, "value", "")) for element in app.main) + "\n".join(
        str(getattr(element, "value", "")) for element in app.sidebar
    )


@pytest.mark.parametrize("demo_mode", ["", "1"], ids=["live", "demo"])
@pytest.mark.parametrize("page", list(PAGES))
def test_without_a_login_every_page_shows_only_the_login(crm_values, monkeypatch, page, demo_mode):
    """On the page's own URL (its page hash, as a browser that opens the URL sends it): the session
    starts logged in, goes to the page, then its login ends (logged out, the cookie expired)."""
    monkeypatch.setenv("CTCT_DEMO_MODE", demo_mode)
    app = gated_app({"is_logged_in": True, "email": "ops@example.org"})
    app.run()
    app.switch_page(page).run()
    assert app.title[0].value == PAGES[page]
    app.user = {"is_logged_in": False}
    app.run()
    assert not app.exception
    assert [button.label for button in app.button] == ["Log in"]
    assert [title.value for title in app.title] == ["Customer Focus · Constant Contact"]
    assert not app.dataframe and not app.sidebar.children
    text = page_text(app)
    assert not [value for value in crm_values if value and value in text]


@pytest.mark.parametrize("page", list(PAGES))
def test_a_logged_in_user_reaches_every_page(crm_values, page):
    app = gated_app({"is_logged_in": True, "email": "ops@example.org", "name": "Marketing Ops"})
    app.run()
    app.switch_page(page).run()
    assert not app.exception
    assert app.title[0].value == PAGES[page]
    assert "Log in" not in [button.label for button in app.button]


def test_without_a_login_section_no_login_is_asked(crm_values):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.run()
    app.switch_page("views/customers.py").run()
    assert not app.exception and app.title[0].value == "Customers & Prospects"

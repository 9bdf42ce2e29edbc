"""Activation through the sandbox's login page, the initial import, a push and a pull — in a browser."""

import httpx

from tests.e2e.conftest import SCREENSHOTS, wait_for_app
from tests.sandbox.conftest import access_token_over_http


def open_page(page, console_url, title):
    page.goto(console_url)
    wait_for_app(page)
    page.get_by_role("link", name=title).click()
    wait_for_app(page)


def test_activate_import_push_and_pull(page, console_url, sandbox_url):
    # Something to import: a list in Constant Contact with one member.
    # Not activated yet: the console opens on the activation page, and one link leads, in this
    # tab, to Constant Contact's login and back.
    page.goto(console_url)
    wait_for_app(page)
    page.get_by_role("heading", name="Settings · Constant Contact").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "settings-not-activated.png"), full_page=True)
    page.get_by_role("link", name="Activate Constant Contact").click()
    login = page
    login.wait_for_load_state()
    assert login.url.startswith(sandbox_url)  # the same tab, no popup
    login.fill("#username", "demo")
    login.fill("#password", "wrong")
    login.get_by_role("button", name="Log in").click()
    login.get_by_role("alert").wait_for()
    login.screenshot(path=str(SCREENSHOTS / "sandbox-login-error.png"))
    login.fill("#password", "demo")
    login.get_by_role("button", name="Log in").click()
    wait_for_app(login)
    login.get_by_text("Activated:").wait_for()
    login.get_by_text("Connected to Demo Company").wait_for()
    login.get_by_role("button", name="Preview the import").click()
    wait_for_app(login)
    login.get_by_text("Lists to create or link").first.wait_for()
    login.screenshot(path=str(SCREENSHOTS / "settings-import-preview.png"), full_page=True)
    login.get_by_role("button", name="Commit the import").click()
    wait_for_app(login)
    login.get_by_text("The import is committed").wait_for()

    # Build a list here and push it.
    open_page(login, console_url, "Email Lists")
    login.get_by_placeholder("Email list title").fill("Apparel Sports Wear")
    login.get_by_role("button", name="Add").click()
    wait_for_app(login)
    open_page(login, console_url, "Synchronize")
    login.get_by_role("button", name="Preview").first.click()
    wait_for_app(login)
    login.get_by_text("Lists to create or link").first.wait_for()
    login.screenshot(path=str(SCREENSHOTS / "synchronize-push-preview.png"), full_page=True)
    login.get_by_role("button", name="Commit").click()
    wait_for_app(login)
    login.get_by_text("Synchronized:").wait_for()
    names = [item["name"] for item in _ctct_lists(sandbox_url)]
    assert "Apparel Sports Wear" in names

    # A change made in Constant Contact, then a pull that shows it.
    _rename_in_ctct(sandbox_url, "Apparel Sports Wear", "Sportswear (CTCT)")
    login.get_by_role("button", name="Preview").nth(1).click()
    wait_for_app(login)
    login.get_by_text("Lists to rename").first.wait_for()
    login.screenshot(path=str(SCREENSHOTS / "synchronize-pull-preview.png"), full_page=True)
    login.get_by_role("button", name="Commit").click()
    wait_for_app(login)
    login.get_by_text("Synchronized:").wait_for()
    open_page(login, console_url, "History")
    login.screenshot(path=str(SCREENSHOTS / "history.png"), full_page=True)
    open_page(login, console_url, "Email Lists")
    login.get_by_text("Sportswear (CTCT)").first.wait_for(state="attached")  # a grid cell, drawn on canvas


def _token(sandbox_url):
    return access_token_over_http(sandbox_url)


def _ctct_lists(sandbox_url):
    headers = {"Authorization": f"Bearer {_token(sandbox_url)}"}
    return httpx.get(f"{sandbox_url}/v3/contact_lists", headers=headers).json()["lists"]


def _rename_in_ctct(sandbox_url, old, new):
    headers = {"Authorization": f"Bearer {_token(sandbox_url)}"}
    target = next(
        item
        for item in httpx.get(f"{sandbox_url}/v3/contact_lists", headers=headers).json()["lists"]
        if item["name"] == old
    )
    httpx.put(f"{sandbox_url}/v3/contact_lists/{target['list_id']}", headers=headers, json={"name": new})

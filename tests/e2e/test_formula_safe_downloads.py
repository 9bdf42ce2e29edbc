"""SPEC §11 in the browser: values typed into CTCT that a spreadsheet would run as formulas are
named in the pull preview, and every Download CSV the console offers writes them with a leading '
(the preview's, History's and the Customers table's)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctct.db import Database
from ctct.sandbox.process import free_port, running_console, start_sandbox
from tests.e2e.conftest import ROOT, SCREENSHOTS, wait_for_app

EVIL_LIST = '=HYPERLINK("http://evil.example","Click")'
EVIL_CONTACTS = [
    {"email": "calc@example.org", "first_name": "=cmd|' /C calc'!A0", "last_name": "Calc", "lists": [EVIL_LIST]},
    {"email": "sum@example.org", "first_name": "+SUM(1,2)", "company_name": "@SUM(A1:A9)", "lists": [EVIL_LIST]},
    {"email": "minus@example.org", "first_name": "Mina", "last_name": "-2+3", "lists": [EVIL_LIST]},
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def console_with_formulas(chromium_path: str, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("formulas")
    database_url = f"sqlite:///{folder / 'console.db'}"
    Database(database_url).dispose()
    with start_sandbox(activity_seconds=0.2) as sandbox:
        sandbox.seed(EVIL_CONTACTS, lists=[EVIL_LIST])
        port = free_port()
        env = {
            "CTCT_DATABASE_URL": database_url,
            "CTCT_API_BASE": sandbox.api_base,
            "CTCT_AUTH_BASE": sandbox.auth_base,
            "CTCT_REDIRECT_URI": f"http://127.0.0.1:{port}/",
            "CTCT_SECRET_KEY_FILE": str(folder / "secret.key"),
        }
        # Connected on the command line (its sandbox login fills the form itself); nothing imported yet.
        activated = ctct_command(env, "activate")
        assert activated.returncode == 0, activated.stderr
        with running_console(env, port) as url:
            yield url, env


def ctct_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ctct", *args]
    return subprocess.run(command, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=60)


def download(page, button_key: str, folder: Path) -> list[list[str]]:
    with page.expect_download() as info:
        page.locator(f".st-key-{button_key} button").click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def assert_formula_safe(rows: list[list[str]], guarded: set[str]) -> None:
    cells = [cell for row in rows for cell in row]
    assert len(rows) > 1, rows
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    for value in guarded:
        assert "'" + value in cells, f"{value!r} not written as text: {rows}"


def test_pull_preview_history_and_customers_download_formula_safe_csv(page, console_with_formulas, tmp_path):
    console_with_formulas, env = console_with_formulas
    page.goto(console_with_formulas + "/synchronize")
    wait_for_app(page)
    page.locator(".st-key-sync_preview_pull button").click()
    wait_for_app(page)
    page.get_by_text("looks like a spreadsheet formula").first.wait_for()
    warnings = page.locator('[data-testid="stAlert"]', has_text="looks like a spreadsheet formula")
    assert warnings.count() == 5  # the list's name, two first names, a last name, a company
    assert warnings.filter(has_text="'calc@example.org'").count() == 1
    assert warnings.locator("a").count() == 0  # neither http://evil.example nor an address is a link
    page.screenshot(path=str(SCREENSHOTS / "pull-preview-formula-warnings.png"), full_page=True)
    page.get_by_role("tab", name="Contacts to create").click()
    contacts = download(page, "sync_contacts_create_csv", tmp_path)
    assert_formula_safe(contacts, {"=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1:A9)"})
    page.get_by_role("tab", name="Lists to create or link").click()
    assert_formula_safe(download(page, "sync_lists_create_csv", tmp_path), {EVIL_LIST})

    page.locator(".st-key-sync_commit button").click()
    wait_for_app(page)
    page.get_by_text("Synchronized:").wait_for()

    page.goto(console_with_formulas + "/history")
    wait_for_app(page)
    assert_formula_safe(download(page, "history_csv", tmp_path), {EVIL_LIST})
    # The list journal's downloads: a change made on the command line to the list CTCT named.
    removed = ctct_command(env, "list", "remove", EVIL_LIST, "minus@example.org")
    assert removed.returncode == 0, removed.stderr
    page.reload()
    wait_for_app(page)
    page.get_by_role("tab", name="List changes").click()
    assert_formula_safe(download(page, "history_members_csv", tmp_path), {EVIL_LIST})
    change_rows = download(page, "history_members_change_csv", tmp_path)
    assert [row[:2] for row in change_rows[1:]] == [["minus@example.org", "removed"]]

    page.goto(console_with_formulas + "/customers")
    wait_for_app(page)
    customers = download(page, "customers_csv", tmp_path)
    assert customers[0][:3] == ["Company", "Kind", "First name"]
    assert_formula_safe(customers, {"=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1:A9)"})
    # The table itself offers no download of its own (it would write the cells raw).
    page.locator('[data-testid="stDataFrame"]').first.hover()
    page.get_by_role("button", name="Search").first.wait_for()  # the table's toolbar is shown
    assert page.get_by_role("button", name="Download as CSV").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "customers-formula-values.png"), full_page=True)

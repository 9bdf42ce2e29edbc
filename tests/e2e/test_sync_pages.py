"""A push in the browser: the preview gives way to one progress bar that only moves forward, then to
the result in words with a link to the run in History; the sidebar counts the push's requests."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from ctct import lists
from ctct.crm.contact_frame import ContactFilter
from ctct.db import Database
from ctct.sandbox.process import running_console
from tests.browser import STREAMLIT_IDLE
from tests.e2e.conftest import SCREENSHOTS, activated_on_own_sandbox, wait_for_app

REQUESTS_TODAY = re.compile(r"([\d,]+) of [\d,]+ requests today")


@pytest.fixture(scope="module")
def pushed_console(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """A console activated (import committed) against its own sandbox, with a new list to push."""
    work = tmp_path_factory.mktemp("sync-pages")
    with activated_on_own_sandbox(work, 1.5) as (env, database, _sandbox_url, port):
        with database.session() as session:
            lists.create_list(session, "Apparel Sports Wear")
            lists.add_matching(session, "Apparel Sports Wear", ContactFilter(tags=("Apparel Sports Wear",)))
        with running_console(env, port) as url:
            yield url, database


PROGRESS_NOW = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const box = main && main.querySelector('[data-testid="stProgress"]');
    const bar = box && box.querySelector('[role="progressbar"]');
    if (!bar) return null;
    return {
        value: bar.getAttribute("aria-valuenow"),
        note: box.innerText,
        frames: document.querySelectorAll('[data-testid="stDataFrame"]').length,
        commit: document.querySelectorAll(".st-key-sync_commit").length,
    };
}"""


def sidebar_requests(page) -> int:
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("requests today").wait_for()
    text = sidebar.inner_text()
    return int(REQUESTS_TODAY.search(text).group(1).replace(",", ""))


def test_a_push_shows_one_forward_bar_then_the_result_and_its_run_in_history(page, pushed_console):
    url, _database = pushed_console
    page.goto(f"{url}/synchronize")
    wait_for_app(page)
    page.locator(".st-key-sync_preview_push button").click()
    wait_for_app(page)
    page.get_by_text("Lists to create or link").first.wait_for()
    page.locator(".st-key-sync_commit button").click()

    # While it runs: the progress box where the preview was, and no preview or Commit button.
    bar = page.locator('[data-testid="stMain"] [data-testid="stProgress"] [role="progressbar"]')
    bar.first.wait_for()
    values: list[int] = []
    notes: list[str] = []
    while not page.locator(STREAMLIT_IDLE).count():
        # One read of the page per look: the bar may go between two separate locator calls.
        seen = page.evaluate(PROGRESS_NOW)
        if seen is not None:
            values.append(int(seen["value"] or 0))
            notes.append(seen["note"])
            assert seen["frames"] == 0 and seen["commit"] == 0, seen
        if len(values) == 8:
            page.screenshot(path=str(SCREENSHOTS / "synchronize-push-progress.png"), full_page=True)
        time.sleep(0.25)
    wait_for_app(page)
    assert len(set(values)) > 2 and values == sorted(values), values  # forward only
    steps = [(int(k), int(n)) for note in notes for k, n in re.findall(r"Step (\d+) of (\d+)", note)]
    assert steps and len({n for _, n in steps}) == 1, notes  # one count of steps for the whole push
    assert [k for k, _ in steps] == sorted(k for k, _ in steps)
    assert not [note for note in notes if "members removed" in note or "removing" in note]

    summary = page.locator('[data-testid="stAlert"]', has_text="Synchronized:").inner_text()
    assert "1 list created (Apparel Sports Wear)" in summary and "Apparel Sports Wear:" in summary
    assert page.locator(".st-key-sync_commit").count() == 0 and page.locator('[data-testid="stDataFrame"]').count() == 0
    page.screenshot(path=str(SCREENSHOTS / "synchronize-push-done.png"), full_page=True)
    shown = sidebar_requests(page)
    page.reload()
    wait_for_app(page)
    assert shown == sidebar_requests(page)  # the sidebar was current right after the commit

    page.goto(f"{url}/synchronize")
    wait_for_app(page)
    page.locator(".st-key-sync_preview_push button").click()
    wait_for_app(page)
    page.get_by_text("Both sides already agree").wait_for()


def test_the_result_links_to_its_run_in_history(page, pushed_console):
    url, database = pushed_console
    page.goto(f"{url}/synchronize")
    wait_for_app(page)
    with database.session() as session:
        lists.create_list(session, "Golf")
    page.locator(".st-key-sync_preview_push button").click()
    wait_for_app(page)
    page.locator(".st-key-sync_commit button").click()
    wait_for_app(page)
    link = page.get_by_role("link", name=re.compile(r"See run \d+ in History"))
    run_id = re.search(r"run (\d+)", link.inner_text()).group(1)
    link.click()
    wait_for_app(page)
    page.get_by_role("heading", name="History").wait_for()
    assert f"run={run_id}" in page.url
    assert page.get_by_role("combobox", name="Run").input_value().startswith(f"Run {run_id} · push")
    page.get_by_text(f"Run {run_id}: 1 list created (Golf)").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "history-run-from-link.png"), full_page=True)

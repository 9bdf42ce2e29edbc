"""Runs outlive the browser (issue 18): a sync committed on Synchronize is handed to the background
worker; navigating away at once and coming back shows its progress going on and its end; a page
closed during a run does not stop it. Without a worker the page says so and commits itself."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import select

from ctct import lists
from ctct.crm.contact_frame import ContactFilter
from ctct.db import Database
from ctct.db.models import SyncRun
from ctct.sandbox.process import running_console, running_worker
from ctct.sync import schedules
from tests.e2e.conftest import SCREENSHOTS, activated_on_own_sandbox, wait_for_app
from tests.e2e.test_activation_and_sync import _ctct_lists, _rename_in_ctct


@pytest.fixture(scope="module")
def console_with_worker(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """An activated console (import committed) against its own slow sandbox — each CTCT activity
    takes 3 s, so a run lasts long enough to walk away from — with a worker beside it."""
    work = tmp_path_factory.mktemp("background")
    with (
        activated_on_own_sandbox(work, 3) as (env, database, sandbox_url, port),
        running_worker(env),
        running_console(env, port) as url,
    ):
        yield url, database, sandbox_url


def new_list_here(database: Database, name: str, tag: str) -> None:
    with database.session() as session:
        lists.create_list(session, name)
        lists.add_matching(session, name, ContactFilter(tags=(tag,)))


def runs(database: Database) -> list[tuple[int, str, str]]:
    with database.session() as session:
        return list(session.execute(select(SyncRun.id, SyncRun.direction, SyncRun.status).order_by(SyncRun.id)).all())


def wait_for_run(database: Database, run_id: int, timeout: float = 120.0) -> str:
    """The run's state once it is neither waiting (queued, held) nor running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = next(status for found, _direction, status in runs(database) if found == run_id)
        if status not in ("queued", "running", "needs_review"):
            return status
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def preview_both_and_commit(page, url: str, database: Database) -> int:
    """Previews both ways, commits, and returns the run the worker was handed."""
    before = {run_id for run_id, _d, _s in runs(database)}
    page.goto(f"{url}/synchronize")
    wait_for_app(page)
    page.locator(".st-key-sync_preview_both button").click()
    page.locator(".st-key-sync_commit button").wait_for()
    wait_for_app(page)
    page.screenshot(path=str(SCREENSHOTS / "background-sync-preview.png"), full_page=True)
    page.locator(".st-key-sync_commit button").click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [(run_id, direction) for run_id, direction, _s in runs(database) if run_id not in before]
        if new:
            assert [direction for _id, direction in new] == ["both"]
            return new[0][0]
        time.sleep(0.1)
    raise AssertionError("the commit handed no run to the worker")


def test_a_committed_sync_goes_on_while_the_user_is_elsewhere(console_with_worker, page):
    url, database, _sandbox = console_with_worker
    new_list_here(database, "Apparel Sports Wear", "Apparel Sports Wear")
    run_id = preview_both_and_commit(page, url, database)
    # At once elsewhere: the run is the worker's, not the page's.
    page.get_by_role("link", name="Email Lists").click()
    wait_for_app(page)
    assert next(status for found, _d, status in runs(database) if found == run_id) in ("queued", "running")
    page.get_by_role("link", name="Synchronize").click()
    wait_for_app(page)
    progress = page.locator(f".st-key-sync_run_{run_id}")
    if next(status for found, _d, status in runs(database) if found == run_id) in ("queued", "running"):
        progress.wait_for(timeout=10_000)
        page.screenshot(path=str(SCREENSHOTS / "background-sync-running.png"), full_page=True)
        assert "leave this page or close it, the sync goes on" in progress.inner_text()
    assert wait_for_run(database, run_id) == "completed"
    # The page that handed it over says how it ended, without a reload.
    page.get_by_text(f"Run {run_id} done").wait_for(timeout=15_000)
    page.screenshot(path=str(SCREENSHOTS / "background-sync-done.png"), full_page=True)
    assert page.locator(f".st-key-sync_run_{run_id}").count() == 0


def test_a_sync_goes_on_after_its_page_is_closed(console_with_worker, page):
    url, database, _sandbox = console_with_worker
    new_list_here(database, "VIP Customers", "VIP")
    run_id = preview_both_and_commit(page, url, database)
    page.close()
    assert wait_for_run(database, run_id) == "completed"
    with database.session() as session:
        assert lists.find_list(session, "VIP Customers").ctct_list_id is not None


def test_a_conflict_is_resolved_by_a_choice_in_the_preview(console_with_worker, page):
    url, database, sandbox_url = console_with_worker
    new_list_here(database, "Trade Show", "Trade Show 2026")
    wait_for_run(database, preview_both_and_commit(page, url, database))
    _rename_in_ctct(sandbox_url, "Trade Show", "Trade Show (CTCT)")
    with database.session() as session:
        lists.rename_list(session, "Trade Show", "Trade Show (here)")
    page.goto(f"{url}/synchronize")
    wait_for_app(page)
    page.locator(".st-key-sync_preview_both button").click()
    choice = page.get_by_role("radiogroup")
    choice.wait_for()
    wait_for_app(page)
    page.screenshot(path=str(SCREENSHOTS / "both-ways-conflict.png"), full_page=True)
    assert "both sides take Constant Contact's name (default)" in choice.inner_text()
    choice.get_by_text("both sides take the name here").click()
    # The preview is made again with the choice: the rename now goes to Constant Contact.
    page.locator(".st-key-sync_ctct_side").get_by_text("Lists to rename").first.wait_for()
    wait_for_app(page)
    before = {run_id for run_id, _d, _s in runs(database)}
    page.locator(".st-key-sync_commit button").click()
    deadline = time.monotonic() + 20
    while not [run_id for run_id, _d, _s in runs(database) if run_id not in before] and time.monotonic() < deadline:
        time.sleep(0.1)
    [run_id] = [run_id for run_id, _d, _s in runs(database) if run_id not in before]
    assert wait_for_run(database, run_id) == "completed"
    assert "Trade Show (here)" in [item["name"] for item in _ctct_lists(sandbox_url)]


def test_a_held_run_is_shown_and_reviewed_on_synchronize(console_with_worker, page):
    url, database, sandbox_url = console_with_worker
    with database.session() as session:
        lists.delete_list(session, "Trade Show (here)")
    schedule = schedules.add_schedule(
        database, "both", every_minutes=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    )
    deadline = time.monotonic() + 30
    held = []
    while not held and time.monotonic() < deadline:
        with database.session() as session:
            held = list(session.scalars(select(SyncRun.id).where(SyncRun.status == "needs_review")))
        time.sleep(0.3)
    schedules.set_paused(database, schedule.id, True)
    assert held, "the worker held no run"
    page.goto(f"{url}/synchronize")
    wait_for_app(page)
    box = page.locator(f".st-key-sync_held_{held[0]}")
    box.wait_for()
    assert "mass removal" in box.inner_text()
    assert "need review" in page.locator('[data-testid="stSidebar"]').inner_text()
    page.screenshot(path=str(SCREENSHOTS / "held-for-review.png"), full_page=True)
    box.get_by_role("button", name="Review").click()
    page.get_by_text(f"reviewing held run {held[0]}").wait_for()
    page.get_by_text("I understand").click()
    page.locator(".st-key-sync_commit button:not([disabled])").wait_for()
    wait_for_app(page)
    page.locator(".st-key-sync_commit button").click()
    try:
        assert wait_for_run(database, held[0], timeout=30) == "completed"
    finally:
        page.screenshot(path=str(SCREENSHOTS / "held-after-commit.png"), full_page=True)
    assert "Trade Show (here)" not in [item["name"] for item in _ctct_lists(sandbox_url)]


def test_schedules_are_added_paused_and_removed_on_synchronize(console_with_worker, page):
    url, database, _sandbox = console_with_worker
    page.goto(f"{url}/synchronize")
    wait_for_app(page)
    section = page.locator(".st-key-sync_schedules")
    section.get_by_text("Schedules").first.click()
    minutes = section.get_by_role("spinbutton", name="Minutes")
    minutes.fill("45")
    minutes.press("Tab")  # typed, then left, as a user does: the form holds the value from then on
    wait_for_app(page)  # not while the page's periodic look at runs is under way
    section.get_by_role("button", name="Add schedule").click()
    try:
        section.get_by_text("every 45 minutes").wait_for()
    except PlaywrightTimeoutError:
        page.screenshot(path=str(SCREENSHOTS / "schedules-not-added.png"), full_page=True)
        stored = [(item.every_minutes, item.daily_at, item.paused) for item in schedules.list_schedules(database)]
        pytest.fail(f"no 'every 45 minutes' shown; the schedules stored (minutes, daily at, paused): {stored}")
    wait_for_app(page)
    [added] = [item for item in schedules.list_schedules(database) if item.every_minutes == 45]
    assert added.direction == "both" and not added.paused
    page.screenshot(path=str(SCREENSHOTS / "schedules.png"), full_page=True)
    section.locator(f".st-key-sync_schedule_pause_{added.id} button").click()
    section.get_by_text("every 45 minutes — paused").wait_for()
    assert schedules.view(database, added.id).paused
    section.locator(f".st-key-sync_schedule_remove_{added.id} button").click()
    wait_for_app(page)
    deadline = time.monotonic() + 10
    while any(item.id == added.id for item in schedules.list_schedules(database)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(item.id != added.id for item in schedules.list_schedules(database))

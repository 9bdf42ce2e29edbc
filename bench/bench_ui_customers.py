"""Customers & Prospects at 100,000 contacts / 33,334 companies, in headless Chromium, against a bare
Streamlit page served and driven the same way in the same run (so that the machine's speed divides
out).

Run: .venv/bin/python bench/bench_ui_customers.py [--companies 33334] [--repeats 3]
Prints JSON: per step, the seconds a user waits (median of the repeats) and the bytes the server
sent over the page's websocket for it (Playwright's `framereceived` payloads, summed), each beside
the bare page's matching step; the machine's load while it ran; and issue 17's targets (≤ 1 MB per
run, open ≤ 1 s). Steps:
- `server_first_visit`: a new server process and a new browser session (nothing read or cached);
- `open`: a new browser session on that server (the CRM read already; no browser cache either);
- `open_from_sidebar`: in a session showing another page of the console (History), a click on
  Customers & Prospects in the sidebar until the page shows its contacts — how a user opens it;
  the bare app's matching step is a click from its first page to its second;
- `search`, `next_page`, `find_company`, `find_contact`: a typical action each, timed until the
  page shows its result and the run is over.
A warm-up visit (a server and a page of its own) runs first and is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from ctct.crm import demo
from ctct.db import Database
from ctct.sandbox.process import ServerProcess, free_port, running_console
from tests.browser import CHROMIUM_ARGS, STREAMLIT_IDLE, chromium_executable

BARE_PAGE = """
import streamlit as st

def first():
    st.title("Bare page")
    if st.button("Rerun", key="bare_rerun"):
        st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    st.caption(f"run {st.session_state.get('runs', 0)}")

def second():
    st.title("Second page")
    st.caption("the second page")

st.navigation([st.Page(first, title="Bare page", default=True), st.Page(second, title="Second page")]).run()
"""
TARGETS = {"bytes_per_run": 1_000_000, "open_seconds": 1.0}
SIDEBAR_OPENS = 5
TIMEOUT = 180_000


class Visit:
    """A new browser session (its own context: no cache, no cookies) that counts what its
    websocket receives."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.received = 0
        self.page.on("websocket", lambda socket: socket.on("framereceived", self._count))

    def _count(self, payload: str | bytes) -> None:
        self.received += len(payload)

    def step(self, action: Callable[[], None]) -> tuple[float, int]:
        """Seconds and bytes received until `action` (which waits for what it shows) is done
        and the script run is over."""
        received, started = self.received, time.perf_counter()
        action()
        self.page.wait_for_selector(STREAMLIT_IDLE, timeout=TIMEOUT)
        return time.perf_counter() - started, self.received - received

    def close(self) -> None:
        self.page.close()


def caption_changes(page: Any, before: str) -> None:
    """Waits until the contacts caption (its count, the rows shown) reads otherwise than `before`."""
    page.wait_for_function(
        """(before) => Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
             .some(node => node.innerText.includes("can be put on email lists") && node.innerText !== before)""",
        arg=before,
        timeout=TIMEOUT,
    )


def median_step(steps: list[tuple[float, int]]) -> tuple[float, int]:
    """The median seconds and bytes of repeated steps."""
    return statistics.median(step[0] for step in steps), int(statistics.median(step[1] for step in steps))


@contextmanager
def bare_server(folder: Path) -> Iterator[str]:
    script = folder / "bare.py"
    script.write_text(BARE_PAGE)
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address", "127.0.0.1"]
    command += ["--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with ServerProcess(command, port, "/_stcore/health", timeout=60) as server:
        yield server.url


def bare_figures(browser: Any, folder: Path) -> dict[str, tuple[float, int]]:
    with bare_server(folder) as url:
        figures = {}
        for step in ("server_first_visit", "open"):
            visit = Visit(browser)
            figures[step] = visit.step(
                lambda visit=visit: (visit.page.goto(url), visit.page.get_by_role("button", name="Rerun").wait_for())
            )
            if step == "open":
                reruns = []
                for number in range(1, 6):
                    button = visit.page.get_by_role("button", name="Rerun")
                    reruns.append(
                        visit.step(
                            lambda button=button, number=number, visit=visit: (
                                button.click(),
                                visit.page.get_by_text(f"run {number}", exact=True).wait_for(),
                            )
                        )
                    )
                figures["rerun"] = median_step(reruns)
                opens = []
                for _ in range(SIDEBAR_OPENS):
                    opens.append(
                        visit.step(
                            lambda visit=visit: (
                                visit.page.get_by_role("link", name="Second page").click(),
                                visit.page.get_by_text("the second page").wait_for(),
                            )
                        )
                    )
                    visit.page.get_by_role("link", name="Bare page").click()
                    visit.page.get_by_role("button", name="Rerun").wait_for()
                    visit.page.wait_for_selector(STREAMLIT_IDLE, timeout=TIMEOUT)
                figures["open_from_sidebar"] = median_step(opens)
            visit.close()
    return figures


CAPTION = '[data-testid="stCaptionContainer"]'


def contacts_caption(page: Any) -> str:
    return next(text for text in page.locator(CAPTION).all_inner_texts() if " can be put on email lists" in text)


def open_customers(visit: Visit, url: str) -> None:
    visit.page.goto(f"{url}/customers")
    visit.page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=TIMEOUT)
    visit.page.get_by_text("can be put on email lists").first.wait_for(timeout=TIMEOUT)


def customers_figures(browser: Any, url: str, needles: dict[str, str]) -> dict[str, tuple[float, int]]:
    figures = {}
    first = Visit(browser)
    figures["server_first_visit"] = first.step(lambda: open_customers(first, url))
    first.close()
    visit = Visit(browser)
    page = visit.page
    figures["open"] = visit.step(lambda: open_customers(visit, url))

    opens = []
    for _ in range(SIDEBAR_OPENS):
        page.get_by_role("link", name="History").click()
        page.get_by_role("heading", name="History").wait_for(timeout=TIMEOUT)
        page.wait_for_selector(STREAMLIT_IDLE, timeout=TIMEOUT)
        opens.append(
            visit.step(
                lambda: (
                    page.get_by_role("link", name="Customers & Prospects").click(),
                    page.get_by_text("can be put on email lists").first.wait_for(timeout=TIMEOUT),
                    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=TIMEOUT),
                )
            )
        )
    figures["open_from_sidebar"] = median_step(opens)
    search = page.get_by_placeholder("company, name, email, job title")

    def search_for() -> None:
        before = contacts_caption(page)
        search.fill(needles["search"])
        search.press("Enter")
        caption_changes(page, before)

    figures["search"] = visit.step(search_for)
    before = contacts_caption(page)
    search.fill("")
    search.press("Enter")
    caption_changes(page, before)
    page.wait_for_selector(STREAMLIT_IDLE, timeout=TIMEOUT)

    def next_page() -> None:
        before = contacts_caption(page)
        page.locator(".st-key-customers_page [data-testid=stNumberInputStepUp]").click()
        caption_changes(page, before)

    figures["next_page"] = visit.step(next_page)

    page.get_by_role("tab", name="Add or edit").click()
    page.wait_for_selector(STREAMLIT_IDLE, timeout=TIMEOUT)
    picker = page.locator(".st-key-customers_edit_target").get_by_role("combobox")

    def find_company() -> None:
        before = picker.input_value()
        finder = page.locator(".st-key-customers_edit_target_find input")
        finder.fill(needles["company"])
        finder.press("Enter")
        page.wait_for_function(
            "([selector, before]) => document.querySelector(selector).value !== before",
            arg=[".st-key-customers_edit_target input[role=combobox]", before],
            timeout=TIMEOUT,
        )

    figures["find_company"] = visit.step(find_company)

    def find_contact() -> None:
        finder = page.get_by_label("Find the contact")
        finder.fill(needles["contact"])
        finder.press("Enter")
        page.get_by_role("button", name="Save contact").wait_for(timeout=TIMEOUT)

    figures["find_contact"] = visit.step(find_contact)
    visit.close()
    return figures


def medians(runs: list[dict[str, tuple[float, int]]]) -> dict[str, dict[str, float]]:
    return {
        step: {
            "seconds": round(statistics.median(run[step][0] for run in runs), 3),
            "bytes": int(statistics.median(run[step][1] for run in runs)),
        }
        for step in runs[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=33_334)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: list[dict[str, tuple[float, int]]] = []
    bare_runs: list[dict[str, tuple[float, int]]] = []
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        database_url = f"sqlite:///{folder}/bench.db"
        database = Database(database_url)
        with database.session() as session:
            summary = demo.load_demo_data(session, companies=args.companies)
        with database.session() as session:
            from ctct.crm.contact_frame import read_contacts

            frame = read_contacts(session)
            # A contact far past the first page, found by its email; a company by part of its name.
            late = frame.iloc[len(frame) * 3 // 4]
            needles = {"search": "smith", "contact": str(late["email"]), "company": str(late["company"])[:12]}
        database.dispose()
        env = {"CTCT_DATABASE_URL": database_url, "CTCT_DEMO_MODE": "1"}
        with running_console(env) as url:  # warm-up: Python's and the browser's first start
            customers_figures(browser, url, needles)
        bare_figures(browser, Path(folder))
        for _ in range(args.repeats):
            bare_runs.append(bare_figures(browser, Path(folder)))
            with running_console(env) as url:  # a fresh server: its first visit reads the CRM
                runs.append(customers_figures(browser, url, needles))
            loads.append(os.getloadavg()[0])
        browser.close()
    figures, bare = medians(runs), medians(bare_runs)
    ratios = {
        step: {
            "seconds": round(value["seconds"] / bare[step if step in bare else "rerun"]["seconds"], 1),
            "bytes": round(value["bytes"] / max(bare[step if step in bare else "rerun"]["bytes"], 1), 1),
        }
        for step, value in figures.items()
    }
    print(
        json.dumps(
            {
                "contacts": summary.contacts,
                "companies": args.companies,
                "repeats": args.repeats,
                "load_1min": {
                    "before": round(loads[0], 2),
                    "after_each_repeat": [round(load, 2) for load in loads[1:]],
                },
                "customers": figures,
                "bare_page": bare,
                "ratio_to_bare_page": ratios,
                "targets": TARGETS,
                "within_targets": {
                    "bytes_per_run": max(value["bytes"] for value in figures.values()) <= TARGETS["bytes_per_run"],
                    "open_seconds": figures["open"]["seconds"] <= TARGETS["open_seconds"],
                    "open_from_sidebar_seconds": figures["open_from_sidebar"]["seconds"] <= TARGETS["open_seconds"],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

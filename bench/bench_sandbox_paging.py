"""Sandbox capacity: 200,000 contacts held, and the time to answer one 500-contact page.

Run: .venv/bin/python bench/bench_sandbox_paging.py [--contacts 200000] [--pages 40]
Prints JSON. Pages are fetched in process through the same ASGI app and transport the tests
use (no socket), following `_links.next` as a client does, with `include=list_memberships`; the
plain baseline is `json.dumps` of the same 500 contact dicts, timed in the same process.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct.sandbox import SandboxConfig, create_app
from ctct.sandbox.inprocess import SandboxTransport
from ctct.sandbox.tokens import Grant


def time_pages(client: httpx.Client, params: dict[str, object] | None, pages: int) -> list[float]:
    timings: list[float] = []
    url: str | None = "/v3/contacts"
    for _ in range(pages):
        started = time.perf_counter()
        response = client.get(url, params=params)
        page = response.json()
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200 and len(page["contacts"]) == 500
        if "_links" not in page:
            break
        url, params = page["_links"]["next"]["href"], None
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--pages", type=int, default=40)
    args = parser.parse_args()

    tracemalloc.start()
    app = create_app(SandboxConfig(rate_limit=1e9, daily_quota=10**9))
    sandbox = app.state.sandbox
    account = sandbox.account("demo")
    now = sandbox.now()
    lists = [account.create_list(f"List {n}", now).list_id for n in range(10)]
    started = time.perf_counter()
    for number in range(args.contacts):
        contact = account.new_contact(f"person{number:07d}@company{number // 4:06d}.com", now, "Account", "implicit")
        contact.first_name, contact.last_name, contact.company_name = "Pat", f"Lee{number}", "Acme"
        account.add_membership(contact, lists[number % 10])
    load_seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # As the sandbox does after loading a state file: the bulk of objects is long-lived.
    gc.collect()
    gc.freeze()
    token = sandbox.tokens.issue_tokens(Grant("demo", "bench", "contact_data"), "bench", now, 86_400)["access_token"]
    transport = SandboxTransport(app)
    client = httpx.Client(transport=transport, base_url="http://sandbox", headers={"Authorization": f"Bearer {token}"})
    client.get("/v3/account/summary")  # warm-up: the transport's event loop thread
    timings = time_pages(client, {"limit": 500, "include": "list_memberships"}, args.pages)
    list_timings = time_pages(client, {"limit": 500, "include": "list_memberships", "lists": lists[3]}, args.pages)
    page = client.get("/v3/contacts", params={"limit": 500, "include": "list_memberships"}).json()
    started = time.perf_counter()
    for _ in range(args.pages):
        json.dumps(page["contacts"])
    baseline = (time.perf_counter() - started) / args.pages
    client.close()
    transport.close()

    median = statistics.median(timings)
    print(
        json.dumps(
            {
                "contacts_held": len(account.contacts),
                "load_seconds": round(load_seconds, 2),
                "python_peak_mb_while_loading": round(peak / 2**20),
                "pages_timed": len(timings),
                "page_size": 500,
                "page_ms_median": round(median * 1000, 1),
                "page_ms_p95": round(sorted(timings)[int(0.95 * len(timings)) - 1] * 1000, 1),
                "page_ms_max": round(max(timings) * 1000, 1),
                "list_filtered_page_ms_median": round(statistics.median(list_timings) * 1000, 1),
                "list_filtered_page_ms_max": round(max(list_timings) * 1000, 1),
                "json_dumps_baseline_ms": round(baseline * 1000, 1),
                "page_vs_baseline": round(median / baseline, 1),
                "target_ms": 50,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

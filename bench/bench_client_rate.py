"""Sustained request rate through the client's limiter, against the sandbox over real HTTP.

Run: .venv/bin/python bench/bench_client_rate.py [--requests 80] [--threads 4] [--contacts 20000]
     [--latency-ms 400] [--burst 200] [--spread even|recent]
Prints JSON, with the load average it ran under (read ratios, not seconds):
- `limiter`: requests per second through one caller and through several threads sharing one client
  (target 3.8–4.0 with CTCT's 4/s limit), and the 429s the sandbox answered (target 0);
- `full_read`: with `latency_ms` injected by the sandbox (CTCT far away), a full read of every list
  and contact (`full_remote_read`, concurrent cursor chains) against the serial read it replaced
  (the baseline, in the same process): requests per second kept while sending (target ≥ 3.9), the
  whole read's time, its requests and the 429s (target 0);
- `burst`: `--burst` requests from `--threads` threads at that latency: 0 × 429.
The account (contacts made over two years, evenly or mostly of late — the chains split creation
time in equal lengths, so `recent` shows what an uneven account costs; 10 lists) goes in as a
sandbox state file, so building it costs no requests. Sends and 429s are counted by hooks on the
client's own HTTP connection.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct.activation import complete_activation
from ctct.api.client import CtctClient
from ctct.config import Settings
from ctct.db import Database
from ctct.db.stores import open_client
from ctct.sandbox import SandboxConfig
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.process import running_sandbox
from ctct.sandbox.state import Sandbox
from ctct.sync.remote_full import full_remote_read

TWO_YEARS = 2 * 365 * 86_400


class Wire:
    """What left on the client's connection: the send time of every request and the 429s."""

    def __init__(self, http: httpx.Client) -> None:
        self.sends: list[float] = []
        self.throttled = 0
        self._lock = threading.Lock()
        http.event_hooks["request"].append(self._sent)
        http.event_hooks["response"].append(self._answered)

    def _sent(self, _request: httpx.Request) -> None:
        with self._lock:
            self.sends.append(time.perf_counter())

    def _answered(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            with self._lock:
                self.throttled += 1

    def reset(self) -> None:
        with self._lock:
            self.sends, self.throttled = [], 0

    def figures(self, elapsed: float) -> dict[str, Any]:
        sends = sorted(self.sends)
        span = sends[-1] - sends[0] if len(sends) > 1 else 0.0
        return {
            "requests": len(sends),
            "seconds": round(elapsed, 2),
            # The first request goes out at once: the rate is measured over the gaps between sends.
            "requests_per_second_sending": round((len(sends) - 1) / span, 3) if span else None,
            "requests_per_second_overall": round(len(sends) / elapsed, 3),
            "throttled_429s": self.throttled,
        }


def account_state(path: Path, contacts: int, spread: str = "even") -> None:
    """A sandbox state with `contacts` made over two years up to now — evenly, or `recent`: three in
    five in the last five months — on 10 lists (a tenth on none, a twentieth deleted), written to
    `path` for the sandbox process to load."""
    sandbox = Sandbox(SandboxConfig(state_file=path))
    account = sandbox.account("demo")
    now = time.time()
    lists = [account.create_list(f"List {n}", now - TWO_YEARS - 60).list_id for n in range(10)]
    rng = random.Random(17)
    skew = 1.0 if spread == "even" else 3.2
    moments = sorted(now - TWO_YEARS * rng.random() ** skew for _ in range(contacts))
    for number, moment in enumerate(moments):
        contact = account.new_contact(
            f"person{number:06d}@company{number // 3:05d}.example", moment, "Account", "implicit"
        )
        contact.first_name, contact.last_name = f"Pat{number % 97}", f"Lee{number}"
        if number % 10:
            account.add_membership(contact, lists[number % 10])
        if number % 20 == 0:
            account.delete_contact(contact, moment + 1)
    sandbox.save(path)


def limiter_run(client: CtctClient, wire: Wire, requests: int, threads: int) -> dict[str, Any]:
    share = [requests // threads + (1 if n < requests % threads else 0) for n in range(threads)]

    def work(count: int) -> None:
        for _ in range(count):
            client.get("/contact_lists", limit=1)

    workers = [threading.Thread(target=work, args=(count,)) for count in share]
    wire.reset()
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"threads": threads, **wire.figures(time.perf_counter() - started)}


def serial_read(client: CtctClient) -> int:
    """The full read as it was: the lists, then every contact on one cursor chain."""
    list(client.lists.iterate())
    return sum(1 for _ in client.contacts.iterate(status="all", include="list_memberships"))


def chained_read(client: CtctClient) -> int:
    return len(full_remote_read(client, exports=False).contacts)


def timed(read: Callable[[CtctClient], int], client: CtctClient, wire: Wire) -> dict[str, Any]:
    time.sleep(1.1)  # an empty rate window to start from
    wire.reset()
    started = time.perf_counter()
    contacts = read(client)
    return {"contacts": contacts, **wire.figures(time.perf_counter() - started)}


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=80)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=int, default=400)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--spread", choices=["even", "recent"], default="even", help="when the contacts were made")
    args = parser.parse_args()
    load_before = load()
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "sandbox.json"
        account_state(state, args.contacts, args.spread)
        with running_sandbox("--daily-quota", "1000000", "--state", str(state)) as sandbox:
            settings = Settings(
                database_url=f"sqlite:///{folder}/bench.db",
                api_base=f"{sandbox}/v3",
                auth_base=f"{sandbox}/oauth2/default/v1",
                client_id="bench",
                redirect_uri="http://127.0.0.1:8501/",
                secret_key=Fernet.generate_key().decode(),
            )
            client = open_client(settings, Database(settings.database_url))
            url = client.authorization.start()
            complete_activation(client, sign_in_to_sandbox(client.http, url, "demo", "demo"))
            wire = Wire(client.http)
            time.sleep(1.1)
            # Near CTCT: the limiter alone (this also warms up the connection and the sandbox).
            limiter = [
                limiter_run(client, wire, args.requests, 1),
                limiter_run(client, wire, args.requests, args.threads),
            ]
            httpx.post(f"{sandbox}/_sandbox/faults", json={"latency_ms": args.latency_ms})
            client.contacts.iterate().__next__()  # warm-up at the latency
            serial = timed(serial_read, client, wire)
            chained = timed(chained_read, client, wire)
            time.sleep(1.1)
            burst = limiter_run(client, wire, args.burst, args.threads) if args.burst else {}
    print(
        json.dumps(
            {
                "rate_limit": 4,
                "load_before": load_before,
                "load_after": load(),
                "limiter": {"target": "3.8-4.0 requests/s, 0 x 429", "runs": limiter},
                "full_read": {
                    "latency_ms": args.latency_ms,
                    "contacts_made": args.spread,
                    "target": ">= 3.9 requests/s sending, 0 x 429",
                    "serial_baseline": serial,
                    "concurrent_chains": chained,
                    "time_serial_over_chained": round(serial["seconds"] / chained["seconds"], 2),
                },
                "burst": {"latency_ms": args.latency_ms, "target": "0 x 429", **burst},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

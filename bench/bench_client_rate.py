"""Sustained request rate through the client's limiter, against the sandbox over real HTTP.

Run: .venv/bin/python bench/bench_client_rate.py [--requests 80] [--threads 4]
Prints JSON: requests per second achieved (target 3.8–4.0 with CTCT's 4/s limit) and how many
429s the sandbox answered (target 0), for one caller and for several threads sharing one client.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct.activation import complete_activation
from ctct.api.client import CtctClient
from ctct.config import Settings
from ctct.db import Database
from ctct.db.stores import open_client
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.process import running_sandbox


def run(client: CtctClient, sandbox: str, requests: int, threads: int) -> dict[str, float]:
    httpx.post(f"{sandbox}/_sandbox/reset", json={"what": "stats"})
    share = [requests // threads + (1 if n < requests % threads else 0) for n in range(threads)]

    def work(count: int) -> None:
        for _ in range(count):
            client.get("/contact_lists", limit=1)

    workers = [threading.Thread(target=work, args=(count,)) for count in share]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    stats = httpx.get(f"{sandbox}/_sandbox/stats").json()
    sent = stats["requests_total"]
    # The first request goes out at once; the rate is measured over the gaps between requests.
    return {
        "threads": threads,
        "requests": requests,
        "seconds": round(elapsed, 2),
        "requests_per_second": round((requests - 1) / elapsed, 3),
        "throttled_429s": sent - requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=80)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with running_sandbox("--daily-quota", "100000") as sandbox, tempfile.TemporaryDirectory() as folder:
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
        time.sleep(1.1)
        results = [run(client, sandbox, args.requests, 1), run(client, sandbox, args.requests, args.threads)]
    print(json.dumps({"rate_limit": 4, "target": "3.8-4.0 requests/s, 0 x 429", "runs": results}, indent=2))


if __name__ == "__main__":
    main()

"""A full read of CTCT by contact exports against the paged read, on the same sandbox account.

Run: .venv/bin/python bench/bench_remote_export.py [CONTACTS [LISTS]]   (default 20000 10)
Both reads run in this process against the in-process sandbox on a virtual clock (activities take
2 s each; the client's waits — rate limiter, polls — move the clock): requests are counted by the
sandbox, "waited" is virtual seconds (what a user would wait at CTCT's 4 requests/s, plus the
activities' own time), CPU is this process's (client and sandbox together). A 1,000-contact run
warms both paths first. Compare ratios: the load is printed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.virtual_sandbox import VirtualClock, virtual_sandbox
from ctct.api.client import CtctClient
from ctct.sync.remote_export import exported_remote_contacts
from ctct.sync.remote_full import full_remote_read


def setup(folder: str) -> tuple[CtctClient, object, VirtualClock]:
    built = virtual_sandbox(folder, quota=10**6)
    return built.client, built.sandbox, built.clock


def seed(sandbox, clock, contacts: int, list_count: int) -> None:
    account = sandbox.account("demo")
    lists = [account.create_list(f"List {n}", clock.now).list_id for n in range(list_count)]
    for number in range(contacts):
        contact = account.new_contact(f"p{number}@company{number // 4}.com", clock.now, "Account", "implicit")
        contact.first_name, contact.last_name = f"Fïrst {number}", f'Last, "{number}"'
        contact.company_name = f"Company {number // 4}"
        for offset in range(1 + number % 3):
            account.add_membership(contact, lists[(number + offset) % list_count])
        if number % 50 == 0:
            account.delete_contact(contact, clock.now)
        elif number % 37 == 0:
            account.unsubscribe(contact, "Contact", clock.now)


def measure(read, sandbox, clock) -> tuple[int, float, float]:
    sandbox.reset_stats()
    started_cpu, started_clock = time.process_time(), clock.now
    read()
    return sum(sandbox.stats.values()), clock.now - started_clock, time.process_time() - started_cpu


def run(contacts: int, list_count: int) -> dict[str, tuple[int, float, float]]:
    with tempfile.TemporaryDirectory() as folder:
        client, sandbox, clock = setup(folder)
        seed(sandbox, clock, contacts, list_count)
        paged = measure(lambda: full_remote_read(client), sandbox, clock)
        exported = measure(lambda: exported_remote_contacts(client), sandbox, clock)
        return {"paged": paged, "export": exported}


def main() -> None:
    contacts = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    list_count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    run(1_000, 3)  # warm-up
    figures = run(contacts, list_count)
    print(f"{contacts:,} contacts on {list_count} lists (+ General Interest); load {os.getloadavg()}")
    for name, (requests, waited, cpu) in figures.items():
        print(f"  {name:6}: {requests:5d} requests, {waited:8.1f} s waited (virtual), {cpu:6.2f} s CPU")
    (paged_requests, paged_wait, paged_cpu), (export_requests, export_wait, export_cpu) = figures.values()
    print(
        f"  export / paged: requests {export_requests / paged_requests:.3f}, waited {export_wait / paged_wait:.3f}, "
        f"CPU {export_cpu / paged_cpu:.3f}"
    )


if __name__ == "__main__":
    main()

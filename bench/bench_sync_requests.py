"""CTCT requests a sync really uses, counted by the sandbox, against the lower bound.

Run: .venv/bin/python bench/bench_sync_requests.py
1. Initial import of 20,000 contacts on 10 lists (activation's import).
2. A push of 10,000 new members (new contacts) into 5 new lists.
3. Previews read incrementally (ctct/sync/remote_read.py): after the initial import of 20,000
   contacts on 10 lists, a no-change preview of push, of pull and of both ways (target <= 3 requests
   each; a full read was 41), then previews after k contacts changed in CTCT (k = 10, 1,000: 1 + ceil(k/500)
   pages), and the full reads the verification forces (a membership change CTCT did not stamp, a
   day passed). `--large N` does the same previews at N contacts on 50 lists (200,000; 1,000,000 if
   memory allows) without the import: request counts do not depend on timing.
The sandbox runs in process on a test clock (activities take 2 s each, the client's waits move the
clock), so the counts are those of real time without the waiting. The lower bound is the pages the
snapshot must read, plus one request per activity and one poll per activity.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.virtual_sandbox import VirtualClock, insert_members, virtual_sandbox
from ctct import lists
from ctct.crm import services
from ctct.sync.apply import SyncService


def setup(folder: str) -> tuple[SyncService, object, VirtualClock]:
    world = virtual_sandbox(folder, quota=10**6, client_quota=10**6, read_on_clock=True)
    return world.service, world.sandbox, world.clock


def requests_of(sandbox, work) -> int:
    sandbox.reset_stats()
    work()
    return sum(sandbox.stats.values())


def initial_import(contacts: int = 20_000, list_count: int = 10) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        service, sandbox, clock = setup(folder)
        seed_ctct(sandbox, clock, contacts, list_count, two_lists_for_a_third=False)
        used = requests_of(sandbox, lambda: service.commit(service.plan("import")))
        bound = math.ceil((list_count + 1) / 500) + math.ceil(contacts / 500)
        return _report("initial import", contacts, used, bound)


def push_new_members(members: int = 10_000, list_count: int = 5) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        service, sandbox, _ = setup(folder)
        with service.database.session() as session:
            company = services.create_company(session, "Acme")
            for number in range(list_count):
                lists.create_list(session, f"Campaign {number}")
        insert_members(service.database, company.id, members)
        with service.database.session() as session:
            frame = lists.contacts_frame(session)
            for number in range(list_count):
                chunk = frame["contact_id"].iloc[number::list_count].astype(int).tolist()
                lists.add_contacts(session, f"Campaign {number}", chunk)
        used = requests_of(sandbox, lambda: service.commit(service.plan("push")))
        activities = list_count  # one import per target list
        bound = 2 + list_count + activities + activities  # snapshot pages, list creates, activities, polls
        return _report("push of new members", members, used, bound)


def seed_ctct(
    sandbox, clock: VirtualClock, contacts: int, list_count: int, *, two_lists_for_a_third: bool = True
) -> tuple[object, list[str]]:
    """`contacts` in CTCT on `list_count` lists, contact n on list n % list_count (and, with
    `two_lists_for_a_third`, every third one on the next list too)."""
    account = sandbox.account("demo")
    targets = [account.create_list(f"List {n}", clock.now).list_id for n in range(list_count)]
    for number in range(contacts):
        contact = account.new_contact(f"p{number}@company{number // 4}.com", clock.now, "Account", "implicit")
        contact.company_name, contact.first_name = f"Company {number // 4}", "Pat"
        account.add_membership(contact, targets[number % list_count])
        if two_lists_for_a_third and number % 3 == 0:
            account.add_membership(contact, targets[(number + 1) % list_count])
    return account, targets


def preview_requests(service, sandbox, clock: VirtualClock, direction: str) -> tuple[int, float]:
    """Requests the sandbox served for one preview, and its CPU seconds."""
    clock.advance(3)
    sandbox.reset_stats()
    started = time.process_time()
    plan = service.plan(direction)
    cpu = time.process_time() - started
    served = sum(sandbox.stats.values())
    assert served == plan.snapshot_requests, (served, plan.snapshot_requests)
    return served, round(cpu, 2)


def change_contacts(account, clock: VirtualClock, count: int) -> None:
    """`count` contacts edited in CTCT (a job title): each moves its `updated_at`."""
    for contact in list(account.contacts.values())[:count]:
        contact.job_title, contact.updated_at = f"Changed {clock.now}", clock.now


def incremental_previews(contacts: int = 20_000, list_count: int = 10, *, import_first: bool = True) -> dict:
    """Requests of previews read incrementally, and of the full reads verification forces."""
    with tempfile.TemporaryDirectory() as folder:
        service, sandbox, clock = setup(folder)
        account, targets = seed_ctct(sandbox, clock, contacts, list_count)
        clock.advance(1)
        figures: dict[str, object] = {"contacts": contacts, "lists": list_count}
        if import_first:
            sandbox.reset_stats()
            service.commit(service.plan("import"))
            figures["initial import (full read)"] = sum(sandbox.stats.values())
        else:
            figures["first preview (full read)"] = preview_requests(service, sandbox, clock, "pull")
        # Warm-up (caches, the mirror's first read back), then the no-change previews.
        preview_requests(service, sandbox, clock, "pull")
        for direction in ("push", "pull", "both"):
            figures[f"no-change {direction} preview"] = preview_requests(service, sandbox, clock, direction)
        for changed in (10, 1_000):
            change_contacts(account, clock, changed)
            figures[f"pull preview after {changed:,} CTCT changes"] = preview_requests(service, sandbox, clock, "pull")
            change_contacts(account, clock, changed)
            figures[f"push preview after {changed:,} CTCT changes"] = preview_requests(service, sandbox, clock, "push")
            change_contacts(account, clock, changed)
            figures[f"both preview after {changed:,} CTCT changes"] = preview_requests(service, sandbox, clock, "both")
        # A membership added in CTCT without a new `updated_at`: the count check reads fully.
        stray = next(c for c in account.contacts.values() if targets[-1] not in c.lists)
        account.add_membership(stray, targets[-1])
        figures["pull preview after an unstamped membership change (full read)"] = preview_requests(
            service, sandbox, clock, "pull"
        )
        clock.advance(86_400)
        figures["push preview a day later (full read)"] = preview_requests(service, sandbox, clock, "push")
        figures["targets"] = "no-change <= 3 requests; k changes 1 + ceil(k/500) pages + the listing"
        figures["figures"] = "(requests, CPU seconds of the preview)"
        return figures


def _report(name: str, contacts: int, used: int, bound: int) -> dict[str, object]:
    return {
        "scenario": name,
        "contacts": contacts,
        "requests_used": used,
        "lower_bound": bound,
        "ratio_to_bound": round(used / bound, 2),
        "contacts_per_request": round(contacts / used, 1),
        "targets": "<= 1.2 x the bound; >= 100 contacts per request",
    }


if __name__ == "__main__":
    if "--large" in sys.argv:
        size = int(sys.argv[sys.argv.index("--large") + 1])
        results: object = [incremental_previews(size, 50, import_first=False)]
    elif "--incremental" in sys.argv:
        results = [incremental_previews()]
    else:
        results = [initial_import(), push_new_members(), incremental_previews()]
    print(json.dumps(results, indent=2))
    print("load average (1, 5, 15 min):", os.getloadavg())

"""CTCT requests a push really uses, counted by the sandbox, against the fewest a push of its shape can take.

Run: .venv/bin/python bench/bench_push_requests.py [--scale 0.1]
(a) 1,000 adds of existing contacts and 600 removes on 3 lists;
(b) 10,000 new contacts into 5 new lists;
(c) 100,000 adds of existing contacts to one list;
(d) 40,000 new contacts and 20,000 adds of existing ones across 3 new lists.
The sandbox runs in process on a virtual clock (each activity takes 2 s, the client's waits move
the clock), so the counts are those of real time without the waiting. Only the commit is counted
(the stale check, the push, its read-back); the plan's own read of CTCT is another benchmark's.
The minimum is `push_requests(..., minimum=True)` (ctct/sync/push_shape.py, which says why); the
target is a ratio of at most 1.2. The counts do not depend on the machine's load; the load is
printed all the same, with the seconds each case took.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.virtual_sandbox import insert_members, virtual_sandbox
from ctct import lists
from ctct.crm import services
from ctct.db.models import Contact
from ctct.sync.push_shape import push_requests

TARGET = 1.2


class World:
    """Customer Focus on SQLite and the sandbox in process, on one virtual clock."""

    def __init__(self, folder: str) -> None:
        built = virtual_sandbox(folder, quota=10**7)
        self.clock, self.database, self.service = built.clock, built.database, built.service
        self.sandbox = built.sandbox
        self.account = self.sandbox.account("demo")

    def people(self, count: int, in_ctct: int) -> list[int]:
        """`count` contacts here (m0@acme.com …), the first `in_ctct` of them also in CTCT with the
        same fields; returns their ids here, in that order."""
        with self.database.session() as session:
            company = services.create_company(session, "Acme")
        insert_members(self.database, company.id, count)
        for n in range(in_ctct):
            contact = self.account.new_contact(f"m{n}@acme.com", self.clock.now, "Account", "implicit")
            contact.first_name, contact.last_name, contact.company_name = "Member", str(n), "Acme"
        with self.database.session() as session:
            found = dict(session.execute(select(Contact.email_key, Contact.id)).all())
        return [found[f"m{n}@acme.com"] for n in range(count)]

    def lists_here(self, names: Iterable[str], *, in_ctct: bool) -> dict[str, str | None]:
        """Lists here (and, with `in_ctct`, of the same name in CTCT): name → CTCT list id."""
        made: dict[str, str | None] = {}
        for name in names:
            with self.database.session() as session:
                lists.create_list(session, name)
            made[name] = self.account.create_list(name, self.clock.now).list_id if in_ctct else None
        return made

    def members_here(self, name: str, contact_ids: list[int], *, remove: bool = False) -> None:
        with self.database.session() as session:
            (lists.remove_contacts if remove else lists.add_contacts)(session, name, contact_ids)

    def members_in_ctct(self, list_id: str | None, emails: Iterable[str]) -> None:
        assert list_id is not None
        for email in emails:
            self.account.add_membership(self.account.find_by_email(email), list_id)

    def push(self) -> dict[str, Any]:
        """Plans a push, commits it, and counts the commit's requests against the minimum."""
        plan = self.service.plan("push")
        self.sandbox.reset_stats()
        started = time.perf_counter()
        result = self.service.commit(plan, allow_mass_removal=True)
        seconds = time.perf_counter() - started
        used = sum(self.sandbox.stats.values())
        minimum = push_requests(plan, plan.remote, minimum=True)
        return {
            "status": result.status,
            "requests_used": used,
            "estimate": plan.estimated_requests,
            "minimum": minimum.total,
            "minimum_parts": {
                "single": minimum.single,
                "activities": minimum.activities,
                "polls": minimum.polls,
                "read_back": minimum.read_back,
                "stale_check": minimum.stale_check,
            },
            "ratio_to_minimum": round(used / minimum.total, 3),
            "commit_seconds": round(seconds, 2),
            "by_request": dict(sorted(self.sandbox.stats.items())),
        }


def adds_and_removes(scale: float) -> dict[str, Any]:
    """(a) 1,000 adds of contacts CTCT has, 600 removes, on 3 lists synced before."""
    adds, removes, names = round(1000 * scale), round(600 * scale), ["L0", "L1", "L2"]
    members = 2 * removes  # on the lists at first: contacts 0 … members - 1, contact n on L(n % 3)
    with tempfile.TemporaryDirectory() as folder:
        world = World(folder)
        ids = world.people(members + adds, in_ctct=members + adds)
        linked = world.lists_here(names, in_ctct=True)
        for number, name in enumerate(names):
            chosen = list(range(number, members, 3))
            world.members_here(name, [ids[n] for n in chosen])
            world.members_in_ctct(linked[name], (f"m{n}@acme.com" for n in chosen))
        world.push()  # the first sync links the lists: the baseline
        for number, name in enumerate(names):
            world.members_here(name, [ids[n] for n in range(members + number, members + adds, 3)])
            world.members_here(name, [ids[n] for n in range(removes + number, members, 3)], remove=True)
        return {"case": f"(a) {adds:,} adds of existing contacts + {removes:,} removes on 3 lists", **world.push()}


def new_contacts(scale: float) -> dict[str, Any]:
    """(b) 10,000 new contacts into 5 new lists."""
    count, names = round(10_000 * scale), [f"Campaign {n}" for n in range(5)]
    with tempfile.TemporaryDirectory() as folder:
        world = World(folder)
        ids = world.people(count, in_ctct=0)
        world.lists_here(names, in_ctct=False)
        for number, name in enumerate(names):
            world.members_here(name, ids[number::5])
        return {"case": f"(b) {count:,} new contacts into 5 new lists", **world.push()}


def large_adds(scale: float) -> dict[str, Any]:
    """(c) 100,000 adds of existing contacts to one list synced before."""
    count = round(100_000 * scale)
    with tempfile.TemporaryDirectory() as folder:
        world = World(folder)
        ids = world.people(count, in_ctct=count)
        world.lists_here(["Everyone"], in_ctct=True)
        world.push()  # links the list: the baseline
        world.members_here("Everyone", ids)
        return {"case": f"(c) {count:,} adds of existing contacts to one list", **world.push()}


def new_and_existing(scale: float) -> dict[str, Any]:
    """(d) 40,000 new contacts and 20,000 adds of existing ones, across 3 new lists."""
    new, existing, names = round(40_000 * scale), round(20_000 * scale), ["N0", "N1", "N2"]
    with tempfile.TemporaryDirectory() as folder:
        world = World(folder)
        ids = world.people(existing + new, in_ctct=existing)
        world.lists_here(names, in_ctct=False)
        for number, name in enumerate(names):
            world.members_here(name, ids[number::3])
        case = f"(d) {new:,} new contacts + {existing:,} adds of existing ones across 3 new lists"
        return {"case": case, **world.push()}


CASES: list[Callable[[float], dict[str, Any]]] = [adds_and_removes, new_contacts, large_adds, new_and_existing]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="sizes times this (develop at 0.05)")
    scale = parser.parse_args().scale
    load_before = os.getloadavg()
    results = []
    for case in CASES:
        started = time.perf_counter()
        found = case(scale)
        found["case_seconds"] = round(time.perf_counter() - started, 1)
        found["within_target"] = found["ratio_to_minimum"] <= TARGET and found["estimate"] >= found["requests_used"]
        results.append(found)
    print(
        json.dumps(
            {
                "scale": scale,
                "target_ratio": TARGET,
                "load_before": load_before,
                "load_after": os.getloadavg(),
                "cases": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""CPU of a whole sync preview — Customer Focus's snapshot, CTCT's read, the baseline, the planner —
at 100,000 contacts, split by phase, beside a raw-cursor read of the same tables.

Run: .venv/bin/python bench/bench_sync_preview.py [--contacts 100000] [--database-url URL]
(SQLite in a temporary folder by default; on PostgreSQL in a schema of its own, dropped after.)

Both sides hold the same 100,000 contacts (varied names, three contacts per company), 12 linked
lists and ~200,000 memberships, and the baseline says they agree:
the preview a user makes before a push or a pull. CTCT is the sandbox in process on a virtual
clock (its rate-limit waits move the clock), so the figures are CPU seconds (time.process_time)
without the waiting. Each measure runs once to warm up and is then timed; the raw-cursor read
runs in the same process as the baseline the snapshot is compared with. Target: the whole plan
≤ 3 s of CPU at 100k. The commit's stale check (one SELECT) and what recording the baseline
reads of Customer Focus after a push (nothing) are timed too, beside the full snapshot they replace.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.virtual_sandbox import VirtualClock, virtual_sandbox
from ctct.crm.normalize import company_name_key, name_key
from ctct.db.models import (
    BaselineContact,
    BaselineList,
    BaselineMember,
    Company,
    Contact,
    EmailList,
    ListMembership,
)
from ctct.sync import staleness
from ctct.sync.apply import SyncService
from ctct.sync.outcome import Outcome
from ctct.sync.plan import plan_pull, plan_push
from ctct.sync.recording import local_after
from ctct.sync.remote_full import full_remote_read
from ctct.sync.remote_read import read_remote
from ctct.sync.snapshot import load_baseline

FIRST = ["Ann", "Bo", "Chen", "Dara", "Emil", "Fatma", "Goran", "Hana", "Ines", "Jun", "Kofi", "Lena", "Mateo"]
LAST = ["Lee", "Okafor", "Novak", "Silva", "Berg", "Tanaka", "Haddad", "Kowalski", "Moreau", "Quinn", "Ruiz"]
TITLES = [None, "Buyer", "Head of Operations", "Engineer", "Owner", "Purchasing Lead"]
LIST_COUNT = 12


def cpu(work: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of `work` after one warm-up run, and its result."""
    work()
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


BENCH_SCHEMA = "bench_sync_preview"


def _own_postgres_schema(url: str) -> str:
    """`url` with a schema of this bench's own, created empty (other users of the database keep theirs)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
    engine.dispose()
    return make_url(url).update_query_dict({"options": f"-csearch_path={BENCH_SCHEMA}"}).render_as_string(False)


def _drop_postgres_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
    engine.dispose()


def seed(service: SyncService, sandbox: Any, clock: VirtualClock, contacts: int) -> int:
    """The same CRM on both sides, linked, with a baseline saying so; returns the memberships."""
    rng = random.Random(17)
    account = sandbox.account("demo")
    ctct_lists = [account.create_list(f"Campaign {n}", clock.now).list_id for n in range(LIST_COUNT)]
    company_names = [
        f"{rng.choice(LAST)} {rng.choice(['Supply', 'Labs', 'GmbH', 'Foods'])} {n}" for n in range(contacts // 3 + 1)
    ]
    people: list[dict[str, Any]] = []
    pairs: list[tuple[int, int]] = []
    for number in range(contacts):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = number // 3
        email = f"{first}.{last}{number}@{company_name_key(company_names[company]).replace(' ', '')}.example".lower()
        remote = account.new_contact(email, clock.now, "Account", "implicit")
        remote.first_name, remote.last_name, remote.job_title = first, last, rng.choice(TITLES)
        remote.company_name = company_names[company]
        people.append(
            {
                "id": number + 1,
                "company_id": company + 1,
                "first_name": first,
                "last_name": last,
                "email": email,
                "email_key": email,
                "job_title": remote.job_title,
                "email_status": "active",
                "ctct_contact_id": remote.contact_id,
            }
        )
        for list_number in rng.sample(range(LIST_COUNT), 2):
            account.add_membership(remote, ctct_lists[list_number])
            pairs.append((list_number + 1, number + 1))
    with service.database.session() as session:
        connection = session.connection()
        connection.execute(
            insert(Company),
            [
                {"id": n + 1, "name": name, "name_key": company_name_key(name), "kind": "customer"}
                for n, name in enumerate(company_names)
            ],
        )
        connection.execute(insert(Contact), people)
        connection.execute(
            insert(EmailList),
            [
                {"id": n + 1, "name": f"Campaign {n}", "name_key": name_key(f"Campaign {n}"), "ctct_list_id": list_id}
                for n, list_id in enumerate(ctct_lists)
            ],
        )
        connection.execute(insert(ListMembership), [{"list_id": lst, "contact_id": c} for lst, c in pairs])
        connection.execute(
            insert(BaselineList),
            [{"ctct_list_id": list_id, "name": f"Campaign {n}"} for n, list_id in enumerate(ctct_lists)],
        )
        connection.execute(
            insert(BaselineMember),
            [{"ctct_list_id": ctct_lists[lst - 1], "email_key": people[c - 1]["email"]} for lst, c in pairs],
        )
        connection.execute(
            insert(BaselineContact),
            [
                {
                    "email_key": person["email"],
                    "first_name": person["first_name"],
                    "last_name": person["last_name"],
                    "job_title": person["job_title"],
                    "company_name": company_names[person["company_id"] - 1],
                }
                for person in people
            ],
        )
    return len(pairs)


RAW_READS = [
    "SELECT id, name, ctct_list_id FROM email_lists",
    "SELECT c.id, co.id, co.name, c.first_name, c.last_name, c.email, c.job_title, c.email_status, "
    "c.unsubscribe_source, c.ctct_contact_id FROM contacts c JOIN companies co ON co.id = c.company_id",
    "SELECT list_id, contact_id FROM list_memberships",
    "SELECT id, name, name_key FROM companies",
]


def raw_read(service: SyncService) -> int:
    """The baseline: the same four tables through a plain DB-API cursor, rows only."""
    rows = 0
    with service.database.session() as session:
        cursor = session.connection().connection.cursor()
        for sql in RAW_READS:
            cursor.execute(sql)
            rows += len(cursor.fetchall())
        cursor.close()
    return rows


def measure(service: SyncService, sandbox: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    figures["raw_cursor_read_s"], rows = cpu(lambda: raw_read(service))
    figures["raw_rows"] = rows
    figures["local_snapshot_s"], local = cpu(service.local)
    # CTCT read fully (every page), and as a plan reads it (through the mirror when it can be trusted).
    figures["remote_full_read_s"], remote = cpu(lambda: full_remote_read(service.client))
    figures["remote_read_as_planned_s"], _ = cpu(
        lambda: read_remote(service.client, service.database, service.read_policy).snapshot
    )
    figures["load_baseline_s"], baseline = cpu(lambda: _baseline(service))
    figures["planner_push_s"], _ = cpu(lambda: plan_push(local, remote, baseline, service.policy))
    figures["planner_pull_s"], _ = cpu(lambda: plan_pull(local, remote, baseline, policy=service.policy))
    plans = {}
    for direction in ("push", "pull"):
        sandbox.reset_stats()
        seconds, plan = cpu(lambda direction=direction: service.plan(direction))
        plans[direction] = plan
        figures[f"whole_plan_{direction}_s"] = seconds
        figures[f"whole_plan_{direction}_requests"] = sum(sandbox.stats.values()) // 2  # warm-up + timed
        figures[f"whole_plan_{direction}_changes"] = sum(plan.counts().values())
    figures["local_snapshot_over_raw_read"] = figures["local_snapshot_s"] / figures["raw_cursor_read_s"]
    roles = service.settings.role_addresses
    # What a commit reads of Customer Focus besides the plan: the stale check, and the CRM after
    # a push for its baseline (the plan's snapshot, not a read); the old code built a snapshot for each.
    push = plans["push"]
    figures["commit_stale_check_s"], _ = cpu(lambda: staleness.refuse_local_change(push, service.database, roles))
    figures["commit_crm_after_push_s"], _ = cpu(lambda: local_after(service.database, push, Outcome()))
    figures["commit_crm_after_pull_s"], _ = cpu(lambda: local_after(service.database, plans["pull"], Outcome()))
    return {name: round(value, 3) if isinstance(value, float) else value for name, value in figures.items()}


def _baseline(service: SyncService):
    with service.database.session() as session:
        return load_baseline(session)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL URL (the bench works in a schema of its own)")
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        url = _own_postgres_schema(arguments.database_url) if arguments.database_url else f"sqlite:///{folder}/bench.db"
        built = virtual_sandbox(database_url=url, quota=10**7)
        service, sandbox, clock = built.service, built.sandbox, built.clock
        started = time.perf_counter()
        members = seed(service, sandbox, clock, arguments.contacts)
        seeded = time.perf_counter() - started
        figures = measure(service, sandbox)
        service.database.dispose()
        if arguments.database_url:
            _drop_postgres_schema(arguments.database_url)
    print(
        json.dumps(
            {
                "database": "postgresql" if arguments.database_url else "sqlite",
                "contacts": arguments.contacts,
                "lists": LIST_COUNT,
                "memberships": members,
                "seed_wall_s": round(seeded, 1),
                **figures,
                "target": "whole plan <= 3 s CPU at 100k",
                "load_1_5_15_before": [round(value, 2) for value in load_before],
                "load_1_5_15_after": [round(value, 2) for value in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

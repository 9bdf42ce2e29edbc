"""CTCT requests a sync really uses, counted by the sandbox, against the lower bound.

Run: .venv/bin/python bench/bench_sync_requests.py
1. Initial import of 20,000 contacts on 10 lists (activation's import).
2. A push of 10,000 new members (new contacts) into 5 new lists.
The sandbox runs in process on a test clock (activities take 2 s each, the client's waits move the
clock), so the counts are those of real time without the waiting. The lower bound is the pages the
snapshot must read, plus one request per activity and one poll per activity.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct import lists
from ctct.activation import complete_activation
from ctct.api.limits import RateLimiter
from ctct.config import Settings
from ctct.crm import services
from ctct.db import Database
from ctct.db.stores import open_client
from ctct.sandbox import SandboxConfig, create_app
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.inprocess import SandboxTransport
from ctct.sync.apply import SyncService


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def setup(folder: str) -> tuple[SyncService, object, Clock]:
    clock = Clock()
    app = create_app(SandboxConfig(clock=clock, activity_seconds=2.0, daily_quota=10**6))
    http = httpx.Client(transport=SandboxTransport(app), base_url="http://sandbox")
    settings = Settings(
        database_url=f"sqlite:///{folder}/bench.db",
        api_base="http://sandbox/v3",
        auth_base="http://sandbox/oauth2/default/v1",
        client_id="bench",
        redirect_uri="http://127.0.0.1:8501/",
        secret_key=Fernet.generate_key().decode(),
    )
    database = Database(settings.database_url)
    client = open_client(
        settings, database, http=http, sleep=clock.advance, limiter=RateLimiter(4, clock=clock, sleep=clock.advance)
    )
    complete_activation(client, sign_in_to_sandbox(http, client.authorization.start(), "demo", "demo"))
    return SyncService(database, client, settings), app.state.sandbox, clock


def requests_of(sandbox, work) -> int:
    sandbox.reset_stats()
    work()
    return sum(sandbox.stats.values())


def initial_import(contacts: int = 20_000, list_count: int = 10) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        service, sandbox, clock = setup(folder)
        account = sandbox.account("demo")
        targets = [account.create_list(f"List {n}", clock.now).list_id for n in range(list_count)]
        for number in range(contacts):
            contact = account.new_contact(f"p{number}@company{number // 4}.com", clock.now, "Account", "implicit")
            contact.company_name, contact.first_name = f"Company {number // 4}", "Pat"
            account.add_membership(contact, targets[number % list_count])
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
        from sqlalchemy import insert

        from ctct.db.models import Contact

        with service.database.session() as session:
            session.connection().execute(
                insert(Contact.__table__),
                [
                    {
                        "company_id": company.id,
                        "email": f"m{n}@acme.com",
                        "email_key": f"m{n}@acme.com",
                        "first_name": "Member",
                        "last_name": str(n),
                        "email_status": "active",
                    }
                    for n in range(members)
                ],
            )
        with service.database.session() as session:
            frame = lists.contacts_frame(session)
            for number in range(list_count):
                chunk = frame["contact_id"].iloc[number::list_count].astype(int).tolist()
                lists.add_contacts(session, f"Campaign {number}", chunk)
        used = requests_of(sandbox, lambda: service.commit(service.plan("push")))
        activities = list_count  # one import per target list
        bound = 2 + list_count + activities + activities  # snapshot pages, list creates, activities, polls
        return _report("push of new members", members, used, bound)


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
    print(json.dumps([initial_import(), push_new_members()], indent=2))

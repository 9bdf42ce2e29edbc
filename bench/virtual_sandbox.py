"""The benchmarks' shared setup: Customer Focus and the CTCT sandbox in one process, on a virtual clock.

`virtual_sandbox(folder)` (or `virtual_sandbox(database_url=URL)`) builds the sandbox app on a
`VirtualClock` (activities take 2 s each), an httpx client that calls it in process, the console's
Settings and Database, a CTCT client whose waits (rate limiter at 4 requests/s, polls) move the clock
instead of sleeping, activated through the sandbox's demo sign-in, and a SyncService on all of it.
The counts a benchmark takes are those of real time without the waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import insert

from ctct.activation import complete_activation
from ctct.api.client import CtctClient
from ctct.api.limits import RateLimiter
from ctct.config import Settings
from ctct.db import Database
from ctct.db.models import Contact
from ctct.db.stores import open_client
from ctct.sandbox import SandboxConfig, create_app
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.inprocess import SandboxTransport
from ctct.sync.apply import SyncService

START = 1_795_000_000.0


class VirtualClock:
    """Epoch seconds that move only when told to (the client's `sleep`)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sandbox_settings(database_url: str, **overrides: Any) -> Settings:
    """The console's Settings for the sandbox served at http://sandbox (a fresh secret key each time)."""
    values: dict[str, Any] = {
        "api_base": "http://sandbox/v3",
        "auth_base": "http://sandbox/oauth2/default/v1",
        "client_id": "bench",
        "redirect_uri": "http://127.0.0.1:8501/",
        "secret_key": Fernet.generate_key().decode(),
    }
    return Settings(database_url=database_url, **{**values, **overrides})


@dataclass
class VirtualSandbox:
    clock: VirtualClock
    app: Any
    http: httpx.Client
    settings: Settings
    database: Database
    client: CtctClient
    service: SyncService

    @property
    def sandbox(self) -> Any:
        """The sandbox's state: accounts to seed, `stats` of the requests served, `reset_stats()`."""
        return self.app.state.sandbox


def virtual_sandbox(
    folder: str | None = None,
    *,
    database_url: str | None = None,
    quota: int = 10**6,
    client_quota: int | None = None,
    membership_bumps_updated_at: bool = True,
    read_on_clock: bool = False,
) -> VirtualSandbox:
    """The sandbox and an activated client of it, with the database (SQLite `bench.db` in `folder`,
    or `database_url`) and a SyncService.

    `quota` is the sandbox's daily request quota; `client_quota` the console's (Settings.daily_quota,
    its default when None); `membership_bumps_updated_at` whether the sandbox moves a contact's
    `updated_at` on membership changes; `read_on_clock` whether the service's read policy (when a
    full read is due) runs on the virtual clock rather than real time.
    """
    if database_url is None:
        if folder is None:
            raise ValueError("a folder or a database URL")
        database_url = f"sqlite:///{folder}/bench.db"
    clock = VirtualClock()
    app = create_app(
        SandboxConfig(
            clock=clock,
            activity_seconds=2.0,
            daily_quota=quota,
            membership_bumps_updated_at=membership_bumps_updated_at,
        )
    )
    http = httpx.Client(transport=SandboxTransport(app), base_url="http://sandbox")
    settings = sandbox_settings(database_url, **({} if client_quota is None else {"daily_quota": client_quota}))
    database = Database(database_url)
    limiter = RateLimiter(4, clock=clock, sleep=clock.advance)
    client = open_client(settings, database, http=http, sleep=clock.advance, limiter=limiter)
    complete_activation(client, sign_in_to_sandbox(http, client.authorization.start(), "demo", "demo"))
    service = SyncService(database, client, settings, clock=clock if read_on_clock else None)
    return VirtualSandbox(clock, app, http, settings, database, client, service)


def insert_members(database: Database, company_id: int, count: int) -> None:
    """`count` contacts of company `company_id` in Customer Focus, m0@acme.com … (Member 0 …), one INSERT."""
    rows = [
        {
            "company_id": company_id,
            "email": f"m{n}@acme.com",
            "email_key": f"m{n}@acme.com",
            "first_name": "Member",
            "last_name": str(n),
            "email_status": "active",
        }
        for n in range(count)
    ]
    with database.session() as session:
        session.connection().execute(insert(Contact.__table__), rows)

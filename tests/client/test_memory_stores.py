"""The client needs no database: on dict-backed token and usage stores it activates against the
in-process sandbox, makes requests, refreshes an expired token, counts its requests and
deactivates — the console's database is just one implementation of the stores."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import replace

import pytest

from ctct.activation import complete_activation, connection_status
from ctct.api.client import CtctClient
from ctct.api.limits import RateLimiter, utc_day
from ctct.api.oauth import Revocation
from ctct.api.stores import PendingSignIn, SealedTokens, StoredConnection
from ctct.sandbox.demo_account import sign_in_to_sandbox
from tests.sandbox_client import sandbox_settings


class MemoryTokenStore:
    def __init__(self) -> None:
        self.pending: dict[str, PendingSignIn] = {}
        self.stored: StoredConnection | None = None
        self.lease: tuple[str, dt.datetime] | None = None
        self._lock = threading.Lock()

    def add_pending(self, pending: PendingSignIn, *, discard_started_before: dt.datetime) -> None:
        self.pending = {
            state: kept for state, kept in self.pending.items() if kept.started_at >= discard_started_before
        }
        self.pending[pending.state] = pending

    def take_pending(self, state: str) -> PendingSignIn | None:
        return self.pending.pop(state, None)

    def connection(self) -> StoredConnection | None:
        return self.stored

    def save_activation(self, tokens: SealedTokens, activated_at: dt.datetime) -> None:
        account = (self.stored.account_name, self.stored.account_email) if self.stored else (None, None)
        self.stored = StoredConnection(
            tokens.access_token, tokens.refresh_token, tokens.expires_at, tokens.scope, False, *account
        )

    def record_account(self, name: str | None, email: str | None) -> None:
        assert self.stored is not None
        self.stored = replace(self.stored, account_name=name, account_email=email)

    def claim_refresh(self, access_token: bytes, holder: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        with self._lock:
            free = self.lease is None or self.lease[1] < now - lease
            if self.stored is None or self.stored.access_token != access_token or not free:
                return False
            self.lease = (holder, now)
            return True

    def save_refreshed(self, holder: str, tokens: SealedTokens) -> None:
        with self._lock:
            if self.stored is None or self.lease is None or self.lease[0] != holder:
                return
            self.stored = replace(
                self.stored,
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token or self.stored.refresh_token,
                expires_at=tokens.expires_at,
            )
            self.lease = None

    def release_refresh(self, holder: str) -> None:
        with self._lock:
            if self.lease is not None and self.lease[0] == holder:
                self.lease = None

    def forget_tokens(self) -> None:
        if self.stored is not None:
            self.stored = replace(self.stored, access_token=None, refresh_token=None, reauthorization_required=True)
        self.lease = None

    def delete_connection(self) -> StoredConnection | None:
        deleted, self.stored = self.stored, None
        return deleted


class MemoryUsageStore:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    def requests_on(self, day: str) -> int:
        return self.requests[day]

    def add_requests(self, day: str, requests: int) -> None:
        self.requests[day] += requests


@pytest.fixture
def memory_client(http, clock, tmp_path):
    settings = sandbox_settings("sqlite:///never-opened.db", tmp_path)
    limiter = RateLimiter(settings.rate_limit, clock=clock, sleep=clock.advance)
    return CtctClient.from_settings(
        settings, MemoryTokenStore(), MemoryUsageStore(), http=http, sleep=clock.advance, limiter=limiter
    )


def test_the_client_runs_on_in_memory_stores(memory_client, sandbox, tmp_path):
    tokens, usage = memory_client.authorization.tokens, memory_client.budget.usage
    url = memory_client.authorization.start()
    assert len(tokens.pending) == 1
    status = complete_activation(memory_client, sign_in_to_sandbox(memory_client.http, url, "demo", "demo"))
    assert status.active and status.account_name == "Demo Company" and tokens.pending == {}
    access = memory_client.authorization.vault.open(tokens.stored.access_token)
    assert access in sandbox.tokens.access and access.encode() not in tokens.stored.access_token  # sealed

    sandbox.tokens.expire_all(sandbox.now())
    assert memory_client.lists.create("News")["name"] == "News"  # a 401, one refresh, the retry
    assert memory_client.authorization.vault.open(tokens.stored.access_token) != access
    assert tokens.lease is None
    assert usage.requests_on(utc_day()) == 3 == connection_status(memory_client).requests_used_today

    assert memory_client.authorization.revoke_and_forget() is Revocation.REVOKED
    assert tokens.stored is None and sandbox.tokens.refresh == {}
    assert not connection_status(memory_client).active
    assert list(tmp_path.iterdir()) == []  # no database file, no key file

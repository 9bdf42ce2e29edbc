"""One sandbox instance: accounts, tokens, request budget, statistics, faults and persistence."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import threading
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctct.sandbox.config import SandboxConfig
from ctct.sandbox.model import Account
from ctct.sandbox.tokens import TokenStore


@dataclass
class Faults:
    """Failures to inject, switchable at runtime through /_sandbox/faults."""

    latency_ms: int = 0
    throttle_burst: int = 0
    server_errors: int = 0
    drop_connections: int = 0
    fail_next_activity: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Sandbox:
    """Everything one emulated CTCT holds. Requests are served one at a time under `lock`."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.faults = Faults()
        self.accounts_by_username = {account.username: account for account in config.accounts}
        self.dirty = False
        self.reset()
        if config.state_file is not None and config.state_file.exists():
            self.load(config.state_file)

    def now(self) -> float:
        return self.config.clock()

    def reset(self) -> None:
        """A fresh instance: every account back to one "General Interest" list, no tokens."""
        now = self.now()
        self.accounts = {
            account.username: Account(
                account.username,
                now,
                self.config.activity_seconds,
                membership_bumps_updated_at=self.config.membership_bumps_updated_at,
            )
            for account in self.config.accounts
        }
        self.tokens = TokenStore()
        self.reset_stats()
        self.recent: dict[str, deque[float]] = {}
        self.quota_day = ""
        self.quota_used: Counter[str] = Counter()
        self.faults = Faults()
        self.dirty = True

    def reset_stats(self) -> None:
        self.stats: Counter[str] = Counter()
        self.stats_since = self.now()

    def account(self, username: str) -> Account:
        return self.accounts[username]

    # The request budget, per API key (client id), as CTCT counts it.

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self.now(), dt.UTC).strftime("%Y-%m-%d")

    def quota_used_today(self, client_id: str | None = None) -> int:
        if self.quota_day != self._today():
            self.quota_day, self.quota_used = self._today(), Counter()
        return self.quota_used[client_id] if client_id is not None else sum(self.quota_used.values())

    def admit(self, client_id: str) -> str | None:
        """Counts one API request; returns the 429 error key when it must be refused."""
        now = self.now()
        if self.quota_used_today(client_id) >= self.config.daily_quota:
            return "quota_exceeded"
        window = self.recent.setdefault(client_id, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.config.rate_limit:
            return "throttled"
        window.append(now)
        self.quota_used[client_id] += 1
        return None

    def count(self, endpoint: str) -> None:
        self.stats[endpoint] += 1

    def stats_json(self) -> dict[str, Any]:
        return {
            "since": dt.datetime.fromtimestamp(self.stats_since, dt.UTC).isoformat(),
            "requests_total": sum(self.stats.values()),
            "requests_by_endpoint": dict(sorted(self.stats.items())),
            "quota_used_today": self.quota_used_today(),
            "daily_quota": self.config.daily_quota,
            "rate_limit": self.config.rate_limit,
            "quota_resets_at": (
                dt.datetime.fromtimestamp(self.now(), dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                + dt.timedelta(days=1)
            ).isoformat(),
        }

    # Persistence

    def state(self) -> dict[str, Any]:
        return {
            "version": 1,
            "accounts": {name: account.state() for name, account in self.accounts.items()},
            "tokens": self.tokens.state(),
            "quota_day": self.quota_day,
            "quota_used": dict(self.quota_used),
        }

    def save(self, path: Path | None = None) -> None:
        target = path or self.config.state_file
        if target is None:
            return
        with self.lock:
            data = json.dumps(self.state(), separators=(",", ":"))
            self.dirty = False
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".tmp")
        # Mode 600 like the console's database: the accounts' contacts are personal data.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(data)
        os.replace(partial, target)  # a crash mid-write never leaves half a file

    def load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, raw in data["accounts"].items():
            if name in self.accounts_by_username:
                self.accounts[name] = Account.from_state(
                    raw,
                    self.config.activity_seconds,
                    membership_bumps_updated_at=self.config.membership_bumps_updated_at,
                )
        self.tokens = TokenStore.from_state(data["tokens"])
        self.quota_day = data.get("quota_day", "")
        self.quota_used = Counter(data.get("quota_used", {}))
        self.dirty = False
        # A loaded state is long-lived: keep the collector from re-scanning it (a 200,000-contact
        # state otherwise costs a ~0.2 s pause on some later request).
        gc.collect()
        gc.freeze()

"""One sandbox instance: accounts, tokens, request budget, statistics, faults and persistence."""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import json
import math
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctct.sandbox.config import SandboxConfig
from ctct.sandbox.model import Account
from ctct.sandbox.tokens import TokenStore

# CTCT's rate window, in seconds.
RATE_WINDOW = 1.0
# How far back a client's arrivals are kept: requests are admitted a few milliseconds out of their
# arrival order at most, so two windows hold every arrival one of them can be checked against.
RATE_MEMORY = 2 * RATE_WINDOW
# Items of a long list encoded in one call when the state is saved.
SAVE_PIECE = 200


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
        # Per client, the arrival times of the requests admitted lately, in order.
        self.recent: dict[str, list[float]] = {}
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

    def admit(self, client_id: str, arrived: float | None = None) -> str | None:
        """Counts one API request that reached the sandbox at `arrived` (now when not given), as
        CTCT counts requests at its edge; returns the 429 error key when it must be refused.

        Requests are admitted once past the injected latency, on worker threads (app.py), so two
        that arrived close together may be admitted in either order: a request is refused when,
        with it, more than `rate_limit` arrivals would fall within one second, whichever side of
        it they are on. Admitted in arrival order, that is CTCT's sliding window."""
        now = self.now() if arrived is None else arrived
        if self.quota_used_today(client_id) >= self.config.daily_quota:
            return "quota_exceeded"
        window = self.recent.setdefault(client_id, [])
        if window:
            del window[: bisect.bisect_right(window, max(window[-1], now) - RATE_MEMORY)]
        place = bisect.bisect_right(window, now)
        with_it = [*window[:place], now, *window[place:]]
        allowed = math.ceil(self.config.rate_limit)
        # Every run of `allowed + 1` arrivals that holds this one, from the one ending with it on.
        runs = range(max(place - allowed, 0), min(place, len(with_it) - 1 - allowed) + 1)
        if any(with_it[first + allowed] - with_it[first] < RATE_WINDOW for first in runs):
            return "throttled"
        window.insert(place, now)
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
            data = "".join(_json_pieces(self.state()))
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


def _json_pieces(value: Any) -> Iterator[str]:
    """`value` as compact JSON, its long lists `SAVE_PIECE` items a call. The C encoder holds the
    interpreter for all of one call — 0.2 s for 20,000 contacts at once — and the saving thread
    would keep the event loop from stamping arrivals all that time (`Sandbox.admit`); between
    short calls the loop gets its turn."""
    if isinstance(value, dict):
        yield "{"
        for number, (key, item) in enumerate(value.items()):
            yield ("," if number else "") + json.dumps(key if isinstance(key, str) else str(key)) + ":"
            yield from _json_pieces(item)
        yield "}"
    elif isinstance(value, list) and len(value) > SAVE_PIECE:
        yield "["
        for start in range(0, len(value), SAVE_PIECE):
            piece = json.dumps(value[start : start + SAVE_PIECE], separators=(",", ":"))
            yield ("," if start else "") + piece[1:-1]
        yield "]"
    else:
        yield json.dumps(value, separators=(",", ":"))

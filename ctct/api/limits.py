"""CTCT's request limits on our side: a per-second token bucket shared by every thread, and the
daily budget counted in a usage store (the console's database) so that every process shares it."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from ctct.api.errors import BudgetExceeded, next_utc_midnight
from ctct.api.stores import UsageStore

# The bucket runs a little under the limit: requests spaced exactly 1/rate apart could still
# land five in one CTCT second when the network delays one of them.
HEADROOM = 0.97


class RateLimiter:
    """A token bucket of capacity one: requests leave evenly spaced, never in bursts."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / (per_second * HEADROOM)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def acquire(self) -> float:
        """Blocks until this caller may send; returns the seconds it waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait


def utc_day(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")


class DailyBudget:
    """Requests made today (UTC) against CTCT's daily quota, counted in the usage store."""

    def __init__(self, usage: UsageStore, quota: int, today: Callable[[], str] = utc_day) -> None:
        self.usage = usage
        self.quota = quota
        self._today = today

    def used(self) -> int:
        return self.usage.requests_on(self._today())

    def remaining(self) -> int:
        return max(self.quota - self.used(), 0)

    def record(self, requests: int = 1) -> None:
        """Adds requests atomically, safe across threads and processes."""
        self.usage.add_requests(self._today(), requests)

    def ensure(self, needed: int) -> None:
        """Refuses work that would exceed what is left today, before it starts."""
        remaining = self.remaining()
        if needed > remaining:
            raise BudgetExceeded(needed, remaining, next_utc_midnight())

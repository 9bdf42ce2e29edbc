"""CTCT's request limits on our side: a per-second token bucket shared by every thread, and the
daily budget counted in the database so that every process shares it."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ctct.api.errors import BudgetExceeded, next_utc_midnight
from ctct.db import Database
from ctct.db.models import ApiUsage

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
    """Requests made today (UTC) against CTCT's daily quota, kept in the `api_usage` table."""

    def __init__(self, database: Database, quota: int, today: Callable[[], str] = utc_day) -> None:
        self.database = database
        self.quota = quota
        self._today = today

    def used(self) -> int:
        with self.database.session() as session:
            return session.scalar(select(ApiUsage.requests).where(ApiUsage.day == self._today())) or 0

    def remaining(self) -> int:
        return max(self.quota - self.used(), 0)

    def record(self, requests: int = 1) -> None:
        """Adds requests atomically (an upsert), safe across threads and processes."""
        day = self._today()
        dialect = self.database.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(ApiUsage).values(day=day, requests=requests)
        statement = statement.on_conflict_do_update(
            index_elements=[ApiUsage.day], set_={"requests": ApiUsage.requests + requests}
        )
        with self.database.session() as session:
            session.execute(statement)

    def ensure(self, needed: int) -> None:
        """Refuses work that would exceed what is left today, before it starts."""
        remaining = self.remaining()
        if needed > remaining:
            raise BudgetExceeded(needed, remaining, next_utc_midnight())

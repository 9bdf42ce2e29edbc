"""CTCT's request limits on our side: a per-second limiter shared by every thread, and the daily
budget counted in a usage store (the console's database) so that every process shares it.

CTCT (and the sandbox, `Sandbox.admit`) counts requests in a sliding one-second window as they
arrive, so what must never happen is five arrivals within one second. The limiter keeps a sliding
window of the times it really let requests go — taken inside the limiter once the caller's wait is
over, so a caller the scheduler wakes late is recorded late — and lets a request go only when the
fifth-last one left at least `WINDOW + MARGIN` seconds ago, and the last one at least a share of
the average spacing ago. An even-spacing bucket instead hands out slots in advance: a caller woken
late (or delayed on its way to the socket) sends after its slot while the next caller sends on
time, and the late one's window shrinks by the delay; with 3 % headroom (31 ms) a loaded machine
drew a 429 in about 45 requests. Here a late send pushes back the sends after it instead, and the
window lets the next ones catch up, so lateness costs no throughput: the margin is spent only on
what happens after the limiter (the trip to CTCT), and 4 per 1.02 s keeps 3.92 requests/s. The
spacing floor keeps requests from leaving in bursts of four, which would make them queue at the
server and arrive bunched. The caller sends right after `acquire` returns: its token, budget
bookkeeping and the request itself are ready before (`CtctClient.request`), so another thread
holding the interpreter (parsing a 500-contact page) delays the wake-up, which is recorded, not
the way from the limiter to the socket. Measured (bench/bench_client_rate.py, load ~9 on 2 cores,
400 ms latency): with the request built after the limiter, a chained read of 20,000 contacts drew
4 × 429 in 48 requests; built before, none. What the limiter cannot see still jitters on a loaded
machine (the server process waits for a core too), so a 429 that comes back all the same widens
the margin for a while (`throttled`), at some cost in rate, rather than drawing more.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from ctct.api.errors import BudgetExceeded, next_utc_midnight
from ctct.api.stores import UsageStore

# CTCT's rate window, in seconds.
WINDOW = 1.0
# Slack for what the limiter cannot see: the time from `acquire` returning to CTCT counting the
# request. 4 requests per 1.02 s is 3.92 a second.
MARGIN = 0.02
# Should CTCT throttle all the same (the way to it jitters by more than the margin: a loaded
# machine), the margin widens by a step per 429, up to a cap, and eases back a little per send.
MARGIN_STEP = 0.02
MARGIN_CAP = 0.12
MARGIN_EASE = MARGIN_STEP / 50
# The least gap between two sends, as a share of the average one: late sends may be caught up on,
# but never as a burst.
SPACING_FLOOR = 0.9


class RateLimiter:
    """At most `per_second` sends in any `WINDOW + MARGIN` seconds, as the sends really left."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_window = max(math.floor(per_second * WINDOW), 1)
        self.margin = MARGIN
        self._clock, self._sleep = clock, sleep
        # Held while a caller waits: the next caller's turn is worked out from this one's real send.
        self._lock = threading.Lock()
        self._margin_lock = threading.Lock()
        self._sent: deque[float] = deque(maxlen=self.per_window)

    def now(self) -> float:
        """The time on the clock the sends are paced on."""
        return self._clock()

    @property
    def span(self) -> float:
        """The time `per_window` sends must take, at the least, before one more may go."""
        return WINDOW + self.margin

    @property
    def min_gap(self) -> float:
        return self.span / self.per_window * SPACING_FLOOR

    def throttled(self) -> None:
        """CTCT refused a request as over the rate: widens the margin by a step."""
        with self._margin_lock:
            self.margin = min(self.margin + MARGIN_STEP, MARGIN_CAP)

    def _earliest(self) -> float:
        """When the next send may leave, given the sends in the window."""
        if not self._sent:
            return -math.inf
        after_last = self._sent[-1] + self.min_gap
        if len(self._sent) < self.per_window:
            return after_last
        return max(after_last, self._sent[0] + self.span)

    def acquire(self) -> float:
        """Blocks until this caller may send, and records the send: the caller sends right away.
        Returns the send time recorded (on the limiter's clock)."""
        with self._lock:
            earliest = self._earliest()
            now = self._clock()
            if earliest > now:
                self._sleep(earliest - now)
                # A late wake-up is recorded as late; a clock that did not move (a test's) as due.
                now = max(self._clock(), earliest)
            self._sent.append(now)
        with self._margin_lock:
            self.margin = max(self.margin - MARGIN_EASE, MARGIN)
        return now


class FirstTrip:
    """When one request's first attempt left (past the limiter) and when it was back (answered or
    failed): for a caller on another thread that must go after it, or beside it while it is out
    (`ctct/sync/remote_full.py`). A retry sets nothing more."""

    def __init__(self) -> None:
        self.left = threading.Event()
        self.back = threading.Event()


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

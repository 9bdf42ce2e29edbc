"""The rate limiter against CTCT's rule (at most 4 requests in any one second, as they arrive), on a
virtual clock that threads move: waits and the work between requests both take virtual time."""

from __future__ import annotations

import itertools
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from ctct.api.limits import RateLimiter
from tests.sandbox.conftest import FakeClock


class LateClock(FakeClock):
    """A clock whose sleeps overrun by the delays given, in turn: a loaded machine waking late."""

    def __init__(self, overruns: list[float]) -> None:
        super().__init__()
        self._overruns = itertools.cycle(overruns or [0.0])
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds + next(self._overruns)

    def work(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def crowded_windows(sends: list[float], limit: int = 4, window: float = 1.0) -> list[list[float]]:
    """Every run of `limit + 1` sends that fits inside one window of CTCT's."""
    ordered = sorted(sends)
    return [ordered[n : n + limit + 1] for n in range(len(ordered) - limit) if ordered[n + limit] - ordered[n] < window]


@settings(max_examples=60)
@given(
    threads=st.integers(1, 6),
    per_thread=st.integers(1, 12),
    overruns=st.lists(st.sampled_from([0.0, 0.0, 0.004, 0.03, 0.2, 0.9]), max_size=8),
    work=st.lists(st.sampled_from([0.0, 0.0, 0.01, 0.05, 0.3, 1.5]), min_size=1, max_size=8),
)
def test_no_interleaving_puts_five_sends_in_one_second(threads, per_thread, overruns, work):
    clock = LateClock(overruns)
    limiter = RateLimiter(4, clock=clock, sleep=clock.advance)
    sends: list[float] = []
    record = threading.Lock()

    def caller(offset: int) -> None:
        for step in range(per_thread):
            sent = limiter.acquire()
            with record:
                sends.append(sent)
            clock.work(work[(offset + step) % len(work)])  # parsing a page, writing to the database

    workers = [threading.Thread(target=caller, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(sends) == threads * per_thread
    assert crowded_windows(sends) == []


def test_a_caller_woken_late_is_recorded_late_and_the_next_ones_wait_for_it():
    # One wake-up 0.1 s late: an even-spacing bucket sent the next four on their planned slots,
    # five within 0.93 s.
    clock = LateClock([0.0, 0.1, *[0.0] * 20])
    limiter = RateLimiter(4, clock=clock, sleep=clock.advance)
    sends = []
    for _ in range(12):
        limiter.acquire()
        sends.append(clock())  # the caller sends as soon as the limiter lets it go
    assert crowded_windows(sends) == []


def test_the_limiter_keeps_more_than_3_9_requests_a_second_and_catches_up_after_a_late_send():
    clock = LateClock([0.0, 0.0, 0.0, 0.15, *[0.0] * 200])
    limiter = RateLimiter(4, clock=clock, sleep=clock.advance)
    sends = []
    for _ in range(201):
        limiter.acquire()
        sends.append(clock())
    assert 200 / (sends[-1] - sends[0]) >= 3.9
    gaps = [later - earlier for earlier, later in itertools.pairwise(sends)]
    assert min(gaps) >= 0.2  # never a burst


def test_a_429_widens_the_window_and_calm_sends_narrow_it_back():
    clock = LateClock([])
    limiter = RateLimiter(4, clock=clock, sleep=clock.advance)
    calm = limiter.span
    limiter.throttled()
    limiter.throttled()
    sends = [limiter.acquire() for _ in range(9)]
    assert sends[4] - sends[0] > calm + 0.03 and sends[8] - sends[4] > calm + 0.03
    for _ in range(200):
        limiter.acquire()
    assert limiter.span == calm
    for _ in range(20):
        limiter.throttled()
    assert limiter.span < 1.2  # never so wide that the rate falls far

"""Injected faults are survived; the quota stops work cleanly (the retry budget, and which POSTs
are repeated: test_retry_budget.py)."""

import itertools
import threading

import pytest

from ctct.api.errors import BudgetExceeded, CtctConnectionError, QuotaExceeded
from ctct.api.limits import DailyBudget, RateLimiter
from ctct.db.stores import SqlUsageStore
from tests.sandbox.conftest import FakeClock


def faults(sandbox, **settings):
    for name, value in settings.items():
        setattr(sandbox.faults, name, value)


def test_a_burst_of_429s_is_waited_out(active_client, sandbox):
    faults(sandbox, throttle_burst=3)
    assert active_client.account.summary()["organization_name"] == "Demo Company"
    assert sandbox.stats["GET /v3/account/summary"] == 1 + 4  # activation's call, then 3 refused + 1


def test_server_errors_are_retried_for_reads(active_client, sandbox):
    faults(sandbox, server_errors=2)
    assert [item["name"] for item in active_client.lists.iterate()] == ["General Interest"]


def test_dropped_connections_are_retried(active_client, sandbox):
    faults(sandbox, drop_connections=2)
    assert active_client.contacts.count() == 0


def test_an_activity_post_survives_a_dropped_connection_without_duplicates(active_client, sandbox):
    list_id = next(active_client.lists.iterate())["list_id"]
    faults(sandbox, drop_connections=1)
    result = active_client.activities.import_contacts([{"email": "ann@acme.com"}], [list_id])
    assert result.failed == [] and result.count("person_count") == 1
    assert active_client.contacts.count() == 1


def test_connection_errors_after_retries(active_client, sandbox):
    faults(sandbox, drop_connections=50)
    with pytest.raises(CtctConnectionError, match="could not be reached"):
        active_client.contacts.count()


def test_quota_exhaustion_stops_at_once_with_the_reset_time(active_client, sandbox):
    sandbox.config.daily_quota = sandbox.quota_used_today("console-tests") + 1
    active_client.contacts.count()
    with pytest.raises(QuotaExceeded) as caught:
        active_client.contacts.count()
    assert caught.value.resets_at.hour == 0 and "resets at 00:00 UTC" in str(caught.value)
    assert sandbox.stats["GET /v3/contacts"] == 2  # not retried


def test_the_daily_budget_is_counted_in_the_database(active_client, database):
    budget = DailyBudget(SqlUsageStore(database), 10_000)
    before = budget.used()
    active_client.contacts.count()
    active_client.contacts.count()
    assert budget.used() == before + 2 and budget.remaining() == 10_000 - before - 2


def test_work_beyond_todays_budget_is_refused_before_it_starts(database):
    budget = DailyBudget(SqlUsageStore(database), quota=100)
    budget.record(95)
    budget.ensure(5)
    with pytest.raises(BudgetExceeded, match="needs about 6") as caught:
        budget.ensure(6)
    assert caught.value.remaining == 5


def test_the_budget_counter_is_safe_across_threads(database):
    budget = DailyBudget(SqlUsageStore(database), quota=10_000)
    threads = [threading.Thread(target=lambda: [budget.record() for _ in range(25)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.used() == 100


def test_the_budget_resets_with_the_utc_day(database):
    days = iter(["2026-11-29", "2026-11-29", "2026-11-30"])
    budget = DailyBudget(SqlUsageStore(database), quota=10, today=lambda: next(days))
    budget.record(10)
    assert budget.used() == 10 and budget.used() == 0


def test_the_rate_limiter_spaces_requests_across_threads():
    clock = FakeClock()  # stands still: every caller gets the next free slot, in turn
    lock = threading.Lock()
    limiter = RateLimiter(4, clock=clock, sleep=lambda _seconds: None)
    slots: list[float] = []

    def take():
        for _ in range(10):
            sent = limiter.acquire()
            with lock:
                slots.append(sent)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slots.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert len(slots) == 40 and min(gaps) == pytest.approx(limiter.min_gap) and limiter.min_gap > 0.2
    # At most 4 slots in any one second: the sandbox's own rule.
    assert all(sum(1 for s in slots if start <= s < start + 1) <= 4 for start in slots)

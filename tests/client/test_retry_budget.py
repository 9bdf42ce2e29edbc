"""Retries last as long as a request's time budget, not a fixed count: CTCT's bursts of 429 and
503 pass; `Retry-After` is honoured; a list create is repeated only after its name was looked up."""

import datetime as dt
import email.utils
import itertools

import httpx
import pytest

from ctct.api.client import RETRY_BUDGET, RetryWindow, retry_after
from ctct.api.errors import ServerError
from ctct.sync.apply import SyncService
from ctct.sync.plan import PULL


def test_a_pull_plan_survives_five_throttles_and_three_server_errors(active_client, sandbox, database, settings):
    sandbox.faults.throttle_burst = 5
    sandbox.faults.server_errors = 3
    before = dict(sandbox.stats)
    plan = SyncService(database, active_client, settings).plan(PULL)
    assert plan.direction == PULL
    assert sandbox.faults.throttle_burst == 0 and sandbox.faults.server_errors == 0
    assert sum(sandbox.stats.values()) - sum(before.values()) >= 8 + 1


def test_retries_stop_when_the_time_budget_is_spent(active_client, sandbox, clock):
    sandbox.faults.server_errors = 10_000
    started = clock.now
    with pytest.raises(ServerError, match="503"):
        active_client.contacts.count()
    waited = clock.now - started
    assert RETRY_BUDGET - 16 < waited <= RETRY_BUDGET
    assert sandbox.stats["GET /v3/contacts"] > 6  # more than the old fixed count of attempts


def test_a_list_create_answered_503_is_looked_up_then_sent_again(active_client, sandbox):
    sandbox.faults.server_errors = 1
    created = active_client.lists.create("News")
    assert created["name"] == "News"
    assert sandbox.stats["POST /v3/contact_lists"] == 2
    assert [item["name"] for item in active_client.lists.iterate()].count("News") == 1


def test_a_list_create_whose_answer_was_lost_finds_the_list_instead_of_making_a_second(active_client, sandbox):
    def lose_the_answer(response: httpx.Response) -> None:
        if response.request.method == "POST" and response.request.url.path.endswith("/contact_lists"):
            active_client.http.event_hooks["response"].remove(lose_the_answer)
            raise httpx.ReadError("the connection broke after CTCT created the list", request=response.request)

    active_client.http.event_hooks["response"].append(lose_the_answer)
    created = active_client.lists.create("News")
    assert created["name"] == "News" and created["list_id"]
    assert sandbox.stats["POST /v3/contact_lists"] == 1
    assert [item["name"] for item in active_client.lists.iterate()].count("News") == 1


def test_a_contact_create_is_still_never_repeated(active_client, sandbox):
    sandbox.faults.server_errors = 1
    with pytest.raises(ServerError):
        active_client.contacts.create({"email_address": {"address": "ann@acme.com"}})
    assert sandbox.stats["POST /v3/contacts"] == 1


def waits(budget: float = RETRY_BUDGET) -> tuple[RetryWindow, list[float]]:
    slept: list[float] = []
    return RetryWindow(budget, slept.append), slept


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    request = httpx.Request("GET", "https://api.cc.email/v3/contacts")
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"}, request=request)) == 7.0
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
    assert 28 <= retry_after(httpx.Response(503, headers={"Retry-After": later}, request=request)) <= 30
    assert retry_after(httpx.Response(503, request=request)) is None
    window, slept = waits()
    assert window.wait(7.0) and slept == [7.0]


def test_backoff_is_capped_exponential_with_jitter_and_ends_with_the_budget():
    window, slept = waits()
    while window.wait(None):
        pass
    assert slept[0] <= 0.5 and max(slept) <= 16 and sum(slept) <= RETRY_BUDGET
    assert all(later >= earlier / 2 for earlier, later in itertools.pairwise(slept))
    window, slept = waits(budget=10)
    assert not window.wait(11.0) and slept == []  # CTCT asks for more than is left: give up now

"""The full read of CTCT through concurrent cursor chains, split by creation time, against the
plain serial read of the same sandbox account: every contact exactly once, nothing else."""

from __future__ import annotations

import threading
import time

import pytest

from ctct.api.contacts import Contacts, CreatedRange, created_ranges
from ctct.api.limits import RateLimiter
from ctct.sync.remote_full import full_remote_read
from tests.sandbox.conftest import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    # Near the wall clock, which the full read splits up to: its ranges then fall on the data.
    return FakeClock(float(int(time.time()) - 4000))


def fill(sandbox, start: float) -> dict[str, list[str]]:
    """1,250 contacts made over 3,000 s from `start`: a crowd made at the same instant on each of
    the whole seconds 1,000 and 2,000 s in (and one a hair before), some deleted, some in no list,
    some in two, some unsubscribed, and a few whose creation time runs against the account's order."""
    account = sandbox.account("demo")
    lists = [account.create_list(f"List {n}", start).list_id for n in range(3)]
    made: dict[str, list[str]] = {"boundary": [], "overlap": [], "deleted": [], "listless": []}
    moments = [start + n * 2.4 for n in range(1200)]
    moments += [start + 1000.0] * 20 + [start + 2000.0] * 20 + [start + 999.9995] * 5
    moments += [start + 2999.0, start + 1.5, start + 1500.25, start + 2000.0005, start]
    for number, moment in enumerate(moments):
        contact = account.new_contact(f"person{number}@example{number % 7}.com", moment, "Account", "implicit")
        contact.first_name, contact.company_name = f"Pat{number}", f"Acme {number % 13}"
        if moment in (start + 1000.0, start + 2000.0):
            made["boundary"].append(contact.contact_id)
        if moment == start + 999.9995:
            made["overlap"].append(contact.contact_id)
        if number % 9 == 0:
            made["listless"].append(contact.contact_id)
        else:
            account.add_membership(contact, lists[number % 3])
            if number % 4 == 0:
                account.add_membership(contact, lists[(number + 1) % 3])
        if number % 11 == 0:
            account.delete_contact(contact, moment + 5)
            made["deleted"].append(contact.contact_id)
        elif number % 17 == 0:
            account.unsubscribe(contact, "Contact", moment + 5)
    return made


def by_id(contacts) -> dict[str, dict]:
    return {contact["contact_id"]: contact for contact in contacts}


def test_the_chained_read_equals_the_serial_read(active_client, sandbox, clock):
    start = clock()
    made = fill(sandbox, start)
    serial = list(active_client.contacts.iterate())
    ranges = created_ranges(start, start + 3000, 3)
    assert len(ranges) == 3

    chained = active_client.contacts.read_all(chains=3, now=lambda: start + 3000)

    ids = [contact["contact_id"] for contact in chained]
    assert len(ids) == len(set(ids)) == len(serial) == 1250
    assert by_id(chained) == by_id(serial)
    assert set(made["deleted"]) | set(made["listless"]) <= set(ids)
    assert set(made["boundary"]) <= set(ids)
    # Those made in the second before a boundary are in both ranges either side, and kept once.
    first, second, third = (set(by_id(active_client.contacts.read_ranges([where]))) for where in ranges)
    assert set(made["overlap"]) <= first & second
    assert len(first) + len(second) + len(third) > len(ids) and all((first, second, third))


def test_the_chained_read_costs_at_most_two_requests_more_than_the_serial_one(active_client, sandbox, clock):
    start = clock()
    fill(sandbox, start)
    list(active_client.contacts.iterate())
    serial = sandbox.stats["GET /v3/contacts"]
    sandbox.reset_stats()
    active_client.contacts.read_all(chains=3, now=lambda: start + 3000)
    assert serial == 3 and sandbox.stats["GET /v3/contacts"] <= serial + 2


def test_a_small_or_young_account_is_read_in_one_chain(active_client, sandbox, clock):
    start = clock()
    account = sandbox.account("demo")
    for number in range(1100):
        account.new_contact(f"p{number}@acme.com", start + number / 1000, "Account", "implicit")
    assert len(active_client.contacts.read_all(chains=3, now=lambda: start + 1.2)) == 1100
    assert sandbox.stats["GET /v3/contacts"] == 1 + 3  # the probe and the three pages
    assert created_ranges(start, start + 1.2, 3) == [CreatedRange()]
    assert active_client.contacts.read_all(chains=3, now=lambda: start + 3000) != []


def test_an_empty_account_costs_the_probe_only(active_client, sandbox):
    assert active_client.contacts.read_all() == []
    assert sandbox.stats["GET /v3/contacts"] == 1


def test_the_ranges_cover_all_time_and_overlap_by_a_second():
    start = 1_800_000_000.25
    ranges = created_ranges(start, start + 3000, 3)
    assert ranges == [
        CreatedRange(None, "2027-01-15T08:16:40Z"),
        CreatedRange("2027-01-15T08:16:39Z", "2027-01-15T08:33:20Z"),
        CreatedRange("2027-01-15T08:33:19Z", None),
    ]


@pytest.mark.parametrize("latency_ms", [0, 150])
def test_the_full_read_holds_what_the_serial_read_holds(active_client, sandbox, clock, latency_ms):
    start = clock()
    fill(sandbox, start)
    serial = list(active_client.contacts.iterate())
    lists = list(active_client.lists.iterate())
    sandbox.reset_stats()
    sandbox.faults.latency_ms = latency_ms  # CTCT far away: the read goes in three chains

    snapshot = full_remote_read(active_client)

    contacts = snapshot.contacts.set_index("ctct_contact_id")
    assert sorted(contacts.index) == sorted(contact["contact_id"] for contact in serial)
    assert contacts["email"].to_dict() == {c["contact_id"]: c["email_address"]["address"] for c in serial}
    assert contacts["deleted"].to_dict() == {c["contact_id"]: "deleted_at" in c for c in serial}
    assert contacts["first_name"].to_dict() == {c["contact_id"]: c.get("first_name") for c in serial}
    pairs = set(snapshot.members.itertuples(index=False, name=None))
    assert len(pairs) == len(snapshot.members)
    assert pairs == {(list_id, c["contact_id"]) for c in serial for list_id in c.get("list_memberships", [])}
    assert sorted(snapshot.lists["ctct_list_id"]) == sorted(item["list_id"] for item in lists)
    if latency_ms:
        # The probe, then two pages in each of the first two ranges and one in the last.
        assert sandbox.stats["GET /v3/contacts"] >= 1 + 5
    else:
        assert sandbox.stats["GET /v3/contacts"] == 1 + 3  # near: the probe and one chain of three pages
        assert snapshot.requests == 1 + 1 + 3


def test_the_full_read_reports_its_progress_in_the_callers_thread(active_client, sandbox, clock):
    account = sandbox.account("demo")
    for number in range(10_400):
        account.new_contact(f"p{number}@acme.com", clock() + number / 4, "Account", "implicit")
    sandbox.faults.latency_ms = 120
    caller = threading.current_thread()
    reports: list[tuple[str, threading.Thread]] = []
    full_remote_read(
        active_client, exports=False, progress=lambda message: reports.append((message, threading.current_thread()))
    )
    assert reports == [
        ("5,000 Constant Contact contacts read", caller),
        ("10,000 Constant Contact contacts read", caller),
    ]


def test_the_full_read_sends_the_lists_read_during_the_probes_round_trip(active_client, sandbox, clock):
    """CTCT far away: the lists' read leaves while the probe is on its way, not after its answer
    (a slot of the four a second lost per full read), and the probe still leaves first. The
    client paces on the wall clock here, as the console does (the test clock moves only when
    the client waits); the sandbox's rate is not this test's subject."""
    fill(sandbox, clock())
    sandbox.faults.latency_ms = 400
    sandbox.config.rate_limit = 1000.0
    active_client.limiter = RateLimiter(4)
    wire: list[tuple[str, str, float]] = []
    hooks = active_client.http.event_hooks
    hooks["request"].append(lambda request: wire.append(("sent", request.url.path, time.monotonic())))
    hooks["response"].append(lambda response: wire.append(("answered", response.request.url.path, time.monotonic())))

    snapshot = full_remote_read(active_client, exports=False)

    assert len(snapshot.lists) == 4
    sent = [(path, at) for event, path, at in wire if event == "sent"]
    (probe_path, probe_sent), (lists_path, lists_sent) = sent[:2]
    assert (probe_path, lists_path) == ("/v3/contacts", "/v3/contact_lists")
    probe_answered = next(at for event, path, at in wire if event == "answered" and path == "/v3/contacts")
    assert probe_sent < lists_sent < probe_answered


def sent_paths(client) -> list[str]:
    sent: list[str] = []
    client.http.event_hooks["request"].append(lambda request: sent.append(request.url.path))
    return sent


def test_a_probe_that_is_retried_is_followed_by_the_lists_in_one_order(active_client, sandbox, clock):
    """The lists never go beside a probe whose first attempt failed (its retry waits on the
    client's clock): the probe leaves first and meets the fault, and the lists' read leaves only
    once the probe is answered."""
    fill(sandbox, clock())
    wire: list[tuple[str, str, int | None]] = []
    hooks = active_client.http.event_hooks
    probe = "/v3/contacts?status=all&limit=1&include_count=true"
    hooks["request"].append(lambda request: wire.append(("sent", _path_of(request), None)))
    hooks["response"].append(lambda response: wire.append(("back", _path_of(response.request), response.status_code)))
    for _ in range(6):
        wire.clear()
        sandbox.faults.server_errors = 1
        full_remote_read(active_client, exports=False)
        assert wire[:2] == [("sent", probe, None), ("back", probe, 503)], wire
        answered = wire.index(("back", probe, 200))
        lists_sent = next(at for at, (event, path, _) in enumerate(wire) if event == "sent" and "contact_lists" in path)
        assert lists_sent > answered, wire


def _path_of(request) -> str:
    return f"{request.url.path}?{request.url.query.decode()}" if request.url.query else request.url.path


def test_a_failed_probe_is_raised_at_once_beside_a_slow_lists_read(active_client, sandbox, clock, monkeypatch):
    """CTCT far away, and the probe fails after the lists' read has left: the failure reaches
    the caller when it happens, not once the lists' read is over."""
    fill(sandbox, clock())
    sandbox.faults.latency_ms = 1500
    sandbox.config.rate_limit = 1000.0
    active_client.limiter = RateLimiter(4)

    class ProbeFailed(Exception):
        pass

    def failing_probe(self, trip=None):
        trip.left.set()
        time.sleep(0.3)
        trip.back.set()
        raise ProbeFailed

    monkeypatch.setattr(Contacts, "probe", failing_probe)
    sent = sent_paths(active_client)
    started = time.monotonic()
    with pytest.raises(ProbeFailed):
        full_remote_read(active_client, exports=False)
    assert time.monotonic() - started < 1.0
    assert sent == ["/v3/contact_lists"]  # it left during the probe's trip, and is left to finish

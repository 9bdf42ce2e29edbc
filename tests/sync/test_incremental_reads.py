"""Previews read CTCT incrementally (ctct/sync/remote_read.py): a no-change preview costs the lists
listing and one page, k changes ⌈k/500⌉ pages, and the result is what a full read gives. Where
CTCT does not move `updated_at` for a membership change (the sandbox switch), the count check, the
daily full read and the full read before any removal keep the plans right."""

import math
import random
import threading

import pytest

from ctct import activation, lists
from ctct.crm.normalize import email_keys
from ctct.errors import SyncRefused
from ctct.sandbox import SandboxConfig
from ctct.sandbox.api import delete_list
from ctct.sync import mirror
from ctct.sync.apply import SyncService
from ctct.sync.remote_full import full_remote_read
from ctct.sync.remote_read import ReadPolicy, read_remote, removes_or_deletes
from tests.sync.test_push_pull_rules import crm, local_list

DAY = 86_400.0


@pytest.fixture(params=[True, False], ids=["bumping", "not-bumping"])
def bumping(request) -> bool:
    return request.param


@pytest.fixture
def sandbox_config(clock, bumping) -> SandboxConfig:
    return SandboxConfig(clock=clock, activity_seconds=2.0, daily_quota=10**6, membership_bumps_updated_at=bumping)


@pytest.fixture
def service(database, active_client, settings, clock) -> SyncService:
    return SyncService(database, active_client, settings.with_overrides(daily_quota=10**6), clock=clock)


def records(frame, columns):
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    return sorted(tuple(row) for row in values.itertuples(index=False, name=None))


def same_as_full_read(snapshot, client):
    """The snapshot equals a fresh full read of CTCT, row order aside."""
    full = full_remote_read(client)
    columns = [*full.contacts.columns]
    assert records(snapshot.contacts, columns) == records(full.contacts, columns)
    assert records(snapshot.members, ["ctct_list_id", "ctct_contact_id"]) == records(
        full.members, ["ctct_list_id", "ctct_contact_id"]
    )
    assert records(snapshot.lists, [*full.lists.columns]) == records(full.lists, [*full.lists.columns])
    return True


def seed_ctct(sandbox, clock, contacts, list_names=("News", "Events")):
    """CTCT holding `contacts` contacts spread over the lists, made in the sandbox directly."""
    account = sandbox.account("demo")
    targets = [account.create_list(name, clock.now).list_id for name in list_names]
    for number in range(contacts):
        contact = account.new_contact(f"c{number}@ctct.example", clock.now, "Account", "implicit")
        account.add_membership(contact, targets[number % len(targets)])
    clock.advance(1)
    return account, targets


def planned(service, direction):
    """A plan, checked for honest request accounting: its snapshot requests are all it used."""
    before = service.client.budget.used()
    plan = service.plan(direction)
    assert plan.snapshot_requests == service.client.budget.used() - before
    return plan


def policy(service):
    return service.read_policy


# Request counts


def test_a_no_change_preview_takes_the_listing_and_one_page_in_any_direction(service, sandbox, clock):
    seed_ctct(sandbox, clock, 1_001)
    assert planned(service, "pull").snapshot_requests > 2  # no mirror yet: the full read
    clock.advance(5)
    for direction in ("pull", "push", "both", "pull"):
        plan = planned(service, direction)
        assert plan.snapshot_requests == 2
        assert same_as_full_read(plan.remote, service.client)


def test_k_changes_in_ctct_read_k_over_500_pages(service, sandbox, clock):
    account, targets = seed_ctct(sandbox, clock, 1_001)
    planned(service, "pull")
    for number in range(0, 600):  # 600 contacts changed: two pages
        contact = account.find_by_email(f"c{number}@ctct.example")
        contact.first_name, contact.updated_at = f"Changed {number}", clock.now
    for number in range(5):  # and 5 new ones on a list
        account.add_membership(
            account.new_contact(f"new{number}@ctct.example", clock.now, "Account", "implicit"), targets[0]
        )
    clock.advance(1)
    plan = planned(service, "pull")
    assert plan.snapshot_requests == 1 + math.ceil(605 / 500)
    assert same_as_full_read(plan.remote, service.client)
    assert planned(service, "pull").snapshot_requests == 2


# When the full read runs


def test_the_full_read_runs_again_once_a_day(service, sandbox, clock, database):
    seed_ctct(sandbox, clock, 10)
    assert read_remote(service.client, database, policy(service)).verified
    clock.advance(DAY - 60)
    assert not read_remote(service.client, database, policy(service)).verified
    clock.advance(60)
    again = read_remote(service.client, database, policy(service))
    assert again.verified and "older than" in again.reason
    assert not read_remote(service.client, database, policy(service)).verified


@pytest.mark.parametrize("bumping", [False], ids=["not-bumping"])
def test_a_member_count_that_disagrees_forces_a_full_read(service, sandbox, clock, database):
    account, targets = seed_ctct(sandbox, clock, 10)
    read_remote(service.client, database, policy(service))
    # A membership change that leaves `updated_at` alone: only the count shows it.
    account.add_membership(account.find_by_email("c1@ctct.example"), targets[0])
    clock.advance(1)
    read = read_remote(service.client, database, policy(service))
    assert read.verified and "member count" in read.reason
    assert same_as_full_read(read.snapshot, service.client)


def test_a_list_that_came_or_went_in_ctct_forces_a_full_read(service, sandbox, clock, database):
    account, targets = seed_ctct(sandbox, clock, 10)
    read_remote(service.client, database, policy(service))
    account.create_list("Fresh", clock.now)
    clock.advance(1)
    came = read_remote(service.client, database, policy(service))
    assert came.verified and "lists" in came.reason
    delete_list(account, targets[1], clock.now, False)
    clock.advance(5)
    went = read_remote(service.client, database, policy(service))
    assert went.verified and "lists" in went.reason
    assert same_as_full_read(went.snapshot, service.client)


@pytest.mark.parametrize("bumping", [False], ids=["not-bumping"])
def test_a_plan_that_removes_members_is_made_on_a_full_read(service, sandbox, clock, database, active_client):
    crm(database, *[(f"p{number}@acme.com", f"P{number}") for number in range(4)])
    local_list(database, "News", "p0@acme.com", "p1@acme.com", "p2@acme.com")
    local_list(database, "Events", "p3@acme.com")
    assert service.commit(planned(service, "push")).status == "completed"
    account = sandbox.account("demo")
    news = next(item for item in account.live_lists() if item.name == "News")
    # CTCT swaps a member without moving anyone's `updated_at`: the count stays, the mirror is wrong.
    account.remove_membership(account.find_by_email("p2@acme.com"), news.list_id)
    account.add_membership(account.find_by_email("p3@acme.com"), news.list_id)
    clock.advance(1)
    with database.session() as session:
        lists.remove_members(session, "News", ["p1@acme.com"])
    plan = planned(service, "push")
    assert removes_or_deletes(plan)
    assert plan.snapshot_requests > 2  # the incremental read, then the full one
    assert same_as_full_read(plan.remote, active_client)
    # The verified plan removes p1 (removed here) and p3 (added in CTCT), and re-adds p2.
    assert sorted(plan["memberships_remove"]["email"]) == ["p1@acme.com", "p3@acme.com"]
    assert sorted(plan["memberships_add"]["email"]) == ["p2@acme.com"]


def test_after_a_push_the_mirror_holds_what_it_did(service, sandbox, clock, database, active_client):
    crm(database, *[(f"p{number}@acme.com", f"P{number}") for number in range(6)])
    local_list(database, "News", "p0@acme.com", "p1@acme.com", "p2@acme.com")
    assert service.commit(planned(service, "push")).status == "completed"
    clock.advance(1)
    with database.session() as session:
        lists.remove_members(session, "News", ["p1@acme.com"])
        lists.add_members(session, "News", ["p4@acme.com"])
    local_list(database, "Events", "p5@acme.com", "p0@acme.com")
    assert service.commit(planned(service, "push")).status == "completed"
    clock.advance(1)
    plan = planned(service, "push")
    assert not removes_or_deletes(plan) and plan.counts() == dict.fromkeys(plan.counts(), 0)
    assert plan.snapshot_requests == 2
    assert same_as_full_read(plan.remote, active_client)


def test_a_push_that_stops_half_way_leaves_the_mirror_to_a_full_read(service, sandbox, clock, database):
    crm(database, ("p0@acme.com", "P0"), ("p1@acme.com", "P1"))
    local_list(database, "News", "p0@acme.com")
    assert service.commit(planned(service, "push")).status == "completed"
    local_list(database, "News", "p1@acme.com")
    plan = planned(service, "push")
    reports = []

    def fail_once_the_push_runs(fraction, message):
        # The first report is the stale check's; from the next on the push is changing CTCT.
        reports.append(message)
        if len(reports) == 2:
            sandbox.faults.server_errors = 1_000

    with pytest.raises(Exception):  # noqa: B017 - whatever stops it, the mirror must not be trusted
        service.commit(plan, progress=fail_once_the_push_runs)
    assert len(reports) >= 2
    sandbox.faults.server_errors = 0
    read = read_remote(service.client, database, policy(service))
    assert read.verified and "push stopped" in read.reason


def test_deactivation_and_another_account_drop_the_mirror(service, sandbox, clock, database, active_client):
    seed_ctct(sandbox, clock, 3)
    read_remote(active_client, database, policy(service))
    active_client.authorization.tokens.record_account("Another Company", "owner@another.example")
    other = read_remote(active_client, database, policy(service))
    assert other.verified and "another" in other.reason
    assert mirror.status(database) is not None
    activation.deactivate(active_client, database)
    assert mirror.status(database) is None


# The adversarial walk


class Walk:
    """Random edits on both sides, previews and commits; the invariants after every plan."""

    def __init__(self, service, sandbox, clock, database, seed):
        self.service, self.clock, self.database = service, clock, database
        self.account = sandbox.account("demo")
        self.random = random.Random(seed)
        self.names = 0
        self.unsubscribed: set[str] = set()

    def bump(self, contact):
        if self.account.membership_bumps_updated_at:
            contact.updated_at = self.clock.now

    def live_contacts(self):
        return [c for c in self.account.contacts.values() if c.deleted_at is None and c.permission != "unsubscribed"]

    def ctct_lists(self):
        return [item for item in self.account.live_lists() if item.name != "General Interest"]

    def step(self):
        # Weighted towards what the incremental read can miss (a swap keeps every count) and
        # towards previews, so that most reads are incremental ones.
        rules = {
            self.ctct_add: 2,
            self.ctct_remove: 2,
            self.ctct_swap: 4,
            self.ctct_rename: 1,
            self.ctct_new_list: 0.3,
            self.ctct_delete_list: 0.3,
            self.ctct_edit: 1,
            self.ctct_delete_contact: 0.5,
            self.ctct_unsubscribe: 0.5,
            self.ctct_new_contact: 1,
            self.crm_add: 1.5,
            self.crm_remove: 1.5,
            self.preview: 4,
            self.commit: 3,
        }
        self.random.choices(list(rules), weights=list(rules.values()))[0]()
        self.clock.advance(3)

    def ctct_add(self):
        if self.ctct_lists() and self.live_contacts():
            contact = self.random.choice(self.live_contacts())
            self.account.add_membership(contact, self.random.choice(self.ctct_lists()).list_id)
            self.bump(contact)

    def ctct_remove(self):
        held = [(c, list_id) for c in self.live_contacts() for list_id in sorted(c.lists)]
        if held:
            contact, list_id = self.random.choice(held)
            self.account.remove_membership(contact, list_id)
            self.bump(contact)

    def ctct_swap(self):
        """One member out, another in, on the same list: the count check cannot see it."""
        for target in self.random.sample(self.ctct_lists(), len(self.ctct_lists())):
            inside = [c for c in self.live_contacts() if target.list_id in c.lists]
            outside = [c for c in self.live_contacts() if target.list_id not in c.lists]
            if inside and outside:
                leaving, joining = self.random.choice(inside), self.random.choice(outside)
                self.account.remove_membership(leaving, target.list_id)
                self.account.add_membership(joining, target.list_id)
                self.bump(leaving)
                self.bump(joining)
                return

    def ctct_rename(self):
        if self.ctct_lists():
            self.names += 1
            target = self.random.choice(self.ctct_lists())
            self.account.update_list(target.list_id, f"Renamed {self.names}", self.clock.now, None, False)

    def ctct_new_list(self):
        self.names += 1
        self.account.create_list(f"Made in CTCT {self.names}", self.clock.now)

    def ctct_delete_list(self):
        if len(self.ctct_lists()) > 1 and self.random.random() < 0.5:
            delete_list(self.account, self.random.choice(self.ctct_lists()).list_id, self.clock.now, False)

    def ctct_edit(self):
        if self.live_contacts():
            contact = self.random.choice(self.live_contacts())
            contact.job_title, contact.updated_at = f"Title {self.random.randrange(99)}", self.clock.now

    def ctct_delete_contact(self):
        if self.live_contacts() and self.random.random() < 0.5:
            self.account.delete_contact(self.random.choice(self.live_contacts()), self.clock.now)

    def ctct_unsubscribe(self):
        if self.live_contacts() and self.random.random() < 0.5:
            contact = self.random.choice(self.live_contacts())
            self.account.unsubscribe(contact, "Contact", self.clock.now)
            self.unsubscribed.add(contact.email.lower())

    def ctct_new_contact(self):
        self.names += 1
        contact = self.account.new_contact(f"ctct{self.names}@acme.com", self.clock.now, "Account", "implicit")
        if self.ctct_lists():
            self.account.add_membership(contact, self.random.choice(self.ctct_lists()).list_id)

    def crm_add(self):
        name = self.random.choice(["News", "Events", "Offers"])
        local_list(self.database, name, f"p{self.random.randrange(10)}@acme.com")

    def crm_remove(self):
        with self.database.session() as session:
            found = lists.find_list(session, self.random.choice(["News", "Events", "Offers"]))
            members = sorted(lists.member_emails(session, found)) if found is not None else []
            if members:
                lists.remove_members(session, found.name, [self.random.choice(members)])

    def plan(self):
        plan = planned(self.service, self.random.choice(["push", "pull"]))
        if self.account.membership_bumps_updated_at or removes_or_deletes(plan):
            # Exact when CTCT moves `updated_at` as assumed; verified before any removal anyway.
            assert same_as_full_read(plan.remote, self.service.client)
        return plan

    def preview(self):
        self.plan()

    def commit(self):
        plan = self.plan()
        if plan.direction == "pull":
            # Whatever the read missed, a pull adds here only members CTCT really has.
            full = full_remote_read(self.service.client)
            held = set(
                full.members.merge(full.contacts, on="ctct_contact_id")[["ctct_list_id", "email_key"]].itertuples(
                    index=False, name=None
                )
            )
            adds = plan["memberships_add"]
            assert set(zip(adds["ctct_list_id"], email_keys(adds["email"]), strict=True)) <= held
        try:
            self.service.commit(plan, allow_mass_removal=True)
        except SyncRefused as refused:  # a plan may be refused, never wrongly applied
            assert "changed since this preview" not in str(refused)
        self.check_ctct()

    def check_ctct(self):
        emails = [c.email.lower() for c in self.account.contacts.values() if c.email]
        assert len(emails) == len(set(emails)), "a contact is in CTCT twice"
        for contact in self.account.contacts.values():
            if contact.email and contact.email.lower() in self.unsubscribed:
                assert contact.permission == "unsubscribed" and not contact.lists, "an opt-out was reversed"


# On SQLite only: PostgreSQL runs every other test here, and the walk is the slow one.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_random_walk_keeps_every_plan_right(service, sandbox, clock, database, seed):
    crm(database, *[(f"p{number}@acme.com", f"P{number}") for number in range(10)])
    local_list(database, "News", "p0@acme.com", "p1@acme.com", "p2@acme.com")
    local_list(database, "Events", "p3@acme.com", "p4@acme.com")
    service.commit(planned(service, "push"))
    walk = Walk(service, sandbox, clock, database, seed)
    for _ in range(30):
        walk.step()
    # Whatever the walk left, a day later the read is full and exact again.
    clock.advance(DAY)
    read = read_remote(service.client, database, ReadPolicy(clock=clock))
    assert read.verified and same_as_full_read(read.snapshot, service.client)


# Changes made while a read is under way


def change_during_the_read(service, sandbox, clock, account):
    """Once the first page of contacts is read: c0 (on it) changes, then — later — c1000 (on the
    last page, read afterwards with its newer stamp)."""
    http = service.client.http
    pages = []

    def after(response):
        request = response.request
        if request.url.path.endswith("/contacts") and request.url.params.get("limit") == "500" and not pages:
            pages.append(request.url)
            early = account.find_by_email("c0@ctct.example")
            early.first_name, early.updated_at = "Changed mid-read", clock.now
            clock.advance(2)
            late = account.find_by_email("c1000@ctct.example")
            late.first_name, late.updated_at = "Changed later", clock.now

    http.event_hooks["response"].append(after)
    return lambda: http.event_hooks["response"].remove(after)


def test_a_contact_changed_while_the_full_read_ran_comes_with_the_next_read(service, sandbox, clock):
    account, _targets = seed_ctct(sandbox, clock, 1_001)
    stop = change_during_the_read(service, sandbox, clock, account)
    during = planned(service, "pull")
    stop()
    names = during.remote.contacts.set_index("email")["first_name"]
    assert names["c0@ctct.example"] != "Changed mid-read" and names["c1000@ctct.example"] == "Changed later"
    # The plan read c0 before it changed: committing it is refused as stale.
    with pytest.raises(SyncRefused, match="Constant Contact changed"):
        service.commit(during)
    clock.advance(1)
    after = planned(service, "pull")
    assert after.remote.contacts.set_index("email")["first_name"]["c0@ctct.example"] == "Changed mid-read"
    assert same_as_full_read(after.remote, service.client)
    service.commit(after)  # nothing changed since this one


def test_two_merges_of_the_same_contact_at_once_do_not_collide(database, service, sandbox, clock):
    """Two previews (a scheduled run and a page, two tabs) merging the same changed contact: the
    second waits for the first instead of failing on the rows the first inserted."""
    account, _targets = seed_ctct(sandbox, clock, 3)
    planned(service, "pull")
    contact = account.find_by_email("c0@ctct.example")
    row = ("x", "c0@ctct.example", "Both", None, None, None, "implicit", None, False, "2030-01-01T00:00:00.000Z")
    row = (contact.contact_id, *row[1:])
    held, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first_merge():
        try:
            with database.session() as session:
                connection = session.connection()
                mirror._one_writer(connection)
                connection.execute(
                    mirror.delete(mirror.MirrorContact).where(
                        mirror.MirrorContact.ctct_contact_id == contact.contact_id
                    )
                )
                mirror._insert_contacts(connection, [row])
                held.set()
                release.wait(5)
        except BaseException as error:  # reported below
            failures.append(error)

    worker = threading.Thread(target=first_merge)
    worker.start()
    held.wait(5)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    mirror.merge(database, [row], [])
    worker.join()
    assert not failures
    contacts, _members = mirror.read(database)
    assert (contacts["ctct_contact_id"] == contact.contact_id).sum() == 1

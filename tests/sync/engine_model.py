"""The sync engine against a model of what may happen to data (issue 12).

Random sequences of: membership edits here, edits in Constant Contact (add, remove, rename,
delete, unsubscribe, a new list), pushes and pulls with an injected fault (a failed activity, a
429 burst, 5xx answers, dropped connections, an expired token), a crash at a random request or
database statement — cleanly interrupted, or killed with its run and lock left behind — followed
later by a resume, and an edit on either side in the middle of an apply.

After every rule the invariants hold:
- CTCT has no duplicate contact and no two live lists of one name;
- no contact unsubscribed in CTCT is re-subscribed or put back on a list, here or there;
- local memberships are what the model says: a push changes none, a pull removes only what CTCT
  really removed (or what its preview said it would undo);
- the baseline never claims an agreement that is not there: after a sync, every difference
  between the baseline and either side was already a difference before it, or comes from an
  edit made while it ran, or (for a run that did not complete) from a change the run made but
  could not record.

Used by tests/sync/test_engine_model.py (bounded, SQLite and PostgreSQL) and by
bench/bench_sync_model.py (longer runs, with counts).
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import delete, event, select, update

from ctct import lists
from ctct.api.limits import RateLimiter
from ctct.config import Settings
from ctct.crm import services
from ctct.db import Database
from ctct.db.models import (
    Base,
    Contact,
    EmailList,
    EmailStatus,
    ListMembership,
    MembershipChangeHow,
    SyncLock,
    SyncRun,
    utcnow,
)
from ctct.db.stores import open_client
from ctct.errors import ConsoleError, SyncBusy
from ctct.sandbox.inprocess import SandboxTransport
from ctct.sync import journal
from ctct.sync.apply import COMPLETED, COMPLETED_WITH_ERRORS, INTERRUPTED, SyncService
from ctct.sync.snapshot import load_baseline
from tests.sandbox_client import activate

EMAILS = [f"m{number}@acme.com" for number in range(8)]
LOCAL_NAMES = ["News", "Events", "VIP"]
CTCT_NAMES = ["News", "Events", "Golf", "Spring"]
ORIGIN = lists.ChangeOrigin("engine model", MembershipChangeHow.TICK)
FAULTS = ["fail_next_activity", "throttle_burst", "server_errors", "drop_connections", "expired_token"]
# The preview's words for members here that a pull will remove although CTCT never removed them.
ADDED_HERE = re.compile(r"^([\d,]+) member\(s\) (added here since the last sync|here on lists not synced before)")

Pair = tuple[str, str]  # (CTCT list id, email key)


def machine_settings(examples: int, steps: int) -> settings:
    """Bounded runs; a machine shared across examples is fine (each example starts afresh)."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def inject_fault(sandbox: Any, kind: str, size: int) -> None:
    """One of FAULTS armed in the sandbox (`size`: how many answers a burst or error run lasts)."""
    faults = sandbox.faults
    with sandbox.lock:
        if kind == "expired_token":
            sandbox.tokens.expire_all(sandbox.now())
        elif kind == "fail_next_activity":
            faults.fail_next_activity = True
        else:
            setattr(faults, kind, size)


def clear_faults(sandbox: Any) -> None:
    faults = sandbox.faults
    faults.throttle_burst = faults.server_errors = faults.drop_connections = 0
    faults.fail_next_activity = False


class Crash(journal.SyncInterrupted):
    """The process stops here (Ctrl-C, SIGTERM — or, when `killed`, SIGKILL)."""


@dataclass
class World:
    """What one test (or bench run) shares across examples: a database, a sandbox on a fake
    clock, and a transport whose requests the machine can intercept."""

    database: Database
    sandbox: Any
    settings: Settings
    clock: Any
    transport: SandboxTransport
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


class Hooks(httpx.BaseTransport):
    """Runs the armed action before a request reaches the sandbox."""

    def __init__(self, inner: httpx.BaseTransport, on_tick: Any) -> None:
        self.inner, self.on_tick = inner, on_tick

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.on_tick(request)
        return self.inner.handle_request(request)


def dead_holder() -> str:
    """A lock holder on this host whose process has certainly ended."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    return f"{socket.gethostname()}:{finished.pid}:1"


edits_here = st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 5), st.sampled_from(EMAILS))
edits_there = st.one_of(
    st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 5), st.sampled_from(EMAILS)),
    st.tuples(st.just("rename"), st.integers(0, 5), st.sampled_from([*CTCT_NAMES, "news", "Renamed"])),
    st.tuples(st.just("delete"), st.integers(0, 5), st.none()),
    st.tuples(st.just("unsubscribe"), st.none(), st.sampled_from(EMAILS)),
    st.tuples(st.just("create"), st.none(), st.sampled_from(CTCT_NAMES)),
)
midway_edits = st.one_of(
    st.none(),
    st.tuples(st.integers(1, 15), st.just("here"), edits_here),
    st.tuples(st.integers(1, 15), st.just("there"), edits_there),
)
# At the n-th request or statement of the commit; True: killed (SIGKILL), False: interrupted.
crashes = st.one_of(st.none(), st.none(), st.tuples(st.integers(1, 60), st.booleans()))
faults = st.one_of(st.none(), st.tuples(st.sampled_from(FAULTS), st.integers(1, 4)))


class EngineMachine(RuleBasedStateMachine):
    world: World  # set by the test or the bench

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        self.database, self.sandbox = world.database, world.sandbox
        self.counts = world.counts
        self.armed: dict[str, Any] = {}
        self.crashed = False
        self.concurrent_here: set[tuple[int, str]] = set()
        self.concurrent_there: set[Pair] = set()
        # The model: local members by local list id, and what CTCT was ever seen to hold.
        self.members: dict[int, set[str]] = {}
        self.seen_in_ctct: set[Pair] = set()
        self.unsubscribed_there: set[str] = set()
        self.unsubscribed_here: set[str] = set()

    # Setting up

    @initialize()
    def a_crm_with_two_lists_pushed_once(self) -> None:
        with self.database.session() as session:
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(delete(table))
        with self.sandbox.lock:
            self.sandbox.reset()
        self.clear_faults()
        http = httpx.Client(transport=Hooks(self.world.transport, self.on_request), base_url="http://sandbox")
        limiter = RateLimiter(self.world.settings.rate_limit, clock=self.world.clock, sleep=self.world.clock.advance)
        self.client = open_client(
            self.world.settings, self.database, http=http, sleep=self.world.clock.advance, limiter=limiter
        )
        activate(self.client)
        self.service = SyncService(self.database, self.client, self.world.settings)
        event.listen(self.database.engine, "before_cursor_execute", self.on_statement)
        with self.database.session() as session:
            company = services.create_company(session, "Acme")
            for email in EMAILS:
                services.create_contact(session, company.id, email=email, first_name=email[:2].upper(), last_name="Lee")
            for name, emails in (("News", EMAILS[:3]), ("Events", EMAILS[3:5])):
                lists.create_list(session, name)
                lists.add_members(session, name, emails, origin=ORIGIN)
        self.members = self.stored_members()
        assert self.service.commit(self.service.plan("push")).status == COMPLETED
        self.observe()

    def teardown(self) -> None:
        if event.contains(self.database.engine, "before_cursor_execute", self.on_statement):
            event.remove(self.database.engine, "before_cursor_execute", self.on_statement)

    # What is there

    def account(self) -> Any:
        return self.sandbox.account("demo")

    def ctct(self) -> tuple[dict[str, Any], set[Pair]]:
        with self.sandbox.lock:
            live = {item.list_id: item for item in self.account().live_lists()}
            contacts = self.account().contacts
            pairs = {(list_id, contacts[cid].email.lower()) for list_id, item in live.items() for cid in item.members}
        return live, pairs

    def stored_members(self) -> dict[int, set[str]]:
        with self.database.session() as session:
            found: dict[int, set[str]] = {list_id: set() for list_id in session.scalars(select(EmailList.id))}
            rows = session.execute(
                select(ListMembership.list_id, Contact.email_key).join(Contact, Contact.id == ListMembership.contact_id)
            )
            for list_id, email in rows:
                found[list_id].add(email)
        return found

    def links(self) -> dict[int, str | None]:
        with self.database.session() as session:
            return dict(session.execute(select(EmailList.id, EmailList.ctct_list_id)).all())

    def linked_pairs(self) -> set[Pair]:
        links = self.links()
        return {
            (links[list_id], email)
            for list_id, emails in self.stored_members().items()
            if links.get(list_id)
            for email in emails
        }

    def baseline(self) -> tuple[set[str], set[Pair]]:
        with self.database.session() as session:
            found = load_baseline(session)
        pairs = set(zip(found.members["ctct_list_id"].astype(str), found.members["email_key"], strict=True))
        return set(found.lists["ctct_list_id"].astype(str)), pairs

    def observe(self) -> None:
        self.seen_in_ctct |= self.ctct()[1]

    def local_list_ids(self) -> list[int]:
        return sorted(self.members)

    # Edits

    def edit_here(self, action: str, which: int, email: str) -> None:
        ids = self.local_list_ids()
        if not ids:
            return
        list_id = ids[which % len(ids)]
        with self.database.session() as session:
            contact_id = session.scalar(select(Contact.id).where(Contact.email_key == email))
            target = lists.get_list_by_id(session, list_id)
            if action == "add":
                try:
                    change = lists.add_contacts(session, target, [contact_id], origin=ORIGIN)
                except ConsoleError:
                    assert email in self.unsubscribed_here, f"{email} refused although selectable"
                    return
            else:
                change = lists.change_members(session, target, remove=[contact_id], origin=ORIGIN)
        if change.changed:
            (self.members[list_id].add if action == "add" else self.members[list_id].discard)(email)
            self.concurrent_here.add((list_id, email))
            self.counts["edits here"] += 1

    def edit_there(self, action: str, which: int | None, value: str | None) -> None:
        with self.sandbox.lock:
            account, now = self.account(), self.sandbox.now()
            live = sorted(account.live_lists(), key=lambda item: item.seq)
            target = live[which % len(live)] if which is not None and live else None
            self.observe()
            if action in ("add", "remove") and target is not None and value is not None:
                contact = account.find_by_email(value)
                if contact is None or contact.deleted_at is not None or contact.permission == "unsubscribed":
                    return
                changed = (account.add_membership if action == "add" else account.remove_membership)(
                    contact, target.list_id
                )
                if changed:
                    contact.updated_at = now
                    self.concurrent_there.add((target.list_id, contact.email.lower()))
            elif action == "rename" and target is not None and value is not None:
                if account._name_taken(value, except_id=target.list_id):
                    return
                account.update_list(target.list_id, value, now, target.description, target.favorite)
            elif action == "delete" and target is not None and len(live) > 1:
                self.concurrent_there |= {
                    (target.list_id, account.contacts[cid].email.lower()) for cid in target.members
                }
                account._delete_list_now(target, now)
            elif action == "unsubscribe" and value is not None:
                contact = account.find_by_email(value)
                if contact is None or contact.deleted_at is not None:
                    return
                self.concurrent_there |= {(list_id, value) for list_id in contact.lists}
                account.unsubscribe(contact, "Contact", now)
                self.unsubscribed_there.add(value)
            elif action == "create" and value is not None:
                if account._name_taken(value):
                    return
                account.create_list(value, now)
            else:
                return
        self.counts["edits in CTCT"] += 1

    @rule(edit=edits_here)
    def edit_members_here(self, edit: tuple[str, int, str]) -> None:
        self.counts["rules run"] += 1
        self.edit_here(*edit)
        self.concurrent_here.clear()

    @rule(name=st.sampled_from(LOCAL_NAMES))
    def create_a_list_here(self, name: str) -> None:
        self.counts["rules run"] += 1
        with self.database.session() as session:
            if lists.find_list(session, name) is not None:
                return
            created = lists.create_list(session, name)
        self.members[created.id] = set()

    @rule(edit=edits_there)
    def edit_in_ctct(self, edit: tuple[str, int | None, str | None]) -> None:
        self.counts["rules run"] += 1
        self.edit_there(*edit)
        self.concurrent_there.clear()
        self.observe()

    # Hooks: what happens at a request or a statement while a sync runs

    def clear_faults(self) -> None:
        clear_faults(self.sandbox)

    def inject(self, fault: tuple[str, int] | None) -> None:
        if fault is None:
            return
        inject_fault(self.sandbox, *fault)
        self.counts[f"fault: {fault[0]}"] += 1

    def tick(self, on_request: bool) -> None:
        if self.armed.get("editing"):
            return  # the midway edit's own requests and statements
        crash = self.armed.get("crash")
        if crash is not None:
            crash[0] -= 1
            if crash[0] == 0:
                del self.armed["crash"]
                raise Crash("crash injected")
        midway = self.armed.get("midway")
        if midway is not None and on_request:
            midway[0] -= 1
            if midway[0] == 0:
                del self.armed["midway"]
                side, edit = midway[1], midway[2]
                self.armed["editing"] = True
                try:
                    (self.edit_here if side == "here" else self.edit_there)(*edit)
                finally:
                    del self.armed["editing"]
                self.counts[f"midway edit {side}"] += 1

    def on_request(self, _request: httpx.Request) -> None:
        self.tick(on_request=True)

    def on_statement(self, *_args: Any) -> None:
        if self.armed and threading.current_thread() is threading.main_thread():
            self.tick(on_request=False)

    # Syncs

    @rule(
        direction=st.sampled_from(["push", "pull"]),
        fault=faults,
        crash=crashes,
        midway=midway_edits,
        allow_mass_removal=st.booleans(),
        then_resume=st.booleans(),
        resume_fault=faults,
    )
    def sync(self, direction, fault, crash, midway, allow_mass_removal, then_resume, resume_fault) -> None:
        """A sync; when it crashed and `then_resume`, resumed at once (under `resume_fault`)."""
        self.counts["rules run"] += 1
        try:
            plan = self.service.plan(direction)
        except ConsoleError:
            return
        self.run(
            direction,
            lambda: self.service.commit(plan, allow_mass_removal=allow_mass_removal),
            [w.message for w in plan.warnings],
            fault,
            crash,
            midway,
        )
        if self.crashed and then_resume and direction in self.unfinished_directions():
            self.resume_now(direction, resume_fault, None)

    @precondition(lambda self: self.unfinished_directions())
    @rule(data=st.data(), fault=faults, crash=crashes)
    def resume(self, data, fault, crash) -> None:
        self.counts["rules run"] += 1
        self.resume_now(data.draw(st.sampled_from(self.unfinished_directions())), fault, crash)

    def resume_now(self, direction, fault, crash) -> None:
        try:
            # What the resume will plan, as the user would preview it first.
            warnings = [w.message for w in self.service.plan(direction).warnings]
        except ConsoleError:
            return
        status = self.run(
            direction,
            lambda: self.service.resume(direction, allow_mass_removal=True),
            warnings,
            fault,
            crash,
            None,
            label=f"resume {direction}",
        )
        if status is None:
            assert direction in self.unfinished_directions(), "a resume that did not finish used up the run"

    def unfinished_directions(self) -> list[str]:
        return [d for d in ("push", "pull") if journal.latest_unfinished_run(self.database, d) is not None]

    def run(self, direction, commit, warnings, fault, crash, midway, label=None) -> str | None:
        label = label or direction
        before_ctct = self.ctct()[1]
        before_linked = self.linked_pairs()
        before_links = self.links()
        before_lists, before_baseline = self.baseline()
        last_run = self.last_run_id()
        self.concurrent_here.clear()
        self.concurrent_there.clear()
        self.inject(fault)
        if crash is not None:
            self.armed["crash"] = [crash[0]]
        if midway is not None:
            self.armed["midway"] = [midway[0], midway[1], midway[2]]
        status, crashed = None, False
        self.crashed = False
        try:
            status = commit().status
            self.counts[f"{label} {status}"] += 1
        except Crash:
            crashed = self.crashed = True
            self.counts[f"{label} crashed"] += 1
        except SyncBusy as error:
            # One process here: a lock left behind is a dead one, to be taken over.
            raise AssertionError(f"refused as busy with no other sync running: {error}") from None
        except ConsoleError as error:
            self.counts[f"{label} {type(error).__name__}"] += 1
            self.world.errors[f"{type(error).__name__}: {str(error)[:120]}"] += 1
        finally:
            self.armed.clear()
            self.clear_faults()
        lock = journal.current_lock(self.database)
        if crashed and lock is not None and lock.holder == journal.holder_name():
            # Stopped while releasing its lock: the process ends there, so its lock is a dead one.
            self.leave_dead_lock(lock.run_id)
        else:
            assert lock is None or journal.holder_is_dead(lock.holder), f"the lock outlived its sync: {lock.holder}"
        if crashed and crash[1]:
            self.kill_leftovers(last_run)
        self.observe()
        completed = status in (COMPLETED, COMPLETED_WITH_ERRORS)
        self.check_local_members(direction, warnings, before_links)
        self.check_baseline(before_lists, before_baseline, before_ctct, before_linked, completed)
        return status

    def last_run_id(self) -> int:
        with self.database.session() as session:
            return session.scalar(select(SyncRun.id).order_by(SyncRun.id.desc()).limit(1)) or 0

    def kill_leftovers(self, last_run: int) -> None:
        """What SIGKILL leaves: the run still 'running', the lock held by a process now gone."""
        with self.database.session() as session:
            run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(1)).first()
            if run is None or run.id <= last_run or run.status != INTERRUPTED:
                return
            session.execute(update(SyncRun).where(SyncRun.id == run.id).values(status="running"))
        self.leave_dead_lock(run.id)
        self.counts["killed"] += 1

    def leave_dead_lock(self, run_id: int | None) -> None:
        with self.database.session() as session:
            session.execute(delete(SyncLock))
            session.add(
                SyncLock(
                    name=journal.LOCK_NAME,
                    holder=dead_holder(),
                    run_id=run_id,
                    expires_at=utcnow() + journal.LOCK_LIFETIME,
                )
            )

    def check_local_members(self, direction: str, warnings: list[str], links: dict[int, str | None]) -> None:
        stored = self.stored_members()
        if direction == "push":
            assert stored == self.members, "a push changed memberships here"
            return
        live, now_there = self.ctct()
        unexplained: list[tuple[int, str]] = []
        for list_id, emails in self.members.items():
            for email in emails - stored.get(list_id, set()):
                ctct_list_id = links.get(list_id)
                pair = (ctct_list_id, email)
                # An unsubscribe in CTCT takes the contact off every list here, linked or not (SPEC §7).
                really_removed = email in self.unsubscribed_there or (
                    ctct_list_id is not None
                    and (ctct_list_id not in live or (pair in self.seen_in_ctct and pair not in now_there))
                )
                if not really_removed:
                    unexplained.append((list_id, email))
        warned = sum(int(m.group(1).replace(",", "")) for w in warnings if (m := ADDED_HERE.match(w)))
        assert len(unexplained) <= warned, (
            f"a pull removed {sorted(unexplained)} here although CTCT never removed them (warned of {warned})"
        )
        for list_id, emails in stored.items():
            gained = emails - self.members.get(list_id, set())
            ctct_list_id = self.links().get(list_id)
            for email in gained:
                assert (ctct_list_id, email) in self.seen_in_ctct, f"a pull added {email} that CTCT never held"
        self.members = stored

    def check_baseline(
        self, old_lists: set[str], old: set[Pair], ctct_before: set[Pair], linked_before: set[Pair], completed: bool
    ) -> None:
        covered_lists, baseline = self.baseline()
        live, ctct_after = self.ctct()
        linked_after = self.linked_pairs()
        covered = covered_lists & set(live) & {list_id for list_id in self.links().values() if list_id}

        def within(pairs: set[Pair]) -> set[Pair]:
            return {pair for pair in pairs if pair[0] in covered}

        concurrent_here = {(self.links().get(list_id), email) for list_id, email in self.concurrent_here}
        # A list new to the baseline has no agreement to keep: where the sides differ on it, the
        # baseline can side with either.
        new_lists = covered - old_lists
        for side, before, after, concurrent, other in (
            ("CTCT", ctct_before, ctct_after, self.concurrent_there, linked_after),
            ("here", linked_before, linked_after, concurrent_here, ctct_after),
        ):
            allowed = within(old ^ before) | concurrent | {p for p in after ^ other if p[0] in new_lists}
            if not completed:
                # A run that stopped may have changed a side towards the other without recording it.
                allowed |= {pair for pair in within(before ^ after) if (pair in after) == (pair in other)}
            false_claims = within(baseline ^ after) - allowed
            assert not false_claims, (
                f"the baseline disagrees with {side} on {sorted(false_claims)[:5]} "
                f"({len(false_claims)} pair(s)), which were agreed before the sync"
            )

    # Invariants after every rule

    @invariant()
    def ctct_has_no_duplicates(self) -> None:
        if not hasattr(self, "client"):
            return
        with self.sandbox.lock:
            account = self.account()
            emails = [contact.email.lower() for contact in account.contacts.values()]
            names = [item.name.casefold() for item in account.live_lists()]
        assert len(emails) == len(set(emails)), "a contact is in CTCT twice"
        assert len(names) == len(set(names)), "two CTCT lists have one name"

    @invariant()
    def unsubscribed_contacts_stay_unsubscribed(self) -> None:
        if not hasattr(self, "client"):
            return
        with self.sandbox.lock:
            account = self.account()
            for email in self.unsubscribed_there:
                contact = account.find_by_email(email)
                assert contact.permission == "unsubscribed", f"{email} was re-subscribed in CTCT"
                assert not contact.lists, f"{email} was put back on a CTCT list"
        with self.database.session() as session:
            here = set(
                session.scalars(select(Contact.email_key).where(Contact.email_status == EmailStatus.UNSUBSCRIBED))
            )
        assert self.unsubscribed_here <= here, "an opt-out was reversed here"
        assert here <= self.unsubscribed_there, "a contact was marked unsubscribed here that CTCT never unsubscribed"
        self.unsubscribed_here = here
        for list_id, emails in self.stored_members().items():
            assert not emails & here, f"an unsubscribed contact is on local list {list_id}"

    @invariant()
    def memberships_here_are_the_models(self) -> None:
        self.counts["invariant checks"] += 1
        if hasattr(self, "client"):
            assert self.stored_members() == self.members

"""Snapshots for the planner built straight from small Python descriptions, strategies over
small worlds, and a pure model of what committing a plan does to each side.

The frames are built as `ctct.sync.local_read` builds them (rows into the same typed columns, then
the same derived columns), so their columns and dtypes are the ones the planner meets in production
(tests/sync/test_one_local_snapshot.py compares them with a snapshot read from a database).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm.eligibility import EligibilityContext, eligibility_reasons
from ctct.crm.normalize import company_name_key, email_keys, name_key
from ctct.sync.local_read import COMPANY_TYPES, CONTACT_TYPES, LIST_TYPES, MEMBER_TYPES
from ctct.sync.plan import Plan
from ctct.sync.snapshot import (
    LOCAL_CONTACT_COLUMNS,
    REMOTE_CONTACT_COLUMNS,
    TEXT,
    Baseline,
    LocalSnapshot,
    RemoteSnapshot,
)

UPDATED_AT = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Here:
    """A contact in the CRM."""

    contact_id: int
    email: str
    first_name: str | None = "Ann"
    last_name: str | None = "Lee"
    job_title: str | None = None
    company: str = "Acme"
    unsubscribed: bool = False
    unsubscribe_source: str | None = None
    ctct_contact_id: str | None = None


@dataclass(frozen=True)
class There:
    """A contact in Constant Contact."""

    ctct_contact_id: str
    email: str
    first_name: str | None = "Ann"
    last_name: str | None = "Lee"
    job_title: str | None = None
    company_name: str | None = "Acme"
    permission: str = "implicit"
    opt_out_source: str | None = None
    deleted: bool = False


def _key(email: str) -> str:
    return email.strip().lower()


def company_ids(contacts: Iterable[Here]) -> dict[str, int]:
    """One company per normalized name, numbered in order of first appearance."""
    ids: dict[str, int] = {}
    for contact in contacts:
        ids.setdefault(company_name_key(contact.company), len(ids) + 1)
    return ids


def local_side(
    lists: Iterable[tuple[int, str, str | None]],
    contacts: Iterable[Here],
    members: Iterable[tuple[int, int]],
    *,
    company_emails: Iterable[str] = (),
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
) -> LocalSnapshot:
    """`lists`: (list_id, name, ctct_list_id); `members`: (list_id, contact_id)."""
    people = list(contacts)
    roles = frozenset(role_addresses)
    list_frame = pd.DataFrame(list(lists), columns=["list_id", "name", "ctct_list_id"]).astype(LIST_TYPES)
    list_frame["name_key"] = list_frame["name"].map(name_key).astype(TEXT)
    companies = company_ids(people)
    rows = [
        (
            person.contact_id,
            companies[company_name_key(person.company)],
            person.company,
            person.first_name,
            person.last_name,
            person.email,
            person.job_title,
            person.unsubscribed,
            person.unsubscribe_source,
            person.ctct_contact_id,
        )
        for person in people
    ]
    contact_frame = pd.DataFrame(rows, columns=LOCAL_CONTACT_COLUMNS).astype(CONTACT_TYPES)
    # As the snapshot readers key them: the planner trusts these keys.
    contact_frame["email_key"] = email_keys(contact_frame["email"])
    shared = Counter(_key(person.email) for person in people)
    context = EligibilityContext(
        company_emails=frozenset(_key(email) for email in company_emails),
        email_counts={key: count for key, count in shared.items() if count > 1},
        role_addresses=roles,
    )
    contact_frame["reason"] = eligibility_reasons(contact_frame, context)
    member_frame = pd.DataFrame(sorted(set(members)), columns=["list_id", "contact_id"]).astype(MEMBER_TYPES)
    first_names: dict[str, str] = {}
    for person in people:
        first_names.setdefault(company_name_key(person.company), person.company)
    company_frame = pd.DataFrame(
        [(company_id, first_names[key], key) for key, company_id in companies.items()],
        columns=["company_id", "name", "name_key"],
    ).astype(COMPANY_TYPES)
    return LocalSnapshot(list_frame, contact_frame, member_frame, company_frame, roles)


def remote_side(
    lists: Iterable[tuple[str, str]],
    contacts: Iterable[There],
    members: Iterable[tuple[str, str]],
    *,
    counts: dict[str, int] | None = None,
) -> RemoteSnapshot:
    """`lists`: (ctct_list_id, name); `members`: (ctct_list_id, ctct_contact_id). A list's
    `membership_count` is its number of members unless `counts` says otherwise."""
    pairs = sorted(set(members))
    per_list = {**Counter(list_id for list_id, _contact in pairs), **(counts or {})}
    list_rows = [(list_id, name, int(per_list.get(list_id, 0))) for list_id, name in lists]
    list_frame = pd.DataFrame(list_rows, columns=["ctct_list_id", "name", "membership_count"])
    list_frame["name_key"] = list_frame["name"].map(name_key)
    rows = [
        (
            person.ctct_contact_id,
            person.email,
            person.first_name,
            person.last_name,
            person.job_title,
            person.company_name,
            person.permission,
            person.opt_out_source,
            person.deleted,
            UPDATED_AT,
        )
        for person in contacts
    ]
    contact_frame = pd.DataFrame(rows, columns=REMOTE_CONTACT_COLUMNS)
    # As the snapshot readers key them: the planner trusts these keys.
    contact_frame["email_key"] = email_keys(contact_frame["email"])
    member_frame = pd.DataFrame(pairs, columns=["ctct_list_id", "ctct_contact_id"])
    return RemoteSnapshot(list_frame, contact_frame, member_frame, taken_at=UPDATED_AT, requests=3)


BASELINE_CONTACT_COLUMNS = ["email_key", "first_name", "last_name", "company_name", "job_title"]


def baseline_of(
    lists: Iterable[tuple[str, str]] = (),
    members: Iterable[tuple[str, str]] = (),
    contacts: Iterable[tuple[str, str | None, str | None, str | None, str | None]] = (),
) -> Baseline:
    """`lists`: (ctct_list_id, name); `members`: (ctct_list_id, email_key); `contacts`:
    (email_key, first_name, last_name, company_name, job_title)."""
    return Baseline(
        lists=pd.DataFrame(list(lists), columns=["ctct_list_id", "name"]),
        members=pd.DataFrame(sorted(set(members)), columns=["ctct_list_id", "email_key"]),
        contacts=pd.DataFrame(list(contacts), columns=BASELINE_CONTACT_COLUMNS),
    )


# A world: both sides and the baseline as plain Python, which the model below changes.


@dataclass(frozen=True)
class World:
    local_lists: tuple[tuple[int, str, str | None], ...]
    local_contacts: tuple[Here, ...]
    local_members: frozenset[tuple[int, int]]
    remote_lists: tuple[tuple[str, str], ...]
    remote_contacts: tuple[There, ...]
    remote_members: frozenset[tuple[str, str]]
    baseline_lists: tuple[tuple[str, str], ...] = ()
    baseline_members: frozenset[tuple[str, str]] = frozenset()
    baseline_contacts: tuple[tuple[str, str | None, str | None, str | None, str | None], ...] = ()
    remote_counts: dict[str, int] = field(default_factory=dict)

    def local(self) -> LocalSnapshot:
        return local_side(self.local_lists, self.local_contacts, self.local_members)

    def remote(self) -> RemoteSnapshot:
        return remote_side(self.remote_lists, self.remote_contacts, self.remote_members, counts=self.remote_counts)

    def baseline(self) -> Baseline:
        return baseline_of(self.baseline_lists, self.baseline_members, self.baseline_contacts)

    def snapshots(self) -> tuple[LocalSnapshot, RemoteSnapshot, Baseline]:
        return self.local(), self.remote(), self.baseline()


def shuffled(snapshots: tuple[LocalSnapshot, RemoteSnapshot, Baseline], seed: int) -> tuple[Any, ...]:
    """The same snapshots with the rows of every frame in another order (as a database may)."""

    def mix(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sample(frac=1, random_state=seed).reset_index(drop=True)

    local, remote, baseline = snapshots
    return (
        replace(
            local,
            lists=mix(local.lists),
            contacts=mix(local.contacts),
            members=mix(local.members),
            companies=mix(local.companies),
        ),
        replace(remote, lists=mix(remote.lists), contacts=mix(remote.contacts), members=mix(remote.members)),
        replace(baseline, lists=mix(baseline.lists), members=mix(baseline.members), contacts=mix(baseline.contacts)),
    )


# Strategies

LIST_NAMES = ["News", "news", "Events", "VIP", "Partners", "General Interest"]
EMAILS = [
    "ann@acme.com",
    "Ann@acme.com",
    "bo@acme.com",
    "cy@beta.org",
    "dee@beta.org",
    "info@acme.com",
    "sales@beta.org",
    "eve@gmail.com",
]
FIRST_NAMES = [None, "Ann", "Bo", "Cy"]
JOB_TITLES = [None, "CEO", "Buyer"]
COMPANIES = ["Acme", "Beta", "Acme Inc"]


def _unique_by_key(values: list[str], key: Any) -> list[str]:
    seen: set[str] = set()
    kept = []
    for value in values:
        if key(value) not in seen:
            seen.add(key(value))
            kept.append(value)
    return kept


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """A few lists and contacts on each side: role addresses, unsubscribed and deleted contacts,
    two contacts here sharing an email in another case, links by id, stale links, a baseline."""
    remote_names = _unique_by_key(draw(st.lists(st.sampled_from(LIST_NAMES), max_size=4)), name_key)
    remote_lists = tuple((f"L{index}", name) for index, name in enumerate(remote_names))
    remote_ids = [list_id for list_id, _name in remote_lists]

    remote_emails = _unique_by_key(draw(st.lists(st.sampled_from(EMAILS), max_size=5)), _key)
    remote_contacts = []
    for index, email in enumerate(remote_emails):
        status = draw(st.sampled_from(["implicit", "implicit", "explicit", "unsubscribed", "deleted"]))
        remote_contacts.append(
            There(
                f"C{index}",
                email,
                first_name=draw(st.sampled_from(FIRST_NAMES)),
                last_name="Lee",
                job_title=draw(st.sampled_from(JOB_TITLES)),
                company_name=draw(st.sampled_from([None, *COMPANIES])),
                permission="unsubscribed" if status == "unsubscribed" else "implicit",
                opt_out_source="Contact" if status == "unsubscribed" else None,
                deleted=status == "deleted",
            )
        )
    # CTCT holds no unsubscribed or deleted contact on a list.
    active = [c.ctct_contact_id for c in remote_contacts if c.permission != "unsubscribed" and not c.deleted]
    remote_members = _pairs(draw, remote_ids, active)

    local_names = _unique_by_key(draw(st.lists(st.sampled_from(LIST_NAMES), max_size=4)), name_key)
    link_choices = st.sampled_from([None, "gone", *remote_ids])
    links = [draw(link_choices) for _name in local_names]
    links = [link if link is None or links.index(link) == index else None for index, link in enumerate(links)]
    local_lists = tuple(
        (index + 1, name, "L-gone" if link == "gone" else link)
        for index, (name, link) in enumerate(zip(local_names, links, strict=True))
    )

    local_emails = draw(st.lists(st.sampled_from(EMAILS), max_size=5))
    remote_by_key = {_key(c.email): c.ctct_contact_id for c in remote_contacts}
    local_contacts = []
    used_ids: set[str] = set()
    for index, email in enumerate(local_emails):
        remote_id = remote_by_key.get(_key(email))
        linked = remote_id is not None and remote_id not in used_ids and draw(st.booleans())
        if linked:
            used_ids.add(remote_id)
        unsubscribed = draw(st.sampled_from([False, False, False, True]))
        local_contacts.append(
            Here(
                index + 1,
                email,
                first_name=draw(st.sampled_from(FIRST_NAMES)),
                last_name=draw(st.sampled_from([None, "Lee"])),
                job_title=draw(st.sampled_from(JOB_TITLES)),
                company=draw(st.sampled_from(COMPANIES)),
                unsubscribed=unsubscribed,
                unsubscribe_source=draw(st.sampled_from(["ctct:Contact", "Customer Focus"])) if unsubscribed else None,
                ctct_contact_id=remote_id if linked else None,
            )
        )
    local_members = _pairs(draw, [row[0] for row in local_lists], [c.contact_id for c in local_contacts])

    baseline_ids = draw(st.lists(st.sampled_from([*remote_ids, "L-gone"]), unique=True)) if remote_ids else []
    names = dict(remote_lists)
    baseline_lists = tuple(
        (list_id, draw(st.sampled_from([names.get(list_id, "Old name"), "Old name"]))) for list_id in baseline_ids
    )
    keys = sorted({_key(email) for email in [*remote_emails, *local_emails]})
    baseline_members = _pairs(draw, baseline_ids, keys)
    baseline_contacts = (
        tuple(
            (key, draw(st.sampled_from(FIRST_NAMES)), "Lee", draw(st.sampled_from([None, *COMPANIES])), None)
            for key in draw(st.lists(st.sampled_from(keys), unique=True))
        )
        if keys
        else ()
    )
    return World(
        local_lists,
        tuple(local_contacts),
        local_members,
        remote_lists,
        tuple(remote_contacts),
        remote_members,
        baseline_lists,
        baseline_members,
        baseline_contacts,
    )


def _pairs(draw: st.DrawFn, left: list[Any], right: list[Any]) -> frozenset[tuple[Any, Any]]:
    if not left or not right:
        return frozenset()
    return frozenset(draw(st.lists(st.tuples(st.sampled_from(left), st.sampled_from(right)), max_size=8)))


# The model: what a commit does to the side a plan changes, and what both sides then agree on.


def _rows(plan: Plan, kind: str) -> list[dict[str, Any]]:
    frame = plan[kind]
    return [
        {
            name: (None if not isinstance(value, (list, tuple)) and pd.isna(value) else value)
            for name, value in row.items()
        }
        for row in frame.to_dict("records")
    ]


def push_applied(world: World, plan: Plan) -> World:
    """Constant Contact after a committed push, and the CRM linked to what it created."""
    remote_names = dict(world.remote_lists)
    local_links = {list_id: ctct_id for list_id, _name, ctct_id in world.local_lists}
    for row in _rows(plan, "lists_create"):
        ctct_id = row["ctct_list_id"] if row["link"] else f"new-list-{row['list_id']}"
        remote_names.setdefault(ctct_id, row["name"])
        local_links[row["list_id"]] = ctct_id
    for row in _rows(plan, "lists_rename"):
        remote_names[row["ctct_list_id"]] = row["to"]
    members = set(world.remote_members)
    for row in _rows(plan, "lists_delete"):
        remote_names.pop(row["ctct_list_id"], None)
        members = {pair for pair in members if pair[0] != row["ctct_list_id"]}

    remote_contacts = {c.ctct_contact_id: c for c in world.remote_contacts}
    local_contact_links = {c.contact_id: c.ctct_contact_id for c in world.local_contacts}
    for row in _rows(plan, "contacts_link"):
        local_contact_links[row["contact_id"]] = row["ctct_contact_id"]
    for row in _rows(plan, "contacts_create"):
        ctct_id = row["ctct_contact_id"] or f"new-contact-{row['contact_id']}"
        remote_contacts[ctct_id] = There(
            ctct_id, row["email"], row["first_name"], row["last_name"], row["job_title"], row["company"]
        )
        local_contact_links[row["contact_id"]] = ctct_id
    for row in _rows(plan, "contacts_update"):
        before = remote_contacts[row["ctct_contact_id"]]
        remote_contacts[row["ctct_contact_id"]] = replace(
            before,
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            job_title=row["job_title"],
            company_name=row["company"],
        )
    for row in _rows(plan, "memberships_add"):
        list_id = row["ctct_list_id"] or local_links[row["list_id"]]
        members.add((list_id, row["ctct_contact_id"] or local_contact_links[row["contact_id"]]))
    for row in _rows(plan, "memberships_remove"):
        members.discard((row["ctct_list_id"], row["ctct_contact_id"]))

    pushed = replace(
        world,
        local_lists=tuple((list_id, name, local_links[list_id]) for list_id, name, _ctct in world.local_lists),
        local_contacts=tuple(
            replace(c, ctct_contact_id=local_contact_links[c.contact_id]) for c in world.local_contacts
        ),
        remote_lists=tuple(remote_names.items()),
        remote_contacts=tuple(remote_contacts.values()),
        remote_members=frozenset(pair for pair in members if pair[0] in remote_names),
    )
    return agreed(pushed)


def pull_applied(world: World, plan: Plan) -> World:
    """The CRM after a committed pull."""
    lists = {list_id: [name, ctct_id] for list_id, name, ctct_id in world.local_lists}
    next_list = max(lists, default=0) + 1
    by_ctct_list: dict[str, int] = {ctct_id: list_id for list_id, (_name, ctct_id) in lists.items() if ctct_id}
    for row in _rows(plan, "lists_create"):
        list_id = row["list_id"]
        if list_id is None:
            list_id, next_list = next_list, next_list + 1
            lists[list_id] = [row["name"], row["ctct_list_id"]]
        lists[list_id][1] = row["ctct_list_id"]
        by_ctct_list[row["ctct_list_id"]] = list_id
    for row in _rows(plan, "lists_rename"):
        lists[row["list_id"]][0] = row["to"]
    members = set(world.local_members)
    for row in _rows(plan, "lists_delete"):
        del lists[row["list_id"]]
        members = {pair for pair in members if pair[0] != row["list_id"]}

    contacts = {c.contact_id: c for c in world.local_contacts}
    next_contact = max(contacts, default=0) + 1
    by_ctct_contact = {c.ctct_contact_id: c.contact_id for c in world.local_contacts if c.ctct_contact_id}
    for row in _rows(plan, "contacts_create"):
        contacts[next_contact] = Here(
            next_contact,
            row["email"],
            row["first_name"],
            row["last_name"],
            row["job_title"],
            row["company"],
            ctct_contact_id=row["ctct_contact_id"],
        )
        by_ctct_contact[row["ctct_contact_id"]] = next_contact
        next_contact += 1
    for row in _rows(plan, "contacts_link"):
        contacts[row["contact_id"]] = replace(contacts[row["contact_id"]], ctct_contact_id=row["ctct_contact_id"])
        by_ctct_contact[row["ctct_contact_id"]] = row["contact_id"]
    for row in _rows(plan, "contacts_update"):
        filled = {name: row[name] for name in ("first_name", "last_name", "job_title") if row[name] is not None}
        contacts[row["contact_id"]] = replace(contacts[row["contact_id"]], **filled)
    for row in _rows(plan, "contacts_unsubscribed"):
        contacts[row["contact_id"]] = replace(
            contacts[row["contact_id"]], unsubscribed=True, unsubscribe_source=row["source"]
        )
    for row in _rows(plan, "contacts_resubscribed"):
        contacts[row["contact_id"]] = replace(contacts[row["contact_id"]], unsubscribed=False, unsubscribe_source=None)
    for row in _rows(plan, "memberships_add"):
        list_id = row["list_id"] or by_ctct_list[row["ctct_list_id"]]
        members.add((list_id, row["contact_id"] or by_ctct_contact[row["ctct_contact_id"]]))
    for row in _rows(plan, "memberships_remove"):
        members.discard((row["list_id"], row["contact_id"]))

    pulled = replace(
        world,
        local_lists=tuple((list_id, name, ctct_id) for list_id, (name, ctct_id) in lists.items()),
        local_contacts=tuple(contacts.values()),
        local_members=frozenset(pair for pair in members if pair[0] in lists),
    )
    return agreed(pulled)


def agreed(world: World) -> World:
    """The world with the baseline both sides now agree on: linked lists and their names, the
    members both sides hold, the fields both sides hold. Where the sides still differ, the old
    baseline's word stands (the difference stays visible to the next plan)."""
    remote_names = dict(world.remote_lists)
    old_names = dict(world.baseline_lists)
    linked = {ctct_id: name for _id, name, ctct_id in world.local_lists if ctct_id in remote_names}
    lists = tuple(
        (ctct_id, name if name == remote_names[ctct_id] else old_names.get(ctct_id, remote_names[ctct_id]))
        for ctct_id, name in linked.items()
    )
    local_keys = {c.contact_id: _key(c.email) for c in world.local_contacts}
    remote_keys = {c.ctct_contact_id: _key(c.email) for c in world.remote_contacts}
    list_of = {list_id: ctct_id for list_id, _name, ctct_id in world.local_lists}
    here = {(list_of[list_id], local_keys[contact]) for list_id, contact in world.local_members}
    there = {(list_id, remote_keys[contact]) for list_id, contact in world.remote_members}
    kept = {pair for pair in world.baseline_members if (pair in here) != (pair in there)}
    members = frozenset(pair for pair in (here & there) | kept if pair[0] in linked)

    old_fields = {row[0]: row for row in world.baseline_contacts}
    remote_by_id = {c.ctct_contact_id: c for c in world.remote_contacts}
    fields = []
    for person in world.local_contacts:
        there_person = remote_by_id.get(person.ctct_contact_id)
        if there_person is None:
            continue
        key = _key(person.email)
        mine = (key, person.first_name, person.last_name, person.company, person.job_title)
        theirs = (key, there_person.first_name, there_person.last_name, there_person.company_name)
        if mine[:4] == theirs and person.job_title == there_person.job_title:
            fields.append(mine)
        elif key in old_fields:
            fields.append(old_fields[key])
    return replace(
        world,
        baseline_lists=lists,
        baseline_members=members,
        baseline_contacts=tuple(dict((row[0], row) for row in fields).values()),
    )

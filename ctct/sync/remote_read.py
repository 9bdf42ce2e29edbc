"""Constant Contact as a RemoteSnapshot for a plan: read incrementally where that can be trusted.

A preview reads CTCT's lists (one listing, with their member counts) and only the contacts
updated since the newest update the mirror (ctct/sync/mirror.py) holds — one request when
nothing changed, ⌈k/500⌉ after k changes — merges them into the mirror and reads the mirror back
whole. That is exactly a full read as long as every change CTCT makes to a contact, its list
memberships included, moves the contact's `updated_at`: UNCONFIRMED for membership changes. So the
full read (ctct/sync/remote_full.py) replaces the mirror instead when there is none yet, when it
is of another account, when the last full read is older than `full_read_every`, when a push
stopped half-way, when CTCT's lists are not the mirror's or a list's member count disagrees with
the mirror's — and, in SyncService.plan, before any plan that removes members or deletes lists.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ctct.api.client import CtctClient
from ctct.api.contacts import Contact
from ctct.config import Settings
from ctct.crm.normalize import email_keys
from ctct.db import Database
from ctct.sync import journal, mirror
from ctct.sync.merge import MergePlan
from ctct.sync.outcome import Outcome
from ctct.sync.plan import Plan
from ctct.sync.remote_full import contact_row, ctct_lists, full_remote_read
from ctct.sync.snapshot import RemoteSnapshot

# How far CTCT's clock may run behind ours (both keep network time): a read's changes bound
# starts that much earlier. Contacts changed in that second before a read come again with the
# next one (harmless: a merge replaces them); a larger skew only narrows what the bound catches.
CLOCK_MARGIN = dt.timedelta(seconds=1)
INCREMENTAL = "incremental"


@dataclass(frozen=True)
class ReadPolicy:
    """When the incremental read must give way to a full one; `clock` gives epoch seconds."""

    full_read_every: dt.timedelta = dt.timedelta(hours=24)
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] | None = None) -> ReadPolicy:
        return cls(dt.timedelta(hours=settings.full_read_hours), clock or time.time)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)


@dataclass
class RemoteRead:
    snapshot: RemoteSnapshot
    # A full read (verified), or the merge of the changes since into the mirror.
    verified: bool
    # Why the read was full, or INCREMENTAL.
    reason: str


def read_remote(
    client: CtctClient,
    database: Database,
    policy: ReadPolicy,
    progress: Callable[[str], None] | None = None,
    *,
    full_because: str | None = None,
) -> RemoteRead:
    """CTCT as it is now; read fully when `full_because` is given or the mirror cannot be trusted."""
    account = account_of(client)
    state = mirror.status(database)
    reason = full_because or _distrust(state, account, policy)
    if reason is not None:
        return _full_read(client, database, account, policy, reason, progress)
    assert state is not None  # _distrust refuses a missing mirror
    before = client.budget.used()
    started = policy.now()
    lists = ctct_lists(client)
    # By id: a contact changed again while the pages were read counts once, as last seen.
    changed: dict[str, Contact] = {}
    for contact in client.contacts.iterate(
        status="all", updated_after=state.newest_updated_at, include="list_memberships"
    ):
        changed[contact["contact_id"]] = contact
    rows = [contact_row(contact) for contact in changed.values()]
    member_rows = [
        (contact_id, list_id)
        for contact_id, contact in changed.items()
        for list_id in contact.get("list_memberships", [])
    ]
    mirror.merge(database, rows, member_rows, changes_bound=started - CLOCK_MARGIN)
    contacts, members = mirror.read(database)
    mismatch = _lists_disagree(lists, members, state.list_ids)
    used = client.budget.used() - before
    if mismatch is not None:
        full = _full_read(client, database, account, policy, mismatch, progress)
        full.snapshot.requests += used
        return full
    taken_at = policy.now().isoformat()
    snapshot = RemoteSnapshot(lists, contacts, members, taken_at, used, changes_after=_changes_after(database))
    return RemoteRead(snapshot, verified=False, reason=INCREMENTAL)


def removes_or_deletes(plan: Plan | MergePlan) -> bool:
    """Whether a plan removes members (on either side) or deletes lists: a plan that must rest
    on a full read, never on the incremental one alone."""
    return bool(len(plan["memberships_remove"]) or len(plan["lists_delete"]))


def observe_push(database: Database, plan: Plan, outcome: Outcome) -> None:
    """After a push, the mirror takes the members of every list it touched as the push observed
    them (ctct/sync/push_check.py) and CTCT's lists as listed after it: the push's own membership
    changes then hold in the mirror whether or not CTCT moved `updated_at` for them. Contacts the
    push created or whose fields it changed have a newer `updated_at`, so the next incremental read
    fetches them. Without that observation the mirror stays marked for a full read."""
    if plan.remote is None or outcome.remote_lists is None:
        mirror.replace_list_members(database, {}, [], trusted=False)
        return
    known = plan.remote.contacts[["email", "ctct_contact_id"]]
    ids_by_email = dict(zip(email_keys(known["email"]), known["ctct_contact_id"], strict=True))
    members = {
        list_id: {ids_by_email[email] for email in emails if email in ids_by_email}
        for list_id, emails in outcome.remote_members.items()
    }
    mirror.replace_list_members(database, members, outcome.remote_lists["ctct_list_id"], trusted=True)


def account_of(client: CtctClient) -> str:
    """The CTCT account the client is connected to, as activation recorded it."""
    connection = client.authorization.tokens.connection()
    if connection is None:
        return ""
    return f"{connection.account_name or ''}\n{connection.account_email or ''}"


def _distrust(state: mirror.MirrorStatus | None, account: str, policy: ReadPolicy) -> str | None:
    """Why the mirror cannot be the base of an incremental read, or None when it can."""
    if state is None:
        return "no mirror of Constant Contact yet"
    if state.account != account:
        return "the mirror is of another Constant Contact account"
    if state.needs_full_read:
        return "a push stopped before what it did was observed"
    if policy.now() - state.full_read_at >= policy.full_read_every:
        return f"the last full read is older than {policy.full_read_every}"
    return None


def _lists_disagree(lists: pd.DataFrame, members: pd.DataFrame, known: frozenset[str]) -> str | None:
    """Why CTCT's lists contradict the merged mirror (lists that came or went, a member count
    that differs), or None: the check that catches changes `updated_after` did not show."""
    listed = set(lists["ctct_list_id"])
    if listed != known:
        return "Constant Contact's lists are not those of the mirror"
    held = members.groupby("ctct_list_id").size().to_dict() if len(members) else {}
    for list_id, count in zip(lists["ctct_list_id"], lists["membership_count"], strict=True):
        if int(held.get(list_id, 0)) != int(count):
            return "a list's member count in Constant Contact differs from the mirror's"
    if set(held) - listed:
        return "the mirror holds members of lists Constant Contact no longer has"
    return None


def _full_read(
    client: CtctClient,
    database: Database,
    account: str,
    policy: ReadPolicy,
    reason: str,
    progress: Callable[[str], None] | None,
) -> RemoteRead:
    read_at = policy.now()
    snapshot = full_remote_read(client, progress, reason=reason)
    mirror.replace(
        database,
        account,
        snapshot.contacts,
        snapshot.members,
        snapshot.lists["ctct_list_id"],
        read_at,
        changes_bound=read_at - CLOCK_MARGIN,
        push_running=journal.current_lock(database) is not None,
    )
    snapshot.changes_after = _changes_after(database)
    return RemoteRead(snapshot, verified=True, reason=reason)


def _changes_after(database: Database) -> str | None:
    """The `updated_after` from which CTCT's changes are not yet in the mirror."""
    state = mirror.status(database)
    return None if state is None else state.newest_updated_at

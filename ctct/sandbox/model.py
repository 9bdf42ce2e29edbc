"""The state of emulated CTCT accounts: lists, contacts, bulk activities — no HTTP here.

Time comes from the configured clock, and activities advance lazily: every request first calls
`Account.advance(now)`, which moves queued and running activities along and applies the effects
of those that finished. That keeps the emulator deterministic under a test clock and needs no
background threads.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ctct.sandbox.exports import export_csv, status_matches
from ctct.sandbox.validation import RowProblem, import_rows

MAX_LISTS = 1_000
MAX_LISTS_PER_CONTACT = 50
DEFAULT_LIST_NAME = "General Interest"
MAX_QUEUED_ACTIVITIES = 1_000

ACTIVITY_IMPORT = "contacts_json_import"
ACTIVITY_ADD = "add_list_memberships"
ACTIVITY_REMOVE = "remove_list_memberships"
ACTIVITY_CONTACT_DELETE = "contact_delete"
ACTIVITY_LIST_DELETE = "list_delete"
ACTIVITY_EXPORT = "contact_exports"

PERMISSIONS = frozenset({"explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed"})
SOURCES = frozenset({"Account", "Contact"})
CONTACT_FIELDS = ("first_name", "last_name", "job_title", "company_name")


def _strings(value: Any) -> list[str]:
    """A payload's id array. The API checked it, but a state file may be older: an array that is
    not one of strings fails the activity rather than being read as something else."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"an array of ids was expected, not {json.dumps(value)[:100]}")
    return value


def new_id() -> str:
    return str(uuid.uuid4())


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_date(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")


class SandboxError(Exception):
    """A request the emulated API refuses: HTTP status, CTCT error key and message."""

    def __init__(self, status: int, error_key: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_key = error_key
        self.message = message


@dataclass
class ContactList:
    list_id: str
    name: str
    seq: int
    created_at: float
    updated_at: float
    description: str | None = None
    favorite: bool = False
    deleted_at: float | None = None
    # Set while a DELETE's activity is queued or running: the list no longer counts as live.
    deleting: bool = False
    members: set[str] = field(default_factory=set)

    def to_json(self, membership_count: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "list_id": self.list_id,
            "name": self.name,
            "favorite": self.favorite,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if self.description is not None:
            body["description"] = self.description
        if self.deleted_at is not None:
            body["deleted_at"] = iso(self.deleted_at)
        if membership_count is not None:
            body["membership_count"] = membership_count
        return body


class Contact:
    """One CTCT contact. Slots keep 200,000 of them small."""

    __slots__ = (
        "company_name",
        "contact_id",
        "create_source",
        "created_at",
        "deleted_at",
        "email",
        "email_created_at",
        "email_updated_at",
        "first_name",
        "job_title",
        "last_name",
        "lists",
        "opt_in_date",
        "opt_in_source",
        "opt_out_date",
        "opt_out_reason",
        "opt_out_source",
        "permission",
        "seq",
        "update_source",
        "updated_at",
    )

    def __init__(self, contact_id: str, email: str | None, seq: int, now: float, source: str, permission: str) -> None:
        self.contact_id = contact_id
        # None for a contact created with a name only, as CTCT allows.
        self.email = email
        self.seq = seq
        self.created_at = self.updated_at = self.email_created_at = self.email_updated_at = now
        self.create_source = self.update_source = source
        self.permission = permission
        self.opt_in_source: str | None = source if permission in {"explicit", "implicit"} else None
        self.opt_in_date: float | None = now if self.opt_in_source else None
        self.opt_out_source: str | None = None
        self.opt_out_date: float | None = None
        self.opt_out_reason: str | None = None
        self.first_name: str | None = None
        self.last_name: str | None = None
        self.job_title: str | None = None
        self.company_name: str | None = None
        self.deleted_at: float | None = None
        self.lists: set[str] = set()

    @property
    def unsubscribed_by_contact(self) -> bool:
        return self.permission == "unsubscribed" and self.opt_out_source == "Contact"

    def status_matches(self, statuses: frozenset[str] | None) -> bool:
        if statuses is None:
            return self.deleted_at is None
        if "all" in statuses:
            return True
        if self.deleted_at is not None:
            return "deleted" in statuses
        if "active" in statuses and self.permission in {"explicit", "implicit"}:
            return True
        return self.permission in statuses

    def email_json(self) -> dict[str, Any]:
        email: dict[str, Any] = {
            "address": self.email,
            "permission_to_send": self.permission,
            "created_at": iso(self.email_created_at),
            "updated_at": iso(self.email_updated_at),
            "confirm_status": "off",
        }
        if self.opt_in_source:
            email["opt_in_source"] = self.opt_in_source
        if self.opt_in_date is not None:
            email["opt_in_date"] = iso(self.opt_in_date)
        if self.permission == "unsubscribed":
            email["opt_out_source"] = self.opt_out_source or "Account"
            email["opt_out_date"] = iso(self.opt_out_date or self.updated_at)
            if self.opt_out_reason:
                email["opt_out_reason"] = self.opt_out_reason
        return email

    def to_json(self, include: frozenset[str] = frozenset()) -> dict[str, Any]:
        body: dict[str, Any] = {"contact_id": self.contact_id}
        if self.email is not None:
            body["email_address"] = self.email_json()
        for name in CONTACT_FIELDS:
            value = getattr(self, name)
            if value:
                body[name] = value
        body["create_source"] = self.create_source
        body["update_source"] = self.update_source
        body["created_at"] = iso(self.created_at)
        body["updated_at"] = iso(self.updated_at)
        if self.deleted_at is not None:
            body["deleted_at"] = iso_date(self.deleted_at)
        if "list_memberships" in include:
            body["list_memberships"] = sorted(self.lists)
        for empty in include & {"custom_fields", "phone_numbers", "street_addresses", "taggings", "notes"}:
            body[empty] = []
        return body

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if name != "lists"} | {"lists": sorted(self.lists)}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Contact:
        contact = cls.__new__(cls)
        for name in cls.__slots__:
            setattr(contact, name, data.get(name))
        contact.lists = set(data.get("lists") or ())
        return contact


@dataclass
class Activity:
    activity_id: str
    kind: str
    payload: dict[str, Any]
    created_at: float
    updated_at: float
    state: str = "initialized"
    started_at: float | None = None
    completed_at: float | None = None
    percent_done: int = 0
    errors: list[str] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    fail: bool = False
    # A completed contact export's CSV file, served by GET /contact_exports/{activity_id}.
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "activity_id": self.activity_id,
            "state": self.state,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "percent_done": self.percent_done,
            "activity_errors": list(self.errors),
            "status": dict(self.status),
            "_links": {"self": {"href": f"/v3/activities/{self.activity_id}"}},
        }
        if self.kind == ACTIVITY_EXPORT and self.state == "completed":
            # The file's id is the activity's, as in CTCT's own example.
            body["_links"]["results"] = {"href": f"/v3/contact_exports/{self.activity_id}"}
        if self.started_at is not None:
            body["started_at"] = iso(self.started_at)
        if self.completed_at is not None:
            body["completed_at"] = iso(self.completed_at)
        return body

    def state_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Account:
    """One CTCT account's data and its activity queue."""

    def __init__(
        self, username: str, now: float, activity_seconds: float, *, membership_bumps_updated_at: bool = True
    ) -> None:
        self.username = username
        self.activity_seconds = activity_seconds
        self.membership_bumps_updated_at = membership_bumps_updated_at
        self.lists: dict[str, ContactList] = {}
        self.contacts: dict[str, Contact] = {}
        self.by_email: dict[str, str] = {}
        self.activities: dict[str, Activity] = {}
        self.queue: list[str] = []
        self.next_seq = 1
        # Contacts in creation order, for cursor paging: parallel lists of seq and id.
        self.order_seq: list[int] = []
        self.order_id: list[str] = []
        self.membership_version = 0
        self._member_order: dict[frozenset[str], tuple[int, list[int], list[str]]] = {}
        self.create_list(DEFAULT_LIST_NAME, now)

    # Lists

    def live_lists(self) -> list[ContactList]:
        return [item for item in self.lists.values() if item.deleted_at is None and not item.deleting]

    def get_list(self, list_id: str, *, include_deleted: bool = False) -> ContactList:
        found = self.lists.get(list_id)
        if found is None or (found.deleted_at is not None and not include_deleted):
            raise SandboxError(404, "contact_lists.api.not_found", f"List {list_id} not found")
        return found

    def _name_taken(self, name: str, except_id: str | None = None) -> bool:
        folded = name.strip().casefold()
        return any(
            item.name.casefold() == folded and item.list_id != except_id
            for item in self.lists.values()
            if item.deleted_at is None
        )

    def create_list(self, name: str, now: float, description: str | None = None, favorite: bool = False) -> ContactList:
        if self._name_taken(name):
            raise SandboxError(409, "contact_lists.api.conflict", "The contact list name provided is already in use")
        if len([item for item in self.lists.values() if item.deleted_at is None]) >= MAX_LISTS:
            raise SandboxError(400, "contact_lists.api.limit", f"An account can have at most {MAX_LISTS} lists")
        created = ContactList(new_id(), name.strip(), self._seq(), now, now, description, favorite)
        self.lists[created.list_id] = created
        return created

    def update_list(self, list_id: str, name: str, now: float, description: str | None, favorite: bool) -> ContactList:
        target = self.get_list(list_id)
        if self._name_taken(name, except_id=list_id):
            raise SandboxError(
                400, "contact_lists.api.validation.error", "The contact list name provided is already in use"
            )
        target.name, target.description, target.favorite, target.updated_at = name.strip(), description, favorite, now
        return target

    def _delete_list_now(self, target: ContactList, now: float) -> None:
        for contact_id in target.members:
            self.contacts[contact_id].lists.discard(target.list_id)
        target.members = set()
        self.membership_version += 1
        target.deleted_at = now
        target.deleting = False
        target.updated_at = now

    # Contacts

    def _seq(self) -> int:
        self.next_seq += 1
        return self.next_seq

    def find_by_email(self, email: str) -> Contact | None:
        contact_id = self.by_email.get(email.strip().lower())
        return self.contacts.get(contact_id) if contact_id else None

    def get_contact(self, contact_id: str) -> Contact:
        found = self.contacts.get(contact_id)
        if found is None:
            raise SandboxError(404, "contacts.api.not_found", f"Contact {contact_id} not found")
        return found

    def new_contact(self, email: str | None, now: float, source: str, permission: str) -> Contact:
        address = email.strip() if email is not None else None
        contact = Contact(new_id(), address, self._seq(), now, source, permission)
        self.contacts[contact.contact_id] = contact
        if address is not None:
            self.by_email[address.lower()] = contact.contact_id
        self.order_seq.append(contact.seq)
        self.order_id.append(contact.contact_id)
        return contact

    def change_email(self, contact: Contact, email: str, now: float) -> None:
        key = email.strip().lower()
        if contact.email is not None and key == contact.email.lower():
            contact.email = email.strip()
            return
        if key in self.by_email:
            raise SandboxError(409, "contacts.api.conflict", "Validation failed: EmailAddress is not unique")
        if contact.email is None:
            contact.email_created_at = now
        else:
            del self.by_email[contact.email.lower()]
        self.by_email[key] = contact.contact_id
        contact.email, contact.email_updated_at = email.strip(), now

    def set_memberships(self, contact: Contact, list_ids: Iterable[str]) -> None:
        for list_id in contact.lists - set(list_ids):
            self.lists[list_id].members.discard(contact.contact_id)
        contact.lists = set()
        self.membership_version += 1
        for list_id in list_ids:
            self.add_membership(contact, list_id)

    def add_membership(self, contact: Contact, list_id: str) -> bool:
        """Adds a live contact to a list; False when it would exceed 50 lists."""
        if list_id in contact.lists:
            return True
        if len(contact.lists) >= MAX_LISTS_PER_CONTACT:
            return False
        contact.lists.add(list_id)
        self.lists[list_id].members.add(contact.contact_id)
        self.membership_version += 1
        return True

    def remove_membership(self, contact: Contact, list_id: str) -> bool:
        if list_id not in contact.lists:
            return False
        contact.lists.discard(list_id)
        self.lists[list_id].members.discard(contact.contact_id)
        self.membership_version += 1
        return True

    def unsubscribe(self, contact: Contact, source: str, now: float, reason: str | None = None) -> None:
        if contact.permission != "unsubscribed":
            contact.opt_out_date = now
        contact.permission = "unsubscribed"
        contact.opt_out_source = source
        contact.opt_out_reason = reason
        contact.email_updated_at = now
        self.set_memberships(contact, [])
        contact.updated_at = now

    def resubscribe(self, contact: Contact, permission: str, source: str, now: float) -> None:
        contact.permission = permission
        contact.opt_out_source = contact.opt_out_date = contact.opt_out_reason = None
        contact.opt_in_source, contact.opt_in_date = source, now
        contact.email_updated_at = now

    def delete_contact(self, contact: Contact, now: float) -> None:
        self.set_memberships(contact, [])
        contact.updated_at = now
        contact.deleted_at = now
        contact.updated_at = now

    def revive(self, contact: Contact, now: float) -> None:
        if contact.deleted_at is not None:
            contact.deleted_at = None
            contact.updated_at = now

    def iter_contacts_from(self, after_seq: int, list_ids: frozenset[str] | None) -> Iterator[Contact]:
        """Contacts in creation order after `after_seq`, only members of `list_ids` when given."""
        seqs, ids = self._members_in_order(list_ids) if list_ids else (self.order_seq, self.order_id)
        start = bisect.bisect_right(seqs, after_seq)
        for contact_id in ids[start:]:
            yield self.contacts[contact_id]

    def _members_in_order(self, list_ids: frozenset[str]) -> tuple[list[int], list[str]]:
        # Paging a list asks for the same ordering page after page: sort once per membership change.
        cached = self._member_order.get(list_ids)
        if cached is not None and cached[0] == self.membership_version:
            return cached[1], cached[2]
        members = set().union(*(self.lists[list_id].members for list_id in list_ids if list_id in self.lists))
        ordered = sorted((self.contacts[cid] for cid in members), key=lambda contact: contact.seq)
        seqs, ids = [contact.seq for contact in ordered], [contact.contact_id for contact in ordered]
        self._member_order = {list_ids: (self.membership_version, seqs, ids)}
        return seqs, ids

    # Activities

    def queued_count(self) -> int:
        return len(self.queue)

    def submit(self, kind: str, payload: dict[str, Any], now: float, *, fail: bool = False) -> Activity:
        if self.queued_count() >= MAX_QUEUED_ACTIVITIES:
            raise SandboxError(
                429, "activities.api.queue_full", "You exceeded 1,000 queued activities for this user account."
            )
        activity = Activity(new_id(), kind, payload, now, now, fail=fail)
        self.activities[activity.activity_id] = activity
        self.queue.append(activity.activity_id)
        return activity

    def advance(self, now: float) -> None:
        """Runs the queue up to `now`: one activity at a time, each taking `activity_seconds`."""
        clock = None
        while self.queue:
            activity = self.activities[self.queue[0]]
            if activity.started_at is None:
                start = max(activity.created_at, clock if clock is not None else activity.created_at)
                if start > now:
                    return
                activity.started_at = start
                activity.state = "processing"
                activity.updated_at = start
            finish = activity.started_at + self.activity_seconds
            if finish > now:
                elapsed = now - activity.started_at
                activity.percent_done = max(1, min(99, int(100 * elapsed / max(self.activity_seconds, 1e-9))))
                activity.updated_at = now
                return
            self._complete(activity, finish)
            self.queue.pop(0)
            clock = finish

    def _complete(self, activity: Activity, at: float) -> None:
        if activity.fail:
            activity.state = "failed"
            activity.errors.append("The activity failed (injected by the sandbox).")
            self._release_lists(activity)
        else:
            apply = {
                ACTIVITY_IMPORT: self._apply_import,
                ACTIVITY_ADD: self._apply_add,
                ACTIVITY_REMOVE: self._apply_remove,
                ACTIVITY_CONTACT_DELETE: self._apply_contact_delete,
                ACTIVITY_LIST_DELETE: self._apply_list_delete,
                ACTIVITY_EXPORT: self._apply_export,
            }.get(activity.kind)
            try:
                if apply is None:
                    raise ValueError(f"unknown activity type {activity.kind!r}")
                apply(activity, at)
            except Exception as error:
                # An activity the sandbox cannot carry out (a payload saved by an older version, a
                # bug) fails as an activity, with its error: it must never stay at the head of the
                # queue, where every later request of the account would run it again and fail.
                activity.state = "failed"
                activity.errors.append(f"The sandbox could not run this activity: {type(error).__name__}: {error}")
                self._release_lists(activity)
            activity.state = "failed" if activity.state == "failed" else "completed"
        activity.percent_done = 100
        activity.completed_at = activity.updated_at = at
        # What was imported now lives in the contacts; keeping 40,000 rows per activity would only
        # bloat the state file.
        activity.payload = {key: value for key, value in activity.payload.items() if key != "import_data"}

    def _release_lists(self, activity: Activity) -> None:
        """A list delete that did not happen gives its lists back."""
        if activity.kind != ACTIVITY_LIST_DELETE:
            return
        for list_id in _strings(activity.payload.get("list_ids")):
            if list_id in self.lists:
                self.lists[list_id].deleting = False

    def _apply_import(self, activity: Activity, at: float) -> None:
        """Each row is checked as POST /contacts checks a contact, with the import's own limits; a
        bad row is reported and skipped, never cut to fit. A contact who unsubscribed — themselves or
        by the account — has the given fields updated but is neither re-subscribed nor put on a list
        (`cannot_add_to_list_count`), as CTCT does with previously unsubscribed contacts."""
        rows = activity.payload.get("import_data")
        rows = rows if isinstance(rows, list) else []
        list_ids = [list_id for list_id in _strings(activity.payload.get("list_ids")) if self._list_is_live(list_id)]
        checker = import_rows()
        people = cannot_add = errors = correctable = 0
        for position, row in enumerate(rows, start=1):
            problem = checker.problem(row) if isinstance(row, dict) else RowProblem("must be an object")
            if problem is not None:
                if problem.correctable:
                    correctable += 1
                else:
                    errors += 1
                activity.errors.append(f"Row {position} (import_data[{position - 1}]): {problem.message}")
                continue
            email = str(row["email"]).strip()
            contact = self.find_by_email(email)
            if contact is None:
                contact = self.new_contact(email, at, "Account", "implicit")
            else:
                self.revive(contact, at)
            for name in CONTACT_FIELDS:
                if row.get(name):
                    setattr(contact, name, str(row[name]))
            contact.updated_at = at
            people += 1
            if contact.permission == "unsubscribed":
                cannot_add += 1
                continue
            for list_id in list_ids:
                if not self.add_membership(contact, list_id):
                    errors += 1
                    activity.errors.append(f"Row {position}: {email} is already on {MAX_LISTS_PER_CONTACT} lists")
                    break
        activity.status = {
            "items_total_count": len(rows),
            "person_count": people,
            "error_count": errors,
            "correctable_count": correctable,
            "cannot_add_to_list_count": cannot_add,
        }

    def _list_is_live(self, list_id: str) -> bool:
        found = self.lists.get(list_id)
        return found is not None and found.deleted_at is None

    def _source_contacts(self, payload: dict[str, Any], activity: Activity) -> list[Contact]:
        source = payload.get("source")
        if not isinstance(source, dict):
            raise ValueError("the activity has no source")
        exclude = payload.get("exclude") or {}
        if not isinstance(exclude, dict):
            raise ValueError(f"exclude must be an object with contact_ids, not {json.dumps(exclude)[:100]}")
        excluded = set(_strings(exclude.get("contact_ids")))
        if source.get("contact_ids"):
            chosen = []
            for contact_id in _strings(source["contact_ids"]):
                if contact_id in self.contacts:
                    chosen.append(self.contacts[contact_id])
                else:
                    activity.errors.append(f"Contact {contact_id} not found")
            return chosen
        if source.get("list_ids"):
            wanted = [list_id for list_id in _strings(source["list_ids"]) if list_id in self.lists]
            ids = set().union(*(self.lists[list_id].members for list_id in wanted))
        elif source.get("all_active_contacts") is True:
            ids = {cid for cid, contact in self.contacts.items() if contact.deleted_at is None}
        else:
            raise ValueError("the source names no contacts the sandbox can select")
        return [self.contacts[cid] for cid in sorted(ids - excluded, key=lambda cid: self.contacts[cid].seq)]

    def _apply_add(self, activity: Activity, at: float) -> None:
        """An unsubscribed contact, whoever opted them out, is skipped and counted in
        `cannot_add_to_list_count`, as imports do: an add re-subscribes no one. A contact the account
        unsubscribed "can be added back" (the description of `opt_out_source`) once the account has
        re-subscribed them by PUT; an unsubscribed contact is never on a list."""
        targets = [list_id for list_id in _strings(activity.payload.get("list_ids")) if self._list_is_live(list_id)]
        contacts = self._source_contacts(activity.payload, activity)
        completed = cannot_add = 0
        for contact in contacts:
            if contact.permission == "unsubscribed":
                cannot_add += 1
                continue
            self.revive(contact, at)
            if self.membership_bumps_updated_at:
                contact.updated_at = at
            if all(self.add_membership(contact, list_id) for list_id in targets):
                completed += 1
            else:
                activity.errors.append(
                    f"{contact.email or contact.contact_id} is already on {MAX_LISTS_PER_CONTACT} lists"
                )
        activity.status = {
            "items_total_count": len(contacts),
            "items_completed_count": completed,
            "list_count": len(targets),
            "cannot_add_to_list_count": cannot_add,
        }

    def _apply_remove(self, activity: Activity, at: float) -> None:
        targets = [list_id for list_id in activity.payload["list_ids"] if list_id in self.lists]
        contacts = self._source_contacts(activity.payload, activity)
        for contact in contacts:
            for list_id in targets:
                if self.remove_membership(contact, list_id) and self.membership_bumps_updated_at:
                    contact.updated_at = at
        activity.status = {
            "items_total_count": len(contacts),
            "items_completed_count": len(contacts),
            "list_count": len(targets),
        }

    def _apply_contact_delete(self, activity: Activity, at: float) -> None:
        payload = activity.payload
        if payload.get("contact_ids"):
            chosen = [self.contacts[cid] for cid in payload["contact_ids"] if cid in self.contacts]
            missing = len(payload["contact_ids"]) - len(chosen)
            activity.errors += [f"{missing} contact id(s) not found"] if missing else []
        else:
            ids = set().union(*(self.lists[lid].members for lid in payload["list_ids"] if lid in self.lists))
            chosen = [self.contacts[cid] for cid in ids]
        for contact in chosen:
            self.delete_contact(contact, at)
        activity.status = {
            "items_total_count": len(chosen),
            "items_completed_count": len(chosen),
            "list_count": len(payload.get("list_ids") or ()),
        }

    def _apply_list_delete(self, activity: Activity, at: float) -> None:
        doomed = [self.lists[list_id] for list_id in activity.payload["list_ids"] if list_id in self.lists]
        survivors = [item for item in self.lists.values() if item.deleted_at is None and item not in doomed]
        if not survivors:
            for item in doomed:
                item.deleting = False
            activity.state = "failed"
            activity.errors.append("An account must keep at least one contact list: the last list cannot be deleted.")
            activity.status = {"list_count": 0}
            return
        for item in doomed:
            if item.deleted_at is None:
                self._delete_list_now(item, at)
        activity.status = {"list_count": len(doomed)}

    def _apply_export(self, activity: Activity, at: float) -> None:
        """The file as the account stands when the activity runs (see ctct/sandbox/exports.py)."""
        payload = activity.payload
        status = payload.get("status")
        if payload.get("contact_ids"):
            wanted = set(_strings(payload["contact_ids"]))
            chosen: Iterable[Contact] = (c for c in self.contacts.values() if c.contact_id in wanted)
        elif payload.get("list_ids"):
            lists = set(_strings(payload["list_ids"]))
            chosen = (contact for contact in self.contacts.values() if contact.lists & lists)
        else:
            chosen = self.contacts.values()
        excluded = set(_strings(payload.get("exclude_contact_ids")))
        rows = (c for c in chosen if c.contact_id not in excluded and status_matches(c, status))
        names = {list_id: item.name for list_id, item in self.lists.items()}
        activity.file, count = export_csv(rows, list(_strings(payload.get("fields"))), names)
        activity.status = {"items_total_count": count, "items_completed_count": count}

    # Persistence

    def state(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "next_seq": self.next_seq,
            "lists": [
                {**{k: v for k, v in item.__dict__.items() if k != "members"}, "members": sorted(item.members)}
                for item in self.lists.values()
            ],
            "contacts": [contact.state() for contact in self.contacts.values()],
            "activities": [activity.state_dict() for activity in self.activities.values()],
            "queue": list(self.queue),
        }

    @classmethod
    def from_state(
        cls, data: dict[str, Any], activity_seconds: float, *, membership_bumps_updated_at: bool = True
    ) -> Account:
        account = cls.__new__(cls)
        account.username = data["username"]
        account.activity_seconds = activity_seconds
        account.membership_bumps_updated_at = membership_bumps_updated_at
        account.next_seq = data["next_seq"]
        account.lists = {}
        for item in data["lists"]:
            contact_list = ContactList(**{k: v for k, v in item.items() if k != "members"})
            contact_list.members = set(item["members"])
            account.lists[contact_list.list_id] = contact_list
        account.contacts = {}
        account.by_email = {}
        for raw in sorted(data["contacts"], key=lambda row: row["seq"]):
            contact = Contact.from_state(raw)
            account.contacts[contact.contact_id] = contact
            if contact.email is not None:
                account.by_email[contact.email.lower()] = contact.contact_id
        account.order_seq = [contact.seq for contact in account.contacts.values()]
        account.order_id = list(account.contacts)
        account.membership_version = 0
        account._member_order = {}
        account.activities = {row["activity_id"]: Activity(**row) for row in data["activities"]}
        account.queue = list(data["queue"])
        return account

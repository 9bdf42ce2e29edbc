"""The /v3 endpoints: request checking and JSON shapes, over the account model."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ctct.sandbox.exports import EMAIL_ONLY_FIELDS, EMPTY_FIELDS, EXPORT_FIELDS, EXPORT_STATUSES
from ctct.sandbox.model import (
    ACTIVITY_CONTACT_DELETE,
    ACTIVITY_EXPORT,
    ACTIVITY_IMPORT,
    ACTIVITY_LIST_DELETE,
    ACTIVITY_REMOVE,
    CONTACT_FIELDS,
    PERMISSIONS,
    SOURCES,
    Account,
    Contact,
    SandboxError,
)
from ctct.sandbox.validation import is_email

MAX_IMPORT_CONTACTS = 40_000
MAX_IMPORT_BYTES = 4 * 1024 * 1024
MAX_CONTACT_IDS = 500
MAX_LIST_IDS = 50
MAX_LIST_DELETE_IDS = 100
# The description's longest addresses: `email_address.address` of a contact, and the plain
# `email_address` of a sign-up form (an import row's `email` is checked in ctct.sandbox.validation).
MAX_EMAIL_LENGTH = 80
MAX_SIGN_UP_EMAIL_LENGTH = 50
INCLUDES = frozenset({"custom_fields", "list_memberships", "phone_numbers", "street_addresses", "taggings", "notes"})
CONTACT_STATUSES = frozenset(
    {"all", "active", "deleted", "not_set", "pending_confirmation", "temp_hold", "unsubscribed"}
)
ACTIVITY_STATES = frozenset({"processing", "completed", "cancelled", "failed", "timed_out"})

Query = dict[str, str]
Reply = tuple[int, Any]


def invalid(message: str, key: str = "contacts.api.validation.error") -> SandboxError:
    return SandboxError(400, key, message)


# Query parsing


def _int(query: Query, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}")
    return value


def _bool(query: Query, name: str) -> bool:
    raw = query.get(name, "false").lower()
    if raw not in {"true", "false"}:
        raise invalid(f"{name} must be true or false")
    return raw == "true"


def _csv(query: Query, name: str, allowed: frozenset[str] | None = None) -> frozenset[str] | None:
    raw = query.get(name)
    if raw is None:
        return None
    values = frozenset(part.strip() for part in raw.split(",") if part.strip())
    unknown = values - allowed if allowed is not None else frozenset()
    if unknown:
        raise invalid(f"{name} does not have a valid value: {', '.join(sorted(unknown))}")
    return values


def _timestamp(query: Query, name: str) -> float | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{name} must be an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def encode_cursor(query: Query, after: int) -> str:
    data = json.dumps({"q": query, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Query, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dict(data["q"]), int(data["after"])
    except (ValueError, KeyError, TypeError):
        raise invalid("cursor is not valid") from None


def _paged_query(query: Query) -> tuple[Query, int]:
    """The effective query and position: a `next` link carries the original query in its cursor."""
    if "cursor" in query:
        return decode_cursor(query["cursor"])
    return query, 0


# Bodies


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, max_length: int, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string")
    if len(value) > max_length:
        raise invalid(f"{name} must be at most {max_length} characters")
    return value


def _ids(body: dict[str, Any], name: str, limit: int | None, *, required: bool = False) -> list[str]:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"{name} is required", "activities.api.validation.error")
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(f"{name} must be an array of ids", "activities.api.validation.error")
    if required and not value:
        raise invalid(f"{name} must not be empty", "activities.api.validation.error")
    if limit is not None and len(value) > limit:
        raise invalid(f"{name} accepts at most {limit} ids, not {len(value)}", "activities.api.validation.error")
    return value


def _valid_email(email: str, max_length: int = MAX_EMAIL_LENGTH) -> bool:
    return len(email) <= max_length and is_email(email)


def not_emulated(message: str) -> SandboxError:
    return SandboxError(501, "sandbox.not_emulated", message)


# Account


def account_summary(account: Account, username: str, name: str, email: str, first: str, last: str) -> Reply:
    return 200, {
        "contact_email": email,
        "first_name": first,
        "last_name": last,
        "organization_name": name,
        "encoded_account_id": base64.b32encode(username.encode()).decode().rstrip("=").lower(),
        "country_code": "US",
        "state_code": "MA",
        "time_zone_id": "US/Eastern",
    }


# Lists


def get_lists(account: Account, query: Query, now: float) -> Reply:
    query, after = _paged_query(query)
    limit = _int(query, "limit", 50, 1, 1000)
    counts = query.get("include_membership_count")
    if counts not in {None, "all", "active"}:
        raise invalid("include_membership_count does not have a valid value", "contact_lists.api.validation.error")
    statuses = _csv(query, "status", frozenset({"all", "active", "deleted"})) or frozenset({"active"})
    name = query.get("name")
    chosen = [
        item
        for item in sorted(account.lists.values(), key=lambda item: item.seq)
        if ("all" in statuses or ("deleted" in statuses) == (item.deleted_at is not None))
        and (name is None or item.name == name)
    ]
    page = [item for item in chosen if item.seq > after][:limit]
    body: dict[str, Any] = {"lists": [_list_json(account, item, counts) for item in page]}
    if _bool(query, "include_count"):
        body["lists_count"] = len(chosen)
    if page and chosen[-1].seq > page[-1].seq:
        body["_links"] = {"next": {"href": f"/v3/contact_lists?cursor={encode_cursor(query, page[-1].seq)}"}}
    return 200, body


def _list_json(account: Account, item: Any, counts: str | None) -> dict[str, Any]:
    if counts is None:
        return item.to_json()
    members = item.members
    if counts == "active":
        members = [cid for cid in members if account.contacts[cid].permission != "unsubscribed"]
    return item.to_json(membership_count=len(members))


def _list_body(body: Any) -> tuple[str, str | None, bool]:
    body = _object(body)
    name = _text(body, "name", 255, required=True)
    assert name is not None
    if not name.strip():
        raise invalid("name is required", "contact_lists.api.validation.error")
    favorite = body.get("favorite", False)
    if not isinstance(favorite, bool):
        raise invalid("favorite must be true or false", "contact_lists.api.validation.error")
    return name, _text(body, "description", 2000), favorite


def create_list(account: Account, body: Any, now: float) -> Reply:
    name, description, favorite = _list_body(body)
    return 201, account.create_list(name, now, description, favorite).to_json()


def get_list(account: Account, list_id: str, query: Query) -> Reply:
    counts = query.get("include_membership_count")
    if counts not in {None, "all", "active"}:
        raise invalid("include_membership_count does not have a valid value", "contact_lists.api.validation.error")
    return 200, _list_json(account, account.get_list(list_id), counts)


def update_list(account: Account, list_id: str, body: Any, now: float) -> Reply:
    account.get_list(list_id)
    name, description, favorite = _list_body(body)
    return 200, account.update_list(list_id, name, now, description, favorite).to_json()


def delete_list(account: Account, list_id: str, now: float, fail: bool) -> Reply:
    target = account.get_list(list_id)
    target.deleting = True
    activity = account.submit(ACTIVITY_LIST_DELETE, {"list_ids": [list_id]}, now, fail=fail)
    body = activity.to_json()
    return 202, {
        key: body[key]
        for key in ("activity_id", "state", "created_at", "updated_at", "percent_done", "activity_errors", "_links")
    }


# Contacts


# The GET /contacts query parameters the sandbox implements (the others of the description are 501).
CONTACT_TIME_FILTERS = (
    "updated_after",
    "updated_before",
    "created_after",
    "created_before",
    "optout_after",
    "optout_before",
)
CONTACT_FILTERS = frozenset({"status", "email", "lists", "include", "include_count", "limit", *CONTACT_TIME_FILTERS})


def get_contacts(account: Account, query: Query, now: float) -> Reply:
    query, after = _paged_query(query)
    limit = _int(query, "limit", 50, 1, 500)
    statuses = _csv(query, "status", CONTACT_STATUSES)
    include = _csv(query, "include", INCLUDES) or frozenset()
    selection = ContactSelection(statuses, _list_ids_filter(query), _email_filter(query), _time_bounds(query))
    page, more = selection.page(account, after, limit)
    body: dict[str, Any] = {"contacts": [contact.to_json(include) for contact in page]}
    if _bool(query, "include_count"):
        body["contacts_count"] = selection.count(account)
    if more:
        body["_links"] = {"next": {"href": f"/v3/contacts?cursor={encode_cursor(query, page[-1].seq)}"}}
    return 200, body


def _ms(moment: float | None) -> int:
    # Times go out truncated to milliseconds; a client's `updated_after` echoes one of them.
    return int((moment or 0) * 1000)


def _list_ids_filter(query: Query) -> frozenset[str] | None:
    list_ids = _csv(query, "lists")
    if list_ids is not None and len(list_ids) > 25:
        raise invalid("lists accepts at most 25 list ids")
    return list_ids


def _email_filter(query: Query) -> str | None:
    return (query.get("email") or "").strip().lower() or None


def _time_bounds(query: Query) -> dict[str, float | None]:
    return {name: _timestamp(query, name) for name in CONTACT_TIME_FILTERS}


@dataclass(frozen=True)
class ContactSelection:
    """The contacts a GET /contacts query asks for."""

    statuses: frozenset[str] | None
    list_ids: frozenset[str] | None
    email: str | None
    # Each of CONTACT_TIME_FILTERS, None when the query does not give it.
    bounds: dict[str, float | None]

    def wanted(self, contact: Contact) -> bool:
        bounds = self.bounds
        return (
            contact.status_matches(self.statuses)
            and (self.email is None or (contact.email or "").lower() == self.email)
            and (bounds["updated_after"] is None or _ms(contact.updated_at) > _ms(bounds["updated_after"]))
            and (bounds["updated_before"] is None or _ms(contact.updated_at) < _ms(bounds["updated_before"]))
            and (bounds["created_after"] is None or _ms(contact.created_at) > _ms(bounds["created_after"]))
            and (bounds["created_before"] is None or _ms(contact.created_at) < _ms(bounds["created_before"]))
            and (bounds["optout_after"] is None or (contact.opt_out_date or 0) > bounds["optout_after"])
            and (bounds["optout_before"] is None or 0 < (contact.opt_out_date or 0) < bounds["optout_before"])
        )

    def page(self, account: Account, after: int, limit: int) -> tuple[list[Contact], bool]:
        """Up to `limit` wanted contacts after the position `after`, and whether more follow."""
        page: list[Contact] = []
        for contact in self._candidates(account, after):
            if not self.wanted(contact) or (self.list_ids and not contact.lists & self.list_ids):
                continue
            if len(page) == limit:
                return page, True
            page.append(contact)
        return page, False

    def count(self, account: Account) -> int:
        if self.email is None:
            source = account.iter_contacts_from(0, self.list_ids)
        else:
            source = iter([found for found in [account.find_by_email(self.email)] if found is not None])
        return sum(1 for contact in source if self.wanted(contact))

    def _candidates(self, account: Account, after: int) -> Iterator[Contact]:
        if self.email is None:
            return account.iter_contacts_from(after, self.list_ids)
        found = account.find_by_email(self.email)
        return iter([found] if found is not None and found.seq > after else [])


def _email_address(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The address and permission of `email_address`, (None, None) when the body has none."""
    raw = body.get("email_address")
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise invalid("email_address must be an object with an address")
    address = raw.get("address")
    if not isinstance(address, str) or not _valid_email(address.strip()):
        raise invalid(f"email_address.address {address!r} is not a valid email address")
    permission = raw.get("permission_to_send")
    if permission is not None and (not isinstance(permission, str) or permission not in PERMISSIONS):
        raise invalid(f"email_address.permission_to_send {permission!r} is not valid")
    return address.strip(), permission


def _source(body: dict[str, Any], name: str) -> str:
    source = body.get(name)
    if not isinstance(source, str) or source not in SOURCES:
        raise invalid(f"{name} is required and must be Account or Contact")
    return source


def _live_list_ids(account: Account, body: dict[str, Any]) -> list[str] | None:
    if "list_memberships" not in body:
        return None
    ids = body["list_memberships"]
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise invalid("list_memberships must be an array of list ids")
    if len(ids) > 50:
        raise invalid("A contact can be a member of at most 50 lists")
    for list_id in ids:
        if not account._list_is_live(list_id):
            raise invalid(f"list_memberships: list {list_id} does not exist")
    return list(dict.fromkeys(ids))


def _person_fields(body: dict[str, Any]) -> dict[str, str | None]:
    return {name: _text(body, name, 50) for name in CONTACT_FIELDS}


def create_contact(account: Account, body: Any, now: float) -> Reply:
    """CTCT needs `create_source` and at least one of first_name, last_name, email_address or
    sms_channel; a contact without an email is kept, found by id and listed like any other."""
    body = _object(body)
    source = _source(body, "create_source")
    email, permission = _email_address(body)
    fields = _person_fields(body)
    if email is None and not fields["first_name"] and not fields["last_name"]:
        if body.get("sms_channel"):
            raise not_emulated("A contact with only an sms_channel is not emulated by the sandbox (no SMS)")
        raise invalid("A contact needs at least one of first_name, last_name, email_address or sms_channel")
    list_ids = _live_list_ids(account, body) or []
    if email is not None and account.find_by_email(email) is not None:
        raise SandboxError(409, "contacts.api.conflict", "Validation failed: EmailAddress is not unique")
    contact = account.new_contact(email, now, source, (permission or "implicit") if email else "not_set")
    for name, value in fields.items():
        setattr(contact, name, value)
    if contact.permission == "unsubscribed":
        account.unsubscribe(contact, source, now)
    else:
        account.set_memberships(contact, list_ids)
    return 201, contact.to_json(frozenset({"list_memberships"}))


def get_contact(account: Account, contact_id: str, query: Query) -> Reply:
    include = _csv(query, "include", INCLUDES) or frozenset()
    return 200, account.get_contact(contact_id).to_json(include)


def update_contact(account: Account, contact_id: str, body: Any, now: float) -> Reply:
    """Full replace of the core fields; PUT revives a deleted contact; unsubscribing clears lists."""
    contact = account.get_contact(contact_id)
    body = _object(body)
    source = _source(body, "update_source")
    email, permission = _email_address(body)
    fields = _person_fields(body)
    list_ids = _live_list_ids(account, body)
    _check_update(contact, email, fields, permission, source)
    # Without `email_address` the address stays*: CTCT documents no way to remove one by PUT.
    if email is not None:
        permission = _change_email(account, contact, email, permission, now)
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.update_source = source
    contact.updated_at = now
    account.revive(contact, now)
    if permission == "unsubscribed":
        account.unsubscribe(contact, source, now, _text(body["email_address"], "opt_out_reason", 255))
    else:
        _update_subscription(account, contact, permission, source, list_ids, now)
    return 200, contact.to_json(frozenset({"list_memberships"}))


def _check_update(
    contact: Contact, email: str | None, fields: dict[str, str | None], permission: str | None, source: str
) -> None:
    if email is None and contact.email is None and not fields["first_name"] and not fields["last_name"]:
        raise invalid("A contact needs at least one of first_name, last_name, email_address or sms_channel")
    if contact.unsubscribed_by_contact and permission not in {None, "unsubscribed"} and source != "Contact":
        raise invalid(
            "This contact unsubscribed themselves: only the contact can opt back in "
            "(sign-up form or the resubscribe email)",
            "contacts.api.unsubscribed",
        )


def _change_email(account: Account, contact: Contact, email: str, permission: str | None, now: float) -> str | None:
    """Gives the contact `email`; returns the permission the update asks for."""
    first_address = contact.email is None
    account.change_email(contact, email, now)
    if first_address:
        return permission or "implicit"  # as POST /contacts gives a new address
    return permission


def _update_subscription(
    account: Account, contact: Contact, permission: str | None, source: str, list_ids: list[str] | None, now: float
) -> None:
    """The permission and lists of a contact the update does not unsubscribe."""
    if contact.email is None:
        if list_ids is not None:
            account.set_memberships(contact, list_ids)
        return
    if permission is not None and permission != contact.permission:
        account.resubscribe(contact, permission, source, now)
    if list_ids is not None and not contact.unsubscribed_by_contact:
        account.set_memberships(contact, list_ids)


def delete_contact(account: Account, contact_id: str, now: float) -> Reply:
    contact = account.get_contact(contact_id)
    if contact.deleted_at is None:
        account.delete_contact(contact, now)
    return 204, None


def sign_up_form(account: Account, body: Any, now: float) -> Reply:
    """Create-or-update as the contact: revives, re-subscribes and appends lists."""
    body = _object(body)
    email = body.get("email_address")
    if email is None and body.get("sms_channel"):
        raise not_emulated("A sign-up with only an sms_channel is not emulated by the sandbox (no SMS)")
    if not isinstance(email, str) or not _valid_email(email.strip(), MAX_SIGN_UP_EMAIL_LENGTH):
        raise invalid(f"email_address {email!r} is not a valid email address")
    list_ids = _live_list_ids(account, body)
    if not list_ids:
        raise invalid("list_memberships must name between 1 and 50 lists")
    fields = _person_fields(body)
    contact = account.find_by_email(email)
    created = contact is None
    if contact is None:
        contact = account.new_contact(email, now, "Contact", "explicit")
    else:
        account.revive(contact, now)
        account.resubscribe(contact, "explicit", "Contact", now)
        contact.update_source = "Contact"
    for name, value in fields.items():
        if value:
            setattr(contact, name, value)
    contact.updated_at = now
    for list_id in list_ids:
        if not account.add_membership(contact, list_id):
            raise invalid("A contact can be a member of at most 50 lists")
    return (201 if created else 200), {"contact_id": contact.contact_id, "action": "created" if created else "updated"}


# Activities


def import_contacts(account: Account, body: Any, raw_size: int, now: float, fail: bool) -> Reply:
    if raw_size >= MAX_IMPORT_BYTES:
        raise invalid(f"The import payload must be smaller than 4 MB ({raw_size:,} bytes)", "activities.api.limit")
    body = _object(body)
    rows = body.get("import_data")
    if not isinstance(rows, list) or not rows:
        raise invalid("import_data must be a non-empty array", "activities.api.validation.error")
    if len(rows) > MAX_IMPORT_CONTACTS:
        raise invalid(
            f"import_data accepts at most {MAX_IMPORT_CONTACTS:,} contacts, not {len(rows):,}", "activities.api.limit"
        )
    for index, row in enumerate(rows):
        # The one row rule checked for the whole request, as before: every other row problem is
        # reported by the activity (see Account._apply_import).
        if not isinstance(row, dict) or not (row.get("email") or row.get("sms_number")):
            raise invalid(f"import_data[{index}] needs an email or an sms_number", "activities.api.validation.error")
    list_ids = _ids(body, "list_ids", MAX_LIST_IDS, required=True)
    _require_lists(account, list_ids, 400)
    activity = account.submit(ACTIVITY_IMPORT, {"import_data": rows, "list_ids": list_ids}, now, fail=fail)
    return 201, activity.to_json()


def _require_lists(account: Account, list_ids: list[str], status: int) -> None:
    for list_id in list_ids:
        if not account._list_is_live(list_id):
            raise SandboxError(status, "activities.api.not_found", f"List {list_id} not found")


def membership_activity(account: Account, kind: str, body: Any, now: float, fail: bool) -> Reply:
    body = _object(body)
    source = body.get("source")
    if not isinstance(source, dict):
        raise invalid("source is required", "activities.api.validation.error")
    given = [
        key
        for key in ("list_ids", "contact_ids", "all_active_contacts", "tag_ids", "segment_id", "engagement_level")
        if source.get(key)
    ]
    if len(given) != 1:
        raise invalid(
            "source must name exactly one of list_ids, contact_ids, all_active_contacts",
            "activities.api.validation.error",
        )
    if given[0] not in {"list_ids", "contact_ids", "all_active_contacts"}:
        raise not_emulated(f"source.{given[0]} is not emulated by the sandbox (it has no tags, segments or engagement)")
    if given[0] == "all_active_contacts" and source["all_active_contacts"] is not True:
        raise invalid("source.all_active_contacts must be true or false", "activities.api.validation.error")
    contact_ids = _ids(source, "contact_ids", MAX_CONTACT_IDS)
    source_lists = _ids(source, "list_ids", MAX_LIST_IDS)
    targets = _ids(body, "list_ids", MAX_LIST_IDS, required=True)
    missing_status = 404 if kind == ACTIVITY_REMOVE else 400
    _require_lists(account, targets + source_lists, missing_status)
    exclude = body.get("exclude") or {}
    if not isinstance(exclude, dict):
        raise invalid("exclude must be an object with contact_ids", "activities.api.validation.error")
    excluded = _ids(exclude, "contact_ids", None)  # the description bounds these nowhere
    if excluded and given[0] == "contact_ids":
        raise invalid("exclude goes only with list_ids or all_active_contacts", "activities.api.validation.error")
    # Only what was checked is kept for the activity to run on.
    chosen: dict[str, Any] = {"contact_ids": contact_ids, "list_ids": source_lists, "all_active_contacts": True}
    payload = {
        "source": {given[0]: chosen[given[0]]},
        "list_ids": targets,
        "exclude": {"contact_ids": excluded} if excluded else {},
    }
    return 201, account.submit(kind, payload, now, fail=fail).to_json()


def delete_contacts_activity(account: Account, body: Any, now: float, fail: bool) -> Reply:
    body = _object(body)
    contact_ids = _ids(body, "contact_ids", MAX_CONTACT_IDS)
    list_ids = _ids(body, "list_ids", MAX_LIST_IDS)
    if bool(contact_ids) == bool(list_ids):
        raise invalid("give either contact_ids or list_ids", "activities.api.validation.error")
    activity = account.submit(
        ACTIVITY_CONTACT_DELETE, {"contact_ids": contact_ids, "list_ids": list_ids}, now, fail=fail
    )
    return 201, activity.to_json()


def delete_lists_activity(account: Account, body: Any, now: float, fail: bool) -> Reply:
    body = _object(body)
    list_ids = _ids(body, "list_ids", MAX_LIST_DELETE_IDS, required=True)
    _require_lists(account, list_ids, 400)
    for list_id in list_ids:
        account.lists[list_id].deleting = True
    return 201, account.submit(ACTIVITY_LIST_DELETE, {"list_ids": list_ids}, now, fail=fail).to_json()


def get_activities(account: Account, query: Query) -> Reply:
    query, after = _paged_query(query)
    limit = _int(query, "limit", 50, 1, 500)
    state = query.get("state")
    if state is not None and state not in ACTIVITY_STATES:
        raise invalid("state does not have a valid value", "activities.api.validation.error")
    newest_first = sorted(account.activities.values(), key=lambda activity: activity.created_at, reverse=True)
    chosen = [activity for activity in newest_first if state is None or activity.state == state]
    page = chosen[after : after + limit]
    body: dict[str, Any] = {"activities": [activity.to_json() for activity in page]}
    if after + limit < len(chosen):
        body["_links"] = {"next": {"href": f"/v3/activities?cursor={encode_cursor(query, after + limit)}"}}
    return 200, body


def get_activity(account: Account, activity_id: str) -> Reply:
    activity = account.activities.get(activity_id)
    if activity is None:
        raise SandboxError(404, "activities.api.not_found", f"Activity {activity_id} not found")
    return 200, activity.to_json()


# Contact exports (docs/ctct-contact-exports.md)

# Which row filters may go together, per the description: status with contact_ids or list_ids,
# exclude with list_ids or new_subscriber, new_subscriber with list_ids.
_EXPORT_SOURCES = ("contact_ids", "list_ids", "tag_ids", "segment_id", "new_subscriber")
_EXPORT_COMPANIONS = {
    "status": frozenset({"contact_ids", "list_ids"}),
    "exclude": frozenset({"list_ids", "new_subscriber"}),
}


def _export_fields(body: dict[str, Any]) -> list[str]:
    fields = body.get("fields")
    if fields is None:
        return list(EXPORT_FIELDS)
    if not fields:
        raise invalid("fields must name at least one field", "activities.api.validation.error")
    unknown = sorted(set(fields) - set(EXPORT_FIELDS) - EMPTY_FIELDS)
    if unknown:
        raise invalid(f"fields has unknown field(s): {', '.join(unknown)}", "activities.api.validation.error")
    if EMAIL_ONLY_FIELDS & set(fields) and "email_address" not in fields:
        raise invalid("the email_optin/optout fields need email_address", "activities.api.validation.error")
    return list(dict.fromkeys(fields))


def _export_sources(body: dict[str, Any]) -> list[str]:
    sources = [name for name in _EXPORT_SOURCES if body.get(name) not in (None, [], False)]
    if len(sources) > 1 and sources != ["list_ids", "new_subscriber"]:
        raise invalid(f"{' and '.join(sources)} exclude one another", "activities.api.validation.error")
    for companion, allowed in _EXPORT_COMPANIONS.items():
        if body.get(companion) and any(source not in allowed for source in sources):
            raise invalid(
                f"{companion} goes only with {' or '.join(sorted(allowed))}", "activities.api.validation.error"
            )
    unemulated = [source for source in sources if source in {"tag_ids", "segment_id", "new_subscriber"}]
    if unemulated:
        raise not_emulated(
            f"{unemulated[0]} is not emulated by the sandbox (it has no tags, segments or sign-up dates)"
        )
    return sources


def start_export(account: Account, body: Any, now: float, fail: bool) -> Reply:
    body = _object(body)
    _export_sources(body)
    status = body.get("status")
    if status is not None and status not in EXPORT_STATUSES:
        raise invalid(f"status must be one of {', '.join(sorted(EXPORT_STATUSES))}", "activities.api.validation.error")
    list_ids = _ids(body, "list_ids", MAX_LIST_IDS)
    _require_lists(account, list_ids, 404)
    exclude = body.get("exclude") or {}
    payload = {
        "contact_ids": _ids(body, "contact_ids", MAX_CONTACT_IDS),
        "list_ids": list_ids,
        "status": status,
        "fields": _export_fields(body),
        "exclude_contact_ids": _ids(exclude, "contact_ids", None),
    }
    return 201, account.submit(ACTIVITY_EXPORT, payload, now, fail=fail).to_json()


def export_file(account: Account, file_export_id: str) -> tuple[int, str]:
    """The CSV of a completed export; 404 for an unknown id or an export still queued or running."""
    activity = account.activities.get(file_export_id)
    if activity is None or activity.kind != ACTIVITY_EXPORT or activity.file is None:
        raise SandboxError(404, "activities.api.not_found", f"Export file {file_export_id} not found")
    return 200, activity.file

"""`POST /_sandbox/seed`: puts an existing customer's data into a sandbox account, as if it had
been in Constant Contact all along — for demos and onboarding rehearsals of a customer who
already has a CTCT account. Seeding costs no API requests and is all-or-nothing."""

from __future__ import annotations

from typing import Any

from ctct.sandbox.model import MAX_LISTS, Account

PERMISSIONS = ("implicit", "explicit", "unsubscribed")
TEXT_FIELDS = {"first_name": 50, "last_name": 50, "job_title": 50, "company_name": 50}
CONTACT_FIELDS = frozenset({"email", "lists", "permission_to_send", *TEXT_FIELDS})


class SeedError(ValueError):
    """The seed body is not valid; the message names the contact row and field."""


def _checked_contact(number: int, raw: Any, seen: set[str], account: Account) -> dict[str, Any]:
    where = f"contacts[{number}]"
    if not isinstance(raw, dict):
        raise SeedError(f"{where} must be an object")
    unknown = sorted(set(raw) - CONTACT_FIELDS)
    if unknown:
        raise SeedError(f"{where}: unknown field(s) {', '.join(unknown)}")
    email = raw.get("email")
    if not isinstance(email, str) or "@" not in email or "." not in email.partition("@")[2] or " " in email.strip():
        raise SeedError(f"{where}.email is not an email address: {email!r}")
    key = email.strip().lower()
    if key in seen or account.find_by_email(key) is not None:
        raise SeedError(f"{where}.email {email!r} is already in the account")
    seen.add(key)
    for name, limit in TEXT_FIELDS.items():
        value = raw.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise SeedError(f"{where}.{name} must be text of at most {limit} characters")
    permission = raw.get("permission_to_send", "implicit")
    if permission not in PERMISSIONS:
        raise SeedError(f"{where}.permission_to_send must be one of {', '.join(PERMISSIONS)}")
    names = raw.get("lists", [])
    if not isinstance(names, list) or not all(isinstance(name, str) and name.strip() for name in names):
        raise SeedError(f"{where}.lists must be a list of list names")
    if permission == "unsubscribed" and names:
        raise SeedError(f"{where}: an unsubscribed contact is on no list")
    return {**raw, "email": email.strip(), "permission_to_send": permission, "lists": names}


def seed_account(account: Account, body: Any, now: float) -> dict[str, int]:
    """Creates the body's lists (by name; existing ones are reused) and contacts. Unsubscribed
    contacts opted out themselves (`opt_out_source: Contact`), as a customer's past opt-outs did."""
    if not isinstance(body, dict):
        raise SeedError("the body must be a JSON object with 'contacts' (and optionally 'lists', 'account')")
    raw_contacts = body.get("contacts", [])
    list_names = body.get("lists", [])
    if not isinstance(raw_contacts, list):
        raise SeedError("contacts must be a list")
    if not isinstance(list_names, list) or not all(isinstance(name, str) and name.strip() for name in list_names):
        raise SeedError("lists must be a list of list names")
    seen: set[str] = set()
    contacts = [_checked_contact(number, raw, seen, account) for number, raw in enumerate(raw_contacts)]

    by_name = {item.name.casefold(): item for item in account.live_lists()}
    wanted = [*list_names, *(name for contact in contacts for name in contact["lists"])]
    new_by_key: dict[str, str] = {}
    for name in wanted:
        new_by_key.setdefault(name.strip().casefold(), name.strip())
    new_names = [name for key, name in new_by_key.items() if key not in by_name]
    total = len(by_name) + len(new_names)
    if total > MAX_LISTS:
        raise SeedError(f"an account holds at most {MAX_LISTS} lists; this seed would make {total}")
    for name in new_names:
        by_name[name.casefold()] = account.create_list(name, now)
    for row in contacts:
        contact = account.new_contact(row["email"], now, "Account", row["permission_to_send"])
        for name in TEXT_FIELDS:
            setattr(contact, name, row.get(name))
        if row["permission_to_send"] == "unsubscribed":
            account.unsubscribe(contact, "Contact", now)
        else:
            account.set_memberships(contact, [by_name[name.strip().casefold()].list_id for name in row["lists"]])
    return {"lists_created": len(new_names), "contacts_created": len(contacts)}

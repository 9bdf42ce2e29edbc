"""`POST /_sandbox/seed`: puts an existing customer's data into a sandbox account, as if it had
been in Constant Contact all along — for demos and onboarding rehearsals of a customer who
already has a CTCT account. Seeding costs no API requests and is all or nothing: the whole body
is checked, with the API's own rules, before anything is created."""

from __future__ import annotations

from typing import Any

from ctct.sandbox import api
from ctct.sandbox.model import (
    CONTACT_FIELDS,
    MAX_LISTS,
    MAX_LISTS_PER_CONTACT,
    Account,
    ContactList,
    SandboxError,
)

SEED_PERMISSIONS = ("implicit", "explicit", "unsubscribed")
SEED_FIELDS = frozenset({"email", "lists", "permission_to_send", *CONTACT_FIELDS})
LIST_NAME_LENGTH = 255


class SeedError(ValueError):
    """The seed body is not valid; the message names the contact row and field."""


def _list_names(where: str, names: Any) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(name, str) and name.strip() for name in names):
        raise SeedError(f"{where} must be a list of list names")
    for name in names:
        if len(name.strip()) > LIST_NAME_LENGTH:
            raise SeedError(f"{where}: list name {name[:40]!r}… is longer than {LIST_NAME_LENGTH} characters")
    return [name.strip() for name in names]


def _checked_contact(number: int, raw: Any, seen: set[str], account: Account) -> dict[str, Any]:
    where = f"contacts[{number}]"
    if not isinstance(raw, dict):
        raise SeedError(f"{where} must be an object")
    unknown = sorted(set(raw) - SEED_FIELDS)
    if unknown:
        raise SeedError(f"{where}: unknown field(s) {', '.join(unknown)}")
    email = raw.get("email")
    if not isinstance(email, str) or not api._valid_email(email.strip()):
        raise SeedError(f"{where}.email is not an email address: {email!r}")
    key = email.strip().lower()
    if key in seen or account.find_by_email(key) is not None:
        raise SeedError(f"{where}.email {email!r} is already in the account")
    seen.add(key)
    try:
        fields = api._person_fields(raw)
    except SandboxError as error:
        raise SeedError(f"{where}.{error.message}") from None
    permission = raw.get("permission_to_send", "implicit")
    if permission not in SEED_PERMISSIONS:
        raise SeedError(f"{where}.permission_to_send must be one of {', '.join(SEED_PERMISSIONS)}")
    names = _list_names(f"{where}.lists", raw.get("lists", []))
    if permission == "unsubscribed" and names:
        raise SeedError(f"{where}: an unsubscribed contact is on no list")
    if len({name.casefold() for name in names}) > MAX_LISTS_PER_CONTACT:
        raise SeedError(f"{where}: a contact is on at most {MAX_LISTS_PER_CONTACT} lists")
    return {"email": email.strip(), "fields": fields, "permission": permission, "lists": names}


def seed_account(account: Account, body: Any, now: float) -> dict[str, int]:
    """Creates the body's lists (by name; existing ones are reused) and contacts. Unsubscribed
    contacts opted out themselves (`opt_out_source: Contact`), as a customer's past opt-outs did."""
    list_names, contacts = _checked_body(body, account)
    lists_by_key = {item.name.casefold(): item for item in account.live_lists()}
    named = [*list_names, *(name for contact in contacts for name in contact["lists"])]
    new_names = _new_list_names(account, named, lists_by_key)
    for key, name in new_names.items():
        lists_by_key[key] = account.create_list(name, now)
    for row in contacts:
        _create_contact(account, row, lists_by_key, now)
    return {"lists_created": len(new_names), "contacts_created": len(contacts)}


def _checked_body(body: Any, account: Account) -> tuple[list[str], list[dict[str, Any]]]:
    """The body's list names and its contacts, checked."""
    if not isinstance(body, dict):
        raise SeedError("the body must be a JSON object with 'contacts' (and optionally 'lists', 'account')")
    raw_contacts = body.get("contacts", [])
    if not isinstance(raw_contacts, list):
        raise SeedError("contacts must be a list")
    list_names = _list_names("lists", body.get("lists", []))
    seen: set[str] = set()
    return list_names, [_checked_contact(number, raw, seen, account) for number, raw in enumerate(raw_contacts)]


def _new_list_names(account: Account, names: list[str], lists_by_key: dict[str, ContactList]) -> dict[str, str]:
    """The names of the lists to create, by case-folded name (the first spelling wins), once the
    account is known to be able to take them."""
    new_names: dict[str, str] = {}
    for name in names:
        if name.casefold() not in lists_by_key:
            new_names.setdefault(name.casefold(), name)
    for name in new_names.values():
        if account._name_taken(name):  # a list of that name is being deleted
            raise SeedError(f"the list {name!r} is being deleted: seed again once its deletion completed")
    held = len([item for item in account.lists.values() if item.deleted_at is None])
    if held + len(new_names) > MAX_LISTS:
        raise SeedError(f"an account holds at most {MAX_LISTS} lists; this seed would make {held + len(new_names)}")
    return new_names


def _create_contact(account: Account, row: dict[str, Any], lists_by_key: dict[str, ContactList], now: float) -> None:
    contact = account.new_contact(row["email"], now, "Account", "implicit")
    for name, value in row["fields"].items():
        setattr(contact, name, value)
    if row["permission"] == "unsubscribed":
        account.unsubscribe(contact, "Contact", now)  # sets opt_out_date, as a real opt-out did
    else:
        contact.permission = row["permission"]
        account.set_memberships(contact, [lists_by_key[name.casefold()].list_id for name in row["lists"]])

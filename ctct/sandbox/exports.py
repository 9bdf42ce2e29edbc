"""Contact exports (`POST /activities/contact_exports`): which contacts, which columns, the CSV file.

What CTCT documents: the filters and their limits, the field names a request may ask for, a CSV
file fetched from `GET /contact_exports/{id}` once the activity completed. What it leaves open
(docs/ctct-contact-exports.md) the sandbox decides here: the header row repeats the requested field
names in the order asked (all of EXPORT_FIELDS when none are asked), dates are ISO-8601 as in the
JSON, `email_lists` joins list names with "; ", and a `contact_id` column is offered — whether CTCT
offers one is UNCONFIRMED, which is why the console checks the header before trusting a file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol


class Contact(Protocol):
    """What an export reads of a contact (ctct.sandbox.model.Contact, which imports this module)."""

    contact_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    job_title: str | None
    company_name: str | None
    permission: str
    opt_in_source: str | None
    opt_in_date: float | None
    opt_out_source: str | None
    opt_out_date: float | None
    opt_out_reason: str | None
    lists: set[str]
    created_at: float
    updated_at: float
    deleted_at: float | None


# The developer guide's status filter values; `removed` are the deleted contacts.
EXPORT_STATUSES = frozenset({"active", "unsubscribed", "removed"})


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _optout(contact: Contact, value: Callable[[Contact], str]) -> str:
    return value(contact) if contact.email and contact.permission == "unsubscribed" else ""


Column = Callable[[Contact, Mapping[str, str]], str]

EXPORT_FIELDS: dict[str, Column] = {
    "contact_id": lambda contact, names: contact.contact_id,
    "email_address": lambda contact, names: contact.email or "",
    "first_name": lambda contact, names: contact.first_name or "",
    "last_name": lambda contact, names: contact.last_name or "",
    "job_title": lambda contact, names: contact.job_title or "",
    "company_name": lambda contact, names: contact.company_name or "",
    "email_permission": lambda contact, names: contact.permission if contact.email else "",
    "email_optin_source": lambda contact, names: contact.opt_in_source or "",
    "email_optin_date": lambda contact, names: _iso(contact.opt_in_date),
    "email_optout_source": lambda contact, names: _optout(contact, lambda c: c.opt_out_source or "Account"),
    "email_optout_date": lambda contact, names: _optout(contact, lambda c: _iso(c.opt_out_date or c.updated_at)),
    "email_optout_reason": lambda contact, names: _optout(contact, lambda c: c.opt_out_reason or ""),
    "email_lists": lambda contact, names: "; ".join(sorted(names[list_id] for list_id in contact.lists)),
    "created_at": lambda contact, names: _iso(contact.created_at),
    "updated_at": lambda contact, names: _iso(contact.updated_at),
}
# Fields CTCT documents that the sandbox keeps no data for: asked for, they come out empty.
EMPTY_FIELDS = frozenset(
    {
        "phone_number",
        "social_profiles",
        "website",
        "tag",
        "notes",
        "street",
        "city",
        "state",
        "zip",
        "country",
        "anniversary",
        "birthday",
        "birthday_day",
        "birthday_month",
        "source_name",
        "email_optin",
    }
)
EMAIL_ONLY_FIELDS = frozenset(
    {"email_optin_source", "email_optin_date", "email_optout_source", "email_optout_date", "email_optout_reason"}
)


def status_matches(contact: Contact, status: str | None) -> bool:
    """No status: every contact that is not deleted, as `GET /contacts` lists by default."""
    if status == "removed":
        return contact.deleted_at is not None
    if contact.deleted_at is not None:
        return False
    if status == "unsubscribed":
        return contact.permission == "unsubscribed"
    if status == "active":
        return contact.permission != "unsubscribed"
    return True


def export_csv(contacts: Iterable[Contact], fields: list[str], list_names: Mapping[str, str]) -> tuple[str, int]:
    """The file (RFC 4180: quoted where needed, CRLF line ends) and how many rows it holds."""
    columns = [EXPORT_FIELDS.get(name) for name in fields]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(fields)
    count = 0
    for contact in contacts:
        writer.writerow([column(contact, list_names) if column else "" for column in columns])
        count += 1
    return out.getvalue(), count

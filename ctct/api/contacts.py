"""Contacts: `/contacts`, read 500 a page with their list memberships, created, updated, deleted."""

# No `from __future__ import annotations`: a TypedDict tells its Required keys from the evaluated annotations.
from collections.abc import Iterator
from typing import Literal, NotRequired, TypedDict, cast

from ctct.api.resources import Resource

# CTCT's largest page size for contacts.
CONTACT_PAGE_SIZE = 500

PermissionToSend = Literal["explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed"]
# Who made the change: the account's own user or integration, or the contact (a sign-up, an unsubscribe).
ChangeSource = Literal["Account", "Contact"]


class EmailAddress(TypedDict):
    """A contact's address as CTCT holds it, with its permission and who opted it out."""

    address: str
    permission_to_send: NotRequired[PermissionToSend]
    # Only once the address was unsubscribed.
    opt_out_source: NotRequired[ChangeSource]


class Contact(TypedDict):
    """A contact as read with `include=list_memberships`: CTCT leaves out every field never set."""

    contact_id: str
    # Absent for a contact CTCT reaches by SMS only.
    email_address: NotRequired[EmailAddress]
    first_name: NotRequired[str]
    last_name: NotRequired[str]
    job_title: NotRequired[str]
    company_name: NotRequired[str]
    # Only with `include=list_memberships`.
    list_memberships: NotRequired[list[str]]
    updated_at: NotRequired[str]
    # Only on deleted contacts (a date, "YYYY-MM-DD").
    deleted_at: NotRequired[str]


class EmailAddressBody(TypedDict):
    address: str
    permission_to_send: NotRequired[PermissionToSend]


class ContactBody(TypedDict, total=False):
    """The core fields the console sends on a create (`POST`) or an update (`PUT`)."""

    email_address: EmailAddressBody
    first_name: str
    last_name: str
    job_title: str
    company_name: str
    list_memberships: list[str]


class ContactCreate(ContactBody, total=False):
    # "Account" when left out (`Contacts.create`).
    create_source: ChangeSource


class ContactUpdate(ContactBody, total=False):
    """A full replace of the core fields: one left out becomes empty in CTCT. Lists left out stay."""

    # "Account" when left out (`Contacts.update`).
    update_source: ChangeSource


class SignUpForm(TypedDict):
    """`POST /contacts/sign_up_form`: create-or-update by address, adding the lists given."""

    # A plain string here, not an object as elsewhere.
    email_address: str
    list_memberships: list[str]
    first_name: NotRequired[str]
    last_name: NotRequired[str]


class SignUpResult(TypedDict):
    contact_id: str
    action: NotRequired[str]


class Contacts(Resource):
    def iterate(
        self,
        *,
        status: str | None = "all",
        lists: list[str] | None = None,
        updated_after: str | None = None,
        include: str | None = "list_memberships",
    ) -> Iterator[Contact]:
        pages = self.client.paginate(
            "/contacts",
            "contacts",
            limit=CONTACT_PAGE_SIZE,
            status=status,
            lists=",".join(lists) if lists else None,
            updated_after=updated_after,
            include=include,
        )
        return cast("Iterator[Contact]", pages)

    def count(self, *, status: str | None = "all") -> int:
        return int(self.client.get("/contacts", limit=1, status=status, include_count="true").get("contacts_count", 0))

    def get(self, contact_id: str) -> Contact:
        return self.client.get(f"/contacts/{contact_id}", include="list_memberships")

    def find_by_email(self, email: str) -> Contact | None:
        page = self.client.get("/contacts", email=email, status="all", include="list_memberships")
        found: list[Contact] = page["contacts"]
        return found[0] if found else None

    def create(self, body: ContactCreate) -> Contact:
        return self.client.request("POST", "/contacts", json={"create_source": "Account", **body}).json()

    def update(self, contact_id: str, body: ContactUpdate) -> Contact:
        return self.client.request("PUT", f"/contacts/{contact_id}", json={"update_source": "Account", **body}).json()

    def delete(self, contact_id: str) -> None:
        self.client.request("DELETE", f"/contacts/{contact_id}")

    def sign_up(self, body: SignUpForm) -> SignUpResult:
        return self.client.request("POST", "/contacts/sign_up_form", json=body, repeatable_post=True).json()

"""Account, contact lists and contacts: thin, typed wrappers over `CtctClient.request`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ctct.api.errors import ApiStatusError, CtctConnectionError, may_have_been_applied

if TYPE_CHECKING:
    from ctct.api.client import CtctClient

# CTCT's largest page sizes (lists: the spec says 1,000 but the text says 500 — 500 is safe).
LIST_PAGE_SIZE = 500
CONTACT_PAGE_SIZE = 500


class Resource:
    def __init__(self, client: CtctClient) -> None:
        self.client = client


class Account(Resource):
    def summary(self) -> dict[str, Any]:
        return self.client.get("/account/summary")


class Lists(Resource):
    def iterate(self, *, membership_count: str | None = "all", status: str | None = None) -> Iterator[dict[str, Any]]:
        return self.client.paginate(
            "/contact_lists",
            "lists",
            limit=LIST_PAGE_SIZE,
            include_membership_count=membership_count,
            status=status,
        )

    def get(self, list_id: str) -> dict[str, Any]:
        return self.client.get(f"/contact_lists/{list_id}", include_membership_count="all")

    def create(self, name: str, description: str | None = None) -> dict[str, Any]:
        """Creates the list. After an answer that leaves open whether CTCT created it (a 5xx, a
        dropped connection), its name is looked up first — CTCT's list names are unique, so the
        list is found if it was made — and the create is sent again only when it was not."""
        body = {"name": name, **({"description": description} if description else {})}
        window = self.client.retry_window()
        while True:
            try:
                return self.client.request("POST", "/contact_lists", json=body, window=window).json()
            except (ApiStatusError, CtctConnectionError) as error:
                if not may_have_been_applied(error) or not window.wait(None):
                    raise
            found = self.find_by_name(name)
            if found is not None:
                return found

    def find_by_name(self, name: str) -> dict[str, Any] | None:
        wanted = name.casefold()
        return next((item for item in self.iterate(membership_count=None) if item["name"].casefold() == wanted), None)

    def rename(self, list_id: str, name: str) -> dict[str, Any]:
        return self.client.request("PUT", f"/contact_lists/{list_id}", json={"name": name}).json()

    def delete(self, list_id: str) -> dict[str, Any]:
        """Starts the deletion; the returned activity says when it is done."""
        return self.client.request("DELETE", f"/contact_lists/{list_id}").json()


class Contacts(Resource):
    def iterate(
        self,
        *,
        status: str | None = "all",
        lists: list[str] | None = None,
        updated_after: str | None = None,
        include: str | None = "list_memberships",
    ) -> Iterator[dict[str, Any]]:
        return self.client.paginate(
            "/contacts",
            "contacts",
            limit=CONTACT_PAGE_SIZE,
            status=status,
            lists=",".join(lists) if lists else None,
            updated_after=updated_after,
            include=include,
        )

    def count(self, *, status: str | None = "all") -> int:
        return int(self.client.get("/contacts", limit=1, status=status, include_count="true").get("contacts_count", 0))

    def get(self, contact_id: str) -> dict[str, Any]:
        return self.client.get(f"/contacts/{contact_id}", include="list_memberships")

    def find_by_email(self, email: str) -> dict[str, Any] | None:
        found = self.client.get("/contacts", email=email, status="all", include="list_memberships")["contacts"]
        return found[0] if found else None

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.request("POST", "/contacts", json={"create_source": "Account", **body}).json()

    def update(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.request("PUT", f"/contacts/{contact_id}", json={"update_source": "Account", **body}).json()

    def delete(self, contact_id: str) -> None:
        self.client.request("DELETE", f"/contacts/{contact_id}")

    def sign_up(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.request("POST", "/contacts/sign_up_form", json=body, repeatable_post=True).json()

"""Contact lists: `/contact_lists`, listed, created (safely repeated), renamed and deleted."""

# No `from __future__ import annotations`: a TypedDict tells its Required keys from the evaluated annotations.
from collections.abc import Iterator
from typing import Literal, NotRequired, TypedDict, cast

from ctct.api.activities import Activity
from ctct.api.errors import ApiStatusError, CtctConnectionError, may_have_been_applied
from ctct.api.resources import Resource

# CTCT's largest page size (the spec says 1,000 but the text says 500 — 500 is safe).
LIST_PAGE_SIZE = 500

MembershipCount = Literal["all", "active"]


class ContactList(TypedDict):
    list_id: str
    name: str
    # Only when asked for (`include_membership_count`).
    membership_count: NotRequired[int]


class ListBody(TypedDict):
    """What creates a list (`POST`) or renames one (`PUT`, a full replace of these fields)."""

    name: str
    description: NotRequired[str]


class Lists(Resource):
    def iterate(
        self, *, membership_count: MembershipCount | None = "all", status: str | None = None
    ) -> Iterator[ContactList]:
        pages = self.client.paginate(
            "/contact_lists",
            "lists",
            limit=LIST_PAGE_SIZE,
            include_membership_count=membership_count,
            status=status,
        )
        return cast("Iterator[ContactList]", pages)

    def get(self, list_id: str) -> ContactList:
        return self.client.get(f"/contact_lists/{list_id}", include_membership_count="all")

    def create(self, name: str, description: str | None = None) -> ContactList:
        """Creates the list. After an answer that leaves open whether CTCT created it (a 5xx, a
        dropped connection), its name is looked up first — CTCT's list names are unique, so the
        list is found if it was made — and the create is sent again only when it was not."""
        body: ListBody = {"name": name}
        if description:
            body["description"] = description
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

    def find_by_name(self, name: str) -> ContactList | None:
        wanted = name.casefold()
        return next((item for item in self.iterate(membership_count=None) if item["name"].casefold() == wanted), None)

    def rename(self, list_id: str, name: str) -> ContactList:
        body: ListBody = {"name": name}
        return self.client.request("PUT", f"/contact_lists/{list_id}", json=body).json()

    def delete(self, list_id: str) -> Activity:
        """Starts the deletion; the returned activity says when it is done."""
        return self.client.request("DELETE", f"/contact_lists/{list_id}").json()

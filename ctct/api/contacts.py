"""Contacts: `/contacts`, read 500 a page with their list memberships, created, updated, deleted.

A read of every contact follows several cursor chains at once (`Contacts.read_all`): one chain
waits a round trip for each page, so with CTCT ~0.4 s away it manages ~2 requests/s of the 4
allowed. The chains split the contacts by creation time — the only filter that puts every contact,
deleted or in no list, in exactly one range — and each range reaches 1 s into the one before it, so
a contact is read whether CTCT's `created_after`/`created_before` are inclusive or exclusive and
whether it compares milliseconds or seconds; the few read twice are kept once. The ranges are of
equal length in time: they balance the chains when contacts came steadily, while an account made
mostly of late reads nearer one chain's rate (bench/bench_client_rate.py `--spread recent`).
"""

# No `from __future__ import annotations`: a TypedDict tells its Required keys from the evaluated annotations.
import datetime as dt
import itertools
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict, cast

from ctct.api.limits import FirstTrip
from ctct.api.resources import Resource

# CTCT's largest page size for contacts.
CONTACT_PAGE_SIZE = 500
# Cursor chains of a full read: three keep the 4/s limiter busy with pages 0.4 s away; each chain
# costs at most one request more than one chain would (its last, part-filled page).
FULL_READ_CHAINS = 3
# A round trip (of the probe) under which one chain keeps the limiter busy on its own: the page is
# back and read before the limiter would let the next request go (every 0.255 s).
ONE_CHAIN_ROUND_TRIP = 0.1
# How far each creation-time range reaches into the one before it, in seconds.
RANGE_OVERLAP = 1

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
    created_at: NotRequired[str]
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


@dataclass(frozen=True)
class ContactsProbe:
    """What one `limit=1` request tells of an account's contacts."""

    count: int
    first_created: str | None
    round_trip: float


@dataclass(frozen=True)
class CreatedRange:
    """The contacts one cursor chain reads: `created_after`/`created_before`, None for an open end."""

    created_after: str | None = None
    created_before: str | None = None


def _iso_seconds(moment: int) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_ranges(oldest: float, newest: float, chains: int) -> list[CreatedRange]:
    """`chains` ranges of equal time between `oldest` and `newest`, on whole seconds, overlapping by
    `RANGE_OVERLAP`; the first open before, the last open after, so together they hold every
    contact whatever its creation time. Fewer ranges when the span is too short to split."""
    step = (newest - oldest) / max(chains, 1)
    bounds = sorted({math.floor(oldest + step * number) for number in range(1, chains)})
    bounds = [bound for bound in bounds if oldest < bound <= newest]
    if not bounds:
        return [CreatedRange()]
    edges: list[int | None] = [None, *bounds, None]
    return [
        CreatedRange(
            None if start is None else _iso_seconds(start - RANGE_OVERLAP),
            None if end is None else _iso_seconds(end),
        )
        for start, end in itertools.pairwise(edges)
    ]


def _timestamp(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


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

    def read_all(
        self,
        *,
        chains: int | None = None,
        include: str | None = "list_memberships",
        on_page: Callable[[int], None] | None = None,
        now: Callable[[], float] = time.time,
    ) -> list[Contact]:
        """Every contact, deleted ones included, through the cursor chains `split_by_creation`
        chooses. The result is in range order, each range in CTCT's order, every contact once.
        `on_page` gets the number of contacts read so far, in the caller's thread, as pages come."""
        ranges = self.split_by_creation(chains=chains, now=now)
        return self.read_ranges(ranges, include=include, on_page=on_page) if ranges else []

    def probe(self, trip: FirstTrip | None = None) -> ContactsProbe:
        """One request (`limit=1`, with the count): how many contacts there are, when the first
        was made, and how long CTCT takes to answer; `trip` is told when it leaves and is back."""
        window = self.client.retry_window()  # it counts the time spent sending, not the limiter's wait
        answer = self.client.request(
            "GET",
            "/contacts",
            params={"status": "all", "limit": 1, "include_count": "true"},
            window=window,
            trip=trip,
        ).json()
        first: list[Contact] = answer.get("contacts", [])
        created = first[0].get("created_at") if first else None
        return ContactsProbe(int(answer.get("contacts_count", 0)) if first else 0, created, window.spent)

    def split_by_creation(
        self,
        *,
        chains: int | None = None,
        now: Callable[[], float] = time.time,
        probe: ContactsProbe | None = None,
    ) -> list[CreatedRange]:
        """Up to `chains` creation-time ranges for a read of every contact: by default
        `FULL_READ_CHAINS`, or one when CTCT answers within `ONE_CHAIN_ROUND_TRIP`; none for an
        account without contacts. The probe (made here unless given) tells how many pages there
        are, how far CTCT is and when the first contact was made; the time from then to `now` is
        split into ranges of equal length."""
        probe = probe or self.probe()
        if not probe.count:
            return []
        if chains is None:
            chains = 1 if probe.round_trip < ONE_CHAIN_ROUND_TRIP else FULL_READ_CHAINS
        chains = min(chains, math.ceil(probe.count / CONTACT_PAGE_SIZE))
        if chains <= 1 or probe.first_created is None:
            return [CreatedRange()]
        return created_ranges(_timestamp(probe.first_created), now(), chains)

    def read_ranges(
        self,
        ranges: list[CreatedRange],
        *,
        include: str | None = "list_memberships",
        on_page: Callable[[int], None] | None = None,
    ) -> list[Contact]:
        """The contacts of every range, one cursor chain (thread) per range sharing this client's
        limiter and budget; in range order, a contact met in two ranges kept from the first."""
        arrivals: queue.Queue[tuple[int, list[Contact] | BaseException | None]] = queue.Queue()
        stop = threading.Event()

        def follow(index: int, where: CreatedRange) -> None:
            try:
                for page in self.client.pages(
                    "/contacts",
                    limit=CONTACT_PAGE_SIZE,
                    status="all",
                    include=include,
                    created_after=where.created_after,
                    created_before=where.created_before,
                ):
                    arrivals.put((index, page.get("contacts", [])))
                    if stop.is_set():
                        break
            except BaseException as error:  # handed to the caller's thread, which raises it
                arrivals.put((index, error))
            else:
                arrivals.put((index, None))

        threads = [
            threading.Thread(target=follow, args=(index, where), name=f"ctct-contacts-{index}", daemon=True)
            for index, where in enumerate(ranges)
        ]
        for thread in threads:
            thread.start()
        try:
            by_range = _collect(arrivals, len(ranges), on_page)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        return _first_of_each(by_range)

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


def _collect(
    arrivals: queue.Queue[tuple[int, Any]], chains: int, on_page: Callable[[int], None] | None
) -> list[list[Contact]]:
    """The pages of every chain, gathered in the caller's thread; the first chain's failure raised."""
    by_range: list[list[Contact]] = [[] for _ in range(chains)]
    running, read = chains, 0
    while running:
        index, arrival = arrivals.get()
        if arrival is None:
            running -= 1
        elif isinstance(arrival, BaseException):
            raise arrival
        else:
            by_range[index] += arrival
            read += len(arrival)
            if on_page is not None:
                on_page(read)
    return by_range


def _first_of_each(by_range: list[list[Contact]]) -> list[Contact]:
    seen: set[str] = set()
    contacts: list[Contact] = []
    for found in by_range:
        for contact in found:
            if contact["contact_id"] not in seen:
                seen.add(contact["contact_id"])
                contacts.append(contact)
    return contacts

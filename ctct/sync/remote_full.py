"""A full read of Constant Contact: every list with its counts, every contact with its memberships.

It is what every preview took before CTCT was read incrementally, and what still runs when the
incremental read cannot be trusted (see ctct/sync/remote_read.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager

import pandas as pd

from ctct.api.client import CtctClient
from ctct.api.contacts import ONE_CHAIN_ROUND_TRIP, Contact
from ctct.api.limits import FirstTrip
from ctct.crm.normalize import email_keys, name_key
from ctct.sync.remote_export import export_pays_off, exported_remote_contacts
from ctct.sync.snapshot import REMOTE_CONTACT_COLUMNS, RemoteSnapshot

log = logging.getLogger(__name__)

# Contacts between two progress messages.
PROGRESS_EVERY = 5000
# How often the lists' read looks whether the probe is back, in seconds.
PROBE_BACK_CHECK = 0.005


def full_remote_read(
    client: CtctClient,
    progress: Callable[[str], None] | None = None,
    *,
    exports: bool = True,
    reason: str | None = None,
) -> RemoteSnapshot:
    """Every CTCT list (with counts) and every contact with its memberships: through contact
    exports when they take fewer requests (ctct/sync/remote_export.py, large accounts), otherwise —
    or when an export cannot be trusted — 500 a page; when CTCT is far, through concurrent cursor
    chains (`Contacts.split_by_creation`). `exports=False` pages whatever the size; `reason`, why
    all is read, is told when the read is long, once CTCT has answered."""
    before = client.budget.used()
    taken_at = dt.datetime.now(dt.UTC).isoformat()

    reported = 0

    def on_page(read: int) -> None:
        nonlocal reported
        if progress is not None and read // PROGRESS_EVERY > reported // PROGRESS_EVERY:
            progress(f"{read // PROGRESS_EVERY * PROGRESS_EVERY:,} Constant Contact contacts read")
        reported = read

    with _lists_beside_the_probe(client) as listed:
        probe = client.contacts.probe(listed.trip)
        listed.probe_back()
        if progress is not None and reason is not None and probe.count >= PROGRESS_EVERY:
            progress(f"reading all of Constant Contact: {reason}")  # a read long enough to explain
        ranges = client.contacts.split_by_creation(probe=probe)
        # Exports need the list ids first; with those too few contacts, the pages need none.
        if exports and export_pays_off(probe.count, 0) and export_pays_off(probe.count, len(listed.result())):
            lists = listed.result()
            exported = exported_remote_contacts(client, progress, list_ids=lists["ctct_list_id"].tolist())
            if exported is not None:
                return RemoteSnapshot(lists, *exported, taken_at, client.budget.used() - before)
        # The contacts' chains start beside the lists' read when that is still out.
        read = client.contacts.read_ranges(ranges, include="list_memberships", on_page=on_page) if ranges else []
        lists = listed.result()
    return RemoteSnapshot(lists, *paged_frames(read), taken_at, client.budget.used() - before)


class _ListsBesideTheProbe:
    """CTCT's lists, read during the probe's round trip when CTCT is far, in turn after it when
    near. The probe (sent first, in the caller's thread, told of by `trip`) waits for CTCT's
    answer; when its first attempt is out longer than `ONE_CHAIN_ROUND_TRIP`, the lists' read
    leaves on a thread of its own meanwhile (the limiter spaces it after the probe), instead of
    losing a request slot in every full read. When CTCT answers sooner, or the first attempt
    failed (the retry waits), nothing is gained: the lists are read after the probe, and the
    probe's round trip, which chooses the chains, was timed alone. Times are taken on the
    limiter's clock, the one sends are paced on: a test's clock moves only when the client waits,
    which it does not while an attempt is out, so there the order is the plain one."""

    def __init__(self, client: CtctClient) -> None:
        self._client = client
        self.trip = FirstTrip()
        self._probe_over = threading.Event()
        self._sent_early = threading.Event()
        self._decision = threading.Lock()
        self._lists: pd.DataFrame | None = None
        self._early: Future[pd.DataFrame | None] = Future()
        # A daemon thread, not a pool's: a read left behind by a failed probe must not hold up the
        # caller, nor the process's exit.
        threading.Thread(target=self._run, name="ctct-lists", daemon=True).start()

    def _run(self) -> None:
        try:
            self._early.set_result(self._read_if_the_probe_is_slow())
        except BaseException as error:  # handed to the caller's thread by result()
            self._early.set_exception(error)

    def _read_if_the_probe_is_slow(self) -> pd.DataFrame | None:
        limiter = self._client.limiter
        while not self.trip.left.wait(PROBE_BACK_CHECK):
            if self._probe_over.is_set():
                return None  # the probe was refused on our side (the day's budget): nothing to read
        probe_sent = limiter.now()
        while not (self.trip.back.wait(PROBE_BACK_CHECK) or self._probe_over.is_set()):
            if limiter.now() - probe_sent >= ONE_CHAIN_ROUND_TRIP:
                with self._decision:
                    if self._probe_over.is_set() or self.trip.back.is_set():
                        return None
                    self._sent_early.set()
                return ctct_lists(self._client)
        return None

    def probe_back(self) -> None:
        """The probe is answered: the lists are read now unless they went during its trip."""
        self.stop()
        if not self._sent_early.is_set():
            self._lists = ctct_lists(self._client)

    def stop(self) -> None:
        with self._decision:
            self._probe_over.set()

    def abandon(self) -> None:
        """The full read failed: a lists' read still out is left to finish on its own."""
        self.stop()
        self._early.add_done_callback(_log_abandoned_read)

    def result(self) -> pd.DataFrame:
        if self._lists is None:
            self._lists = self._early.result()
            assert self._lists is not None  # read early, or by probe_back
        return self._lists


def _log_abandoned_read(read: Future[pd.DataFrame | None]) -> None:
    if read.exception() is not None:
        log.info("CTCT lists' read left behind by a failed full read: %s", read.exception())


@contextmanager
def _lists_beside_the_probe(client: CtctClient) -> Iterator[_ListsBesideTheProbe]:
    """The lists' read for a block that sends the probe and calls `probe_back` once it is answered;
    should the block fail, a lists' read still out is left behind."""
    lists = _ListsBesideTheProbe(client)
    try:
        yield lists
    except BaseException:
        lists.abandon()
        raise


def contact_row(contact: Contact) -> tuple[object, ...]:
    """One contact as the values of REMOTE_CONTACT_COLUMNS, as a full read gives them."""
    email = contact.get("email_address", {})
    return (
        contact["contact_id"],
        email.get("address", ""),
        contact.get("first_name"),
        contact.get("last_name"),
        contact.get("job_title"),
        contact.get("company_name"),
        email.get("permission_to_send"),
        email.get("opt_out_source"),
        "deleted_at" in contact,
        contact.get("updated_at"),
    )


def paged_frames(read: list[Contact]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contacts frame and the members frame of the contacts the pages gave."""
    rows, member_rows = [], []
    for contact in read:
        rows.append(contact_row(contact))
        member_rows += [(list_id, contact["contact_id"]) for list_id in contact.get("list_memberships", [])]
    contacts = pd.DataFrame(rows, columns=REMOTE_CONTACT_COLUMNS)
    contacts["email_key"] = email_keys(contacts["email"])
    return contacts, pd.DataFrame(member_rows, columns=["ctct_list_id", "ctct_contact_id"])


def ctct_lists(client: CtctClient) -> pd.DataFrame:
    """CTCT's lists as they are now, with their member counts and name keys: one listing."""
    rows = [(item["list_id"], item["name"], int(item.get("membership_count", 0))) for item in client.lists.iterate()]
    lists = pd.DataFrame(rows, columns=["ctct_list_id", "name", "membership_count"])
    lists["name_key"] = lists["name"].map(name_key)
    return lists

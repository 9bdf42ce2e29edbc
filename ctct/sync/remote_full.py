"""A full read of Constant Contact: every list with its counts, every contact with its memberships.

It is what every preview took before CTCT was read incrementally, and what still runs when the
incremental read cannot be trusted (see ctct/sync/remote_read.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from ctct.api.client import CtctClient
from ctct.api.contacts import Contact
from ctct.crm.normalize import email_keys, name_key
from ctct.sync.remote_export import export_pays_off, exported_remote_contacts
from ctct.sync.snapshot import REMOTE_CONTACT_COLUMNS, RemoteSnapshot

# Contacts between two progress messages.
PROGRESS_EVERY = 5000


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

    probe = client.contacts.probe()
    if progress is not None and reason is not None and probe.count >= PROGRESS_EVERY:
        progress(f"reading all of Constant Contact: {reason}")  # a read long enough to explain
    ranges = client.contacts.split_by_creation(probe=probe)
    if exports and export_pays_off(probe.count, 0):
        # Exports may read this account in fewer requests; they need the list ids first.
        lists = ctct_lists(client)
        if export_pays_off(probe.count, len(lists)):
            exported = exported_remote_contacts(client, progress, list_ids=lists["ctct_list_id"].tolist())
            if exported is not None:
                return RemoteSnapshot(lists, *exported, taken_at, client.budget.used() - before)
        read = client.contacts.read_ranges(ranges, include="list_memberships", on_page=on_page)
    elif len(ranges) > 1:
        # CTCT is far: the lists go on a chain of their own next to the contacts' chains.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctct-lists") as pool:
            listed = pool.submit(ctct_lists, client)
            read = client.contacts.read_ranges(ranges, include="list_memberships", on_page=on_page)
            lists = listed.result()
    else:
        lists = ctct_lists(client)
        read = client.contacts.read_ranges(ranges, include="list_memberships", on_page=on_page) if ranges else []
    return RemoteSnapshot(lists, *paged_frames(read), taken_at, client.budget.used() - before)


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

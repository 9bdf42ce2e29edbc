"""A full read of Constant Contact: every list with its counts, every contact with its memberships.

It is what every preview took before CTCT was read incrementally, and what still runs when the
incremental read cannot be trusted (see ctct/sync/remote_read.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

from ctct.api.client import CtctClient
from ctct.crm.normalize import email_keys, name_key
from ctct.sync.snapshot import REMOTE_CONTACT_COLUMNS, RemoteSnapshot


def full_remote_read(client: CtctClient, progress: Callable[[str], None] | None = None) -> RemoteSnapshot:
    """Every CTCT list (with counts) and every contact with its memberships, 500 a page."""
    before = client.budget.used()
    taken_at = dt.datetime.now(dt.UTC).isoformat()
    list_rows = [
        (item["list_id"], item["name"], int(item.get("membership_count", 0))) for item in client.lists.iterate()
    ]
    lists = pd.DataFrame(list_rows, columns=["ctct_list_id", "name", "membership_count"])
    lists["name_key"] = lists["name"].map(name_key)
    rows, member_rows = [], []
    for count, contact in enumerate(client.contacts.iterate(status="all", include="list_memberships"), start=1):
        email = contact.get("email_address", {})
        rows.append(
            (
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
        )
        member_rows += [(list_id, contact["contact_id"]) for list_id in contact.get("list_memberships", [])]
        if progress is not None and count % 5000 == 0:
            progress(f"{count:,} Constant Contact contacts read")
    contacts = pd.DataFrame(rows, columns=REMOTE_CONTACT_COLUMNS)
    contacts["email_key"] = email_keys(contacts["email"])
    members = pd.DataFrame(member_rows, columns=["ctct_list_id", "ctct_contact_id"])
    return RemoteSnapshot(lists, contacts, members, taken_at, client.budget.used() - before)

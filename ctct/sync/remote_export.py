"""A full read of CTCT's contacts and memberships through contact exports instead of 500-contact pages.

Exports submitted together (see docs/ctct-contact-exports.md for the request count):
- every contact that is not deleted, with the fields the paged read takes;
- the deleted ones (`status: removed`), the same fields: together they are every contact, and the
  deleted flag does not rest on whether CTCT's default export includes deleted contacts or not;
- one per list, only `contact_id`: its members. CTCT documents list filtering; how `email_lists` is
  written is not documented, so memberships are not read from it.

CTCT does not document a `contact_id` field, nor the header names or how values are written, so
every file is checked before it is trusted: a missing column, a permission or opt-out source
outside the API's values, or an export CTCT refuses or does not offer gives None and the caller
reads page by page (`full_remote_read`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa

from ctct.api.activities import SUBMIT_TOGETHER, ActivityProgress
from ctct.api.client import CtctClient
from ctct.api.errors import BadRequest, Forbidden, NotEmulated, NotFound
from ctct.api.exports import ExportActivity, ExportBody, ExportFileMissing
from ctct.crm.normalize import email_keys
from ctct.sync.snapshot import REMOTE_CONTACT_COLUMNS

# The export field behind each column of the paged read (REMOTE_CONTACT_COLUMNS but `deleted`).
CONTACT_FIELDS = {
    "ctct_contact_id": "contact_id",
    "email": "email_address",
    "first_name": "first_name",
    "last_name": "last_name",
    "job_title": "job_title",
    "company_name": "company_name",
    "permission": "email_permission",
    "opt_out_source": "email_optout_source",
    "updated_at": "updated_at",
}
PERMISSIONS = frozenset({"explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed"})
OPT_OUT_SOURCES = frozenset({"Account", "Contact"})
# Answers that mean "this account or this API does not offer exports as read here": page instead.
# A 400 is among them: CTCT refusing a field it does not know (`contact_id`) is a 400.
NOT_OFFERED = (NotFound, NotEmulated, Forbidden, BadRequest, ExportFileMissing)
PAGE_SIZE = 500
# The `GET /activities` polls one batch of exports takes (measured on the sandbox; CTCT's timing is
# unknown, so this only tilts the choice below).
POLLS_PER_BATCH = 7


def export_read_requests(list_count: int) -> int:
    """Requests of `exported_remote_contacts` for an account with this many lists (its lists page included)."""
    exports = list_count + 2
    return (
        2 * exports + math.ceil(max(list_count, 1) / PAGE_SIZE) + POLLS_PER_BATCH * math.ceil(exports / SUBMIT_TOGETHER)
    )


def paged_read_requests(contact_count: int, list_count: int) -> int:
    """Requests of `full_remote_read`: the lists page(s) and one page per 500 contacts."""
    return math.ceil(max(list_count, 1) / PAGE_SIZE) + max(1, math.ceil(contact_count / PAGE_SIZE))


def export_pays_off(contact_count: int, list_count: int) -> bool:
    """Whether exports read this account in fewer requests than pages do."""
    return export_read_requests(list_count) < paged_read_requests(contact_count, list_count)


def export_bodies(list_ids: Sequence[str]) -> list[ExportBody]:
    fields = list(CONTACT_FIELDS.values())
    everyone: list[ExportBody] = [{"fields": fields}, {"status": "removed", "fields": fields}]
    per_list: list[ExportBody] = [{"list_ids": [list_id], "fields": ["contact_id"]} for list_id in list_ids]
    return everyone + per_list


def exported_remote_contacts(
    client: CtctClient,
    progress: Callable[[str], None] | None = None,
    *,
    list_ids: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The contacts frame (REMOTE_CONTACT_COLUMNS + email_key) and the members frame (ctct_list_id,
    ctct_contact_id) the paged read gives, from exports; None when they cannot be trusted.

    `list_ids` saves the lists page when the caller has just read it."""
    if list_ids is None:
        list_ids = [item["list_id"] for item in client.lists.iterate(membership_count=None)]
    watched = None if progress is None else _progress_words(progress)
    try:
        result = client.exports.run(export_bodies(list_ids), watched)
        if result.failed:
            return None
        current, removed, *per_list = (client.exports.read(_as_export(activity)) for activity in result.activities)
    except NOT_OFFERED:
        return None
    contacts = _contacts(current, removed)
    members = _members(list_ids, per_list)
    if contacts is None or members is None:
        return None
    return contacts, members


def _as_export(activity: object) -> ExportActivity:
    return activity  # type: ignore[return-value]


def _progress_words(progress: Callable[[str], None]) -> Callable[[ActivityProgress], None]:
    def told(step: ActivityProgress) -> None:
        progress(f"Constant Contact export {step.chunk} of {step.chunks}: {step.state}")

    return told


def _contacts(current: pa.Table, removed: pa.Table) -> pd.DataFrame | None:
    wanted = list(CONTACT_FIELDS.values())
    if any(field not in table.column_names for table in (current, removed) for field in wanted):
        return None
    frames = [table.select(wanted).to_pandas() for table in (current, removed)]
    both = pd.concat(frames, ignore_index=True).rename(
        columns={field: column for column, field in CONTACT_FIELDS.items()}
    )
    if both["ctct_contact_id"].isna().any() or not _known(both["permission"], PERMISSIONS):
        return None
    if not _known(both["opt_out_source"], OPT_OUT_SOURCES):
        return None
    # A default export that also holds the deleted contacts lists them twice: keep one row each.
    contacts = both.drop_duplicates("ctct_contact_id", keep="last").reset_index(drop=True)
    contacts["email"] = contacts["email"].fillna("")
    contacts["deleted"] = contacts["ctct_contact_id"].isin(frames[1]["contact_id"])
    contacts = contacts[REMOTE_CONTACT_COLUMNS]
    contacts["email_key"] = email_keys(contacts["email"])
    return contacts


def _known(values: pd.Series, allowed: frozenset[str]) -> bool:
    return bool(values.dropna().isin(allowed).all())


def _members(list_ids: Sequence[str], tables: Sequence[pa.Table]) -> pd.DataFrame | None:
    if any("contact_id" not in table.column_names for table in tables):
        return None
    frames = [
        pd.DataFrame({"ctct_list_id": list_id, "ctct_contact_id": table.column("contact_id").to_pandas()})
        for list_id, table in zip(list_ids, tables, strict=True)
    ]
    if not frames:
        return pd.DataFrame(columns=["ctct_list_id", "ctct_contact_id"])
    members = pd.concat(frames, ignore_index=True)
    return None if members["ctct_contact_id"].isna().any() else members

"""The change kinds of a sync plan, described once: each kind's frame, how a person reviews it, where
it stands in `plan --json`, how the journal records it and how History says it once done.

Every table the planner, the preview, the journal and History read is derived from `CHANGES`, so a
kind is added or changed here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple


class Direction(StrEnum):
    """Which side wins: push (the CRM), pull (CTCT), import (activation's first pull), or both:
    the three-way merge where each side's changes since the baseline win (ctct/sync/merge.py)."""

    PUSH = "push"
    PULL = "pull"
    IMPORT = "import"
    BOTH = "both"


class ChangeKind(StrEnum):
    """A plan's change kinds. The values are public: the frames, the JSON counts and the CSVs use them."""

    LISTS_CREATE = "lists_create"
    LISTS_RENAME = "lists_rename"
    LISTS_DELETE = "lists_delete"
    CONTACTS_CREATE = "contacts_create"
    CONTACTS_UPDATE = "contacts_update"
    CONTACTS_UNSUBSCRIBED = "contacts_unsubscribed"
    CONTACTS_RESUBSCRIBED = "contacts_resubscribed"
    CONTACTS_DELETED_IN_CTCT = "contacts_deleted_in_ctct"
    CONTACTS_LINK = "contacts_link"
    MEMBERSHIPS_ADD = "memberships_add"
    MEMBERSHIPS_REMOVE = "memberships_remove"
    SKIPPED = "skipped"


class JournalKind(NamedTuple):
    """How the journal records a row of the kind: its label, and the columns that name its list and
    its email (None where the kind has no such column)."""

    label: str
    list_column: str | None
    email_column: str | None


@dataclass(frozen=True)
class KindSpec:
    """One change kind. `json_section` None: the kind stands at the top level of the JSON.
    A kind without `journal` (contacts_link) is bookkeeping: the commit stores the links, but no
    person reviews, counts or reads it."""

    kind: ChangeKind
    title: str
    columns: tuple[str, ...]
    reviewed: tuple[str, ...]
    sort_key: tuple[str, ...]
    json_section: str | None
    json_name: str
    journal: JournalKind | None
    done_words: tuple[str, str]

    @property
    def shown(self) -> bool:
        return self.journal is not None


_MEMBERSHIP_COLUMNS = ("list", "email", "list_id", "ctct_list_id", "contact_id", "ctct_contact_id")
_CONTACT_FIELDS = ("first_name", "last_name", "job_title", "company")

# In the order of the plan: frames, counts, the preview and the JSON all follow it.
CHANGES: tuple[KindSpec, ...] = (
    KindSpec(
        ChangeKind.LISTS_CREATE,
        "Lists to create or link",
        columns=("name", "list_id", "ctct_list_id", "link"),
        reviewed=("name", "link"),
        sort_key=("name",),
        json_section="lists",
        json_name="create",
        journal=JournalKind("list created", "name", None),
        done_words=("list created or linked", "lists created or linked"),
    ),
    KindSpec(
        ChangeKind.LISTS_RENAME,
        "Lists to rename",
        columns=("from", "to", "list_id", "ctct_list_id"),
        reviewed=("from", "to"),
        sort_key=("from",),
        json_section="lists",
        json_name="rename",
        journal=JournalKind("list renamed", "to", None),
        done_words=("list renamed", "lists renamed"),
    ),
    KindSpec(
        ChangeKind.LISTS_DELETE,
        "Lists to delete",
        columns=("name", "list_id", "ctct_list_id"),
        reviewed=("name",),
        sort_key=("name",),
        json_section="lists",
        json_name="delete",
        journal=JournalKind("list deleted", "name", None),
        done_words=("list deleted", "lists deleted"),
    ),
    KindSpec(
        ChangeKind.CONTACTS_CREATE,
        "Contacts to create",
        columns=("email", *_CONTACT_FIELDS, "contact_id", "ctct_contact_id", "restored"),
        reviewed=("email", *_CONTACT_FIELDS, "restored"),
        sort_key=("email", "contact_id"),
        json_section="contacts",
        json_name="create",
        journal=JournalKind("contact created", None, "email"),
        done_words=("contact created", "contacts created"),
    ),
    KindSpec(
        ChangeKind.CONTACTS_UPDATE,
        "Contacts to update",
        # previous_email is set when the email changed here: CTCT's contact is updated by its id,
        # not imported by email.
        columns=("email", "changes", *_CONTACT_FIELDS, "contact_id", "ctct_contact_id", "previous_email"),
        reviewed=("email", "changes"),
        sort_key=("email", "contact_id"),
        json_section="contacts",
        json_name="update",
        journal=JournalKind("contact updated", None, "email"),
        done_words=("contact updated", "contacts updated"),
    ),
    KindSpec(
        ChangeKind.CONTACTS_UNSUBSCRIBED,
        "Unsubscribed in Constant Contact",
        columns=("email", "contact_id", "source"),
        reviewed=("email", "source"),
        sort_key=("email", "contact_id"),
        json_section="contacts",
        json_name="unsubscribed",
        journal=JournalKind("contact unsubscribed", None, "email"),
        done_words=("contact unsubscribed in Constant Contact", "contacts unsubscribed in Constant Contact"),
    ),
    KindSpec(
        ChangeKind.CONTACTS_RESUBSCRIBED,
        "Re-subscribed in Constant Contact",
        columns=("email", "contact_id"),
        reviewed=("email",),
        sort_key=("email", "contact_id"),
        json_section="contacts",
        json_name="resubscribed",
        journal=JournalKind("contact re-subscribed", None, "email"),
        done_words=("contact re-subscribed in Constant Contact", "contacts re-subscribed in Constant Contact"),
    ),
    KindSpec(
        ChangeKind.CONTACTS_DELETED_IN_CTCT,
        "Deleted in Constant Contact",
        columns=("email", "contact_id"),
        reviewed=("email",),
        sort_key=("email", "contact_id"),
        json_section="contacts",
        json_name="deleted_in_ctct",
        journal=JournalKind("contact deleted in CTCT", None, "email"),
        done_words=("contact deleted in Constant Contact", "contacts deleted in Constant Contact"),
    ),
    KindSpec(
        ChangeKind.CONTACTS_LINK,
        "Contacts to link",
        columns=("email", "contact_id", "ctct_contact_id"),
        reviewed=("email",),
        sort_key=("email", "contact_id"),
        json_section=None,
        json_name="contacts_link",
        journal=None,
        done_words=("contact linked", "contacts linked"),
    ),
    KindSpec(
        ChangeKind.MEMBERSHIPS_ADD,
        "Members to add",
        columns=_MEMBERSHIP_COLUMNS,
        reviewed=("list", "email"),
        sort_key=("list", "email", "contact_id", "ctct_contact_id"),
        json_section="memberships",
        json_name="add",
        journal=JournalKind("member added", "list", "email"),
        done_words=("member added", "members added"),
    ),
    KindSpec(
        ChangeKind.MEMBERSHIPS_REMOVE,
        "Members to remove",
        columns=_MEMBERSHIP_COLUMNS,
        reviewed=("list", "email"),
        sort_key=("list", "email", "contact_id", "ctct_contact_id"),
        json_section="memberships",
        json_name="remove",
        journal=JournalKind("member removed", "list", "email"),
        done_words=("member removed", "members removed"),
    ),
    KindSpec(
        ChangeKind.SKIPPED,
        "Skipped",
        columns=("email", "list", "reason"),
        reviewed=("email", "list", "reason"),
        sort_key=("list", "email", "reason"),
        json_section=None,
        json_name="skipped",
        journal=JournalKind("skipped", "list", "email"),
        done_words=("row skipped", "rows skipped"),
    ),
)
SPECS: MappingProxyType[ChangeKind, KindSpec] = MappingProxyType({spec.kind: spec for spec in CHANGES})
# The kinds a person reviews and counts, in the plan's order.
SHOWN_KINDS: tuple[ChangeKind, ...] = tuple(spec.kind for spec in CHANGES if spec.shown)

# A CRM file import's runs stand in History beside the syncs, counted in these words; they are
# no plan's change kinds.
IMPORT_RUN_WORDS: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        "companies_created": ("company created", "companies created"),
        "companies_updated": ("company updated", "companies updated"),
        "contacts_created": ("contact created", "contacts created"),
        "contacts_updated": ("contact updated", "contacts updated"),
        "tags_created": ("marketing tag created", "marketing tags created"),
        "rows_rejected": ("row rejected", "rows rejected"),
    }
)


# The former tables, derived: each kind's frame columns, (title, reviewed columns), journal kind,
# and done words (with the import runs' words, which History says too).
def title_of(kind: str) -> str:
    """A change kind's title; a kind the registry does not know (an older run's) in plain words."""
    spec = SPECS.get(ChangeKind(kind)) if kind in SPECS else None
    return spec.title if spec is not None else kind.replace("_", " ")


SCHEMAS: dict[str, list[str]] = {spec.kind: list(spec.columns) for spec in CHANGES}
CHANGE_KINDS: dict[str, tuple[str, list[str]]] = {
    spec.kind: (spec.title, list(spec.reviewed)) for spec in CHANGES if spec.shown
}
ROW_KINDS: dict[str, JournalKind] = {spec.kind: spec.journal for spec in CHANGES if spec.journal is not None}
DONE_WORDS: dict[str, tuple[str, str]] = {
    **{spec.kind: spec.done_words for spec in CHANGES if spec.shown},
    **IMPORT_RUN_WORDS,
}

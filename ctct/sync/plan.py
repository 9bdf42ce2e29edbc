"""The pure planner: (local, remote, baseline) snapshots in, a frozen `Plan` of typed changes out.

No I/O happens here. Every change kind (ctct/sync/changes.py) is a frame with a fixed schema,
built with merges and set operations (never a Python loop over contacts), so a million contacts
plan in seconds. Each direction plans in named steps — lists, contacts, memberships, warnings —
that hand small frozen contexts on; the request estimate and the mass removals are worked out
before the Plan is made, and nothing changes it after. The same Plan is the preview (tables), the
CLI's JSON and — once committed — the history's row changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ctct import display
from ctct.config import Settings
from ctct.crm.matching import company_for_remote_contact, match_contacts, match_lists, near_duplicate_names
from ctct.crm.normalize import company_name_key, email_keys, name_key, role_locals
from ctct.safe_csv import formula_mask
from ctct.sync.changes import CHANGE_KINDS as CHANGE_KINDS
from ctct.sync.changes import CHANGES, SPECS, ChangeKind, Direction
from ctct.sync.changes import DONE_WORDS as DONE_WORDS
from ctct.sync.changes import SCHEMAS as SCHEMAS
from ctct.sync.keys import EmailCodes, fast_email_keys, is_in, pairs_in, places_in
from ctct.sync.push_shape import push_requests
from ctct.sync.snapshot import Baseline, LocalSnapshot, RemoteSnapshot

PUSH, PULL, IMPORT = Direction.PUSH, Direction.PULL, Direction.IMPORT

# A plan's frames by change kind, as the planner's steps hand them on.
Changes = Mapping[str, pd.DataFrame]


def describe_counts(counts: dict[str, int]) -> str:
    """`lists create 1, memberships add 13`: the non-zero counts of a plan or run, in one line."""
    return ", ".join(f"{kind.replace('_', ' ')} {count:,}" for kind, count in counts.items() if count)


# What a person reads as the column titles of a preview and of History. The frames, the JSON and
# the command line's CSVs keep the names above: scripts rely on them.
COLUMN_TITLES: dict[str, str] = {
    "name": "List",
    "link": "Created or linked",
    "from": "Old name",
    "to": "New name",
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "job_title": "Job title",
    "company": "Company",
    "restored": "Restored",
    "changes": "What changed",
    "source": "Unsubscribed by",
    "list": "List",
    "reason": "Why",
    "change": "Change",
    "detail": "Detail",
    "outcome": "Outcome",
}


def plain_counts(counts: dict[str, int]) -> str:
    """`1 list created or linked; 13 members added`: the non-zero counts of a plan or run, in words."""
    phrases = []
    for kind, count in counts.items():
        if count:
            one, several = DONE_WORDS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
            phrases.append(f"{count:,} {one if count == 1 else several}")
    return "; ".join(phrases)


def empty(kind: str) -> pd.DataFrame:
    return pd.DataFrame(columns=SCHEMAS[kind])


@dataclass
class PlanWarning:
    kind: str
    message: str


@dataclass
class MassRemovalPolicy:
    """SPEC §7: deleting lists, emptying one, or removing > 20 % of a list of 10 or more."""

    percent: float = 20.0
    min_list_size: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> MassRemovalPolicy:
        return cls(settings.mass_removal_percent, settings.mass_removal_min_list)


@dataclass(frozen=True)
class Plan:
    direction: Direction
    changes: dict[str, pd.DataFrame]
    warnings: list[PlanWarning] = field(default_factory=list)
    mass_removals: list[str] = field(default_factory=list)
    estimated_requests: int = 0
    local_fingerprint: str = ""
    remote_fingerprint: str = ""
    remote_taken_at: str = ""
    # CTCT's newest contact update seen: a contact changed after it makes the plan stale.
    remote_max_updated: str | None = None
    # Requests the CTCT snapshot behind this plan took (counted in the run's total).
    snapshot_requests: int = 0
    # Both sides as the plan saw them: what the commit compares its outcome with.
    local: LocalSnapshot | None = field(default=None, repr=False, compare=False)
    remote: RemoteSnapshot | None = field(default=None, repr=False, compare=False)

    def company_matches(self) -> pd.DataFrame | None:
        """For an import or pull: each contact it creates, with the company it gets — the one here
        with the same normalized name (SPEC §4; the oldest, as the commit files it) or a new one.
        None for a push, where a company is only a field of CTCT's contact. Worked out once per plan."""
        return self._company_matches

    @cached_property
    def _company_matches(self) -> pd.DataFrame | None:
        # A cached_property writes the instance's __dict__ directly, so it caches on a frozen Plan too.
        if self.direction == PUSH or self.local is None or self["contacts_create"].empty:
            return None
        companies = self.local.companies.sort_values("company_id")
        here = companies.drop_duplicates("name_key").set_index("name_key")["name"]
        frame = self["contacts_create"][["email", "first_name", "last_name", "company"]].copy()
        frame["company_here"] = frame["company"].map(company_name_key).map(here)
        return frame

    def __getitem__(self, kind: str) -> pd.DataFrame:
        return self.changes[kind]

    def counts(self) -> dict[str, int]:
        return {kind: len(frame) for kind, frame in self.changes.items() if kind in CHANGE_KINDS}

    @property
    def is_empty(self) -> bool:
        return not any(len(frame) for kind, frame in self.changes.items() if kind in CHANGE_KINDS and kind != "skipped")

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """One frame per change kind (copies, every column), for filtering and export."""
        return {kind: frame.copy() for kind, frame in self.changes.items() if kind in CHANGE_KINDS}

    def to_json(self, row_limit: int | None = None) -> dict[str, Any]:
        def rows(kind: str) -> list[dict[str, Any]]:
            frame = self.changes[kind]
            frame = frame if row_limit is None else frame.head(row_limit)
            shown = frame[[c for c in CHANGE_KINDS[kind][1] if c in frame.columns]]
            return shown.astype(object).where(shown.notna(), None).to_dict("records")

        body: dict[str, Any] = {"direction": self.direction}
        for spec in CHANGES:
            if not spec.shown:
                continue
            if spec.json_section is None:
                body[spec.json_name] = rows(spec.kind)
            else:
                body.setdefault(spec.json_section, {})[spec.json_name] = rows(spec.kind)
        body["warnings"] = [{"kind": w.kind, "message": w.message} for w in self.warnings]
        body["mass_removals"] = list(self.mass_removals)
        body["counts"] = self.counts()
        body["estimated_requests"] = self.estimated_requests
        return body

    def summary(self) -> str:
        titles = {kind: title[0].lower() + title[1:] for kind, (title, _columns) in CHANGE_KINDS.items()}
        shown = [f"{titles[kind]} {count:,}" for kind, count in self.counts().items() if count]
        text = f"{self.direction.capitalize()} plan: " + (", ".join(shown) or "nothing to change")
        text += f"; about {self.estimated_requests:,} requests"
        if self.warnings:
            text += f"; {len(self.warnings):,} warning(s)"
        if self.mass_removals:
            text += f"; {len(self.mass_removals):,} mass removal(s) to confirm"
        return text

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def _repr_html_(self) -> str:
        counts = self.counts()
        parts = [
            display.heading(f"{self.direction.capitalize()} plan"),
            display.paragraph("Both sides already agree: nothing to change.")
            if self.is_empty
            else display.counts_table((CHANGE_KINDS[kind][0], count) for kind, count in counts.items())
            + display.paragraph(f"About {self.estimated_requests:,} Constant Contact requests to commit it."),
            display.messages([w.message for w in self.warnings], "warning"),
            display.messages([f"Mass removal: this {removal}" for removal in self.mass_removals], "error"),
        ]
        for kind, count in counts.items():
            if count:
                title, columns = CHANGE_KINDS[kind]
                parts.append(display.heading(f"{title} ({count:,})", 4))
                parts.append(display.frame_table(self.changes[kind][columns], more_hint=f"plan.to_frames()['{kind}']"))
        return display.card(*parts)


def _folded(column: pd.Series) -> pd.Series:
    """A sort key for names and emails: case-insensitive, as a person reads a sorted list. Warnings
    that name rows say them in this order, so the same inputs give the same words."""
    return column.astype(str).str.casefold()


def _str(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), None)


REMOTE_KEYS = ["ctct_contact_id", "email"]
REMOTE_STATUSES = ["ctct_contact_id", "permission", "opt_out_source", "deleted"]
REMOTE_NAMES = ["ctct_contact_id", "first_name", "last_name", "job_title", "company_name"]
LIST_KEYS = ["list_id", "ctct_list_id", "name"]


def _ordered(changes: Changes) -> dict[str, pd.DataFrame]:
    """Every kind, in the registry's order, each frame with its columns and rows in a fixed order."""
    return {spec.kind: _stable(spec.kind, changes[spec.kind]) for spec in CHANGES}


def _stable(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Fixed columns, fixed order: the same inputs always give the same plan."""
    # Rows are put in order by position: a frame concatenated from two steps can carry one index
    # label twice, and ordering by label would then repeat rows.
    frame = frame.reindex(columns=SCHEMAS[kind]).reset_index(drop=True)
    if frame.empty:
        return frame
    keys = list(SPECS[ChangeKind(kind)].sort_key)
    # Case-insensitive as a person reads it; the exact text breaks a tie ('Ann@' and 'ann@').
    text = frame[keys].astype(str)
    order = pd.concat([text.apply(lambda column: column.str.lower()), text.add_prefix("exact_")], axis=1)
    return frame.loc[order.sort_values(list(order.columns), kind="stable").index].reset_index(drop=True)


def _plan(
    direction: Direction,
    changes: dict[str, pd.DataFrame],
    warnings: list[PlanWarning],
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    *,
    mass_removals: list[str],
    estimated_requests: int,
) -> Plan:
    """The Plan of ordered `changes`, with what it knows of both sides for the commit."""
    stamps = remote.contacts["updated_at"].dropna() if "updated_at" in remote.contacts else pd.Series(dtype=object)
    return Plan(
        direction,
        changes,
        warnings,
        mass_removals=mass_removals,
        estimated_requests=estimated_requests,
        local_fingerprint=local.fingerprint,
        remote_fingerprint=remote.lists_fingerprint,
        remote_taken_at=remote.taken_at,
        remote_max_updated=str(stamps.max()) if len(stamps) else None,
        snapshot_requests=remote.requests,
        local=local,
        remote=remote,
    )


# Pull and import: CTCT wins


@dataclass(frozen=True)
class PulledLists:
    """CTCT's lists matched with the lists here, and what a pull changes in them."""

    matched: pd.DataFrame  # every CTCT list, with the list here it is (match_lists)
    paired: pd.DataFrame  # the lists on both sides: list_id (int), ctct_list_id, name (CTCT's)
    create: pd.DataFrame
    rename: pd.DataFrame
    delete: pd.DataFrame


@dataclass(frozen=True)
class PulledContacts:
    """CTCT's contacts matched with the contacts here, and what a pull changes in them."""

    matched: pd.DataFrame  # every CTCT contact, with the contact here it is and its CTCT statuses
    known: pd.DataFrame  # those with a contact here, beside its fields here
    create: pd.DataFrame
    link: pd.DataFrame
    update: pd.DataFrame
    unsubscribed: pd.DataFrame
    resubscribed: pd.DataFrame


@dataclass(frozen=True)
class PulledMembers:
    add: pd.DataFrame
    remove: pd.DataFrame
    # Contacts deleted in CTCT that still stand on a linked list here.
    deleted: pd.DataFrame


def plan_pull(
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    baseline: Baseline,
    *,
    direction: Direction = PULL,
    policy: MassRemovalPolicy | None = None,
) -> Plan:
    warnings: list[PlanWarning] = []
    emails = _email_codes(local, remote, baseline)
    lists = _pull_lists(local, remote, baseline, warnings)
    contacts = _pull_contacts(local, remote, emails, warnings)
    members = _pull_memberships(local, remote, baseline, lists, contacts, emails, warnings)
    # SPEC §4: a pull, like the import and the CSV import, names a new company that looks like one here.
    if len(contacts.create):
        warnings += _new_company_warnings(contacts.create, local.companies)
    warnings += _role_address_warnings(members.add, local.role_addresses)
    changes = _pulled_changes(lists, contacts, members)
    if direction == IMPORT and not baseline.empty:
        # Connecting again (after a revoked grant, say): what was changed here since the last sync
        # and never reached CTCT is kept, not overwritten by CTCT's older state.
        changes, kept = _keep_local_changes(changes, baseline)
        # Nothing made here is lost now: the notes on what is kept replace the warnings.
        warnings = [warning for warning in warnings if warning.kind != "losing_side_change"] + kept
    ordered = _ordered(changes)
    # From the ordered rows: which values are named, when there are more than can be shown, is fixed.
    warnings += _formula_warnings(ordered)
    removals = mass_removals(ordered, _local_sizes(local), policy or MassRemovalPolicy(), "list_id")
    return _plan(
        direction,
        ordered,
        warnings,
        local,
        remote,
        mass_removals=removals,
        estimated_requests=_stale_check_requests(remote),
    )


def _pulled_changes(lists: PulledLists, contacts: PulledContacts, members: PulledMembers) -> dict[str, pd.DataFrame]:
    return {
        ChangeKind.LISTS_CREATE: lists.create,
        ChangeKind.LISTS_RENAME: lists.rename,
        ChangeKind.LISTS_DELETE: lists.delete,
        ChangeKind.CONTACTS_CREATE: contacts.create,
        ChangeKind.CONTACTS_UPDATE: contacts.update,
        ChangeKind.CONTACTS_UNSUBSCRIBED: contacts.unsubscribed,
        ChangeKind.CONTACTS_RESUBSCRIBED: contacts.resubscribed,
        ChangeKind.CONTACTS_DELETED_IN_CTCT: members.deleted,
        ChangeKind.CONTACTS_LINK: contacts.link,
        ChangeKind.MEMBERSHIPS_ADD: members.add,
        ChangeKind.MEMBERSHIPS_REMOVE: members.remove,
        ChangeKind.SKIPPED: empty(ChangeKind.SKIPPED),
    }


def _pull_lists(
    local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline, warnings: list[PlanWarning]
) -> PulledLists:
    """New CTCT lists come over (a list here with the same name is linked instead), renames in CTCT
    are made here, and lists CTCT deleted go. Appends the warnings about them to `warnings`."""
    lists = match_lists(local.lists[["list_id", "ctct_list_id", "name"]], remote.lists[["ctct_list_id", "name"]])
    creates = lists[lists["list_id"].isna() | (lists["matched_by"] == "name")]
    lists_create = pd.DataFrame(
        {
            "name": creates["name"],
            "list_id": creates["list_id"],
            "ctct_list_id": creates["ctct_list_id"],
            "link": creates["list_id"].notna(),
        }
    )
    matched = lists[lists["list_id"].notna()].copy()
    matched["local_name"] = matched["list_id"].map(local.lists.set_index("list_id")["name"])
    lists_rename = _pull_renames(matched, baseline, warnings)
    gone = local.lists[
        local.lists["ctct_list_id"].notna() & ~local.lists["ctct_list_id"].isin(remote.lists["ctct_list_id"])
    ]
    lists_delete = pd.DataFrame(
        {"name": gone["name"], "list_id": gone["list_id"], "ctct_list_id": gone["ctct_list_id"]}
    )
    lists_rename = _renames_without_clashes(
        lists_rename,
        local.lists,
        "list_id",
        set(lists_rename["list_id"]) | set(lists_delete["list_id"]),
        warnings,
        lambda old, new, _holder: (
            f"Constant Contact renamed '{old}' to '{new}', the name of another list here: "
            f"'{old}' keeps its name here until one of the two is renamed"
        ),
    )
    warnings += _local_deletions_undone(local, remote, baseline)
    paired = matched[["list_id", "ctct_list_id", "name"]].astype({"list_id": "int64"})
    return PulledLists(lists, paired, lists_create, lists_rename, lists_delete)


def _pull_renames(matched: pd.DataFrame, baseline: Baseline, warnings: list[PlanWarning]) -> pd.DataFrame:
    """Lists CTCT calls otherwise than here take CTCT's name; a rename made here is said lost."""
    renamed = matched[matched["local_name"] != matched["name"]]
    baseline_names = baseline.lists.set_index("ctct_list_id")["name"] if not baseline.empty else pd.Series(dtype=str)
    for row in renamed.sort_values("local_name", key=_folded).itertuples():
        was = baseline_names.get(row.ctct_list_id)
        if was is not None and was != row.local_name:
            warnings.append(
                PlanWarning(
                    "losing_side_change",
                    f"local rename of '{was}' to '{row.local_name}' "
                    f"will be undone: Constant Contact calls it '{row.name}'",
                )
            )
    return pd.DataFrame(
        {
            "from": renamed["local_name"],
            "to": renamed["name"],
            "list_id": renamed["list_id"],
            "ctct_list_id": renamed["ctct_list_id"],
        }
    )


def _local_deletions_undone(local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline) -> list[PlanWarning]:
    """Lists deleted here since the last sync that CTCT still has: the pull brings them back."""
    deleted_here = baseline.lists[
        ~baseline.lists["ctct_list_id"].isin(local.lists["ctct_list_id"].dropna())
        & baseline.lists["ctct_list_id"].isin(remote.lists["ctct_list_id"])
    ]
    return [
        PlanWarning(
            "losing_side_change", f"local deletion of '{name}' will be undone: it still exists in Constant Contact"
        )
        for name in sorted(deleted_here["name"], key=str.casefold)
    ]


def _pull_contacts(
    local: LocalSnapshot, remote: RemoteSnapshot, emails: EmailCodes, warnings: list[PlanWarning]
) -> PulledContacts:
    """Which CTCT contact is which contact here; new ones come over, empty fields here are filled,
    and CTCT's unsubscribes and re-subscribes are made here."""
    contacts = match_contacts(local.contacts[["contact_id", "ctct_contact_id", "email"]], remote.contacts[REMOTE_KEYS])
    # match_contacts keeps CTCT's contacts row for row: each beside its email's code.
    contacts["email_code"] = emails.remote
    # Statuses for every contact; names only for the few rows that use them (a million-row
    # frame of names costs more memory than the rest of the plan).
    contacts = contacts.merge(remote.contacts[REMOTE_STATUSES], on="ctct_contact_id", how="left")
    for row in contacts[contacts["ambiguous"]].sort_values("email", key=_folded).itertuples():
        warnings.append(
            PlanWarning(
                "shared_email",
                f"{row.email} belongs to several contacts here; the oldest one is matched — resolve the conflict",
            )
        )
    known = contacts[contacts["contact_id"].notna()].copy()
    known["contact_id"] = known["contact_id"].astype("int64")
    local_fields = local.contacts[["contact_id", "unsubscribed", "unsubscribe_source", "ctct_contact_id"]]
    known = known.merge(local_fields, on="contact_id", how="left", suffixes=("", "_local"))
    relink = known[known["ctct_contact_id_local"].isna() | (known["ctct_contact_id_local"] != known["ctct_contact_id"])]
    unsubscribed, resubscribed = _pull_subscriptions(known)
    return PulledContacts(
        matched=contacts,
        known=known,
        create=_pull_new_contacts(contacts, remote),
        link=pd.DataFrame(
            {"email": relink["email"], "contact_id": relink["contact_id"], "ctct_contact_id": relink["ctct_contact_id"]}
        ),
        update=_pull_filled_fields(local, remote, known),
        unsubscribed=unsubscribed,
        resubscribed=resubscribed,
    )


def _pull_new_contacts(contacts: pd.DataFrame, remote: RemoteSnapshot) -> pd.DataFrame:
    """CTCT's members with no contact here: created, each with the company it would be filed under."""
    new_contacts = contacts[
        contacts["contact_id"].isna() & is_in(contacts["ctct_contact_id"], remote.members["ctct_contact_id"])
    ]
    new_contacts = new_contacts.merge(remote.contacts[REMOTE_NAMES], on="ctct_contact_id", how="left")
    companies = [
        company_for_remote_contact(company, email, first, last)
        for company, email, first, last in zip(
            new_contacts["company_name"],
            new_contacts["email"],
            new_contacts["first_name"],
            new_contacts["last_name"],
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "email": new_contacts["email"],
            "first_name": _str(new_contacts["first_name"]),
            "last_name": _str(new_contacts["last_name"]),
            "job_title": _str(new_contacts["job_title"]),
            "company": companies,
            "contact_id": None,
            "ctct_contact_id": new_contacts["ctct_contact_id"],
            "restored": False,
        }
    )


def _pull_filled_fields(local: LocalSnapshot, remote: RemoteSnapshot, known: pd.DataFrame) -> pd.DataFrame:
    gaps = local.contacts[local.contacts[["first_name", "last_name", "job_title"]].isna().any(axis=1)]
    fillable = known[known["contact_id"].isin(gaps["contact_id"])].merge(
        remote.contacts[REMOTE_NAMES], on="ctct_contact_id"
    )
    fillable = fillable.merge(
        gaps[["contact_id", "first_name", "last_name", "job_title"]], on="contact_id", suffixes=("", "_local")
    )
    return _fill_empty_fields(fillable)


def _pull_subscriptions(known: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contacts CTCT unsubscribed, and those it re-subscribed after an unsubscribe it made."""
    unsub = known[(known["permission"] == "unsubscribed") & ~known["unsubscribed"]]
    contacts_unsubscribed = pd.DataFrame(
        {
            "email": unsub["email"],
            "contact_id": unsub["contact_id"],
            "source": "ctct:" + unsub["opt_out_source"].fillna("Account").astype(str),
        }
    )
    back = known[
        (known["permission"] != "unsubscribed")
        & ~known["deleted"]
        & known["unsubscribed"]
        & known["unsubscribe_source"].fillna("").astype(str).str.startswith("ctct:")
    ]
    return contacts_unsubscribed, pd.DataFrame({"email": back["email"], "contact_id": back["contact_id"]})


def _pull_memberships(
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    baseline: Baseline,
    lists: PulledLists,
    contacts: PulledContacts,
    emails: EmailCodes,
    warnings: list[PlanWarning],
) -> PulledMembers:
    """Local members of matched lists become exactly CTCT's members."""
    remote_pairs = remote.members.merge(lists.matched[["ctct_list_id", "list_id", "name"]], on="ctct_list_id")
    remote_pairs = remote_pairs.merge(
        contacts.matched[["ctct_contact_id", "contact_id", "email", "email_code"]], on="ctct_contact_id"
    )
    local_pairs = local.members.merge(local.lists[LIST_KEYS], on="list_id")
    local_pairs = local_pairs[local_pairs["list_id"].isin(lists.paired["list_id"])]
    local_pairs = local_pairs.merge(
        local.contacts[["contact_id", "email"]].assign(email_code=emails.local), on="contact_id"
    )
    # Reported when it changes something here: the contact still stands on a linked list.
    known = contacts.known
    deleted = known[known["deleted"] & known["contact_id"].isin(local_pairs["contact_id"])]
    both_known = remote_pairs["list_id"].notna() & remote_pairs["contact_id"].notna()
    adds = remote_pairs[~(both_known & _pair_in(remote_pairs, local_pairs))]
    removes = _pull_removals(local, lists, contacts, local_pairs[~_pair_in(local_pairs, remote_pairs[both_known])])
    # Lists matched by name are not linked here yet: their members count under CTCT's list id.
    losing_here = local_pairs.drop(columns="ctct_list_id").merge(
        lists.paired[["list_id", "ctct_list_id"]], on="list_id"
    )
    warnings += _losing_membership_changes(
        losing_here,
        remote_pairs[remote_pairs["contact_id"].notna()],
        baseline,
        emails,
        "local",
        "undone by this pull",
        lists.paired[["ctct_list_id", "name"]],
    )
    return PulledMembers(
        add=_memberships(adds),
        remove=_memberships(removes, ctct_contact_id=None),
        deleted=pd.DataFrame({"email": deleted["email"], "contact_id": deleted["contact_id"]}),
    )


def _pull_removals(
    local: LocalSnapshot, lists: PulledLists, contacts: PulledContacts, not_in_ctct: pd.DataFrame
) -> pd.DataFrame:
    """Members here that CTCT's list lacks, and every membership of a contact CTCT unsubscribed,
    but none on a list the pull deletes (its members go with it)."""
    # An unsubscribed contact leaves every list here, linked or not.
    unsub_pairs = (
        local.members[local.members["contact_id"].isin(contacts.unsubscribed["contact_id"])]
        .merge(local.lists[LIST_KEYS], on="list_id")
        .merge(local.contacts[["contact_id", "email"]], on="contact_id")
    )
    columns = [*LIST_KEYS, "contact_id", "email"]
    removes = pd.concat([not_in_ctct[columns], unsub_pairs[columns]]).drop_duplicates(["list_id", "contact_id"])
    return removes[~removes["list_id"].isin(lists.delete["list_id"])]


# What a pull brings over from CTCT as text, where anyone may have typed it (a sign-up form).
FORMULA_CHECKED = {
    "lists_create": ("name", ["name"]),
    "lists_rename": ("to", ["to"]),
    "contacts_create": ("email", ["email", "first_name", "last_name", "job_title", "company"]),
    "contacts_update": ("email", ["first_name", "last_name", "job_title"]),
}
FORMULA_WARNINGS_SHOWN = 20


def _formula_warnings(changes: Changes) -> list[PlanWarning]:
    """SPEC §11: values from CTCT that a spreadsheet would run as formulas, each named by its row.
    They are stored as the text they are; every CSV the console writes gives them a leading `'`."""
    found: list[str] = []
    for kind, (row_name, columns) in FORMULA_CHECKED.items():
        frame = changes[kind]
        title = CHANGE_KINDS[kind][0]
        for column in columns:
            values = frame[column]
            formula = formula_mask(values)
            what = column.replace("_", " ")
            for row, value in zip(frame.loc[formula, row_name], values[formula], strict=True):
                subject = f"{row!r}" if column == row_name else f"{row!r}, {what} {value!r}"
                found.append(
                    f"{title} — {subject}: looks like a spreadsheet formula; kept as text here, "
                    "and CSV downloads write it with a leading '"
                )
    warnings = [PlanWarning("formula_like", message) for message in found[:FORMULA_WARNINGS_SHOWN]]
    if len(found) > FORMULA_WARNINGS_SHOWN:
        warnings.append(
            PlanWarning(
                "formula_like",
                f"and {len(found) - FORMULA_WARNINGS_SHOWN:,} more value(s) from Constant Contact that look like "
                "spreadsheet formulas, kept as text",
            )
        )
    return warnings


def plan_import(
    local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline, policy: MassRemovalPolicy | None = None
) -> Plan:
    """Activation's initial import: a pull (CTCT wins) that also warns about look-alike companies."""
    return plan_pull(local, remote, baseline, direction=IMPORT, policy=policy)


def _keep_local_changes(changes: Changes, baseline: Baseline) -> tuple[dict[str, pd.DataFrame], list[PlanWarning]]:
    """Takes out of an import what would undo a change made here since the last sync: members
    added or removed here, lists renamed or deleted here. Each kept change is said as a note."""
    base_names = dict(zip(baseline.lists["ctct_list_id"], baseline.lists["name"], strict=True))
    lists_rename, lists_create = changes["lists_rename"], changes["lists_create"]
    memberships_add, memberships_remove = changes["memberships_add"], changes["memberships_remove"]
    added_here = memberships_remove["ctct_list_id"].isin(base_names) & ~_in_baseline(memberships_remove, baseline)
    deleted_here = lists_create["ctct_list_id"].isin(base_names) & lists_create["list_id"].isna()
    gone_lists = set(lists_create.loc[deleted_here, "ctct_list_id"])
    removed_here = memberships_add["ctct_list_id"].isin(base_names) & _in_baseline(memberships_add, baseline)
    removed_here |= memberships_add["ctct_list_id"].isin(gone_lists)
    renamed_here = _renamed_here(lists_rename, base_names)
    kept = _kept_notes(
        (
            (int(added_here.sum()), "member(s) added here"),
            (int(removed_here.sum()), "removal(s) made here"),
            (int(renamed_here.sum()), "list rename(s) made here"),
            (len(gone_lists), "list deletion(s) made here"),
        )
    )
    return {
        **changes,
        ChangeKind.LISTS_RENAME: lists_rename[~renamed_here],
        ChangeKind.LISTS_CREATE: lists_create[~deleted_here],
        ChangeKind.MEMBERSHIPS_ADD: memberships_add[~removed_here],
        ChangeKind.MEMBERSHIPS_REMOVE: memberships_remove[~added_here],
    }, kept


def _in_baseline(memberships: pd.DataFrame, baseline: Baseline) -> pd.Series:
    """Which memberships the last sync left in place."""
    keys = pd.DataFrame({"ctct_list_id": memberships["ctct_list_id"], "email_key": email_keys(memberships["email"])})
    hit = keys.merge(baseline.members.assign(_base=True), on=["ctct_list_id", "email_key"], how="left")["_base"]
    return pd.Series(hit.notna().to_numpy(), index=memberships.index)


def _renamed_here(lists_rename: pd.DataFrame, base_names: dict[Any, str]) -> pd.Series:
    """Renames an import would make that undo a rename made here: CTCT still has the last sync's name."""
    if not len(lists_rename):
        return pd.Series(False, index=lists_rename.index)
    return lists_rename.apply(
        lambda row: (
            base_names.get(row["ctct_list_id"]) not in (None, row["from"])
            and base_names.get(row["ctct_list_id"]) == row["to"]
        ),
        axis=1,
    ).astype(bool)


def _kept_notes(counts: tuple[tuple[int, str], ...]) -> list[PlanWarning]:
    return [
        PlanWarning(
            "kept_local_change",
            f"{count:,} {what} since the last sync are kept (Constant Contact does not have them yet): "
            "push to send them",
        )
        for count, what in counts
        if count
    ]


def _memberships(rows: pd.DataFrame, **overrides: Any) -> pd.DataFrame:
    """A memberships_add / memberships_remove frame from rows with name, email and the four ids."""
    columns = {
        "list": rows["name"],
        "email": rows["email"],
        "list_id": rows["list_id"],
        "ctct_list_id": rows["ctct_list_id"],
        "contact_id": rows.get("contact_id"),
        "ctct_contact_id": rows.get("ctct_contact_id"),
    }
    return pd.DataFrame({**columns, **overrides})


def _pair_in(frame: pd.DataFrame, other: pd.DataFrame) -> pd.Series:
    """Which (list_id, contact_id) pairs of `frame` also stand in `other`."""
    columns = ["list_id", "contact_id"]
    return pairs_in(frame[columns].astype("Int64"), columns, other[columns].astype("Int64"), columns)


def _fill_empty_fields(known: pd.DataFrame) -> pd.DataFrame:
    """Pull never overwrites CRM details; it fills the empty ones (SPEC §7)."""
    rows = []
    for name in ("first_name", "last_name", "job_title"):
        fill = known[known[f"{name}_local"].isna() & known[name].notna() & (known[name].astype(str) != "")]
        rows.append(fill[["email", "contact_id", "ctct_contact_id", name]])
    merged = pd.concat(rows) if rows else pd.DataFrame()
    if merged.empty:
        return empty("contacts_update")
    grouped = merged.groupby(["contact_id", "email", "ctct_contact_id"], as_index=False).first()
    changes = grouped.apply(
        lambda row: ", ".join(
            f"{n} → {row[n]}" for n in ("first_name", "last_name", "job_title") if n in grouped and pd.notna(row.get(n))
        ),
        axis=1,
    )
    return pd.DataFrame(
        {
            "email": grouped["email"],
            "changes": changes,
            "first_name": _str(grouped.get("first_name", pd.Series(index=grouped.index, dtype=object))),
            "last_name": _str(grouped.get("last_name", pd.Series(index=grouped.index, dtype=object))),
            "job_title": _str(grouped.get("job_title", pd.Series(index=grouped.index, dtype=object))),
            "company": None,
            "contact_id": grouped["contact_id"],
            "ctct_contact_id": grouped["ctct_contact_id"],
        }
    )


def _renames_without_clashes(
    renames: pd.DataFrame,
    lists: pd.DataFrame,
    key: str,
    moving: set[Any],
    warnings: list[PlanWarning],
    says: Callable[[str, str, str], str],
) -> pd.DataFrame:
    """Renames that would give a list the name another list on the renamed side keeps (one that
    this sync neither renames nor deletes) stay undone, with a warning: a side never holds two
    lists of one name. `lists` (`key`, name) are that side's lists; `says(old, new, holder)` words it."""
    taken = {
        name_key(name): name for list_id, name in zip(lists[key], lists["name"], strict=True) if list_id not in moving
    }
    clash = renames["to"].map(lambda name: name_key(name) in taken).astype(bool)
    clashing = renames[clash].sort_values("from", key=_folded)
    for old, new in zip(clashing["from"], clashing["to"], strict=True):
        warnings.append(PlanWarning("name_clash", says(old, new, taken[name_key(new)])))
    return renames[~clash]


def _losing_membership_changes(
    local_pairs: pd.DataFrame,
    remote_pairs: pd.DataFrame,
    baseline: Baseline,
    emails: EmailCodes,
    losing: str,
    effect: str,
    paired: pd.DataFrame,
) -> list[PlanWarning]:
    """What the losing side changed in linked lists since the last sync, and will lose now. On a
    list paired with one on the other side but not in the baseline (linked by name, or whose
    first sync stopped before its end), every member the winning side lacks will be lost.
    `local_pairs`, `remote_pairs`: ctct_list_id and email_code (`emails`) of each side's members;
    `paired`: ctct_list_id and name of the lists this sync pairs on both sides."""
    # Pairs packed as one int64 each: the list's place among the paired lists, then the email's code.
    list_ids = pd.Index(paired["ctct_list_id"].dropna().unique()).sort_values()
    width = len(emails.keys) + 1

    def keyed(list_column: pd.Series, email_codes: np.ndarray) -> np.ndarray:
        places = places_in(list_ids, list_column)
        # A contact without an email has no key: it is no member the other side could lack.
        kept = (places >= 0) & (email_codes >= 0)
        return pd.unique(places[kept].astype("int64") * width + email_codes[kept])

    base = keyed(baseline.members["ctct_list_id"], emails.baseline)
    local_keys = keyed(local_pairs["ctct_list_id"], local_pairs["email_code"].to_numpy())
    remote_keys = keyed(remote_pairs["ctct_list_id"], remote_pairs["email_code"].to_numpy())
    side, other = (local_keys, remote_keys) if losing == "local" else (remote_keys, local_keys)
    synced = np.asarray(list_ids.isin(baseline.lists["ctct_list_id"]))[side // width]
    names = dict(zip(paired["ctct_list_id"], paired["name"], strict=True)) | dict(
        zip(baseline.lists["ctct_list_id"], baseline.lists["name"], strict=True)
    )
    where = "here" if losing == "local" else "in Constant Contact"
    lost = (
        (_anti(_anti(side[synced], base), other), "member(s) added", " since the last sync", "to"),
        (_semi(_anti(base, side), other), "removal(s)", " since the last sync", "from"),
        (
            _anti(side[~synced], other),
            "member(s)",
            " on lists not synced before, which the other side does not have,",
            "on",
        ),
    )
    return [
        _lost_warning(
            _first_pairs(pairs, list_ids, width, emails),
            len(pairs),
            f"{what} {where}{since}",
            preposition,
            names,
            effect,
        )
        for pairs, what, since, preposition in lost
        if len(pairs)
    ]


def _first_pairs(pairs: np.ndarray, list_ids: pd.Index, width: int, emails: EmailCodes) -> pd.DataFrame:
    """The packed `pairs` on the first of their lists (`list_ids` is sorted), as ctct_list_id and
    email_key text: the only ones a warning may name."""
    places = pairs // width
    first = pairs[places == places.min()]
    return pd.DataFrame({"ctct_list_id": list_ids[first // width], "email_key": emails.decode(first % width)})


def _lost_warning(
    frame: pd.DataFrame, count: int, what: str, preposition: str, names: dict[Any, str], effect: str
) -> PlanWarning:
    """`3 member(s) added here since the last sync (e.g. a@x.com to 'News') will be undone…`."""
    first = frame.sort_values(["ctct_list_id", "email_key"]).iloc[0]
    return PlanWarning(
        "losing_side_change",
        f"{count:,} {what} (e.g. {first['email_key']} {preposition} '{names[first['ctct_list_id']]}') will be {effect}",
    )


def _anti(pairs: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The packed pairs of `pairs` not in `other`."""
    return pairs[~pd.Series(pairs).isin(other).to_numpy()]


def _semi(pairs: np.ndarray, other: np.ndarray) -> np.ndarray:
    return pairs[pd.Series(pairs).isin(other).to_numpy()]


def _new_company_warnings(contacts_create: pd.DataFrame, companies: pd.DataFrame) -> list[PlanWarning]:
    names = contacts_create["company"].drop_duplicates()
    keys = names.map(company_name_key)
    new = pd.DataFrame({"name": names, "key": keys})
    new = new[~is_in(new["key"], companies["name_key"])].drop_duplicates("key")
    return [
        PlanWarning(
            "possible_duplicate",
            f"new company '{first}' looks like '{second}' ({where}); they are "
            "kept apart — merge them by hand if they are one",
        )
        for first, second, where in sorted(near_duplicate_names(new, companies.rename(columns={"name_key": "key"})))
    ]


def _role_address_warnings(memberships_add: pd.DataFrame, roles: frozenset[str]) -> list[PlanWarning]:
    """Members a pull brings over whose address is a role address: CRM data all the same (SPEC §3),
    but never selectable here and never mailed by CTCT — said before they arrive."""
    pairs = memberships_add[["email", "list"]].dropna().drop_duplicates()
    flagged = pairs[role_locals(pairs["email"], roles).notna()]
    if flagged.empty:
        return []
    flagged = flagged.sort_values(["list", "email"], key=lambda column: column.str.lower(), kind="stable")
    examples = ", ".join(f"{row.email} on '{row.list}'" for row in flagged.head(3).itertuples())
    return [
        PlanWarning(
            "role_address",
            f"{len(flagged):,} member(s) in Constant Contact have a role address (e.g. {examples}), which "
            "Constant Contact does not mail: they come over as contacts and members here, but cannot be "
            "selected for a list",
        )
    ]


def _email_codes(local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline) -> EmailCodes:
    """The email keys of this plan, coded once: what its member joins compare."""
    return EmailCodes.of(local.contacts["email"], remote.contacts["email"], baseline.members["email_key"])


def _local_sizes(local: LocalSnapshot) -> dict[Any, int]:
    return local.members.groupby("list_id").size().to_dict()


def _stale_check_requests(remote: RemoteSnapshot) -> int:
    return max(1, math.ceil(len(remote.lists) / 500)) + 1


# Push: Customer Focus wins


@dataclass(frozen=True)
class PushedLists:
    """The lists here matched with CTCT's, and what a push changes in CTCT's."""

    linked: pd.DataFrame  # lists here linked to a CTCT list that still exists
    free_remote: pd.DataFrame  # CTCT lists neither linked here nor in the last sync
    create: pd.DataFrame
    rename: pd.DataFrame
    delete: pd.DataFrame


@dataclass(frozen=True)
class PushedContacts:
    # Each contact here that is a CTCT contact, with that contact's id (`ctct_contact_id`) and statuses.
    remote_of_local: pd.DataFrame
    link: pd.DataFrame


@dataclass(frozen=True)
class WantedMembers:
    """The members here of every list CTCT has after the push, each beside its CTCT contact."""

    wanted: pd.DataFrame
    # The wanted rows that may go to CTCT (no reason to skip them).
    eligible: pd.DataFrame
    skipped: pd.DataFrame
    # CTCT's members, with their emails.
    remote_pairs: pd.DataFrame


def plan_push(
    local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline, policy: MassRemovalPolicy | None = None
) -> Plan:
    warnings: list[PlanWarning] = []
    emails = _email_codes(local, remote, baseline)
    lists = _push_lists(local, remote, baseline, warnings)
    contacts = _push_contacts(local, remote)
    members = _wanted_members(local, remote, lists, contacts, emails)
    memberships_add, contacts_create = _push_adds(local, members, warnings)
    memberships_remove = _push_removals(lists, members, baseline, emails, warnings)
    contacts_update = _push_updates(local, baseline, contacts.remote_of_local, members.eligible)
    warnings += _ctct_only_lists(lists)
    ordered = _ordered(
        {
            ChangeKind.LISTS_CREATE: lists.create,
            ChangeKind.LISTS_RENAME: lists.rename,
            ChangeKind.LISTS_DELETE: lists.delete,
            ChangeKind.CONTACTS_CREATE: contacts_create,
            ChangeKind.CONTACTS_UPDATE: contacts_update,
            ChangeKind.CONTACTS_UNSUBSCRIBED: empty(ChangeKind.CONTACTS_UNSUBSCRIBED),
            ChangeKind.CONTACTS_RESUBSCRIBED: empty(ChangeKind.CONTACTS_RESUBSCRIBED),
            ChangeKind.CONTACTS_DELETED_IN_CTCT: empty(ChangeKind.CONTACTS_DELETED_IN_CTCT),
            ChangeKind.CONTACTS_LINK: contacts.link,
            ChangeKind.MEMBERSHIPS_ADD: memberships_add,
            ChangeKind.MEMBERSHIPS_REMOVE: memberships_remove,
            ChangeKind.SKIPPED: members.skipped,
        }
    )
    sizes = remote.lists.set_index("ctct_list_id")["membership_count"].to_dict()
    removals = mass_removals(ordered, sizes, policy or MassRemovalPolicy(), "ctct_list_id")
    return _plan(
        PUSH,
        ordered,
        warnings,
        local,
        remote,
        mass_removals=removals,
        estimated_requests=estimate_push_requests(ordered, remote),
    )


def _push_lists(
    local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline, warnings: list[PlanWarning]
) -> PushedLists:
    """Lists here that CTCT lacks are created there (or linked to a free one of the same name),
    renames here are made there, and lists deleted here since the last sync go."""
    has_link = local.lists["ctct_list_id"].notna()
    in_ctct = local.lists["ctct_list_id"].isin(remote.lists["ctct_list_id"])
    linked, stale_links = local.lists[has_link & in_ctct], local.lists[has_link & ~in_ctct]
    warnings += [
        PlanWarning(
            "deleted_in_ctct",
            f"list '{name}' was deleted in Constant Contact; this push "
            "creates it again — pull first to delete it here instead",
        )
        for name in sorted(stale_links["name"], key=str.casefold)
    ]
    free_remote = remote.lists[
        ~remote.lists["ctct_list_id"].isin(local.lists["ctct_list_id"].dropna())
        & ~remote.lists["ctct_list_id"].isin(baseline.lists["ctct_list_id"])
    ]
    lists_create = _push_creates(pd.concat([local.lists[~has_link], stale_links]), free_remote)
    lists_rename = _push_renames(linked, remote, baseline, warnings)
    lists_delete = _push_deletes(local, remote, baseline)
    # CTCT would refuse these (and fail the push): renames run before deletions there.
    lists_rename = _renames_without_clashes(
        lists_rename,
        remote.lists,
        "ctct_list_id",
        set(lists_rename["ctct_list_id"]),
        warnings,
        lambda old, new, holder: (
            f"'{old}' is renamed '{new}' here, but another list in Constant Contact is called "
            f"'{holder}': it keeps the name '{old}' there until one of the two is renamed"
        ),
    )
    warnings += _last_list_stays(remote, lists_create, lists_delete)
    return PushedLists(linked, free_remote, lists_create, lists_rename, lists_delete)


def _last_list_stays(
    remote: RemoteSnapshot, lists_create: pd.DataFrame, lists_delete: pd.DataFrame
) -> list[PlanWarning]:
    surviving = len(remote.lists) - len(lists_delete) + len(lists_create[~lists_create["link"]])
    if not len(lists_delete) or surviving >= 1:
        return []
    return [
        PlanWarning(
            "last_list",
            "Constant Contact must keep at least one list: the last one cannot be deleted and will stay",
        )
    ]


def _push_creates(unlinked: pd.DataFrame, free_remote: pd.DataFrame) -> pd.DataFrame:
    link_to = free_remote.drop_duplicates("name_key").set_index("name_key")["ctct_list_id"]
    return pd.DataFrame(
        {
            "name": unlinked["name"],
            "list_id": unlinked["list_id"],
            "ctct_list_id": unlinked["name_key"].map(link_to),
            "link": unlinked["name_key"].isin(link_to.index),
        }
    )


def _push_renames(
    linked: pd.DataFrame, remote: RemoteSnapshot, baseline: Baseline, warnings: list[PlanWarning]
) -> pd.DataFrame:
    """Linked lists named otherwise here take the name here in CTCT; a rename made there is said lost."""
    remote_names = remote.lists.set_index("ctct_list_id")["name"]
    renamed = linked[linked["name"] != linked["ctct_list_id"].map(remote_names)]
    lists_rename = pd.DataFrame(
        {
            "from": renamed["ctct_list_id"].map(remote_names),
            "to": renamed["name"],
            "list_id": renamed["list_id"],
            "ctct_list_id": renamed["ctct_list_id"],
        }
    )
    baseline_names = baseline.lists.set_index("ctct_list_id")["name"]
    said = lists_rename.sort_values("to", key=_folded)
    for ctct_name, local_name, ctct_list_id in zip(said["from"], said["to"], said["ctct_list_id"], strict=True):
        was = baseline_names.get(ctct_list_id)
        if was is not None and was != ctct_name:
            warnings.append(
                PlanWarning(
                    "losing_side_change",
                    f"rename in Constant Contact to '{ctct_name}' "
                    f"will be undone (back to '{local_name}') — pull first?",
                )
            )
    return lists_rename


def _push_deletes(local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline) -> pd.DataFrame:
    """Lists deleted here since the last sync that CTCT still has."""
    deleted_here = baseline.lists[
        ~baseline.lists["ctct_list_id"].isin(local.lists["ctct_list_id"].dropna())
        & baseline.lists["ctct_list_id"].isin(remote.lists["ctct_list_id"])
    ]
    return pd.DataFrame(
        {
            "name": deleted_here["ctct_list_id"].map(remote.lists.set_index("ctct_list_id")["name"]),
            "list_id": None,
            "ctct_list_id": deleted_here["ctct_list_id"],
        }
    )


def _push_contacts(local: LocalSnapshot, remote: RemoteSnapshot) -> PushedContacts:
    """Who is who on both sides; the contacts here whose CTCT contact is new to them get linked."""
    contacts = match_contacts(local.contacts[["contact_id", "ctct_contact_id", "email"]], remote.contacts[REMOTE_KEYS])
    remote_of_local = contacts.dropna(subset=["contact_id"]).astype({"contact_id": "int64"})
    remote_of_local = remote_of_local.merge(remote.contacts[REMOTE_STATUSES], on="ctct_contact_id")
    remote_of_local = remote_of_local.drop_duplicates("contact_id")
    contacts_link = local.contacts[["contact_id", "ctct_contact_id"]].merge(
        remote_of_local[["contact_id", "ctct_contact_id", "email"]], on="contact_id", suffixes=("_local", "")
    )
    contacts_link = contacts_link[contacts_link["ctct_contact_id_local"] != contacts_link["ctct_contact_id"]][
        ["email", "contact_id", "ctct_contact_id"]
    ]
    return PushedContacts(remote_of_local, contacts_link)


def _wanted_members(
    local: LocalSnapshot, remote: RemoteSnapshot, lists: PushedLists, contacts: PushedContacts, emails: EmailCodes
) -> WantedMembers:
    """The desired members of every list that will exist in CTCT after the push, and which of them
    are skipped (each with its reason)."""
    target_lists = pd.concat(
        [lists.linked[["list_id", "name", "ctct_list_id"]], lists.create[["list_id", "name", "ctct_list_id"]]]
    )
    wanted = local.members[local.members["list_id"].isin(target_lists["list_id"])]
    # Only what every membership row needs; names and companies join the few rows created later.
    wanted = wanted.merge(target_lists, on="list_id").merge(
        local.contacts[["contact_id", "email", "reason"]].assign(email_code=emails.local), on="contact_id"
    )
    remote_ids = contacts.remote_of_local[["contact_id", *REMOTE_STATUSES]]
    wanted = wanted.merge(remote_ids.rename(columns={"ctct_contact_id": "remote_id"}), on="contact_id", how="left")
    refused_remote = wanted["permission"].eq("unsubscribed") & wanted["reason"].isna()
    wanted.loc[refused_remote, "reason"] = "unsubscribed in Constant Contact: never re-added"
    remote_pairs = remote.members.merge(
        remote.contacts[["ctct_contact_id", "email"]].assign(email_code=emails.remote),
        on="ctct_contact_id",
    )
    # A member CTCT already has (a role address a pull brought over, say) needs nothing: it is
    # left where it is, not reported as skipped in every push.
    wanted["on_ctct_list"] = pairs_in(
        wanted, ["ctct_list_id", "remote_id"], remote_pairs, ["ctct_list_id", "ctct_contact_id"]
    )
    already_there = wanted["remote_id"].notna() & wanted["on_ctct_list"]
    skipped_rows = wanted[wanted["reason"].notna() & ~already_there]
    skipped = pd.DataFrame(
        {"email": skipped_rows["email"], "list": skipped_rows["name"], "reason": skipped_rows["reason"]}
    )
    return WantedMembers(wanted, wanted[wanted["reason"].isna()], skipped, remote_pairs)


def _push_adds(
    local: LocalSnapshot, members: WantedMembers, warnings: list[PlanWarning]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The memberships CTCT lacks, and the contacts it lacks for them (created, or restored when
    CTCT deleted them)."""
    eligible = members.eligible
    has_remote = eligible["remote_id"].notna() & ~eligible["deleted"].fillna(False).astype(bool)
    adds = eligible[~(has_remote & eligible["on_ctct_list"])]
    memberships_add = _memberships(adds, ctct_contact_id=adds["remote_id"].where(has_remote[adds.index]))
    to_create = adds[~has_remote[adds.index]].drop_duplicates("contact_id")
    to_create = to_create.merge(
        local.contacts[["contact_id", "first_name", "last_name", "job_title", "company"]], on="contact_id"
    )
    contacts_create = pd.DataFrame(
        {
            "email": to_create["email"],
            "first_name": to_create["first_name"],
            "last_name": to_create["last_name"],
            "job_title": to_create["job_title"],
            "company": to_create["company"],
            "contact_id": to_create["contact_id"],
            "ctct_contact_id": to_create["remote_id"],
            "restored": to_create["deleted"].fillna(False).astype(bool),
        }
    )
    restored = int(contacts_create["restored"].sum())
    if restored:
        warnings.append(
            PlanWarning(
                "restore",
                f"{restored:,} contact(s) deleted in Constant Contact were re-added here and will be restored",
            )
        )
    return memberships_add, contacts_create


def _push_removals(
    lists: PushedLists, members: WantedMembers, baseline: Baseline, emails: EmailCodes, warnings: list[PlanWarning]
) -> pd.DataFrame:
    """Members CTCT has that the list here no longer holds: removed (Customer Focus wins)."""
    linked = lists.linked
    remote_pairs = members.remote_pairs
    linked_remote = remote_pairs[remote_pairs["ctct_list_id"].isin(linked["ctct_list_id"])]
    gone = linked_remote[
        ~pairs_in(linked_remote, ["ctct_list_id", "ctct_contact_id"], members.wanted, ["ctct_list_id", "remote_id"])
    ]
    gone = gone.merge(linked[["ctct_list_id", "name", "list_id"]], on="ctct_list_id")
    # Only what this push puts back counts as undoing a change made in CTCT: a contact CTCT
    # unsubscribed (or any other skipped row) is not re-added.
    eligible = members.eligible
    warnings += _losing_membership_changes(
        eligible[eligible["ctct_list_id"].notna()][["ctct_list_id", "email_code"]],
        remote_pairs[["ctct_list_id", "email_code"]],
        baseline,
        emails,
        "remote",
        "undone by this push — pull first?",
        linked[["ctct_list_id", "name"]],
    )
    return _memberships(gone, contact_id=None)


def _push_updates(
    local: LocalSnapshot, baseline: Baseline, remote_of_local: pd.DataFrame, eligible: pd.DataFrame
) -> pd.DataFrame:
    """Linked contacts whose email changed here, then those whose name, company or job title did."""
    moved = _email_changes(local, remote_of_local, eligible)
    changed = _changed_since_baseline(local, baseline, remote_of_local, eligible)
    return pd.concat([moved, changed[~changed["contact_id"].isin(moved["contact_id"])]])


def _ctct_only_lists(lists: PushedLists) -> list[PlanWarning]:
    new_remote = lists.free_remote[~lists.free_remote["ctct_list_id"].isin(lists.create["ctct_list_id"].dropna())]
    if not len(new_remote):
        return []
    return [
        PlanWarning(
            "ctct_only_lists",
            f"{len(new_remote):,} list(s) exist only in Constant "
            f"Contact (e.g. '{min(new_remote['name'], key=str.casefold)}'); pull to bring them over",
        )
    ]


# Each field a push sends, and its column in the baseline.
BASELINE_FIELDS = (
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("job_title", "job_title"),
    ("company", "company_name"),
)


def _changed_since_baseline(
    local: LocalSnapshot, baseline: Baseline, remote_of_local: pd.DataFrame, eligible: pd.DataFrame
) -> pd.DataFrame:
    """Contacts on linked lists whose name, company or job title changed here since the last sync."""
    if baseline.contacts.empty:
        return empty("contacts_update")
    current = local.contacts[
        local.contacts["contact_id"].isin(eligible["contact_id"])
        & local.contacts["contact_id"].isin(remote_of_local["contact_id"])
    ]
    joined = current.merge(baseline.contacts, on="email_key", suffixes=("", "_base"))
    rows = joined[_fields_changed(joined)]
    if rows.empty:
        return empty("contacts_update")
    remote_ids = remote_of_local.set_index("contact_id")["ctct_contact_id"]
    return pd.DataFrame(
        {
            "email": rows["email"],
            "changes": "name, company or job title changed here",
            "first_name": rows["first_name"],
            "last_name": rows["last_name"],
            "job_title": rows["job_title"],
            "company": rows["company"],
            "contact_id": rows["contact_id"],
            "ctct_contact_id": rows["contact_id"].map(remote_ids),
        }
    )


def _fields_changed(joined: pd.DataFrame) -> pd.Series:
    """Which contacts (here, beside the baseline's `_base` or `company_name` columns) differ in a field."""
    changed = pd.Series(False, index=joined.index)
    for here, base in BASELINE_FIELDS:
        base_column = f"{base}_base" if base == here else base
        differs = joined[here].fillna("").astype(str) != joined[base_column].fillna("").astype(str)
        if here == "company":
            differs &= ~_company_stands_in(joined, base)
        changed |= differs
    return changed


def _company_stands_in(joined: pd.DataFrame, base: str) -> pd.Series:
    """Where CTCT has no company and the one here is what an import made up for the contact (its
    email's domain, or its name): not a change to send — CTCT would get a company nobody typed."""
    stands_in = pd.Series(False, index=joined.index)
    candidates = joined[joined[base].fillna("").astype(str).eq("") & joined["company"].notna()]
    if candidates.empty:
        return stands_in
    made_up = [
        company == company_for_remote_contact(None, str(email), first, last)
        for company, email, first, last in zip(
            candidates["company"],
            candidates["email"],
            candidates["first_name_base"],
            candidates["last_name_base"],
            strict=True,
        )
    ]
    stands_in[candidates.index] = made_up
    return stands_in


def _email_changes(local: LocalSnapshot, remote_of_local: pd.DataFrame, eligible: pd.DataFrame) -> pd.DataFrame:
    """Linked contacts on the pushed lists whose email here differs from CTCT's: the new address
    goes to the same CTCT contact (by its id) — an import by email would make a second one."""
    linked = remote_of_local[~remote_of_local["deleted"].fillna(False).astype(bool)][
        ["contact_id", "ctct_contact_id", "email"]
    ].rename(columns={"email": "previous_email"})
    # Keys first, each beside its contact's row here: the other fields join only the few that moved.
    keys = local.contacts[["contact_id", "email_key"]].assign(row=np.arange(len(local.contacts)))
    current = keys[keys["contact_id"].isin(eligible["contact_id"])].merge(linked, on="contact_id")
    moved = current[current["email_key"] != fast_email_keys(current["previous_email"])].reset_index(drop=True)
    if moved.empty:
        return empty("contacts_update")
    here = local.contacts.iloc[moved["row"].to_numpy()].reset_index(drop=True)
    return pd.DataFrame(
        {
            "email": here["email"],
            "changes": "email " + moved["previous_email"].astype(str) + " → " + here["email"].astype(str),
            "first_name": here["first_name"],
            "last_name": here["last_name"],
            "job_title": here["job_title"],
            "company": here["company"],
            "contact_id": moved["contact_id"],
            "ctct_contact_id": moved["ctct_contact_id"],
            "previous_email": moved["previous_email"],
        }
    )


def estimate_push_requests(changes: Changes, remote: RemoteSnapshot) -> int:
    """The CTCT requests a push of `changes` takes: its activities as the push cuts them (by set of
    target lists, large adds by import), watched together, with the single requests, the stale
    check before and the read-back after (ctct/sync/push_shape.py)."""
    return push_requests(changes, remote).total


def mass_removals(changes: Changes, sizes: dict[Any, int], policy: MassRemovalPolicy, by: str) -> list[str]:
    """The changes that need an extra confirmation (SPEC §7); `sizes`: each list's members before,
    by its `by` id."""
    found = [f"deletes the list '{name}'" for name in changes["lists_delete"]["name"]]
    removes = changes["memberships_remove"]
    adds = changes["memberships_add"]
    for key, group in removes.groupby(by, dropna=True):
        size = int(sizes.get(key, 0))
        if size == 0:
            continue
        removed = len(group)
        after = size - removed + int((adds[by] == key).sum())
        name = group["list"].iloc[0]
        if after <= 0:
            found.append(f"empties the list '{name}' ({size:,} members)")
        elif size >= policy.min_list_size and removed * 100 > policy.percent * size:
            found.append(f"removes {removed:,} of the {size:,} members of '{name}' (over {policy.percent:g} %)")
    return found

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
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ctct import display
from ctct.config import Settings
from ctct.crm.matching import company_for_remote_contact, match_lists, near_duplicate_names
from ctct.crm.normalize import company_name_key, email_keys, name_key, role_locals
from ctct.safe_csv import formula_mask
from ctct.sync.changes import CHANGE_KINDS as CHANGE_KINDS
from ctct.sync.changes import CHANGES, SPECS, ChangeKind, Direction
from ctct.sync.changes import DONE_WORDS as DONE_WORDS
from ctct.sync.changes import SCHEMAS as SCHEMAS
from ctct.sync.keys import (
    ContactMatch,
    EmailCodes,
    distinct,
    first_of_each,
    is_in,
    match_contact_rows,
    places_in,
    rows_in,
    rows_in_each,
)
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

    # Per CTCT contact row, the row of the contact here it is, or -1.
    local_of_remote: np.ndarray
    # The CTCT contact rows that are a contact here, in CTCT's order.
    known: np.ndarray
    # Per CTCT membership row, the row of its contact in CTCT's contacts, or -1.
    member_rows: np.ndarray
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
    match, stored_rows, member_rows = _who_is_who(local, remote, emails)
    shared = remote.contacts["email"].iloc[np.flatnonzero(match.ambiguous)]
    for email in shared.sort_values(key=_folded):
        warnings.append(
            PlanWarning(
                "shared_email",
                f"{email} belongs to several contacts here; the oldest one is matched — resolve the conflict",
            )
        )
    known = np.flatnonzero(match.local_of_remote >= 0)
    here = match.local_of_remote[known]
    relink = known[stored_rows[here] != known]
    unsubscribed, resubscribed = _pull_subscriptions(local, remote, known, here)
    return PulledContacts(
        local_of_remote=match.local_of_remote,
        known=known,
        member_rows=member_rows,
        create=_pull_new_contacts(remote, match.local_of_remote, member_rows),
        link=pd.DataFrame(
            {
                "email": _take(remote.contacts["email"], relink),
                "contact_id": _take(local.contacts["contact_id"], match.local_of_remote[relink]).astype("int64"),
                "ctct_contact_id": _take(remote.contacts["ctct_contact_id"], relink),
            }
        ),
        update=_pull_filled_fields(local, remote, known, here),
        unsubscribed=unsubscribed,
        resubscribed=resubscribed,
    )


def _pull_new_contacts(remote: RemoteSnapshot, local_of_remote: np.ndarray, member_rows: np.ndarray) -> pd.DataFrame:
    """CTCT's members with no contact here: created, each with the company it would be filed under."""
    is_member = np.zeros(len(remote.contacts), dtype=bool)
    is_member[member_rows[member_rows >= 0]] = True
    rows = np.flatnonzero((local_of_remote < 0) & is_member)
    new_contacts = pd.DataFrame({column: _take(remote.contacts[column], rows) for column in ["email", *REMOTE_NAMES]})
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


def _pull_filled_fields(
    local: LocalSnapshot, remote: RemoteSnapshot, known: np.ndarray, here: np.ndarray
) -> pd.DataFrame:
    fields = ["first_name", "last_name", "job_title"]
    gaps = local.contacts[fields].isna().any(axis=1).to_numpy()
    rows, rows_here = known[gaps[here]], here[gaps[here]]
    fillable = pd.DataFrame(
        {
            "email": _take(remote.contacts["email"], rows),
            "contact_id": _take(local.contacts["contact_id"], rows_here).astype("int64"),
            "ctct_contact_id": _take(remote.contacts["ctct_contact_id"], rows),
            **{column: _take(remote.contacts[column], rows) for column in fields},
            **{f"{column}_local": _take(local.contacts[column], rows_here) for column in fields},
        }
    )
    return _fill_empty_fields(fillable)


def _pull_subscriptions(
    local: LocalSnapshot, remote: RemoteSnapshot, known: np.ndarray, here: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contacts CTCT unsubscribed, and those it re-subscribed after an unsubscribe it made."""
    permission = _take(remote.contacts["permission"], known)
    unsubscribed_there = permission.eq("unsubscribed").to_numpy()
    unsubscribed_here = local.contacts["unsubscribed"].to_numpy()[here].astype(bool)
    unsub = np.flatnonzero(unsubscribed_there & ~unsubscribed_here)
    contacts_unsubscribed = pd.DataFrame(
        {
            "email": _take(remote.contacts["email"], known[unsub]),
            "contact_id": _take(local.contacts["contact_id"], here[unsub]).astype("int64"),
            "source": "ctct:" + _take(remote.contacts["opt_out_source"], known[unsub]).fillna("Account").astype(str),
        }
    )
    by_ctct = _take(local.contacts["unsubscribe_source"], here).fillna("").astype(str).str.startswith("ctct:")
    back = np.flatnonzero(
        permission.ne("unsubscribed").to_numpy()
        & ~_flags(remote.contacts["deleted"], known)
        & unsubscribed_here
        & by_ctct.to_numpy()
    )
    return contacts_unsubscribed, pd.DataFrame(
        {
            "email": _take(remote.contacts["email"], known[back]),
            "contact_id": _take(local.contacts["contact_id"], here[back]).astype("int64"),
        }
    )


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
    # CTCT's members of its listed lists whose contact it lists, in row numbers.
    list_rows = rows_in(remote.members["ctct_list_id"], lists.matched["ctct_list_id"])
    member_rows = contacts.member_rows
    remote_pairs = np.flatnonzero((list_rows >= 0) & (member_rows >= 0))
    list_rows, member_rows = list_rows[remote_pairs], member_rows[remote_pairs]
    pair_here = contacts.local_of_remote[member_rows]
    list_here = lists.matched["list_id"].to_numpy(dtype="float64", na_value=np.nan)[list_rows]
    # The members here of the lists on both sides.
    local_list = local.members["list_id"].to_numpy()
    local_rows = rows_in(local.members["contact_id"], local.contacts["contact_id"])
    local_pairs = np.flatnonzero(
        _among(local_list, lists.paired["list_id"].to_numpy())
        & (local_rows >= 0)
        & _among(local_list, local.lists["list_id"].to_numpy())
    )
    local_list, local_rows = local_list[local_pairs], local_rows[local_pairs]
    width = len(local.contacts) + 1
    both_known = ~np.isnan(list_here) & (pair_here >= 0)
    remote_keys = np.where(both_known, np.nan_to_num(list_here).astype("int64") * width + pair_here, -1)
    local_keys = local_list.astype("int64") * width + local_rows
    on_local_list = both_known & _among(remote_keys, local_keys)
    adds = np.flatnonzero(~on_local_list)
    # Reported when it changes something here: the contact still stands on a linked list.
    standing = np.zeros(len(local.contacts), dtype=bool)
    standing[local_rows] = True
    known_here = contacts.local_of_remote[contacts.known]
    deleted = contacts.known[_flags(remote.contacts["deleted"], contacts.known) & standing[known_here]]
    not_in_ctct = np.flatnonzero(~_among(local_keys, remote_keys[both_known]))
    removes = _pull_removals(local, lists, contacts, local_pairs[not_in_ctct])
    contact_ids = local.contacts["contact_id"].to_numpy()
    add_here = pair_here[adds]
    pulled = PulledMembers(
        add=pd.DataFrame(
            {
                "list": _take(lists.matched["name"], list_rows[adds]),
                "email": _take(remote.contacts["email"], member_rows[adds]),
                "list_id": _take(lists.matched["list_id"], list_rows[adds]),
                "ctct_list_id": _take(remote.members["ctct_list_id"], remote_pairs[adds]),
                "contact_id": _nullable(contact_ids, add_here),
                "ctct_contact_id": _take(remote.members["ctct_contact_id"], remote_pairs[adds]),
            }
        ),
        remove=_memberships(removes, ctct_contact_id=None),
        deleted=pd.DataFrame(
            {
                "email": _take(remote.contacts["email"], deleted),
                "contact_id": _take(local.contacts["contact_id"], contacts.local_of_remote[deleted]).astype("int64"),
            }
        ),
    )
    paired_ids = pd.Index(lists.paired["ctct_list_id"].dropna().unique())
    paired_codes = places_in(paired_ids, lists.paired["ctct_list_id"])
    local_side = _coded_pairs(
        paired_ids, paired_codes[rows_in(pd.Series(local_list), lists.paired["list_id"])], emails.local[local_rows]
    )
    known_pairs = pair_here >= 0
    # Each of CTCT's lists looked up once: the places of the matched lists, then each member's.
    remote_side = _coded_pairs(
        paired_ids,
        places_in(paired_ids, lists.matched["ctct_list_id"])[list_rows[known_pairs]],
        emails.remote[member_rows[known_pairs]],
    )
    # The membership arrays (tens of MB each at a million members) go before the warnings' own.
    del list_rows, member_rows, pair_here, list_here, local_list, local_rows, remote_keys, local_keys, known_pairs
    warnings += _losing_membership_changes(
        local_side,
        remote_side,
        baseline,
        emails,
        "local",
        "undone by this pull",
        lists.paired[["ctct_list_id", "name"]],
    )
    return pulled


def _pull_removals(
    local: LocalSnapshot, lists: PulledLists, contacts: PulledContacts, not_in_ctct: np.ndarray
) -> pd.DataFrame:
    """Members here that CTCT's list lacks (`not_in_ctct`: their rows in `local.members`), and every
    membership of a contact CTCT unsubscribed, but none on a list the pull deletes (its members go
    with it)."""
    # An unsubscribed contact leaves every list here, linked or not.
    unsubscribed = np.flatnonzero(
        _among(local.members["contact_id"].to_numpy(), contacts.unsubscribed["contact_id"].to_numpy())
    )
    rows = np.r_[not_in_ctct, unsubscribed].astype("int64")
    pairs = local.members.iloc[rows].reset_index(drop=True)
    removes = pairs.merge(local.lists[LIST_KEYS], on="list_id").merge(
        local.contacts[["contact_id", "email"]], on="contact_id"
    )
    columns = [*LIST_KEYS, "contact_id", "email"]
    removes = removes[columns].drop_duplicates(["list_id", "contact_id"])
    return removes[~removes["list_id"].isin(lists.delete["list_id"])]


def _nullable(ids: np.ndarray, rows: np.ndarray) -> pd.Series:
    """`ids` at `rows` as pandas' nullable Int64, missing where a row is -1."""
    values = np.where(rows >= 0, ids[np.maximum(rows, 0)] if len(ids) else 0, 0).astype("int64")
    return pd.Series(pd.arrays.IntegerArray(values, rows < 0))


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
    fields = [name for name in ("first_name", "last_name", "job_title") if name in grouped]
    # Column by column as lists: a row-wise `apply` builds a Series per contact.
    filled = zip(*(grouped[name].tolist() for name in fields), strict=True)
    changes = pd.Series(
        [
            ", ".join(f"{name} → {value}" for name, value in zip(fields, row, strict=True) if pd.notna(value))
            for row in filled
        ],
        index=grouped.index,
        dtype="str",
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
        return places[kept].astype("int64") * width + email_codes[kept]

    base = keyed(baseline.members["ctct_list_id"], emails.baseline)
    local_keys = keyed(local_pairs["ctct_list_id"], local_pairs["email_code"].to_numpy())
    remote_keys = keyed(remote_pairs["ctct_list_id"], remote_pairs["email_code"].to_numpy())
    side, other = (local_keys, remote_keys) if losing == "local" else (remote_keys, local_keys)
    synced_lists = np.asarray(list_ids.isin(baseline.lists["ctct_list_id"]))
    names = dict(zip(paired["ctct_list_id"], paired["name"], strict=True)) | dict(
        zip(baseline.lists["ctct_list_id"], baseline.lists["name"], strict=True)
    )
    where = "here" if losing == "local" else "in Constant Contact"
    added, removed, unsynced = _lost_pairs(base, side, other, len(list_ids) * width)
    lost = (
        (added[synced_lists[added // width]], "member(s) added", " since the last sync", "to"),
        (removed, "removal(s)", " since the last sync", "from"),
        (
            unsynced[~synced_lists[unsynced // width]],
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


# The most packed pairs `_lost_pairs` marks in a table of its own (one byte each), rather than
# sorting the three sets: 50 lists of a million addresses.
PAIR_TABLE_LIMIT = 64_000_000


def _lost_pairs(
    base: np.ndarray, side: np.ndarray, other: np.ndarray, pair_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of the packed pairs of the baseline, the losing side and the other side (each below
    `pair_count`; repeats allowed): those the losing side added since the baseline that the other
    lacks, the removals it made that the other still has, and all it has that the other lacks —
    each sorted and distinct."""
    if pair_count <= PAIR_TABLE_LIMIT:
        table = np.zeros(pair_count, dtype=np.uint8)
        table[base] = 1
        table[side] |= 2
        table[other] |= 4
        added, removed = _places_of(table, 2), _places_of(table, 5)
        np.bitwise_and(table, 6, out=table)
        return added, removed, _places_of(table, 2)
    base, side, other = distinct(base), distinct(side), distinct(other)
    return _anti(_anti(side, base), other), _semi(_anti(base, side), other), _anti(side, other)


# The stretch of a pair table compared at a time: its comparison's flags take this much memory,
# not a table's size (50 MB at a million addresses on 50 lists).
TABLE_STRETCH = 1 << 22


def _places_of(table: np.ndarray, value: int) -> np.ndarray:
    """Where `table` holds `value`, ascending: `np.flatnonzero(table == value)` a stretch at a time."""
    found = [
        np.flatnonzero(table[start : start + TABLE_STRETCH] == value) + start
        for start in range(0, len(table), TABLE_STRETCH)
    ]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


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


def _who_is_who(
    local: LocalSnapshot, remote: RemoteSnapshot, emails: EmailCodes
) -> tuple[ContactMatch, np.ndarray, np.ndarray]:
    """Which CTCT contact each contact here is (`match_contact_rows`), the CTCT row of each one's
    stored CTCT id (-1 where CTCT lacks it), and the CTCT contact row of each CTCT membership."""
    stored_ids = local.contacts["ctct_contact_id"]
    stored_rows, member_rows = rows_in_each(
        [stored_ids, remote.members["ctct_contact_id"]], remote.contacts["ctct_contact_id"]
    )
    member_rows = member_rows.astype(np.int32)
    match = match_contact_rows(
        local.contacts["contact_id"].to_numpy(), stored_rows, stored_ids.notna().to_numpy(), emails
    )
    return match, stored_rows, member_rows


def _email_codes(local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline) -> EmailCodes:
    """The email keys of this plan, coded once: what its member joins compare."""
    if "email_key" in local.contacts and "email_key" in remote.contacts:
        return EmailCodes.of_keys(
            local.contacts["email_key"], remote.contacts["email_key"], baseline.members["email_key"]
        )
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
    # Per contact row here, the row of the CTCT contact it is (`remote.contacts`), or -1.
    remote_row: np.ndarray
    link: pd.DataFrame
    # Per CTCT membership row, the row of its contact in `remote.contacts`, or -1.
    member_rows: np.ndarray


@dataclass(frozen=True)
class WantedMembers:
    """The members here of every list CTCT has after the push, in row numbers: one entry per
    membership row here (in the order of `local.members`), and CTCT's members beside them."""

    target_lists: pd.DataFrame  # list_id, name, ctct_list_id of every list CTCT has after the push
    list_place: np.ndarray  # the target list of each wanted membership
    contact_row: np.ndarray  # its contact's row here
    remote_row: np.ndarray  # its contact's row in CTCT, or -1
    deleted: np.ndarray  # its CTCT contact is deleted there
    eligible: np.ndarray  # it may go to CTCT (no reason to skip it)
    on_ctct_list: np.ndarray  # CTCT's list has its contact already
    skipped: pd.DataFrame
    # CTCT's members whose contact CTCT lists: their rows in `remote.members` and `remote.contacts`.
    remote_members: np.ndarray
    remote_member_rows: np.ndarray
    # The ctct_list_ids of both sides' lists, and each wanted / CTCT membership's place among them.
    list_ids: pd.Index
    wanted_list_code: np.ndarray
    remote_list_code: np.ndarray
    remote_contacts: int  # how many contacts CTCT has: the width of a packed pair's contact part

    def pushed_contacts(self, contact_count: int) -> np.ndarray:
        """Per contact row here, whether the push sends it to a list (an eligible wanted member)."""
        pushed = np.zeros(contact_count, dtype=bool)
        pushed[self.contact_row[self.eligible]] = True
        return pushed

    def pair_keys(self, list_codes: np.ndarray, contact_rows: np.ndarray) -> np.ndarray:
        """(CTCT list, CTCT contact) pairs packed as one int64; -1 where either is unknown."""
        width = self.remote_contacts + 1
        packed = list_codes.astype(np.int64) * width + contact_rows
        return np.where((list_codes >= 0) & (contact_rows >= 0), packed, -1)


def plan_push(
    local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline, policy: MassRemovalPolicy | None = None
) -> Plan:
    warnings: list[PlanWarning] = []
    emails = _email_codes(local, remote, baseline)
    lists = _push_lists(local, remote, baseline, warnings)
    contacts = _push_contacts(local, remote, emails)
    members = _wanted_members(local, remote, lists, contacts)
    memberships_add, contacts_create = _push_adds(local, remote, members, warnings)
    memberships_remove = _push_removals(local, remote, lists, members, baseline, emails, warnings)
    pushed, skipped = members.pushed_contacts(len(local.contacts)), members.skipped
    # The membership arrays (tens of MB each at a million members) go before the field comparisons.
    del members
    contacts_update = _push_updates(local, remote, baseline, contacts.remote_row, pushed, emails)
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
            ChangeKind.SKIPPED: skipped,
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


def _take(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """The values of `column` at the row numbers `rows`, missing where a row is -1."""
    found = rows >= 0
    if found.all():
        return column.iloc[rows].reset_index(drop=True)
    if not len(column):
        # As `where` gives it: text and floats keep their type; flags and numbers become objects.
        keeps = isinstance(column.dtype, pd.StringDtype) or column.dtype.kind in "fO"
        return pd.Series(np.nan, index=pd.RangeIndex(len(rows)), dtype=column.dtype if keeps else object)
    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        # Arrow takes with missing row numbers in one pass; pandas' `where` on text rebuilds it.
        taken = pc.take(pa.array(column.array), pa.array(rows, mask=~found))
        return pd.Series(taken, dtype=column.dtype)
    return column.iloc[np.where(found, rows, 0)].reset_index(drop=True).where(found)


def _among(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Which int64 `values` (-1: none) are in `pool`. Packed pairs are dense enough for a table
    of flags (numpy's isin sorts or hashes both arrays whole, pandas' hash table degrades on
    packed keys: a second or more at two million); a sort and a binary search otherwise."""
    values, pool = np.asarray(values, dtype=np.int64), np.asarray(pool, dtype=np.int64)
    pool = pool[pool >= 0]
    if not len(values) or not len(pool):
        return np.zeros(len(values), dtype=bool)
    top = int(max(values.max(), pool.max())) + 1
    if top <= PAIR_TABLE_LIMIT:
        table = np.zeros(top, dtype=bool)
        table[pool] = True
        return table[np.maximum(values, 0)] & (values >= 0)
    ordered = np.sort(pool)
    places = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return (ordered[places] == values) & (values >= 0)


def _flags(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """A flag column's values at `rows`, False where it is missing or a row is -1."""
    return _at(column.fillna(False).astype(bool).to_numpy(), rows)


def _at(flags: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per-row `flags` at the row numbers `rows` (False where a row is -1): a look-up in numpy,
    not a column of text or objects taken at millions of rows."""
    result = np.zeros(len(rows), dtype=bool)
    found = rows >= 0
    result[found] = flags[rows[found]]
    return result


def _push_contacts(local: LocalSnapshot, remote: RemoteSnapshot, emails: EmailCodes) -> PushedContacts:
    """Who is who on both sides; the contacts here whose CTCT contact is new to them get linked."""
    match, stored_rows, member_rows = _who_is_who(local, remote, emails)
    remote_row = match.remote_of_local(len(local.contacts))
    relinked = np.flatnonzero((remote_row >= 0) & (stored_rows != remote_row))
    contacts_link = pd.DataFrame(
        {
            "email": _take(remote.contacts["email"], remote_row[relinked]),
            "contact_id": local.contacts["contact_id"].iloc[relinked].to_numpy().astype("int64"),
            "ctct_contact_id": _take(remote.contacts["ctct_contact_id"], remote_row[relinked]),
        }
    )
    return PushedContacts(remote_row, contacts_link, member_rows)


def _wanted_members(
    local: LocalSnapshot, remote: RemoteSnapshot, lists: PushedLists, contacts: PushedContacts
) -> WantedMembers:
    """The desired members of every list that will exist in CTCT after the push, and which of them
    are skipped (each with its reason)."""
    target_lists = pd.concat(
        [lists.linked[["list_id", "name", "ctct_list_id"]], lists.create[["list_id", "name", "ctct_list_id"]]]
    ).reset_index(drop=True)
    list_place = rows_in(local.members["list_id"], target_lists["list_id"])
    contact_row = rows_in(local.members["contact_id"], local.contacts["contact_id"])
    kept = (list_place >= 0) & (contact_row >= 0)
    # Row numbers and places as int32 (a table in memory has fewer than 2**31 rows): two million
    # memberships' worth of arrays live through the whole plan.
    list_place, contact_row = list_place[kept].astype(np.int32), contact_row[kept].astype(np.int32)
    remote_row = contacts.remote_row[contact_row].astype(np.int32)
    reasons = local.contacts["reason"].to_numpy(dtype=object)[contact_row]
    unsubscribed = remote.contacts["permission"].eq("unsubscribed").fillna(False).to_numpy(dtype=bool)
    refused_remote = _at(unsubscribed, remote_row) & pd.isna(reasons)
    reasons[refused_remote] = "unsubscribed in Constant Contact: never re-added"
    eligible = pd.isna(reasons)
    list_ids = pd.Index(pd.concat([remote.lists["ctct_list_id"], target_lists["ctct_list_id"]]).dropna().unique())
    wanted_list_code = places_in(list_ids, target_lists["ctct_list_id"]).astype(np.int32)[list_place]
    member_rows = contacts.member_rows
    remote_members = np.flatnonzero(member_rows >= 0).astype(np.int32)
    remote_member_rows = member_rows[remote_members].astype(np.int32)
    remote_list_code = places_in(list_ids, remote.members["ctct_list_id"]).astype(np.int32)[remote_members]
    members = WantedMembers(
        target_lists,
        list_place,
        contact_row,
        remote_row,
        _flags(remote.contacts["deleted"], remote_row),
        eligible,
        np.zeros(0, dtype=bool),
        empty(ChangeKind.SKIPPED),
        remote_members,
        remote_member_rows,
        list_ids,
        wanted_list_code,
        remote_list_code,
        len(remote.contacts),
    )
    # A member CTCT already has (a role address a pull brought over, say) needs nothing: it is
    # left where it is, not reported as skipped in every push.
    wanted_keys = members.pair_keys(wanted_list_code, remote_row)
    remote_keys = members.pair_keys(remote_list_code, remote_member_rows)
    on_ctct_list = (wanted_keys >= 0) & _among(wanted_keys, remote_keys)
    skipped_rows = np.flatnonzero(~eligible & ~on_ctct_list)
    skipped = pd.DataFrame(
        {
            "email": _take(local.contacts["email"], contact_row[skipped_rows]),
            "list": _take(target_lists["name"], list_place[skipped_rows]),
            "reason": pd.Series(reasons[skipped_rows], dtype=object),
        }
    )
    return replace(members, on_ctct_list=on_ctct_list, skipped=skipped)


def _wanted_rows(
    local: LocalSnapshot, remote: RemoteSnapshot, members: WantedMembers, rows: np.ndarray
) -> dict[str, pd.Series]:
    """The memberships_add columns of the wanted memberships `rows`."""
    targets = members.target_lists
    places = members.list_place[rows]
    return {
        "list": _take(targets["name"], places),
        "email": _take(local.contacts["email"], members.contact_row[rows]),
        "list_id": _take(targets["list_id"], places),
        "ctct_list_id": _take(targets["ctct_list_id"], places),
        "contact_id": _take(local.contacts["contact_id"], members.contact_row[rows]),
    }


def _push_adds(
    local: LocalSnapshot, remote: RemoteSnapshot, members: WantedMembers, warnings: list[PlanWarning]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The memberships CTCT lacks, and the contacts it lacks for them (created, or restored when
    CTCT deleted them)."""
    has_remote = (members.remote_row >= 0) & ~members.deleted
    adds = np.flatnonzero(members.eligible & ~(has_remote & members.on_ctct_list))
    remote_ids = remote.contacts["ctct_contact_id"]
    memberships_add = pd.DataFrame(
        {
            **_wanted_rows(local, remote, members, adds),
            "ctct_contact_id": _take(remote_ids, np.where(has_remote[adds], members.remote_row[adds], -1)),
        }
    )
    creating = adds[~has_remote[adds]]
    contact_rows, first = first_of_each(members.contact_row[creating])
    creating = creating[np.sort(first)]
    contact_rows = members.contact_row[creating]
    contacts_create = pd.DataFrame(
        {
            **{
                column: _take(local.contacts[column], contact_rows)
                for column in ("email", "first_name", "last_name", "job_title", "company", "contact_id")
            },
            "ctct_contact_id": _take(remote_ids, members.remote_row[creating]),
            "restored": members.deleted[creating],
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
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    lists: PushedLists,
    members: WantedMembers,
    baseline: Baseline,
    emails: EmailCodes,
    warnings: list[PlanWarning],
) -> pd.DataFrame:
    """Members CTCT has that the list here no longer holds: removed (Customer Focus wins)."""
    linked = lists.linked
    linked_codes = places_in(members.list_ids, linked["ctct_list_id"])
    on_linked = _among(members.remote_list_code, linked_codes[linked_codes >= 0])
    wanted_keys = members.pair_keys(members.wanted_list_code, members.remote_row)
    remote_keys = members.pair_keys(members.remote_list_code, members.remote_member_rows)
    gone = np.flatnonzero(on_linked & ~_among(remote_keys, wanted_keys[wanted_keys >= 0]))
    gone_rows = members.remote_member_rows[gone]
    gone_pairs = pd.DataFrame(
        {
            "ctct_list_id": remote.members["ctct_list_id"].iloc[members.remote_members[gone]].reset_index(drop=True),
            "ctct_contact_id": remote.members["ctct_contact_id"]
            .iloc[members.remote_members[gone]]
            .reset_index(drop=True),
            "email": _take(remote.contacts["email"], gone_rows),
        }
    ).merge(linked[["ctct_list_id", "name", "list_id"]], on="ctct_list_id")
    del on_linked, wanted_keys, remote_keys  # before the warnings' own arrays
    # Only what this push puts back counts as undoing a change made in CTCT: a contact CTCT
    # unsubscribed (or any other skipped row) is not re-added.
    pushed = members.eligible & (members.wanted_list_code >= 0)
    warnings += _losing_membership_changes(
        _coded_pairs(members.list_ids, members.wanted_list_code[pushed], emails.local[members.contact_row[pushed]]),
        _coded_pairs(members.list_ids, members.remote_list_code, emails.remote[members.remote_member_rows]),
        baseline,
        emails,
        "remote",
        "undone by this push — pull first?",
        linked[["ctct_list_id", "name"]],
    )
    return _memberships(gone_pairs, contact_id=None)


def _coded_pairs(list_ids: pd.Index, list_codes: np.ndarray, email_codes: np.ndarray) -> pd.DataFrame:
    """Memberships as ctct_list_id (categorical: no text per row) and email_code."""
    return pd.DataFrame(
        {
            "ctct_list_id": pd.Categorical.from_codes(list_codes, categories=list_ids),
            "email_code": email_codes,
        }
    )


def _push_updates(
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    baseline: Baseline,
    remote_row: np.ndarray,
    pushed: np.ndarray,
    emails: EmailCodes,
) -> pd.DataFrame:
    """Linked contacts (`pushed`: per contact row here, whether it goes to a list in CTCT) whose
    email changed here, then those whose name, company or job title did."""
    moved = _email_changes(local, remote, remote_row, pushed, emails)
    changed = _changed_since_baseline(local, remote, baseline, remote_row, pushed, emails)
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
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    baseline: Baseline,
    remote_row: np.ndarray,
    pushed: np.ndarray,
    emails: EmailCodes,
) -> pd.DataFrame:
    """Contacts on linked lists whose name, company or job title changed here since the last sync."""
    if baseline.contacts.empty:
        return empty("contacts_update")
    base_codes = rows_in(baseline.contacts["email_key"], emails.keys)
    base_of_code = np.full(len(emails.keys) + 1, -1, dtype=np.int64)
    coded = np.flatnonzero(base_codes >= 0)
    base_of_code[base_codes[coded][::-1]] = coded[::-1]
    local_codes = np.where(emails.local >= 0, emails.local, len(emails.keys))
    base_row = np.where(pushed & (remote_row >= 0), base_of_code[local_codes], -1)
    # Which fields differ at all, on whole columns, a field at a time (no join of a million rows);
    # the few contacts that differ are looked at closer.
    differs = np.zeros(len(local.contacts), dtype=bool)
    for here, base in BASELINE_FIELDS:
        local_text = local.contacts[here].reset_index(drop=True).fillna("").astype(str)
        differs |= (local_text != _take(baseline.contacts[base], base_row).fillna("").astype(str)).to_numpy()
    current = np.flatnonzero(differs & (base_row >= 0))
    fields = ["first_name", "last_name", "job_title", "company", "email"]
    joined = pd.DataFrame({column: _take(local.contacts[column], current) for column in fields})
    for column in ("first_name", "last_name", "job_title"):
        joined[f"{column}_base"] = _take(baseline.contacts[column], base_row[current])
    joined["company_name"] = _take(baseline.contacts["company_name"], base_row[current])
    changed = _fields_changed(joined).to_numpy()
    rows = current[changed]
    if not len(rows):
        return empty("contacts_update")
    here = joined[changed].reset_index(drop=True)
    return pd.DataFrame(
        {
            "email": here["email"],
            "changes": "name, company or job title changed here",
            "first_name": here["first_name"],
            "last_name": here["last_name"],
            "job_title": here["job_title"],
            "company": here["company"],
            "contact_id": _take(local.contacts["contact_id"], rows),
            "ctct_contact_id": _take(remote.contacts["ctct_contact_id"], remote_row[rows]),
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


def _email_changes(
    local: LocalSnapshot, remote: RemoteSnapshot, remote_row: np.ndarray, pushed: np.ndarray, emails: EmailCodes
) -> pd.DataFrame:
    """Linked contacts on the pushed lists whose email here differs from CTCT's: the new address
    goes to the same CTCT contact (by its id) — an import by email would make a second one."""
    linked = pushed & (remote_row >= 0)
    linked[linked] = ~_flags(remote.contacts["deleted"], remote_row[linked])
    rows = np.flatnonzero(linked)
    rows = rows[emails.local[rows] != emails.remote[remote_row[rows]]]
    if not len(rows):
        return empty("contacts_update")
    here = local.contacts.iloc[rows].reset_index(drop=True)
    previous_email = _take(remote.contacts["email"], remote_row[rows])
    return pd.DataFrame(
        {
            "email": here["email"],
            "changes": "email " + previous_email.astype(str) + " → " + here["email"].astype(str),
            "first_name": here["first_name"],
            "last_name": here["last_name"],
            "job_title": here["job_title"],
            "company": here["company"],
            "contact_id": here["contact_id"],
            "ctct_contact_id": _take(remote.contacts["ctct_contact_id"], remote_row[rows]),
            "previous_email": previous_email,
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

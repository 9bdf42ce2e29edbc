"""Which bulk activities a push takes, and the fewest CTCT requests a push of its shape can take.

Pure: frames of a plan in, groups and counts out. ctct/sync/push.py sends the groups; the planner's
request estimate and bench/bench_push_requests.py count them, so the three never disagree on how
a push is cut into activities.

CTCT's limits (ctct/api/activities.py, the reference's §5): `add_list_memberships` and
`remove_list_memberships` take up to 500 contact ids and up to 50 target lists per activity, and
add (or remove) every id to (or from) every target; `contacts_json_import` takes up to 40,000 rows
and 4 MB, all put on the same up to 50 lists. So contacts are grouped by the set of lists they go
to (or leave): one group is ⌈contacts / 500⌉ × ⌈lists / 50⌉ activities by id, or
⌈rows / 40,000⌉ × ⌈lists / 50⌉ (more where 4 MB is reached first) by import.

An existing contact may join a group's import as an email-only row: an import row updates only the
fields it gives (an email-only row changes no name, company or title), puts nobody who unsubscribed
back on a list (CTCT counts them in `cannot_add_to_list_count`, as it does for an add by id), and
revives a deleted contact as an add by id does. The one difference: an import finds the contact by
its address, an add by its id — so only a contact whose address in CTCT (as the plan read it) is the
one here goes by import, never one whose email this push changes, nor one with an address too long
for an import row. It goes by import only where that takes fewer activities.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from ctct.api.activities import (
    MAX_CONTACT_IDS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_CONTACTS,
    MAX_IMPORT_EMAIL_LENGTH,
    MAX_LIST_DELETE_IDS,
    MAX_TARGET_LISTS,
    POLL_CEILING,
    SUBMIT_TOGETHER,
)
from ctct.crm.normalize import email_keys
from ctct.sync.keys import is_in
from ctct.sync.snapshot import RemoteSnapshot


class Changes(Protocol):
    """A plan's frames by change kind (a `Plan`, or the planner's mapping before it makes one)."""

    def __getitem__(self, kind: str, /) -> pd.DataFrame: ...


Targets = tuple[Hashable, ...]

# Polls a batch of activities takes on top of the one that finds them all ended: a first one early,
# that tells CTCT's pace, and one more for each POLL_CEILING seconds the batch runs (at
# ACTIVITY_SECONDS each, the pace the sandbox keeps; CTCT's own is not published).
EXTRA_POLLS = 1
ACTIVITY_SECONDS = 2.0
# What an import row's JSON takes beyond its texts: `{"email": ""}`, a comma, and per other field
# `, "first_name": ""`.
ROW_BYTES = 15
FIELD_BYTES = 16
ROW_FIELDS = ("first_name", "last_name", "job_title", "company")
# A list's members, 500 a page: what the stale check and the read-back list.
LISTS_PER_PAGE = 500


@dataclass
class ImportSet:
    """The contacts one set of lists gets by import: rows with fields, and existing contacts by email."""

    rows: int = 0
    row_bytes: int = 0
    # Existing CTCT contacts added by an email-only row: (contact id here, email).
    by_email: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MemberGroups:
    """Contacts grouped by the set of lists they go to (or leave), and those sent by import."""

    by_id: dict[Targets, list[str]]  # target lists → CTCT contact ids
    imports: dict[Targets, ImportSet]


def import_activities(rows: int, row_bytes: int, lists: int) -> int:
    """The imports `rows` contacts (`row_bytes` of JSON) take, put on `lists` lists."""
    if not rows or not lists:
        return 0
    return max(math.ceil(rows / MAX_IMPORT_CONTACTS), math.ceil(row_bytes / MAX_IMPORT_BYTES)) * math.ceil(
        lists / MAX_TARGET_LISTS
    )


def membership_activities(contacts: int, lists: int) -> int:
    """The adds (or removes) by id that `contacts` contacts take, to or from `lists` lists."""
    if not contacts or not lists:
        return 0
    return math.ceil(contacts / MAX_CONTACT_IDS) * math.ceil(lists / MAX_TARGET_LISTS)


def email_row_bytes(emails: Iterable[str]) -> int:
    return sum(len(email) + ROW_BYTES for email in emails)


def target_sets(pairs: pd.DataFrame, who: str, where: str) -> dict[Targets, list[Hashable]]:
    """`pairs` (one row per `who` and `where`) as: each set of `where`s (sorted) → the `who`s with
    exactly that set. Vectorized: each `who`'s sorted set is a row of a matrix, and equal rows are
    one set (`numpy.unique`), so a million contacts group in a fraction of a second."""
    unique = pairs[[who, where]].drop_duplicates()
    if unique.empty:
        return {}
    who_codes, who_values = pd.factorize(unique[who])
    where_codes, where_values = pd.factorize(unique[where], sort=True)
    order = np.lexsort((where_codes, who_codes))
    people, places = who_codes[order], where_codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(people)) + 1]
    sizes = np.diff(np.r_[starts, len(people)])
    sets = np.full((len(starts), int(sizes.max())), -1, dtype=np.int64)
    sets[np.repeat(np.arange(len(starts)), sizes), np.arange(len(people)) - np.repeat(starts, sizes)] = places
    keys, inverse = np.unique(sets, axis=0, return_inverse=True)
    names, persons = where_values.tolist(), who_values[people[starts]].tolist()
    return {
        tuple(names[code] for code in keys[number] if code >= 0): [persons[i] for i in members]
        for number, members in _members_by(inverse.reshape(-1))
    }


def _members_by(labels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Each label's positions in `labels` (in order), the labels in ascending order."""
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    bounds = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1, len(ordered)]
    return [(int(ordered[bounds[k]]), order[bounds[k] : bounds[k + 1]]) for k in range(len(bounds) - 1)]


def _per_list(pairs: pd.DataFrame, where: str) -> dict[Targets, list[Hashable]]:
    """Each list alone → the contacts going to (or leaving) it."""
    codes, values = pd.factorize(pairs[where], sort=True)
    people = pairs["ctct_contact_id"].tolist()
    names = values.tolist()
    return {(names[code],): [people[i] for i in members] for code, members in _members_by(codes)}


def group_members(
    pairs: pd.DataFrame, where: str, importable: pd.Series | None, imports: dict[Targets, ImportSet]
) -> MemberGroups:
    """Membership rows (`ctct_contact_id`, `where`, and for adds `contact_id`, `email`) cut into the
    fewest activities: by set of lists, or list by list where that takes fewer; an existing contact
    joins its set's import where `importable` allows it and that takes fewer activities than by id.
    `imports`: the rows (new and changed contacts) each set of lists already gets by import."""
    if pairs.empty:
        return MemberGroups({}, {key: value for key, value in imports.items() if value.rows})
    by_set = _grouped(pairs, where, importable, imports, target_sets(pairs, "ctct_contact_id", where))
    by_list = _grouped(pairs, where, importable, imports, _per_list(pairs, where))
    return by_list if activity_count(by_list) < activity_count(by_set) else by_set


def _grouped(
    pairs: pd.DataFrame,
    where: str,
    importable: pd.Series | None,
    imports: dict[Targets, ImportSet],
    groups: dict[Targets, list[Hashable]],
) -> MemberGroups:
    emails: dict[Hashable, tuple[int, str]] = {}
    if importable is not None:
        chosen = pairs[pairs["ctct_contact_id"].map(importable).fillna(False).astype(bool)]
        emails = dict(
            zip(
                chosen["ctct_contact_id"].tolist(),
                zip(chosen["contact_id"].tolist(), chosen["email"].tolist(), strict=True),
                strict=True,
            )
        )
    by_id: dict[Targets, list[str]] = {}
    sets = {key: ImportSet(value.rows, value.row_bytes, list(value.by_email)) for key, value in imports.items()}
    for targets, people in groups.items():
        known = sets.get(targets, ImportSet())
        by_email = [emails[person] for person in people if person in emails]
        others = [str(person) for person in people if person not in emails]
        if by_email and _import_is_cheaper(known, by_email, len(others), len(targets)):
            sets[targets] = ImportSet(
                known.rows + len(by_email),
                known.row_bytes + email_row_bytes(email for _, email in by_email),
                [*known.by_email, *by_email],
            )
            if others:
                by_id[targets] = others
        else:
            by_id[targets] = [str(person) for person in people]
    return MemberGroups(by_id, {key: value for key, value in sets.items() if value.rows})


def _import_is_cheaper(known: ImportSet, by_email: list[tuple[int, str]], others: int, lists: int) -> bool:
    joined = import_activities(
        known.rows + len(by_email), known.row_bytes + email_row_bytes(email for _, email in by_email), lists
    ) + membership_activities(others, lists)
    apart = import_activities(known.rows, known.row_bytes, lists) + membership_activities(len(by_email) + others, lists)
    return joined < apart


def activity_count(groups: MemberGroups) -> int:
    """The activities `groups` take: adds (or removes) by id, and the imports."""
    return sum(membership_activities(len(people), len(targets)) for targets, people in groups.by_id.items()) + sum(
        import_activities(value.rows, value.row_bytes, len(targets)) for targets, value in groups.imports.items()
    )


def importable_contacts(changes: Changes, remote_contacts: pd.DataFrame) -> pd.Series:
    """Per CTCT contact id of an existing contact the push adds to lists: whether an email-only
    import row finds exactly it — CTCT holds this address for it, the push does not change it, and
    it fits an import row."""
    adds = changes["memberships_add"].dropna(subset=["ctct_contact_id"])
    if adds.empty or remote_contacts.empty:
        return pd.Series(dtype=bool)
    ids = adds["ctct_contact_id"].astype(str)
    concerned = remote_contacts[is_in(remote_contacts["ctct_contact_id"].astype(str), ids)]
    held = dict(zip(concerned["ctct_contact_id"].astype(str).tolist(), concerned["email_key"].tolist(), strict=True))
    moved = set(changes["contacts_update"].loc[changes["contacts_update"]["previous_email"].notna(), "contact_id"])
    emails = adds["email"].astype(str)
    fits = (
        emails.str.len().le(MAX_IMPORT_EMAIL_LENGTH)
        & ~adds["contact_id"].isin(moved)
        & email_keys(emails).eq(ids.map(held)).fillna(False).astype(bool)
    )
    return pd.Series(fits.to_numpy(), index=adds["ctct_contact_id"]).groupby(level=0).all()


def contact_rows_bytes(frame: pd.DataFrame) -> pd.Series:
    """About the JSON size of each contact's import row (its email and fields)."""
    size = frame["email"].astype(str).str.len() + ROW_BYTES
    for name in ROW_FIELDS:
        if name in frame:
            text = frame[name].where(frame[name].map(lambda value: isinstance(value, str) and bool(value)))
            size += text.str.len().fillna(-FIELD_BYTES).astype(int) + FIELD_BYTES
    return size


def polls(activities: int) -> int:
    """The polls a push's activities take (watched together, up to SUBMIT_TOGETHER at a time)."""
    if not activities:
        return 0
    batches = math.ceil(activities / SUBMIT_TOGETHER)
    return batches * (1 + EXTRA_POLLS) + math.floor(activities * ACTIVITY_SECONDS / POLL_CEILING)


def list_deletes(changes: Changes) -> int:
    return math.ceil(len(changes["lists_delete"]) / MAX_LIST_DELETE_IDS)


def list_pages(lists: int) -> int:
    return max(1, math.ceil(lists / LISTS_PER_PAGE))


def contact_sets(changes: Changes, remote: RemoteSnapshot) -> tuple[dict[Targets, ImportSet], int]:
    """What the planner can tell of the push's imports: the new and changed contacts by the set of
    lists they go into (local list ids; a changed contact goes to the lists it is on in CTCT, as the
    plan read them, with its adds and without its removes), and how many go one by one instead."""
    adds, removes = changes["memberships_add"], changes["memberships_remove"]
    # Each CTCT list id with its list here, from the rows that have one (a list to create has none).
    local_of = {
        ctct_list_id: list_id
        for frame in (adds, removes)
        for ctct_list_id, list_id in zip(
            frame["ctct_list_id"].dropna().astype(str).tolist(),
            frame.loc[frame["ctct_list_id"].notna(), "list_id"].tolist(),
            strict=True,
        )
    }
    new = adds[adds["ctct_contact_id"].isna()][["contact_id", "list_id"]]
    updates = changes["contacts_update"]
    updates = updates[updates["previous_email"].isna()]
    held = remote.members[is_in(remote.members["ctct_contact_id"], updates["ctct_contact_id"].dropna())]
    contact_of = dict(zip(updates["ctct_contact_id"].tolist(), updates["contact_id"].tolist(), strict=False))
    pairs = pd.concat(
        [
            new,
            pd.DataFrame(
                {
                    "contact_id": held["ctct_contact_id"].map(contact_of),
                    "list_id": held["ctct_list_id"].astype(str).map(lambda i: local_of.get(i, i)),
                }
            ),
            adds[adds["contact_id"].isin(updates["contact_id"])][["contact_id", "list_id"]],
        ]
    )
    gone = set(zip(removes["contact_id"].tolist(), removes["list_id"].tolist(), strict=True))
    kept = [pair not in gone for pair in zip(pairs["contact_id"].tolist(), pairs["list_id"].tolist(), strict=True)]
    pairs = pairs[pd.Series(kept, index=pairs.index, dtype=bool)]
    people = pd.concat([changes["contacts_create"], updates]).drop_duplicates("contact_id")
    people = people[people["contact_id"].isin(pairs["contact_id"])]
    long = people["email"].astype(str).str.len().gt(MAX_IMPORT_EMAIL_LENGTH)
    size = dict(zip(people["contact_id"].tolist(), contact_rows_bytes(people).tolist(), strict=True))
    pairs = pairs[pairs["contact_id"].isin(people.loc[~long, "contact_id"])]
    sets: dict[Targets, ImportSet] = {}
    key_of = {str(i): i for i in pairs["list_id"]}
    for targets, who in target_sets(
        pairs.assign(list_id=pairs["list_id"].astype(str)), "contact_id", "list_id"
    ).items():
        key = tuple(key_of[str(i)] for i in targets)
        sets[key] = ImportSet(len(who), sum(size[person] for person in who))
    return sets, int(long.sum())


@dataclass(frozen=True)
class PushRequests:
    """The CTCT requests a push takes, by what for."""

    single: int  # list creates and renames, email changes, contacts sent one by one
    activities: int
    polls: int
    read_back: int  # the listing of CTCT's lists after the push
    stale_check: int  # the listing of CTCT's lists and one probe of its contacts, before it

    @property
    def total(self) -> int:
        return self.single + self.activities + self.polls + self.read_back + self.stale_check


def push_requests(changes: Changes, remote: RemoteSnapshot, *, minimum: bool = False) -> PushRequests:
    """The requests a push of `changes` takes, as the push cuts it into activities (`group_members`).

    With `minimum`, the fewest any push of this shape can take, against which a push is measured:
    - one request per list created (not linked) or renamed and per email changed (CTCT has no bulk
      form of these), and two per contact whose address is too long for an import row (a look-up
      by email, then a POST or a PUT);
    - the activities as `group_members` cuts them — by set of target lists (or list by list where
      that takes fewer), up to 500 ids and 50 lists each, or as import rows, 40,000 (and 4 MB) each,
      where an import takes fewer — and up to 100 lists deleted per activity;
    - one poll for every 450 activities (one `GET /activities` shows up to 500, and polling before
      all have ended tells nothing new; the push also polls once early to learn CTCT's pace);
    - one listing of CTCT's lists (500 a page) after the push: the baseline records what CTCT shows;
    - the stale check before the push: the same listing and one `updated_after` probe of contacts.
    Without `minimum` (the planner's estimate), the polls are those the push's watching takes at the
    sandbox's pace (`polls`)."""
    sets, one_by_one = contact_sets(changes, remote)
    existing = changes["memberships_add"].dropna(subset=["ctct_contact_id"])
    added = group_members(existing, "list_id", importable_contacts(changes, remote.contacts), sets)
    removed = group_members(changes["memberships_remove"], "ctct_list_id", None, {})
    activities = activity_count(added) + activity_count(removed) + list_deletes(changes)
    creates = changes["lists_create"]
    created = int((~creates["link"].astype(bool)).sum())
    moved = int(changes["contacts_update"]["previous_email"].notna().sum())
    single = created + len(changes["lists_rename"]) + moved + 2 * one_by_one
    watching = math.ceil(activities / SUBMIT_TOGETHER) if minimum else polls(activities)
    lists_after = len(remote.lists) + created - len(changes["lists_delete"])
    return PushRequests(single, activities, watching, list_pages(lists_after), list_pages(len(remote.lists)) + 1)

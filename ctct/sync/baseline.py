"""The baseline after a sync, from what was observed on both sides (pure: frames in, frames out).

The baseline is what both sides agreed on. After a sync a pair (list, email) — and likewise a
list's name and a contact's fields — is recorded as:

1. what the sync set, where the side it changed confirms it (CTCT's activities and a re-read, or
   the committed local transaction);
2. otherwise what both sides hold, where they hold the same;
3. otherwise what the old baseline said: the two sides differ — a failed row, an edit made on
   either side while the sync ran — and the difference stays for the next plan, which can still
   tell which side made it.

Apart from its recording (ctct/sync/recording.py, which reads both sides and writes the baseline
tables) so that the rule above is tested on frames alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ctct.sync.snapshot import Baseline, RemoteSnapshot

PAIR = ["ctct_list_id", "email_key"]
FIELDS = ["first_name", "last_name", "company_name", "job_title"]


def _pairs(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame(columns=PAIR)
    return frame[PAIR].dropna().astype(str).drop_duplicates()


def remote_pairs(remote: RemoteSnapshot | None) -> pd.DataFrame:
    """CTCT's memberships as (ctct_list_id, email_key), as a snapshot saw them."""
    if remote is None or remote.members.empty:
        return pd.DataFrame(columns=PAIR)
    pairs = remote.members.merge(remote.contacts[["ctct_contact_id", "email_key"]], on="ctct_contact_id")
    return pairs[PAIR].astype(str)


@dataclass
class Side:
    """One side after the sync: linked lists by CTCT id with their names, members by email, and
    contact fields by email."""

    lists: pd.DataFrame  # ctct_list_id, name
    members: pd.DataFrame  # ctct_list_id, email_key
    contacts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["email_key", *FIELDS]))


@dataclass
class Confirmed:
    """What the sync changed and the changed side confirms."""

    added: pd.DataFrame = field(default_factory=_pairs)  # pairs now present, as the sync meant
    removed: pd.DataFrame = field(default_factory=_pairs)  # pairs now absent, as the sync meant
    renamed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["ctct_list_id", "name"]))
    deleted_lists: frozenset[str] = frozenset()
    contacts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["email_key", *FIELDS]))


def _flags(frames: dict[str, pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Every key found in any frame, with one boolean column per frame saying where it stands."""
    union = pd.concat([frame[keys] for frame in frames.values()]).drop_duplicates()
    for name, frame in frames.items():
        marked = frame[keys].drop_duplicates().assign(**{name: True})
        union = union.merge(marked, on=keys, how="left")
        union[name] = union[name].fillna(False).astype(bool)
    return union


def observed_baseline(old: Baseline, local: Side, remote: Side, confirmed: Confirmed) -> Baseline:
    lists = _lists(old, local, remote, confirmed)
    kept = set(lists["ctct_list_id"])
    members = _members(old, local, remote, confirmed)
    members = members[members["ctct_list_id"].isin(kept)]
    contacts = _contacts(old, local, remote, confirmed, set(members["email_key"]))
    return Baseline(lists=lists.reset_index(drop=True), members=members.reset_index(drop=True), contacts=contacts)


def _lists(old: Baseline, local: Side, remote: Side, confirmed: Confirmed) -> pd.DataFrame:
    names = {
        "local": local.lists.dropna(subset=["ctct_list_id"]),
        "remote": remote.lists,
        "old": old.lists,
        "renamed": confirmed.renamed,
    }
    ids = _flags({name: frame.astype({"ctct_list_id": str}) for name, frame in names.items()}, ["ctct_list_id"])
    by = {
        name: dict(zip(frame["ctct_list_id"].astype(str), frame["name"], strict=True)) for name, frame in names.items()
    }
    rows = []
    for row in ids.itertuples():
        list_id = row.ctct_list_id
        if list_id in confirmed.deleted_lists or not (row.local or row.remote or row.old):
            continue
        if row.local and row.remote:
            name = by["renamed"].get(list_id)
            if name is None:
                name = by["local"][list_id] if by["local"][list_id] == by["remote"][list_id] else None
            rows.append((list_id, name or by["old"].get(list_id) or by["remote"][list_id]))
        elif row.old and (row.local or row.remote):
            rows.append((list_id, by["old"][list_id]))  # on one side only: not agreed, as before
    return pd.DataFrame(rows, columns=["ctct_list_id", "name"])


def _members(old: Baseline, local: Side, remote: Side, confirmed: Confirmed) -> pd.DataFrame:
    pairs = _flags(
        {
            "local": _pairs(local.members),
            "remote": _pairs(remote.members),
            "old": _pairs(old.members),
            "added": _pairs(confirmed.added),
            "removed": _pairs(confirmed.removed),
        },
        PAIR,
    )
    agreed = pairs["local"] & pairs["remote"]
    differ = pairs["local"] != pairs["remote"]
    present = pairs["added"] | (~pairs["removed"] & (agreed | (differ & pairs["old"])))
    return pairs.loc[present, PAIR]


def _contacts(old: Baseline, local: Side, remote: Side, confirmed: Confirmed, emails: set[str]) -> pd.DataFrame:
    """Fields per member email: as confirmed sent, else as both sides hold them, else as before,
    else CTCT's (so that a field changed here since still shows as changed)."""
    columns = ["email_key", *FIELDS]
    chosen: list[pd.DataFrame] = []
    left = set(emails)

    def take(frame: pd.DataFrame) -> None:
        nonlocal left
        rows = frame[frame["email_key"].isin(left)].drop_duplicates("email_key")[columns]
        chosen.append(rows)
        left -= set(rows["email_key"])

    take(confirmed.contacts.reindex(columns=columns))
    both = local.contacts.reindex(columns=columns).merge(
        remote.contacts.reindex(columns=columns), on="email_key", suffixes=("", "_remote")
    )
    same = pd.Series(True, index=both.index)
    for name in FIELDS:
        same &= both[name].fillna("").astype(str) == both[f"{name}_remote"].fillna("").astype(str)
    take(both.loc[same, columns])
    take(old.contacts.reindex(columns=columns))
    take(remote.contacts.reindex(columns=columns))
    frames = [frame for frame in chosen if len(frame)]
    return pd.concat(frames).reset_index(drop=True) if frames else pd.DataFrame(columns=columns)

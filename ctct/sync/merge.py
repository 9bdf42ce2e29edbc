"""Sync both ways: the three-way merge of Customer Focus, Constant Contact and the baseline.

The merge is planned as the two directions already are — a pull (CTCT wins) and a push (Customer
Focus wins) from the same snapshots — and then each keeps only what its winning side changed
since the baseline:

- a membership present in the baseline and missing on one side was removed there: the removal
  goes to the other side; one missing from the baseline and present on one side was added there:
  the add goes to the other side (a boolean merge: never a conflict);
- a list renamed on one side is renamed on the other; renamed differently on both is a conflict;
- a list new on one side is created on the other (one of the same name on both is linked);
- a list deleted on one side and unchanged on the other is deleted on the other (a mass removal,
  confirmed as ever); deleted on one side and changed on the other is a conflict;
- subscription status always follows CTCT: a contact unsubscribed there leaves every list here
  and the push never adds it back.

Each conflict carries a default that never deletes and never loses a change, and can be resolved
another way by its id (or its kind, for every conflict of that kind). The commit applies the part
for Customer Focus first (one transaction), then the part for CTCT (ctct/sync/apply.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from ctct import display
from ctct.crm.normalize import email_keys, name_key
from ctct.errors import InvalidInput
from ctct.sync.baseline import remote_pairs
from ctct.sync.changes import CHANGE_KINDS, ChangeKind, Direction
from ctct.sync.keys import is_in
from ctct.sync.plan import (
    MassRemovalPolicy,
    Plan,
    PlanWarning,
    _changed_since_baseline,
    _email_codes,
    _local_sizes,
    _push_contacts,
    _stable,
    describe_counts,
    estimate_push_requests,
    mass_removals,
    plan_pull,
    plan_push,
)
from ctct.sync.snapshot import Baseline, LocalSnapshot, RemoteSnapshot

RENAMED_ON_BOTH = "renamed_on_both"
DELETED_HERE_CHANGED_IN_CTCT = "deleted_here_changed_in_ctct"
DELETED_IN_CTCT_CHANGED_HERE = "deleted_in_ctct_changed_here"

# Per conflict kind: its choices, the default first (it never deletes and never loses a change).
CONFLICT_CHOICES: dict[str, tuple[str, ...]] = {
    RENAMED_ON_BOTH: ("ctct", "local"),
    DELETED_HERE_CHANGED_IN_CTCT: ("keep", "delete"),
    DELETED_IN_CTCT_CHANGED_HERE: ("keep", "delete"),
}
CHOICE_WORDS: dict[tuple[str, str], str] = {
    (RENAMED_ON_BOTH, "ctct"): "both sides take Constant Contact's name",
    (RENAMED_ON_BOTH, "local"): "both sides take the name here",
    (DELETED_HERE_CHANGED_IN_CTCT, "keep"): "the list comes back here with Constant Contact's members",
    (DELETED_HERE_CHANGED_IN_CTCT, "delete"): "the list is deleted in Constant Contact too",
    (DELETED_IN_CTCT_CHANGED_HERE, "keep"): "the list is created again in Constant Contact with the members here",
    (DELETED_IN_CTCT_CHANGED_HERE, "delete"): "the list is deleted here too",
}
# The warnings of a one-way plan about what its losing side loses: a merge loses none of it.
ONE_WAY_WARNINGS = frozenset(
    {"losing_side_change", "kept_local_change", "deleted_in_ctct", "ctct_only_lists", "last_list"}
)

# The two sides, as History and the preview name them.
IN_CTCT, IN_CRM = "in Constant Contact", "in Customer Focus"


@dataclass(frozen=True)
class Conflict:
    """A list both sides changed in ways that cannot both stand."""

    id: str
    kind: str
    list: str
    local: str  # what happened to it here, in words
    ctct: str  # what happened to it in CTCT, in words
    resolution: str
    choices: tuple[str, ...]
    ctct_list_id: str
    chosen: bool = False  # False: the default stands

    @property
    def outcome(self) -> str:
        return CHOICE_WORDS[(self.kind, self.resolution)]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "list": self.list,
            "local": self.local,
            "ctct": self.ctct,
            "resolution": self.resolution,
            "choices": list(self.choices),
            "default": self.choices[0],
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class MergePlan:
    """A plan both ways: what goes to Customer Focus, what goes to CTCT, and the conflicts with
    their resolutions. Both parts come from the same snapshots."""

    to_local: Plan  # direction pull: the changes made here
    to_ctct: Plan  # direction push: the changes made in CTCT
    conflicts: tuple[Conflict, ...] = ()
    warnings: list[PlanWarning] = field(default_factory=list)
    direction: Direction = Direction.BOTH

    @property
    def parts(self) -> tuple[tuple[str, Plan], ...]:
        return ((IN_CRM, self.to_local), (IN_CTCT, self.to_ctct))

    @property
    def local_fingerprint(self) -> str:
        return self.to_local.local_fingerprint

    @property
    def remote_fingerprint(self) -> str:
        return self.to_local.remote_fingerprint

    @property
    def remote_max_updated(self) -> str | None:
        return self.to_local.remote_max_updated

    @property
    def remote(self) -> RemoteSnapshot | None:
        return self.to_local.remote

    @property
    def local(self) -> LocalSnapshot | None:
        return self.to_local.local

    @property
    def snapshot_requests(self) -> int:
        return self.to_local.snapshot_requests

    @property
    def estimated_requests(self) -> int:
        return self.to_ctct.estimated_requests

    @property
    def mass_removals(self) -> list[str]:
        return [f"{side}: {removal}" for side, part in self.parts for removal in part.mass_removals]

    @property
    def unresolved(self) -> tuple[Conflict, ...]:
        """The conflicts whose default nobody chose or confirmed."""
        return tuple(conflict for conflict in self.conflicts if not conflict.chosen)

    def __getitem__(self, kind: str) -> pd.DataFrame:
        frames = [part[kind].assign(side=side) for side, part in self.parts if len(part[kind])]
        return pd.concat(frames, ignore_index=True) if frames else self.to_local[kind].assign(side=None)

    def counts(self) -> dict[str, int]:
        local, ctct = self.to_local.counts(), self.to_ctct.counts()
        return {kind: local.get(kind, 0) + ctct.get(kind, 0) for kind in CHANGE_KINDS}

    def side_counts(self) -> dict[str, dict[str, int]]:
        return {"to_local": self.to_local.counts(), "to_ctct": self.to_ctct.counts()}

    @property
    def is_empty(self) -> bool:
        return self.to_local.is_empty and self.to_ctct.is_empty and not self.conflicts

    def all_warnings(self) -> list[PlanWarning]:
        return [*self.warnings, *self.to_local.warnings, *self.to_ctct.warnings]

    def to_frames(self) -> dict[str, pd.DataFrame]:
        return {kind: self[kind] for kind in CHANGE_KINDS}

    def to_json(self, row_limit: int | None = None) -> dict[str, Any]:
        """As the other directions (summed counts, warnings, mass removals, requests), with each
        side's changes as a one-way plan shows them, and the conflicts."""
        return {
            "direction": str(self.direction),
            "to_local": _side_json(self.to_local, row_limit),
            "to_ctct": _side_json(self.to_ctct, row_limit),
            "conflicts": [conflict.to_json() for conflict in self.conflicts],
            "warnings": [{"kind": w.kind, "message": w.message} for w in self.all_warnings()],
            "mass_removals": self.mass_removals,
            "counts": self.counts(),
            "estimated_requests": self.estimated_requests,
        }

    def summary(self) -> str:
        here, there = describe_counts(self.to_local.counts()), describe_counts(self.to_ctct.counts())
        text = f"Both-ways plan: here {here or 'nothing'}; in Constant Contact {there or 'nothing'}"
        text += f"; about {self.estimated_requests:,} requests"
        if self.conflicts:
            text += f"; {len(self.conflicts):,} conflict(s)"
        if self.mass_removals:
            text += f"; {len(self.mass_removals):,} mass removal(s) to confirm"
        return text

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def _repr_html_(self) -> str:
        parts = [display.heading("Both-ways plan")]
        for side, part in self.parts:
            counts = part.counts()
            parts.append(display.heading(side.capitalize(), 4))
            parts.append(
                display.counts_table((CHANGE_KINDS[kind][0], count) for kind, count in counts.items())
                if not part.is_empty
                else display.paragraph("Nothing to change.")
            )
        parts.append(
            display.messages(
                [f"Conflict on '{c.list}': {c.local} here, {c.ctct} there — {c.outcome}" for c in self.conflicts],
                "warning",
            )
        )
        parts.append(display.messages([w.message for w in self.all_warnings()], "warning"))
        return display.card(*parts)


def _side_json(part: Plan, row_limit: int | None) -> dict[str, Any]:
    body = part.to_json(row_limit)
    body.pop("direction", None)
    return body


def parse_resolutions(pairs: list[str] | None) -> dict[str, str]:
    """`ID=CHOICE` arguments as a mapping; a malformed one is refused naming it."""
    chosen: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, choice = pair.partition("=")
        if not sep or not key.strip() or not choice.strip():
            raise InvalidInput("resolve", f"--resolve '{pair}' is not ID=CHOICE")
        chosen[key.strip()] = choice.strip()
    return chosen


def check_resolutions(plan: MergePlan, chosen: Mapping[str, str]) -> None:
    """Every chosen resolution names a conflict of the plan (by id or kind): none is ignored silently."""
    known = {conflict.id for conflict in plan.conflicts} | {conflict.kind for conflict in plan.conflicts}
    for key in chosen:
        if key not in known:
            ids = ", ".join(conflict.id for conflict in plan.conflicts) or "none"
            raise InvalidInput("resolve", f"there is no conflict '{key}' in this plan (its conflicts: {ids})")


# Planning


@dataclass(frozen=True)
class _Lists:
    """Per list of the baseline: its name there, here and in CTCT (None: deleted on that side), and
    whether its members changed on either side since the baseline."""

    frame: pd.DataFrame  # ctct_list_id, base, here, ctct, members_here, members_ctct

    def ids(self, mask: pd.Series) -> set[str]:
        return set(self.frame.loc[mask, "ctct_list_id"])


def _list_facts(local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline) -> _Lists:
    base = baseline.lists[["ctct_list_id", "name"]].astype({"ctct_list_id": str})
    here = dict(
        zip(
            local.lists["ctct_list_id"].dropna().astype(str),
            local.lists.dropna(subset=["ctct_list_id"])["name"],
            strict=True,
        )
    )
    there = dict(zip(remote.lists["ctct_list_id"].astype(str), remote.lists["name"], strict=True))
    changed_here = _lists_with_member_changes(_local_pairs(local, baseline), baseline)
    changed_there = _lists_with_member_changes(remote_pairs(remote), baseline)
    frame = pd.DataFrame(
        {
            "ctct_list_id": base["ctct_list_id"],
            "base": base["name"],
            "here": base["ctct_list_id"].map(here),
            "ctct": base["ctct_list_id"].map(there),
        }
    )
    frame["members_here"] = frame["ctct_list_id"].isin(changed_here)
    frame["members_ctct"] = frame["ctct_list_id"].isin(changed_there)
    return _Lists(frame.reset_index(drop=True))


def _local_pairs(local: LocalSnapshot, baseline: Baseline) -> pd.DataFrame:
    """Local memberships of linked lists as (ctct_list_id, email_key) — but for members who are not
    eligible (a role address, unsubscribed, no valid email) and not in the baseline: those never
    reach CTCT, so they do not make their list "changed here" (one in the baseline, which CTCT and
    here both held, still counts)."""
    linked = local.lists.dropna(subset=["ctct_list_id"])[["list_id", "ctct_list_id"]]
    contacts = local.contacts[["contact_id", "email_key", "reason"]]
    pairs = local.members.merge(linked, on="list_id").merge(contacts, on="contact_id")
    pairs = pairs[pairs["email_key"].notna() & (pairs["email_key"] != "")]
    pairs = pairs.assign(ctct_list_id=pairs["ctct_list_id"].astype(str), email_key=pairs["email_key"].astype(str))
    base = baseline.members[["ctct_list_id", "email_key"]].astype(str).drop_duplicates().assign(_base=True)
    pairs = pairs.merge(base, on=["ctct_list_id", "email_key"], how="left")
    kept = pairs["reason"].isna() | pairs["_base"].notna()
    return pairs.loc[kept, ["ctct_list_id", "email_key"]]


def _lists_with_member_changes(pairs: pd.DataFrame, baseline: Baseline) -> set[str]:
    base = baseline.members[["ctct_list_id", "email_key"]].astype(str)
    both = pairs.drop_duplicates().merge(base.drop_duplicates(), how="outer", indicator=True)
    return set(both.loc[both["_merge"] != "both", "ctct_list_id"])


def _conflicts(facts: _Lists, chosen: Mapping[str, str]) -> tuple[Conflict, ...]:
    found: list[Conflict] = []
    for row in facts.frame.itertuples(index=False):
        kind, local_words, ctct_words = None, "", ""
        here_changed = row.here is not None and not pd.isna(row.here)
        ctct_there = row.ctct is not None and not pd.isna(row.ctct)
        if here_changed and ctct_there and row.here != row.base and row.ctct != row.base and row.here != row.ctct:
            kind = RENAMED_ON_BOTH
            local_words, ctct_words = f"renamed '{row.here}'", f"renamed '{row.ctct}'"
        elif not here_changed and ctct_there and (row.ctct != row.base or row.members_ctct):
            kind = DELETED_HERE_CHANGED_IN_CTCT
            local_words, ctct_words = "deleted", _changed_words(row.base, row.ctct, row.members_ctct)
        elif here_changed and not ctct_there and (row.here != row.base or row.members_here):
            kind = DELETED_IN_CTCT_CHANGED_HERE
            local_words, ctct_words = _changed_words(row.base, row.here, row.members_here), "deleted"
        if kind is None:
            continue
        conflict_id = f"{kind}:{row.ctct_list_id}"
        choices = CONFLICT_CHOICES[kind]
        choice = chosen.get(conflict_id) or chosen.get(kind)
        if choice is not None and choice not in choices:
            raise InvalidInput(
                "resolve", f"'{choice}' is not a choice for conflict {conflict_id} (choose {' or '.join(choices)})"
            )
        found.append(
            Conflict(
                conflict_id,
                kind,
                str(row.base),
                local_words,
                ctct_words,
                choice or choices[0],
                choices,
                str(row.ctct_list_id),
                chosen=choice is not None,
            )
        )
    return tuple(sorted(found, key=lambda conflict: (conflict.list.casefold(), conflict.id)))


def _changed_words(base: str, name: str, members: bool) -> str:
    words = [f"renamed '{name}'"] if name != base else []
    if members:
        words.append("members changed")
    return " and ".join(words)


def plan_both(
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    baseline: Baseline,
    policy: MassRemovalPolicy | None = None,
    resolutions: Mapping[str, str] | None = None,
) -> MergePlan:
    policy = policy or MassRemovalPolicy()
    pulled = plan_pull(local, remote, baseline, policy=policy)
    pushed = plan_push(local, remote, baseline, policy)
    facts = _list_facts(local, remote, baseline)
    conflicts = _conflicts(facts, resolutions or {})
    resolved = {conflict.ctct_list_id: conflict for conflict in conflicts}

    def resolution(kind: str, choice: str) -> set[str]:
        return {c.ctct_list_id for c in conflicts if c.kind == kind and c.resolution == choice}

    frame = facts.frame
    in_baseline = set(frame["ctct_list_id"])
    renamed_here = facts.ids(frame["here"].notna() & (frame["here"] != frame["base"]))
    renamed_there = facts.ids(frame["ctct"].notna() & (frame["ctct"] != frame["base"]))
    names_here = resolution(RENAMED_ON_BOTH, "local")
    restored_here = resolution(DELETED_HERE_CHANGED_IN_CTCT, "keep")
    deleted_there_too = resolution(DELETED_HERE_CHANGED_IN_CTCT, "delete")
    recreated_there = resolution(DELETED_IN_CTCT_CHANGED_HERE, "keep")
    deleted_here = facts.ids(frame["here"].isna() & frame["ctct"].notna())
    unsubscribed = set(pulled["contacts_unsubscribed"]["contact_id"])
    deletions_sent = (deleted_here - set(resolved)) | deleted_there_too
    kept_last: str | None = None
    while True:
        restored = restored_here | ({kept_last} if kept_last else set())
        to_local = _to_local(
            pulled,
            pushed,
            baseline,
            local,
            in_baseline=in_baseline,
            renames_kept=(renamed_there - renamed_here) | (renamed_there & renamed_here - names_here),
            # Lists deleted here that the pull would bring back, and not restored: nothing of them comes.
            deleted_here=deleted_here - restored,
            restored_here=restored,
            spared_here=recreated_there,
            unsubscribed=unsubscribed,
        )
        to_ctct = _to_ctct(
            pushed,
            local,
            baseline,
            in_baseline=in_baseline,
            renames_kept=(renamed_here - renamed_there) | (renamed_here & renamed_there & names_here),
            recreated_there=recreated_there,
            deletions_sent=deletions_sent - {kept_last},
        )
        to_local, held_here = _without_name_clashes(to_local, local.lists, "list_id", IN_CRM)
        to_ctct, held_there = _without_name_clashes(to_ctct, remote.lists, "ctct_list_id", IN_CTCT)
        if kept_last is not None:
            break
        # CTCT must keep one list: when what is sent would delete its last, that one stays there
        # and comes back here with its members (planned again once, with it kept).
        kept_last = _last_list_kept(to_ctct, remote)
        if kept_last is None:
            break
    to_ctct = _with_details_of_new_members(to_ctct, to_local, local, remote, baseline)
    warnings = (
        [
            PlanWarning("conflict", f"'{c.list}' was {c.local} here and {c.ctct} in Constant Contact: {c.outcome}")
            for c in conflicts
        ]
        + held_here
        + held_there
    )
    if kept_last is not None:
        name = str(remote.lists.set_index("ctct_list_id")["name"].get(kept_last))
        warnings.append(
            PlanWarning(
                "last_list",
                f"Constant Contact must keep at least one list: '{name}', deleted here, stays there and "
                "comes back here",
            )
        )
    return MergePlan(
        _finished(to_local, _local_sizes(local), policy, "list_id"),
        _finished(
            to_ctct, remote.lists.set_index("ctct_list_id")["membership_count"].to_dict(), policy, "ctct_list_id"
        ),
        conflicts,
        warnings,
    )


def _finished(part: Plan, sizes: dict[Any, int], policy: MassRemovalPolicy, by: str) -> Plan:
    """The part with its one-way warnings about the losing side dropped, and its mass removals and
    requests worked out again from what it keeps."""
    assert part.remote is not None
    changes = part.changes
    warnings = [w for w in part.warnings if w.kind not in ONE_WAY_WARNINGS]
    requests = (
        estimate_push_requests(changes, part.remote) if part.direction == Direction.PUSH else part.estimated_requests
    )
    return replace(
        part,
        warnings=warnings,
        mass_removals=mass_removals(changes, sizes, policy, by),
        estimated_requests=requests,
    )


def _last_list_kept(to_ctct: Plan, remote: RemoteSnapshot) -> str | None:
    """The list CTCT keeps when what its part sends would leave it none (it must keep one): the
    first by name of those it deletes; None when some list survives."""
    creates, deletes = to_ctct["lists_create"], to_ctct["lists_delete"]
    new_there = int((~creates["link"].astype(bool)).sum())
    if not len(deletes) or len(remote.lists) - len(deletes) + new_there >= 1:
        return None
    return str(deletes.sort_values("name", key=lambda names: names.astype(str).str.casefold())["ctct_list_id"].iloc[0])


def _without_name_clashes(part: Plan, lists: pd.DataFrame, key: str, side: str) -> tuple[Plan, list[PlanWarning]]:
    """The part without the renames and new lists that would give its side two lists of one name
    (each one-way plan checked its own renames, but the merge keeps only some of them): each held
    back is said, and happens on a later sync once the name is free. Customer Focus deletes, then
    renames, then creates (one transaction); CTCT creates, then renames, then deletes — so there a
    list being deleted still holds its name, and a new list must not take a name before a rename
    frees it."""
    c = part.changes
    renames, creates = c["lists_rename"], c["lists_create"]
    deleted = set(c["lists_delete"][key]) if side == IN_CRM else set()
    names = {row_id: name for row_id, name in zip(lists[key], lists["name"], strict=True) if row_id not in deleted}
    new = creates["list_id"].isna() if side == IN_CRM else ~creates["link"].astype(bool)
    clashing_creates = pd.Series(False, index=creates.index)
    if side == IN_CTCT:
        # Created first: against every name CTCT has now.
        now_taken = {name_key(name) for name in lists["name"]}
        clashing_creates = new & creates["name"].map(lambda name: name_key(name) in now_taken).astype(bool)
    created = [name_key(name) for name in creates.loc[new & ~clashing_creates, "name"]] if side == IN_CTCT else []
    kept_renames = pd.Series(True, index=renames.index)
    for _ in range(len(renames) + 1):
        final = dict(names)
        final.update({r: to for r, to, keep in zip(renames[key], renames["to"], kept_renames, strict=True) if keep})
        holders: dict[str, int] = {}
        for name in [*map(name_key, final.values()), *created]:
            holders[name] = holders.get(name, 0) + 1
        taken_twice = [holders.get(name_key(name), 0) > 1 for name in renames["to"]]
        clashing = kept_renames & pd.Series(taken_twice, index=renames.index, dtype=bool)
        if not clashing.any():
            break
        kept_renames &= ~clashing
    if side == IN_CRM:
        # Created last: against the names the lists here have once renamed.
        final_keys = {name_key(name) for name in final.values()}
        clashing_creates = new & creates["name"].map(lambda name: name_key(name) in final_keys).astype(bool)
    warnings = [
        PlanWarning(
            "name_clash",
            f"'{old}' is not renamed '{new_name}' {side}: another list there has that name until this sync ends "
            "— the next sync renames it",
        )
        for old, new_name in zip(renames.loc[~kept_renames, "from"], renames.loc[~kept_renames, "to"], strict=True)
    ] + [
        PlanWarning(
            "name_clash",
            f"list '{name}' is not created {side} yet: a list there has that name until this sync ends "
            "— the next sync creates it",
        )
        for name in creates.loc[clashing_creates, "name"]
    ]
    if not warnings:
        return part, []
    dropped = creates[clashing_creates]
    adds = c["memberships_add"]
    if side == IN_CRM:
        adds = adds[~_in(adds["ctct_list_id"], set(dropped["ctct_list_id"].astype(str)))]
    else:
        adds = adds[~adds["list_id"].isin(set(dropped["list_id"]))]
    contacts_create = c["contacts_create"]
    wanted = set(email_keys(adds["email"]))
    changes = {
        **c,
        ChangeKind.LISTS_RENAME: renames[kept_renames].reset_index(drop=True),
        ChangeKind.LISTS_CREATE: creates[~clashing_creates].reset_index(drop=True),
        ChangeKind.MEMBERSHIPS_ADD: adds.reset_index(drop=True),
        ChangeKind.CONTACTS_CREATE: contacts_create[email_keys(contacts_create["email"]).isin(wanted)].reset_index(
            drop=True
        ),
    }
    return replace(part, changes=changes), warnings


def _with_details_of_new_members(
    to_ctct: Plan, to_local: Plan, local: LocalSnapshot, remote: RemoteSnapshot, baseline: Baseline
) -> Plan:
    """Contacts on both sides that this sync puts on a list for the first time (so the baseline has
    no details of theirs) whose name, company or job title here differ from CTCT's: the details
    here go to CTCT now. The baseline this sync records holds CTCT's details for them, so the next
    sync would send these anyway — a second both-ways sync plans nothing."""
    joining = set(to_local["memberships_add"]["contact_id"].dropna().astype("int64"))
    joining |= set(to_ctct["memberships_add"]["contact_id"].dropna().astype("int64"))
    if not joining:
        return to_ctct
    columns = ["email_key", "first_name", "last_name", "company_name", "job_title"]
    known = set(baseline.contacts["email_key"])
    theirs = remote.contacts[~remote.contacts["email_key"].isin(known)]
    widened = replace(baseline, contacts=pd.concat([baseline.contacts[columns], theirs[columns]], ignore_index=True))
    emails = _email_codes(local, remote, widened)
    remote_row = _push_contacts(local, remote, emails).remote_row
    pushed = local.contacts["contact_id"].isin(joining).to_numpy()
    found = _changed_since_baseline(local, remote, widened, remote_row, pushed, emails)
    updates = to_ctct["contacts_update"]
    found = found[~found["contact_id"].isin(updates["contact_id"])]
    if found.empty:
        return to_ctct
    merged = pd.concat([updates, found], ignore_index=True)
    changes = {**to_ctct.changes, ChangeKind.CONTACTS_UPDATE: _stable(ChangeKind.CONTACTS_UPDATE, merged)}
    return replace(to_ctct, changes=changes)


def _pairs_in_baseline(memberships: pd.DataFrame, baseline: Baseline) -> pd.Series:
    if not len(memberships):
        return pd.Series(False, index=memberships.index, dtype=bool)
    keys = pd.DataFrame(
        {"ctct_list_id": memberships["ctct_list_id"].astype(object), "email_key": email_keys(memberships["email"])}
    )
    base = baseline.members[["ctct_list_id", "email_key"]].astype(str).drop_duplicates().assign(_base=True)
    keys["ctct_list_id"] = keys["ctct_list_id"].where(keys["ctct_list_id"].notna(), None).astype(str)
    hit = keys.merge(base, on=["ctct_list_id", "email_key"], how="left")["_base"]
    return pd.Series(hit.notna().to_numpy(), index=memberships.index)


def _in(column: pd.Series, ids: set[str]) -> pd.Series:
    """Which rows' ids (as text) are among `ids`; a missing id is in none. Through the planner's
    hash look-up: membership frames run to millions of rows."""
    return column.notna() & is_in(column.astype("str"), pd.Series(list(ids), dtype="str"))


def _to_local(
    pulled: Plan,
    pushed: Plan,
    baseline: Baseline,
    local: LocalSnapshot,
    *,
    in_baseline: set[str],
    renames_kept: set[str],
    deleted_here: set[str],
    restored_here: set[str],
    spared_here: set[str],
    unsubscribed: set[Any],
) -> Plan:
    """The pull's changes that CTCT made since the baseline."""
    c = pulled.changes
    creates = c["lists_create"]
    linked_by_push = set(pushed["lists_create"].loc[pushed["lists_create"]["link"].astype(bool), "list_id"].dropna())
    # A list deleted here does not come back — nor does a new list here of its name get linked to
    # it: the push deletes CTCT's old list, and creates the new one once the name is free.
    drop_create = _in(creates["ctct_list_id"], deleted_here)
    # A list new on both sides with one name: the push links it (and sends the members here).
    drop_create |= creates["list_id"].isin(linked_by_push) & creates["link"].astype(bool)
    renames = c["lists_rename"]
    deletes = c["lists_delete"]
    adds, removes = c["memberships_add"], c["memberships_remove"]
    # Added in CTCT since the baseline, or on a list deleted here that comes back with its members.
    add_kept = ~_pairs_in_baseline(adds, baseline) | _in(adds["ctct_list_id"], restored_here)
    add_kept &= ~_in(adds["ctct_list_id"], deleted_here)
    # Removed in CTCT since the baseline; and every membership of a contact CTCT unsubscribed.
    remove_kept = _pairs_in_baseline(removes, baseline) | removes["contact_id"].isin(unsubscribed)
    kept_adds = adds[add_kept]
    kept_removes = pd.concat(
        [removes[remove_kept], _unsubscribed_on_spared_lists(local, deletes, spared_here, unsubscribed)],
        ignore_index=True,
    )
    contacts_create = c["contacts_create"]
    wanted = set(email_keys(kept_adds["email"]))
    deleted_in_ctct = c["contacts_deleted_in_ctct"]
    changes = {
        **c,
        ChangeKind.LISTS_CREATE: creates[~drop_create],
        ChangeKind.LISTS_RENAME: renames[
            _in(renames["ctct_list_id"], renames_kept) | ~_in(renames["ctct_list_id"], in_baseline)
        ],
        ChangeKind.LISTS_DELETE: deletes[~_in(deletes["ctct_list_id"], spared_here)],
        ChangeKind.CONTACTS_CREATE: contacts_create[email_keys(contacts_create["email"]).isin(wanted)],
        ChangeKind.CONTACTS_DELETED_IN_CTCT: deleted_in_ctct[
            deleted_in_ctct["contact_id"].isin(kept_removes["contact_id"])
        ],
        ChangeKind.MEMBERSHIPS_ADD: kept_adds,
        ChangeKind.MEMBERSHIPS_REMOVE: kept_removes,
    }
    return replace(pulled, changes={kind: frame.reset_index(drop=True) for kind, frame in changes.items()})


def _unsubscribed_on_spared_lists(
    local: LocalSnapshot, deletes: pd.DataFrame, spared: set[str], unsubscribed: set[Any]
) -> pd.DataFrame:
    """The memberships of contacts CTCT unsubscribed on lists the pull would have deleted (their
    members going with them) but the merge keeps: they leave those lists too."""
    kept_lists = deletes[_in(deletes["ctct_list_id"], spared)]
    columns = ["list", "email", "list_id", "ctct_list_id", "contact_id", "ctct_contact_id"]
    if kept_lists.empty or not unsubscribed:
        return pd.DataFrame(columns=columns)
    members = local.members[
        local.members["list_id"].isin(kept_lists["list_id"]) & local.members["contact_id"].isin(unsubscribed)
    ]
    rows = members.merge(kept_lists[["list_id", "ctct_list_id", "name"]], on="list_id").merge(
        local.contacts[["contact_id", "email", "ctct_contact_id"]], on="contact_id"
    )
    return rows.rename(columns={"name": "list"})[columns]


def _to_ctct(
    pushed: Plan,
    local: LocalSnapshot,
    baseline: Baseline,
    *,
    in_baseline: set[str],
    renames_kept: set[str],
    recreated_there: set[str],
    deletions_sent: set[str],
) -> Plan:
    """The push's changes that Customer Focus made since the baseline."""
    c = pushed.changes
    link_of = dict(zip(local.lists["list_id"], local.lists["ctct_list_id"], strict=True))
    creates = c["lists_create"]
    stale = creates["list_id"].map(link_of)
    # A list CTCT deleted is created there again only when the conflict says keep.
    create_kept = stale.isna() | _in(stale, recreated_there)
    recreated_ids = set(creates.loc[create_kept & stale.notna(), "list_id"])
    dropped_ids = set(creates.loc[~create_kept, "list_id"])
    renames = c["lists_rename"]
    deletes = c["lists_delete"]
    adds, removes = c["memberships_add"], c["memberships_remove"]
    # Added here since the baseline, or on a list created again in CTCT with the members here.
    add_kept = ~_pairs_in_baseline(adds, baseline) | adds["list_id"].isin(recreated_ids)
    add_kept &= ~adds["list_id"].isin(dropped_ids)
    # Removed here since the baseline (one CTCT added is not in it: it comes here instead).
    kept_adds = adds[add_kept]
    kept_removes = removes[_pairs_in_baseline(removes, baseline)]
    contacts_create = c["contacts_create"]
    wanted = set(email_keys(kept_adds["email"]))
    changes = {
        **c,
        ChangeKind.LISTS_CREATE: creates[create_kept],
        ChangeKind.LISTS_RENAME: renames[_in(renames["ctct_list_id"], renames_kept)],
        ChangeKind.LISTS_DELETE: deletes[_in(deletes["ctct_list_id"], deletions_sent)],
        ChangeKind.CONTACTS_CREATE: contacts_create[email_keys(contacts_create["email"]).isin(wanted)],
        ChangeKind.MEMBERSHIPS_ADD: kept_adds,
        ChangeKind.MEMBERSHIPS_REMOVE: kept_removes,
    }
    return replace(pushed, changes={kind: frame.reset_index(drop=True) for kind, frame in changes.items()})

"""Recording the baseline at the end of a commit: what both sides agree on, as observed.

It takes Customer Focus as the commit left it (`local_after`: the plan's snapshot plus what a
push stored, or one bulk read after a pull) and CTCT as the push observed it (or, after a pull,
as the plan saw it), works out the new baseline with ctct/sync/baseline.py, and replaces the baseline
tables with it. It changes neither side — only the record of what they agreed on — and it is apart
from both the push and the pull because it runs the same way after either.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from sqlalchemy import delete, insert

from ctct.crm.normalize import email_keys
from ctct.db import Database
from ctct.db.models import BaselineContact, BaselineList, BaselineMember, utcnow
from ctct.sync.baseline import Confirmed, Side, observed_baseline, remote_pairs
from ctct.sync.changes import Direction
from ctct.sync.local_read import crm_frames
from ctct.sync.outcome import Outcome
from ctct.sync.plan import Plan
from ctct.sync.pull import clip
from ctct.sync.snapshot import Baseline, LocalSnapshot, load_baseline

FIELD_NAMES = ("first_name", "last_name", "job_title")
CONTACT_COLUMNS = ["email_key", *FIELD_NAMES, "company_name"]


def local_after(database: Database, plan: Plan, outcome: Outcome) -> LocalSnapshot:
    """Customer Focus after the commit, as far as the baseline reads it (linked lists, members,
    contact fields). After a push it is the plan's snapshot with the CTCT list ids the push
    stored — a push changes nothing else here that the baseline reads (the CTCT contact ids it
    links are not read) — so the CRM is not read again. After a pull or import, whose one
    transaction created rows with ids only the database knows, one bulk read of the tables."""
    if plan.direction == Direction.PUSH and plan.local is not None:
        return _with_list_ids(plan.local, outcome.list_ids)
    with database.session() as session:
        role_addresses = plan.local.role_addresses if plan.local is not None else frozenset()
        return crm_frames(session, role_addresses)


def _with_list_ids(local: LocalSnapshot, list_ids: dict[int, str]) -> LocalSnapshot:
    """`local` with each list's CTCT id as `list_ids` has it (a list it does not name keeps its own)."""
    lists = local.lists.copy()
    stored = lists["list_id"].map(list_ids)
    lists["ctct_list_id"] = stored.where(stored.notna(), lists["ctct_list_id"]).astype(lists["ctct_list_id"].dtype)
    return replace(local, lists=lists)


def record_baseline(database: Database, local: LocalSnapshot, plan: Plan, outcome: Outcome) -> None:
    """What both sides agree on after this commit, as observed (see ctct/sync/baseline.py);
    `local` is Customer Focus as it is after the commit."""
    with database.session() as session:
        old = load_baseline(session)
    new = observed_baseline(old, _local_side(local), _remote_side(plan, outcome), _confirmed(plan, outcome))
    _store(database, new)


def _store(database: Database, baseline: Baseline) -> None:
    with database.session() as session:
        for model in (BaselineMember, BaselineContact, BaselineList):
            session.execute(delete(model))
        connection = session.connection()
        now = utcnow()
        lists, members, contacts = baseline.lists, baseline.members, baseline.contacts
        if len(lists):
            connection.execute(
                insert(BaselineList),
                [
                    {"ctct_list_id": cid, "name": name, "recorded_at": now}
                    for cid, name in zip(lists["ctct_list_id"], lists["name"], strict=True)
                ],
            )
        if len(members):
            connection.execute(
                insert(BaselineMember),
                [
                    {"ctct_list_id": cid, "email_key": key}
                    for cid, key in zip(members["ctct_list_id"], members["email_key"], strict=True)
                ],
            )
        if len(contacts):
            connection.execute(
                insert(BaselineContact),
                [
                    {"email_key": row.email_key, **{name: clip(getattr(row, name)) for name in FIELD_NAMES}}
                    | {"company_name": clip(row.company_name, 255)}
                    for row in contacts.itertuples()
                ],
            )


def _local_side(local: LocalSnapshot) -> Side:
    """Customer Focus after the commit: its linked lists, their members and contacts by email."""
    linked = local.lists.dropna(subset=["ctct_list_id"])[["list_id", "ctct_list_id", "name"]]
    members = local.members.merge(linked, on="list_id").merge(
        local.contacts[["contact_id", "email_key"]], on="contact_id"
    )
    members = members[members["email_key"] != ""][["ctct_list_id", "email_key"]].astype(str)
    contacts = local.contacts.rename(columns={"company": "company_name"})[CONTACT_COLUMNS]
    contacts = contacts[contacts["email_key"] != ""]
    for name in (*FIELD_NAMES, "company_name"):
        contacts[name] = contacts[name].map(lambda value, name=name: clip(value, 255 if name == "company_name" else 50))
    return Side(linked[["ctct_list_id", "name"]].astype({"ctct_list_id": str}), members, contacts)


def _remote_side(plan: Plan, outcome: Outcome) -> Side:
    """CTCT after the commit: for a push as listed and observed, otherwise as the plan saw it."""
    remote = plan.remote
    members = remote_pairs(remote)
    lists = (
        remote.lists[["ctct_list_id", "name"]] if remote is not None else pd.DataFrame(columns=["ctct_list_id", "name"])
    )
    if outcome.remote_lists is not None:
        lists = outcome.remote_lists[["ctct_list_id", "name"]]
        observed = [
            pd.DataFrame({"ctct_list_id": list_id, "email_key": sorted(emails)})
            for list_id, emails in outcome.remote_members.items()
        ]
        members = pd.concat([members[~members["ctct_list_id"].isin(outcome.remote_members)], *observed])
    contacts = (
        remote.contacts.reindex(columns=CONTACT_COLUMNS)
        if remote is not None
        else pd.DataFrame(columns=CONTACT_COLUMNS)
    )
    return Side(lists.astype({"ctct_list_id": str}), members, contacts)


def _confirmed(plan: Plan, outcome: Outcome) -> Confirmed:
    """What the commit changed that its target side confirms: the rows that did not fail."""
    failed = {(row["kind"], row["list"], row["email"]) for row in outcome.failed}
    renamed, deleted = _confirmed_lists(plan, outcome)
    return Confirmed(
        added=_confirmed_pairs(plan["memberships_add"], "memberships_add", _add_targets(plan, outcome), failed),
        removed=_confirmed_pairs(
            plan["memberships_remove"], "memberships_remove", plan["memberships_remove"]["ctct_list_id"], failed
        ),
        renamed=renamed,
        deleted_lists=deleted,
        contacts=_confirmed_contacts(plan, outcome),
    )


def _confirmed_pairs(
    frame: pd.DataFrame, kind: str, lists: pd.Series, failed: set[tuple[str, str, str]]
) -> pd.DataFrame:
    """The (CTCT list, email) pairs of `frame`'s rows that did not fail; `lists` the CTCT list of each."""
    ok = [
        (kind, "" if pd.isna(name) else str(name), str(email or "")) not in failed
        for name, email in zip(frame["list"], frame["email"], strict=True)
    ]
    chosen = pd.DataFrame({"ctct_list_id": lists, "email_key": email_keys(frame["email"])}).loc[
        pd.Series(ok, index=frame.index, dtype=bool)
    ]
    return chosen.dropna().astype(str)


def _add_targets(plan: Plan, outcome: Outcome) -> pd.Series:
    """The CTCT list of each planned add: for a push the one it created or linked, if any."""
    adds = plan["memberships_add"]
    if plan.direction == Direction.PUSH:
        return adds["list_id"].map(lambda list_id: outcome.list_ids.get(int(list_id)))
    return adds["ctct_list_id"]


def _confirmed_lists(plan: Plan, outcome: Outcome) -> tuple[pd.DataFrame, frozenset[str]]:
    """The renames and the deletions the target side confirms: after a push, what CTCT lists."""
    renamed = plan["lists_rename"][["ctct_list_id", "to"]].rename(columns={"to": "name"})
    deleted = set(plan["lists_delete"]["ctct_list_id"].dropna().astype(str))
    if outcome.remote_lists is not None:
        listed = dict(zip(outcome.remote_lists["ctct_list_id"], outcome.remote_lists["name"], strict=True))
        shows = [listed.get(cid) == name for cid, name in zip(renamed["ctct_list_id"], renamed["name"], strict=True)]
        renamed = renamed.loc[pd.Series(shows, index=renamed.index, dtype=bool)]
        deleted = {list_id for list_id in deleted if list_id not in listed}
    return renamed.astype({"ctct_list_id": str}), frozenset(deleted)


def _confirmed_contacts(plan: Plan, outcome: Outcome) -> pd.DataFrame:
    """The contact fields a push sent and CTCT confirmed (none after a pull: CTCT's are kept)."""
    sent = pd.concat([plan["contacts_create"], plan["contacts_update"]]).rename(columns={"company": "company_name"})
    sent = sent.assign(email_key=email_keys(sent["email"]))
    sent = (
        sent[sent["email_key"].isin(outcome.confirmed_contacts)] if plan.direction == Direction.PUSH else sent.iloc[0:0]
    )
    return sent.reindex(columns=CONTACT_COLUMNS)

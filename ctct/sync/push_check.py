"""What CTCT shows after a push: the last step of a push, and what its baseline is recorded from.

It only reads CTCT — one listing of its lists, and the members of each list the push changed
where the activities' counts do not already tell them — and changes neither side. Every planned
row CTCT does not show is recorded as failed, with CTCT's reason where it gave one, so the row
stays a difference for the next plan. Apart from ctct/sync/push.py, which makes the changes,
because this is the observation DESIGN.md asks the baseline to rest on, never the intent.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ctct.api.activities import BulkResult
from ctct.api.client import CtctClient
from ctct.crm.normalize import email_keys
from ctct.sync.baseline import remote_pairs
from ctct.sync.outcome import Outcome
from ctct.sync.plan import Plan
from ctct.sync.remote_full import ctct_lists

NOT_SHOWN = "not applied: Constant Contact does not show it after the sync"

# Per CTCT list, the bulk results of the activities that changed its members.
Touched = dict[str, list[BulkResult[Any]]]


def check_push(client: CtctClient, plan: Plan, touched: Touched, outcome: Outcome) -> None:
    """What CTCT holds after the push: its lists (one listing), and the members of each list the
    push changed — as expected where every activity was clean and the count matches, else
    re-read. Every planned row CTCT does not show is recorded as failed, with the reason."""
    listing = ctct_lists(client)
    outcome.remote_lists = listing
    counts = dict(zip(listing["ctct_list_id"], listing["membership_count"], strict=True))
    adds, removes = _planned_members(plan, outcome.list_ids)
    _observe_members(client, plan, (adds, removes), touched, counts, outcome)
    _fail_unshown(adds, removes, touched, counts, outcome)
    _fail_uncreated(plan, adds, outcome)


def _planned_members(plan: Plan, list_ids: dict[int, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planned adds and removes, each with its CTCT list (`target`) and `email_key`."""
    adds = plan["memberships_add"]
    adds = adds.assign(
        target=adds["list_id"].map(lambda list_id: list_ids.get(int(list_id))), email_key=email_keys(adds["email"])
    )
    removes = plan["memberships_remove"]
    removes = removes.assign(target=removes["ctct_list_id"].astype(str), email_key=email_keys(removes["email"]))
    return adds, removes


def _observe_members(
    client: CtctClient,
    plan: Plan,
    planned: tuple[pd.DataFrame, pd.DataFrame],
    touched: Touched,
    counts: dict[str, int],
    outcome: Outcome,
) -> None:
    """The members of each list the push touched: as the plan meant them where every activity was
    clean and CTCT's count matches, else as CTCT lists them now (one read per such list)."""
    adds, removes = planned
    before = remote_pairs(plan.remote)
    held = before.groupby("ctct_list_id")["email_key"].agg(set).to_dict() if len(before) else {}
    for list_id, results in touched.items():
        if list_id not in counts:
            continue  # gone: every row for it fails
        wanted = held.get(list_id, set()) | set(adds.loc[adds["target"] == list_id, "email_key"])
        wanted -= set(removes.loc[removes["target"] == list_id, "email_key"])
        clean = all(BulkResult.clean(activity) for result in results for activity in result.activities)
        if clean and counts[list_id] == len(wanted):
            outcome.remote_members[list_id] = wanted
        else:
            outcome.remote_members[list_id] = _members_now(client, list_id)


def _members_now(client: CtctClient, list_id: str) -> set[str]:
    return {
        str(contact.get("email_address", {}).get("address", "")).strip().lower()
        for contact in client.contacts.iterate(lists=[list_id], status="all", include=None)
    }


def _fail_unshown(
    adds: pd.DataFrame, removes: pd.DataFrame, touched: Touched, counts: dict[str, int], outcome: Outcome
) -> None:
    """Records as failed every planned add or remove that CTCT does not show, with the reason."""
    reasons = {list_id: _reason(results) or NOT_SHOWN for list_id, results in touched.items()}
    for kind, frame, should_hold in (("memberships_add", adds, True), ("memberships_remove", removes, False)):
        for row in frame.itertuples():
            reason = _unshown(kind, row, should_hold, counts, reasons, outcome)
            if reason is not None:
                outcome.fail(kind, row.list, row.email, reason)


def _unshown(
    kind: str, row: Any, should_hold: bool, counts: dict[str, int], reasons: dict[str, str], outcome: Outcome
) -> str | None:
    """Why a planned membership row did not apply, or None when CTCT shows it applied (or did
    not re-read its list). `reasons`: what went wrong per list the push touched."""
    if kind == "memberships_add" and int(row.list_id) in outcome.unplaced:
        return outcome.unplaced[int(row.list_id)]
    if row.target not in counts:
        return "the list no longer exists in Constant Contact"
    members = outcome.remote_members.get(row.target)
    if members is not None and (row.email_key in members) != should_hold:
        return reasons.get(row.target, NOT_SHOWN)
    return None


def _fail_uncreated(plan: Plan, adds: pd.DataFrame, outcome: Outcome) -> None:
    """A new contact went to CTCT only with its lists: when CTCT shows it on none of them and no
    clean activity confirmed it, it was not created either — its row fails too, with the reason."""
    failed_adds: dict[str, list[str]] = {}
    for row in outcome.failed:
        if row["kind"] == "memberships_add":
            failed_adds.setdefault(row["email"].strip().lower(), []).append(row["reason"])
    wanted_lists = adds.groupby("email_key").size()
    for email in plan["contacts_create"]["email"].dropna().astype(str):
        key = email.strip().lower()
        reasons = failed_adds.get(key, [])
        if key not in outcome.confirmed_contacts and reasons and len(reasons) >= wanted_lists.get(key, 0):
            outcome.fail("contacts_create", None, email, reasons[0])


def _reason(results: list[BulkResult[Any]]) -> str | None:
    """CTCT's own words for what went wrong in these activities, if it said any."""
    for result in results:
        for activity in result.activities:
            if activity.get("state") != "completed":
                errors = activity.get("activity_errors") or []
                return f"the Constant Contact activity {activity.get('state')}" + (f": {errors[0]}" if errors else "")
            if int(activity.get("status", {}).get("cannot_add_to_list_count", 0) or 0):
                return "Constant Contact would not add it (the contact unsubscribed)"
            if activity.get("activity_errors"):
                return f"Constant Contact reported: {activity['activity_errors'][0]}"
    return None

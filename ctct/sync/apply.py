"""Commit: the only code that changes either side. Push through bulk activities, pull in one
database transaction; every step journaled; the baseline recorded at the end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, delete, func, insert, select, update

from ctct import display
from ctct.api.activities import ActivityProgress, BulkResult
from ctct.api.client import CtctClient
from ctct.api.errors import ApiStatusError, BadRequest, BudgetExceeded, Conflict, NotFound
from ctct.config import Settings
from ctct.crm.normalize import company_name_key, name_key
from ctct.db import Database, insert_ignoring_duplicates
from ctct.db.models import (
    BaselineContact,
    BaselineList,
    BaselineMember,
    Company,
    Contact,
    EmailList,
    EmailStatus,
    ListMembership,
    utcnow,
)
from ctct.sync import journal
from ctct.sync.baseline import Confirmed, Side, observed_baseline
from ctct.sync.plan import (
    CHANGE_KINDS,
    IMPORT,
    IMPORT_EMAIL_LENGTH,
    POLLS_PER_ACTIVITY,
    PULL,
    PUSH,
    MassRemovalPolicy,
    Plan,
    describe_counts,
    plan_import,
    plan_pull,
    plan_push,
)
from ctct.sync.snapshot import LocalSnapshot, RemoteSnapshot, load_baseline, local_snapshot, remote_snapshot

Progress = Callable[[float, str], None]
CTCT_COMPANY_LENGTH = 50
FILLABLE = ("first_name", "last_name", "job_title")


COMPLETED, COMPLETED_WITH_ERRORS, INTERRUPTED, FAILED = "completed", "completed_with_errors", "interrupted", "failed"


@dataclass
class SyncResult:
    status: str
    run_id: int
    direction: str
    requests_used: int
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    activity_errors: list[str] = field(default_factory=list)
    # Rows that did not apply, with CTCT's reason: they stay differences for the next plan.
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.status}

    def __repr__(self) -> str:
        changes = describe_counts(self.counts)
        return (
            f"<{self.direction.capitalize()} {self.status.replace('_', ' ')}: run {self.run_id}, "
            f"{self.requests_used:,} requests — {changes or 'no changes'}"
            + (f"; {len(self.failed):,} row(s) did not apply" if self.failed else "")
            + (f"; {len(self.activity_errors):,} error(s) reported by Constant Contact" if self.activity_errors else "")
            + ">"
        )

    def _repr_html_(self) -> str:
        failed = [f"{row['email'] or row['list']}: {row['reason']}" for row in self.failed[:20]]
        return display.card(
            display.heading(f"{self.direction.capitalize()} {self.status.replace('_', ' ')}: run {self.run_id}"),
            display.paragraph(f"{self.requests_used:,} Constant Contact requests used."),
            display.counts_table(
                (CHANGE_KINDS.get(kind, (kind.replace("_", " "), []))[0], count) for kind, count in self.counts.items()
            ),
            display.messages(self.warnings, "warning"),
            display.messages([f"Did not apply — {row}" for row in failed], "error"),
            display.messages([f"Constant Contact reported: {error}" for error in self.activity_errors], "error"),
        )


@dataclass
class Outcome:
    """What a commit did, as observed afterwards."""

    errors: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    # Push: CTCT's lists after the sync, and the members of the lists it touched (by email).
    remote_lists: pd.DataFrame | None = None
    remote_members: dict[str, set[str]] = field(default_factory=dict)
    # Push: the contacts whose fields CTCT confirmed (by email).
    confirmed_contacts: set[str] = field(default_factory=set)
    # Push: local list id → CTCT list id, the lists it created or linked included.
    list_ids: dict[int, str] = field(default_factory=dict)
    # Push: local lists it could not create or link in CTCT, and why.
    unplaced: dict[int, str] = field(default_factory=dict)

    def fail(self, kind: str, list_name: Any, email: Any, reason: str) -> None:
        self.failed.append(
            {
                "kind": kind,
                "list": "" if pd.isna(list_name) else str(list_name),
                "email": str(email or ""),
                "reason": reason,
            }
        )


class SyncService:
    """Plan → preview → commit, for import, push and pull; the same service for CLI and pages."""

    def __init__(
        self, database: Database, client: CtctClient, settings: Settings, policy: MassRemovalPolicy | None = None
    ) -> None:
        self.database = database
        self.client = client
        self.settings = settings
        self.policy = policy or MassRemovalPolicy.from_settings(settings)

    # Plans

    def local(self) -> LocalSnapshot:
        with self.database.session() as session:
            return local_snapshot(session, self.settings.role_addresses)

    def plan(self, direction: str, progress: Callable[[str], None] | None = None) -> Plan:
        remote = remote_snapshot(self.client, progress)
        local = self.local()
        with self.database.session() as session:
            baseline = load_baseline(session)
        if direction == PUSH:
            plan = plan_push(local, remote, baseline, self.policy)
        elif direction == IMPORT:
            plan = plan_import(local, remote, baseline, self.policy)
        else:
            plan = plan_pull(local, remote, baseline, policy=self.policy)
        return plan

    # Commit

    def commit(
        self, plan: Plan, *, allow_mass_removal: bool = False, progress: Progress | None = None, started_by: str = "cli"
    ) -> SyncResult:
        with journal.sync_lock(self.database):
            return self._commit_locked(plan, allow_mass_removal, progress, started_by)

    def _commit_locked(
        self,
        plan: Plan,
        allow_mass_removal: bool,
        progress: Progress | None,
        started_by: str,
        resuming: int | None = None,
    ) -> SyncResult:
        report = progress or (lambda _fraction, _message: None)
        before = self.client.budget.used() - plan.snapshot_requests
        report(0.0, "checking that neither side changed since the preview")
        self._refuse_stale(plan)
        if plan.mass_removals and not allow_mass_removal:
            raise journal.SyncRefused(
                "this plan "
                + "; ".join(plan.mass_removals[:3])
                + ("…" if len(plan.mass_removals) > 3 else "")
                + ": confirm the mass removal (--allow-mass-removal)"
            )
        try:
            self.client.budget.ensure(plan.estimated_requests)
        except BudgetExceeded as error:
            raise journal.SyncRefused(str(error)) from None
        run_id = journal.start_run(self.database, plan, started_by)
        journal.note_lock_run(self.database, run_id)
        if resuming is not None:
            # Only now, with this run under way, is the interrupted one done with.
            journal.mark_resumed(self.database, resuming, run_id)
        try:
            if plan.direction == PUSH:
                outcome = self._push(plan, run_id, report)
            else:
                # One database transaction: there are no steps to follow, only its end.
                report(0.0, "saving the changes in Customer Focus, all in one go")
                outcome = self._pull(plan, run_id)
            self._record_baseline(plan, outcome)
        except BaseException as error:
            stopped = isinstance(error, KeyboardInterrupt)
            journal.finish_run(
                self.database,
                run_id,
                INTERRUPTED if stopped else FAILED,
                self.client.budget.used() - before,
                str(error) or ("interrupted" if stopped else type(error).__name__),
            )
            raise
        used = self.client.budget.used() - before
        status = COMPLETED_WITH_ERRORS if outcome.failed or outcome.errors else COMPLETED
        journal.finish_run(self.database, run_id, status, used, failed=outcome.failed)
        report(1.0, "done")
        return SyncResult(
            status,
            run_id,
            plan.direction,
            used,
            plan.counts(),
            [w.message for w in plan.warnings],
            outcome.errors,
            outcome.failed,
        )

    def resume(
        self, direction: str, *, allow_mass_removal: bool = False, progress: Progress | None = None
    ) -> SyncResult:
        """Finishes an interrupted sync: waits for what CTCT still runs of it, plans again from
        both sides as they are now — so what was done is not done twice — and commits that. The
        interrupted run is marked resumed only once the new run has started: a refused resume
        leaves it to resume later."""
        report = progress or (lambda _fraction, _message: None)
        with journal.sync_lock(self.database):
            unfinished = journal.latest_unfinished_run(self.database, direction)
            if unfinished is None:
                raise journal.SyncRefused(f"there is no interrupted {direction} to resume")
            self._wait_for_activities(report)
            plan = self.plan(direction)
            return self._commit_locked(
                plan, allow_mass_removal, progress, f"resume of run {unfinished.id}", resuming=unfinished.id
            )

    def _wait_for_activities(self, report: Progress, patience: float = 3600.0) -> None:
        """Waits while CTCT still queues or runs activities (those of the interrupted run)."""
        waited, delay = 0.0, 1.0
        while True:
            waiting = self.client.activities.unfinished()
            if not waiting:
                return
            if waited >= patience:
                raise journal.SyncRefused(
                    f"Constant Contact is still running {len(waiting):,} activities of the interrupted sync "
                    "after an hour: resume again later"
                )
            report(0.0, f"waiting for {len(waiting):,} Constant Contact activities of the interrupted sync")
            self.client.sleep(delay)
            waited += delay
            delay = min(delay * 1.5, 30.0)

    def _refuse_stale(self, plan: Plan) -> None:
        if self.local().fingerprint != plan.local_fingerprint:
            raise journal.SyncRefused("Customer Focus changed since this preview: make a new preview")
        lists = pd.DataFrame(
            [
                (item["list_id"], item["name"], int(item.get("membership_count", 0)))
                for item in self.client.lists.iterate()
            ],
            columns=["ctct_list_id", "name", "membership_count"],
        )
        probe = RemoteSnapshot(lists, pd.DataFrame(), pd.DataFrame())
        # One request tells whether any contact changed: anything updated after the newest
        # update the preview saw (or, when CTCT had no contacts then, anything at all).
        since = plan.remote_max_updated
        page = self.client.get("/contacts", status="all", updated_after=since, limit=1)
        changed_contacts = bool(page.get("contacts"))
        if probe.lists_fingerprint != plan.remote_fingerprint or changed_contacts:
            raise journal.SyncRefused("Constant Contact changed since this preview: make a new preview")

    # Push

    def _push(self, plan: Plan, run_id: int, report: Progress) -> Outcome:
        position = 0
        outcome = Outcome()
        # Per CTCT list, the bulk results of the activities that changed its members.
        touched: dict[str, list[BulkResult]] = {}

        def step(kind: str, payload: dict[str, Any]) -> Any:
            nonlocal position
            position += 1
            return journal.journal_step(self.database, run_id, position, kind, payload)

        adds = plan["memberships_add"].dropna(subset=["ctct_contact_id"])
        add_groups = list(adds.groupby("list_id"))
        remove_groups = list(plan["memberships_remove"].groupby("ctct_list_id"))
        doomed = list(plan["lists_delete"]["ctct_list_id"])
        steps = _PushSteps.for_plan(plan, report, len(add_groups), len(remove_groups))

        # Local list id → CTCT list id, including the lists just created or linked.
        steps.begin("lists")
        local_lists = self._push_lists(plan, step, outcome)
        outcome.list_ids = local_lists
        steps.begin("emails")
        self._move_emails(plan, step, outcome)

        imports, one_by_one = _long_addresses_apart(self._import_groups(plan, local_lists))
        sending = sum(len(rows) for _, rows in imports) + len(one_by_one)
        # The plan foresaw contacts to send; none may be left once grouped by the lists created.
        words = f"sending {sending:,} new or changed contact(s) to Constant Contact"
        within = steps.begin("contacts", words=words) if sending else _silent
        if one_by_one:
            for list_id in self._push_long_addresses(one_by_one, step, outcome):
                # Not an activity with counts: those lists' members are read back after the push.
                touched.setdefault(list_id, []).append(BulkResult([{"state": "sent one by one"}], [{}]))
        if imports:
            result = self._import(imports, step, within, outcome)
            for activity, body in result.outcomes():
                for list_id in body["list_ids"]:
                    touched.setdefault(list_id, []).append(BulkResult([activity], [body]))
                if BulkResult.clean(activity):
                    outcome.confirmed_contacts |= {str(row["email"]).strip().lower() for row in body["import_data"]}

        for part, (list_id, group) in enumerate(add_groups, 1):
            if int(list_id) in local_lists:  # else not created in CTCT: its rows fail, below
                target = local_lists[int(list_id)]
                words = f"adding {len(group):,} member(s) to '{group['list'].iloc[0]}'"
                within = steps.begin("adds", part, len(add_groups), words)
                result = self._membership_step(step, "add_memberships", target, group, within, outcome)
                touched.setdefault(target, []).append(result)
        for part, (ctct_list_id, group) in enumerate(remove_groups, 1):
            target = str(ctct_list_id)
            words = f"removing {len(group):,} member(s) from '{group['list'].iloc[0]}'"
            within = steps.begin("removes", part, len(remove_groups), words)
            result = self._membership_step(step, "remove_memberships", target, group, within, outcome)
            touched.setdefault(target, []).append(result)
        if doomed:
            within = steps.begin("deletes")
            with step("delete_lists", {"list_ids": doomed}) as record:
                deleted = self.client.activities.delete_lists(doomed, self._activity_progress(within))
                outcome.errors += _note(record, deleted)
        steps.begin("check")
        self._link_contacts(plan)
        self._observe_push(plan, local_lists, touched, outcome)
        return outcome

    def _import(
        self,
        imports: list[tuple[list[str], list[dict[str, Any]]]],
        step: Callable[..., Any],
        report: Progress,
        outcome: Outcome,
    ) -> BulkResult:
        """The import of new contacts into their lists. Refused outright because a list was
        deleted in CTCT meanwhile, it is sent once more without the lists CTCT no longer has;
        the rows for those fail (the re-read after the push finds them missing)."""
        groups = [(rows, ids) for ids, rows in imports]
        everywhere = sorted({list_id for ids, _ in imports for list_id in ids})
        for attempt in (1, 2):
            payload = {"groups": [{"list_ids": ids, "emails": [r["email"] for r in rows]} for rows, ids in groups]}
            try:
                with step("import_contacts", payload) as record:
                    result = self.client.activities.import_groups(groups, self._activity_progress(report))
                    outcome.errors += _note(record, result)
                return result
            except (BadRequest, NotFound) as error:
                outcome.errors.append(f"import_contacts: {error}")
                refusal = str(error)
            if attempt == 1:
                live = {str(item["list_id"]) for item in self.client.lists.iterate()}
                groups = [(rows, [i for i in ids if i in live]) for rows, ids in groups]
                groups = [(rows, ids) for rows, ids in groups if ids]
                if not groups:
                    break
        return BulkResult(
            [{"state": "failed", "activity_errors": [refusal]}], [{"import_data": [], "list_ids": everywhere}]
        )

    def _push_long_addresses(
        self, one_by_one: list[tuple[list[str], dict[str, Any]]], step: Callable[..., Any], outcome: Outcome
    ) -> set[str]:
        """Contacts whose address is too long for an import row: looked up by email, then created
        (POST) or updated (PUT, keeping CTCT's fields, permission and lists, adding the new lists).
        An unsubscribed contact is not put back on any list. Returns the lists these touched."""
        touched: set[str] = set()
        for list_ids, record in one_by_one:
            email = record["email"]
            touched |= set(list_ids)
            try:
                with step("contact_one_by_one", {"email": email, "list_ids": list_ids}):
                    placed = self._create_or_update_contact(record, list_ids)
            except ApiStatusError as error:
                outcome.errors.append(f"contact {email}: {error}")
                continue
            if placed:
                outcome.confirmed_contacts.add(email.strip().lower())
            else:
                outcome.errors.append(f"contact {email}: unsubscribed in Constant Contact, not put back on lists")
        return touched

    def _create_or_update_contact(self, record: dict[str, Any], list_ids: list[str]) -> bool:
        fields = {name: value for name, value in record.items() if name != "email"}
        existing = self.client.contacts.find_by_email(record["email"])
        if existing is None:
            address = {"address": record["email"], "permission_to_send": "implicit"}
            self.client.contacts.create({"email_address": address, **fields, "list_memberships": list_ids})
            return True
        address = existing.get("email_address") or {}
        if address.get("permission_to_send") == "unsubscribed":
            return False
        # PUT replaces every core field: what CTCT holds is sent back, with this push's values over it.
        kept = {name: existing.get(name) for name in ("first_name", "last_name", "job_title", "company_name")}
        lists = list(dict.fromkeys([*existing.get("list_memberships", []), *list_ids]))
        body = {
            **{name: value for name, value in kept.items() if value},
            **fields,
            "email_address": {"address": record["email"], "permission_to_send": address.get("permission_to_send")},
            "list_memberships": lists,
        }
        self.client.contacts.update(str(existing["contact_id"]), body)
        return True

    def _membership_step(
        self,
        step: Callable[..., Any],
        kind: str,
        target: str,
        rows: pd.DataFrame,
        report: Progress,
        outcome: Outcome,
    ) -> BulkResult:
        """One list's adds or removes (`kind` names the activity). One CTCT refuses outright (the
        list was deleted meanwhile, say) fails only its rows: the push goes on with the other
        lists, and the re-read after it tells which rows did not apply."""
        ids = list(dict.fromkeys(rows["ctct_contact_id"]))
        submit = getattr(self.client.activities, kind)
        try:
            with step(kind, {"list_id": target, "contact_ids": ids}) as record:
                result: BulkResult = submit(ids, [target], self._activity_progress(report))
                outcome.errors += _note(record, result)
        except (BadRequest, NotFound) as error:
            outcome.errors.append(f"{kind} for list {target}: {error}")
            return BulkResult([{"state": "failed", "activity_errors": [str(error)]}], [{}])
        return result

    def _move_emails(self, plan: Plan, step: Callable[..., Any], outcome: Outcome) -> None:
        """Contacts whose email changed here: the new address goes to the same CTCT contact."""
        moved = plan["contacts_update"][plan["contacts_update"]["previous_email"].notna()]
        for row in moved.itertuples():
            body: dict[str, Any] = {"email_address": {"address": row.email}}
            for name, value in (
                ("first_name", row.first_name),
                ("last_name", row.last_name),
                ("job_title", row.job_title),
                ("company_name", row.company[:CTCT_COMPANY_LENGTH] if isinstance(row.company, str) else None),
            ):
                if isinstance(value, str) and value:
                    body[name] = value
            try:
                with step("update_contact", {"ctct_contact_id": row.ctct_contact_id, "email": row.email}):
                    self.client.contacts.update(str(row.ctct_contact_id), body)
            except ApiStatusError as error:
                outcome.fail("contacts_update", None, row.email, f"Constant Contact refused the new email: {error}")
            else:
                outcome.confirmed_contacts.add(str(row.email).strip().lower())

    def _observe_push(
        self, plan: Plan, local_lists: dict[int, str], touched: dict[str, list[BulkResult]], outcome: Outcome
    ) -> None:
        """What CTCT holds after the push: its lists (one listing), and the members of each list the
        push changed — as expected where every activity was clean and the count matches, else
        re-read. Every planned row CTCT does not show is recorded as failed, with the reason."""
        listing = pd.DataFrame(
            [
                (item["list_id"], item["name"], int(item.get("membership_count", 0)))
                for item in self.client.lists.iterate()
            ],
            columns=["ctct_list_id", "name", "membership_count"],
        )
        outcome.remote_lists = listing
        counts = dict(zip(listing["ctct_list_id"], listing["membership_count"], strict=True))
        before = _remote_pairs(plan.remote)
        held = before.groupby("ctct_list_id")["email_key"].agg(set).to_dict() if len(before) else {}
        adds = plan["memberships_add"].assign(
            target=plan["memberships_add"]["list_id"].map(lambda list_id: local_lists.get(int(list_id)))
        )
        removes = plan["memberships_remove"].assign(target=plan["memberships_remove"]["ctct_list_id"].astype(str))
        for frame in (adds, removes):
            frame["email_key"] = frame["email"].astype(str).str.strip().str.lower()
        for list_id, results in touched.items():
            wanted = held.get(list_id, set()) | set(adds.loc[adds["target"] == list_id, "email_key"])
            wanted -= set(removes.loc[removes["target"] == list_id, "email_key"])
            if list_id not in counts:
                continue  # gone: every row for it failed, below
            clean = all(BulkResult.clean(activity) for result in results for activity in result.activities)
            if clean and counts[list_id] == len(wanted):
                outcome.remote_members[list_id] = wanted
            else:
                outcome.remote_members[list_id] = {
                    str(contact.get("email_address", {}).get("address", "")).strip().lower()
                    for contact in self.client.contacts.iterate(lists=[list_id], status="all", include=None)
                }
        reasons = {list_id: _reason(results) for list_id, results in touched.items()}
        for kind, frame, should_hold in (("memberships_add", adds, True), ("memberships_remove", removes, False)):
            for row in frame.itertuples():
                members = outcome.remote_members.get(row.target)
                if kind == "memberships_add" and int(row.list_id) in outcome.unplaced:
                    outcome.fail(kind, row.list, row.email, outcome.unplaced[int(row.list_id)])
                elif row.target not in counts:
                    outcome.fail(kind, row.list, row.email, "the list no longer exists in Constant Contact")
                elif members is not None and (row.email_key in members) != should_hold:
                    outcome.fail(kind, row.list, row.email, reasons.get(row.target) or NOT_SHOWN)
        # A new contact went to CTCT only with its lists: when CTCT shows it on none of them and no
        # clean activity confirmed it, it was not created either — its row fails too, with the reason.
        failed_adds: dict[str, list[str]] = {}
        for row in outcome.failed:
            if row["kind"] == "memberships_add":
                failed_adds.setdefault(row["email"].strip().lower(), []).append(row["reason"])
        wanted_lists = adds.groupby("email_key").size()
        for email in plan["contacts_create"]["email"].dropna().astype(str):
            key = email.strip().lower()
            reasons_here = failed_adds.get(key, [])
            if key not in outcome.confirmed_contacts and reasons_here and len(reasons_here) >= wanted_lists.get(key, 0):
                outcome.fail("contacts_create", None, email, reasons_here[0])

    def _push_lists(self, plan: Plan, step: Callable[..., Any], outcome: Outcome) -> dict[int, str]:
        linked: dict[int, str] = {}
        with self.database.session() as session:
            for list_id, ctct_list_id in session.execute(select(EmailList.id, EmailList.ctct_list_id)):
                if ctct_list_id:
                    linked[list_id] = ctct_list_id
        for row in plan["lists_create"].itertuples():
            list_id = int(row.list_id)
            with step("create_list", {"list_id": list_id, "name": row.name, "link": bool(row.link)}) as record:
                ctct_list_id = str(row.ctct_list_id) if row.link else self._create_or_find_list(row.name)
                record.result = {"ctct_list_id": ctct_list_id}
            if ctct_list_id is None or ctct_list_id in linked.values():
                # The name was taken in CTCT meanwhile, by a list that stands for another list
                # here (renamed in CTCT while this push ran, say): two lists here never share one.
                outcome.unplaced[list_id] = (
                    f"Constant Contact has another list named '{row.name}' now: rename one of them and push again"
                )
                outcome.errors.append(f"list '{row.name}' was not created: {outcome.unplaced[list_id]}")
                continue
            with self.database.session() as session:
                session.execute(update(EmailList).where(EmailList.id == list_id).values(ctct_list_id=ctct_list_id))
            linked[list_id] = ctct_list_id
        for old, new, ctct_list_id in zip(
            plan["lists_rename"]["from"], plan["lists_rename"]["to"], plan["lists_rename"]["ctct_list_id"], strict=True
        ):
            with step("rename_list", {"ctct_list_id": ctct_list_id, "from": old, "to": new}):
                self.client.lists.rename(str(ctct_list_id), str(new))
        return linked

    def _create_or_find_list(self, name: str) -> str | None:
        try:
            return str(self.client.lists.create(name)["list_id"])
        except Conflict:
            # Created by an earlier, interrupted attempt (or by hand): the same list, linked.
            for item in self.client.lists.iterate(membership_count=None):
                if name_key(item["name"]) == name_key(name):
                    return str(item["list_id"])
            return None

    def _import_groups(self, plan: Plan, local_lists: dict[int, str]) -> list[tuple[list[str], list[dict[str, Any]]]]:
        """New, restored and changed contacts, grouped by the lists they go into."""
        new_members = plan["memberships_add"][plan["memberships_add"]["ctct_contact_id"].isna()]
        targets = new_members.groupby("contact_id")["list_id"].agg(lambda ids: tuple(sorted({int(i) for i in ids})))
        updates = plan["contacts_update"]
        updates = updates[updates["previous_email"].isna()]  # the moved ones went by id already
        if len(updates):
            with self.database.session() as session:
                rows = session.execute(select(ListMembership.contact_id, ListMembership.list_id)).all()
            current = pd.DataFrame(rows, columns=["contact_id", "list_id"])
            current = current[current["list_id"].isin(local_lists) & current["contact_id"].isin(updates["contact_id"])]
            extra = current.groupby("contact_id")["list_id"].agg(lambda ids: tuple(sorted({int(i) for i in ids})))
            targets = pd.concat([targets, extra[~extra.index.isin(targets.index)]])
        people = pd.concat([plan["contacts_create"], updates]).drop_duplicates("contact_id")
        people = people[people["contact_id"].isin(targets.index)]
        groups: dict[tuple[int, ...], list[dict[str, Any]]] = {}
        for row in people.itertuples():
            record = {"email": row.email}
            for name in ("first_name", "last_name", "job_title"):
                value = getattr(row, name)
                if isinstance(value, str) and value:
                    record[name] = value
            if isinstance(row.company, str) and row.company:
                record["company_name"] = row.company[:CTCT_COMPANY_LENGTH]
            groups.setdefault(targets[row.contact_id], []).append(record)
        placed = [([local_lists[i] for i in key if i in local_lists], rows) for key, rows in sorted(groups.items())]
        return [(ids, rows) for ids, rows in placed if ids]

    def _activity_progress(self, report: Progress) -> Callable[[ActivityProgress], None]:
        def relay(progress: ActivityProgress) -> None:
            if progress.queued:
                report(progress.overall, "you are in the queue, your data will be processed")
            else:
                report(progress.overall, f"Constant Contact is processing ({progress.percent_done}%)")

        return relay

    def _link_contacts(self, plan: Plan) -> None:
        links = plan["contacts_link"]
        if links.empty:
            return
        with self.database.session() as session:
            session.execute(
                update(Contact),
                [
                    {"id": int(c), "ctct_contact_id": str(r)}
                    for c, r in zip(links["contact_id"], links["ctct_contact_id"], strict=True)
                ],
            )

    # Pull and import

    def _pull(self, plan: Plan, run_id: int) -> Outcome:
        with (
            journal.journal_step(self.database, run_id, 1, f"apply_{plan.direction}", {"counts": plan.counts()}),
            self.database.session() as session,
        ):
            now = utcnow()
            connection = session.connection()
            list_ids = self._pull_lists(session, plan, now)
            contact_ids = self._pull_contacts(session, plan, now)
            removes = plan["memberships_remove"]
            if len(removes):
                table = ListMembership.__table__
                connection.execute(
                    delete(table).where(table.c.list_id == bindparam("l"), table.c.contact_id == bindparam("c")),
                    [
                        {"l": int(lid), "c": int(cid)}
                        for lid, cid in zip(removes["list_id"], removes["contact_id"], strict=True)
                    ],
                )
            adds = plan["memberships_add"]
            target_list = adds["list_id"].where(adds["list_id"].notna(), adds["ctct_list_id"].map(list_ids))
            target_contact = adds["contact_id"].where(
                adds["contact_id"].notna(), adds["ctct_contact_id"].map(contact_ids)
            )
            pairs = pd.DataFrame({"list_id": target_list, "contact_id": target_contact}).dropna().astype("int64")
            pairs = pairs.drop_duplicates()
            if len(pairs):
                # A member someone added here meanwhile is already there: no second row, no error.
                connection.execute(
                    insert_ignoring_duplicates(connection, ListMembership.__table__),
                    [
                        {"list_id": int(lid), "contact_id": int(cid), "added_at": now}
                        for lid, cid in zip(pairs["list_id"], pairs["contact_id"], strict=True)
                    ],
                )
        return Outcome()

    def _pull_lists(self, session: Any, plan: Plan, now: dt.datetime) -> dict[str, int]:
        for row in plan["lists_delete"].itertuples():
            session.execute(delete(EmailList).where(EmailList.id == int(row.list_id)))
        renames = list(zip(plan["lists_rename"]["list_id"], plan["lists_rename"]["to"], strict=True))
        # Through a key no name can have first (name keys never start with a space), so that
        # names swapped or passed along in CTCT ('A' → 'B', 'B' → 'C') never meet here.
        for list_id, _ in renames:
            session.execute(
                update(EmailList).where(EmailList.id == int(list_id)).values(name_key=f" renaming {int(list_id)}")
            )
        for list_id, new in renames:
            session.execute(
                update(EmailList)
                .where(EmailList.id == int(list_id))
                .values(name=new, name_key=name_key(new), updated_at=now)
            )
        ids: dict[str, int] = {}
        for row in plan["lists_create"].itertuples():
            if row.link:
                session.execute(
                    update(EmailList).where(EmailList.id == int(row.list_id)).values(ctct_list_id=row.ctct_list_id)
                )
                ids[row.ctct_list_id] = int(row.list_id)
            else:
                created = EmailList(name=row.name, name_key=name_key(row.name), ctct_list_id=row.ctct_list_id)
                session.add(created)
                session.flush()
                ids[row.ctct_list_id] = created.id
        for ctct_list_id, list_id in session.execute(select(EmailList.ctct_list_id, EmailList.id)):
            if ctct_list_id:
                ids.setdefault(ctct_list_id, list_id)
        return ids

    def _pull_contacts(self, session: Any, plan: Plan, now: dt.datetime) -> dict[str, int]:
        connection = session.connection()
        new = plan["contacts_create"]
        ids: dict[str, int] = {}
        if len(new):
            existing = dict(session.execute(select(Company.name_key, Company.id).order_by(Company.id.desc())).all())
            keys = new["company"].map(company_name_key)
            missing = new.assign(key=keys)[~keys.isin(existing)].drop_duplicates("key")
            if len(missing):
                connection.execute(
                    insert(Company.__table__),
                    [
                        {
                            "name": name[:255],
                            "name_key": key,
                            "kind": "customer",
                            "created_by_import": True,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for name, key in zip(missing["company"], missing["key"], strict=True)
                    ],
                )
                existing = dict(session.execute(select(Company.name_key, Company.id).order_by(Company.id.desc())).all())
            records = [
                {
                    "company_id": existing[key],
                    "email": email,
                    "email_key": email.strip().lower(),
                    "first_name": _clip(first),
                    "last_name": _clip(last),
                    "job_title": _clip(title),
                    "ctct_contact_id": ctct_id,
                    "email_status": "active",
                    "created_by_import": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for key, email, first, last, title, ctct_id in zip(
                    keys,
                    new["email"],
                    new["first_name"],
                    new["last_name"],
                    new["job_title"],
                    new["ctct_contact_id"],
                    strict=True,
                )
            ]
            connection.execute(insert(Contact.__table__), records)
            wanted = set(new["ctct_contact_id"])
            ids = {
                cid: lid
                for cid, lid in session.execute(
                    select(Contact.ctct_contact_id, Contact.id).where(Contact.ctct_contact_id.is_not(None))
                )
                if cid in wanted
            }
        links = plan["contacts_link"]
        if len(links):
            session.execute(
                update(Contact),
                [
                    {"id": int(c), "ctct_contact_id": str(r)}
                    for c, r in zip(links["contact_id"], links["ctct_contact_id"], strict=True)
                ],
            )
        # Bulk UPDATEs by primary key, one executemany per kind of change.
        fills = [
            {"id": int(row.contact_id)}
            | {name: getattr(row, name) for name in FILLABLE if isinstance(getattr(row, name), str)}
            for row in plan["contacts_update"].itertuples()
        ]
        for fill in fills:
            # Rows of one executemany share their columns: an absent field keeps its stored value.
            for name in FILLABLE:
                fill.setdefault(name, None)
        if fills:
            table = Contact.__table__
            connection.execute(
                update(table)
                .where(table.c.id == bindparam("contact"))
                .values({name: func.coalesce(table.c[name], bindparam(name)) for name in FILLABLE}),
                [{"contact": fill.pop("id"), **fill} for fill in fills],
            )
        unsub = plan["contacts_unsubscribed"]
        if len(unsub):
            session.execute(
                update(Contact),
                [
                    {
                        "id": int(cid),
                        "email_status": EmailStatus.UNSUBSCRIBED,
                        "unsubscribed_at": now,
                        "unsubscribe_source": source,
                    }
                    for cid, source in zip(unsub["contact_id"], unsub["source"], strict=True)
                ],
            )
        back = plan["contacts_resubscribed"]["contact_id"]
        if len(back):
            session.execute(
                update(Contact),
                [
                    {
                        "id": int(cid),
                        "email_status": EmailStatus.ACTIVE,
                        "unsubscribed_at": None,
                        "unsubscribe_source": None,
                    }
                    for cid in back
                ],
            )
        return ids

    # Baseline

    def _record_baseline(self, plan: Plan, outcome: Outcome) -> None:
        """What both sides agree on after this commit, as observed (see ctct/sync/baseline.py)."""
        local = self.local()
        with self.database.session() as session:
            old = load_baseline(session)
        new = observed_baseline(old, _local_side(local), self._remote_side(plan, outcome), _confirmed(plan, outcome))
        with self.database.session() as session:
            for model in (BaselineMember, BaselineContact, BaselineList):
                session.execute(delete(model))
            connection = session.connection()
            now = utcnow()
            if len(new.lists):
                connection.execute(
                    insert(BaselineList.__table__),
                    [
                        {"ctct_list_id": cid, "name": name, "recorded_at": now}
                        for cid, name in zip(new.lists["ctct_list_id"], new.lists["name"], strict=True)
                    ],
                )
            if len(new.members):
                connection.execute(
                    insert(BaselineMember.__table__),
                    [
                        {"ctct_list_id": cid, "email_key": key}
                        for cid, key in zip(new.members["ctct_list_id"], new.members["email_key"], strict=True)
                    ],
                )
            if len(new.contacts):
                connection.execute(
                    insert(BaselineContact.__table__),
                    [
                        {"email_key": row.email_key, **{name: _clip(getattr(row, name)) for name in FIELD_NAMES}}
                        | {"company_name": _clip(row.company_name, 255)}
                        for row in new.contacts.itertuples()
                    ],
                )

    @staticmethod
    def _remote_side(plan: Plan, outcome: Outcome) -> Side:
        """CTCT after the commit: for a push as listed and observed, otherwise as the plan saw it."""
        remote = plan.remote
        before = _remote_pairs(remote)
        lists = (
            remote.lists[["ctct_list_id", "name"]]
            if remote is not None
            else pd.DataFrame(columns=["ctct_list_id", "name"])
        )
        if outcome.remote_lists is not None:
            lists = outcome.remote_lists[["ctct_list_id", "name"]]
            observed = [
                pd.DataFrame({"ctct_list_id": list_id, "email_key": sorted(members)})
                for list_id, members in outcome.remote_members.items()
            ]
            before = pd.concat([before[~before["ctct_list_id"].isin(outcome.remote_members)], *observed])
        contacts = (
            remote.contacts.reindex(columns=["email_key", *FIELD_NAMES, "company_name"])
            if remote is not None
            else pd.DataFrame(columns=["email_key", *FIELD_NAMES, "company_name"])
        )
        return Side(lists.astype({"ctct_list_id": str}), before, contacts)


FIELD_NAMES = ("first_name", "last_name", "job_title")


def _local_side(local: LocalSnapshot) -> Side:
    linked = local.lists.dropna(subset=["ctct_list_id"])[["list_id", "ctct_list_id", "name"]]
    members = local.members.merge(linked, on="list_id").merge(
        local.contacts[["contact_id", "email_key"]], on="contact_id"
    )
    members = members[members["email_key"] != ""][["ctct_list_id", "email_key"]].astype(str)
    contacts = local.contacts.rename(columns={"company": "company_name"})[["email_key", *FIELD_NAMES, "company_name"]]
    contacts = contacts[contacts["email_key"] != ""]
    for name in (*FIELD_NAMES, "company_name"):
        contacts[name] = contacts[name].map(
            lambda value, name=name: _clip(value, 255 if name == "company_name" else 50)
        )
    return Side(linked[["ctct_list_id", "name"]].astype({"ctct_list_id": str}), members, contacts)


def _confirmed(plan: Plan, outcome: Outcome) -> Confirmed:
    """What the commit changed that its target side confirms: the rows that did not fail."""
    failed = {(row["kind"], row["list"], row["email"]) for row in outcome.failed}

    def pairs(kind: str, lists: pd.Series) -> pd.DataFrame:
        frame = plan[kind]
        ok = [
            (kind, "" if pd.isna(name) else str(name), str(email or "")) not in failed
            for name, email in zip(frame["list"], frame["email"], strict=True)
        ]
        keys = frame["email"].astype(str).str.strip().str.lower()
        chosen = pd.DataFrame({"ctct_list_id": lists, "email_key": keys}).loc[
            pd.Series(ok, index=frame.index, dtype=bool)
        ]
        return chosen.dropna().astype(str)

    adds = plan["memberships_add"]
    if plan.direction == PUSH:
        add_lists = adds["list_id"].map(lambda list_id: outcome.list_ids.get(int(list_id)))
    else:
        add_lists = adds["ctct_list_id"]
    renamed = plan["lists_rename"][["ctct_list_id", "to"]].rename(columns={"to": "name"})
    deleted = set(plan["lists_delete"]["ctct_list_id"].dropna().astype(str))
    if outcome.remote_lists is not None:  # a push: what CTCT shows decides
        listed = dict(zip(outcome.remote_lists["ctct_list_id"], outcome.remote_lists["name"], strict=True))
        shows = [listed.get(cid) == name for cid, name in zip(renamed["ctct_list_id"], renamed["name"], strict=True)]
        renamed = renamed.loc[pd.Series(shows, index=renamed.index, dtype=bool)]
        deleted = {list_id for list_id in deleted if list_id not in listed}
    sent = pd.concat([plan["contacts_create"], plan["contacts_update"]]).rename(columns={"company": "company_name"})
    sent = sent.assign(email_key=sent["email"].astype(str).str.strip().str.lower())
    sent = sent[sent["email_key"].isin(outcome.confirmed_contacts)] if plan.direction == PUSH else sent.iloc[0:0]
    return Confirmed(
        added=pairs("memberships_add", add_lists),
        removed=pairs("memberships_remove", plan["memberships_remove"]["ctct_list_id"]),
        renamed=renamed.astype({"ctct_list_id": str}),
        deleted_lists=frozenset(deleted),
        contacts=sent.reindex(columns=["email_key", *FIELD_NAMES, "company_name"]),
    )


class _PushSteps:
    """A push's progress as one bar that only moves forward, naming the step it is on (SPEC §7).

    Only the steps this plan needs are counted, each with a share of the bar by the requests it
    takes. CTCT reports each activity's own 0–100 %, starting again for every activity: within a
    step (and within each list's part of it) that fills the step's share, never more."""

    def __init__(self, report: Progress, steps: list[tuple[str, str, int]]) -> None:
        self._report = report
        total = sum(weight for _, _, weight in steps) or 1
        self._spans: dict[str, tuple[int, str, float, float]] = {}
        start = 0.0
        for number, (key, words, weight) in enumerate(steps, 1):
            self._spans[key] = (number, words, start, start + weight / total)
            start += weight / total
        self._count = len(steps)
        self._shown = 0.0

    @classmethod
    def for_plan(cls, plan: Plan, report: Progress, add_lists: int, remove_lists: int) -> _PushSteps:
        activity = 1 + POLLS_PER_ACTIVITY  # one submit, then polls: what an activity costs
        creates, renames = plan["lists_create"], plan["lists_rename"]
        moved = int(plan["contacts_update"]["previous_email"].notna().sum())
        people = len(plan["contacts_create"]) + len(plan["contacts_update"]) - moved
        deletes = len(plan["lists_delete"])
        candidates = [
            ("lists", _list_words(creates, renames), len(creates) + len(renames)),
            ("emails", f"changing {moved:,} email address(es) in Constant Contact", moved),
            ("contacts", "sending new or changed contacts to Constant Contact", activity if people else 0),
            ("adds", "adding members", activity * add_lists),
            ("removes", "removing members", activity * remove_lists),
            ("deletes", f"deleting {deletes:,} list(s) in Constant Contact", activity if deletes else 0),
            ("check", "checking what Constant Contact shows now", 1),
        ]
        return cls(report, [step for step in candidates if step[2]])

    def _say(self, fraction: float, message: str) -> None:
        self._shown = max(self._shown, min(max(fraction, 0.0), 1.0))
        self._report(self._shown, message)

    def begin(self, key: str, part: int = 1, parts: int = 1, words: str | None = None) -> Progress:
        """Says which step (and part of it) starts; returns what its activities report to. A step
        the plan did not foresee says nothing: the bar then moves on with the next one."""
        if key not in self._spans:
            return _silent
        number, planned_words, start, end = self._spans[key]
        width = (end - start) / max(parts, 1)
        low = start + width * (part - 1)
        label = f"Step {number} of {self._count}: {words or planned_words}"
        self._say(low, label)

        def within(fraction: float, message: str) -> None:
            self._say(low + width * min(max(fraction, 0.0), 1.0), f"{label} — {message}")

        return within


def _silent(_fraction: float, _message: str) -> None:
    """The progress of work not shown as a step of its own."""


def _list_words(creates: pd.DataFrame, renames: pd.DataFrame) -> str:
    """`creating 2 and renaming 1 list(s) in Constant Contact`: what the push's first step does."""
    linked = int(creates["link"].astype(bool).sum())
    verbs = [
        f"{verb} {count:,}"
        for verb, count in (("creating", len(creates) - linked), ("linking", linked), ("renaming", len(renames)))
        if count
    ]
    if not verbs:
        return "lists"
    joined = verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]
    return f"{joined} list(s) in Constant Contact"


NOT_SHOWN = "not applied: Constant Contact does not show it after the sync"


def _reason(results: list[BulkResult]) -> str | None:
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


def _remote_pairs(remote: RemoteSnapshot | None) -> pd.DataFrame:
    """CTCT's memberships as (ctct_list_id, email_key), as a snapshot saw them."""
    if remote is None or remote.members.empty:
        return pd.DataFrame(columns=["ctct_list_id", "email_key"])
    pairs = remote.members.merge(remote.contacts[["ctct_contact_id", "email_key"]], on="ctct_contact_id")
    return pairs[["ctct_list_id", "email_key"]].astype(str)


def _long_addresses_apart(
    imports: list[tuple[list[str], list[dict[str, Any]]]],
) -> tuple[list[tuple[list[str], list[dict[str, Any]]]], list[tuple[list[str], dict[str, Any]]]]:
    """The import groups without the rows whose address is too long for an import, and those rows."""
    kept: list[tuple[list[str], list[dict[str, Any]]]] = []
    apart: list[tuple[list[str], dict[str, Any]]] = []
    for ids, rows in imports:
        short = [row for row in rows if len(row["email"]) <= IMPORT_EMAIL_LENGTH]
        apart += [(ids, row) for row in rows if len(row["email"]) > IMPORT_EMAIL_LENGTH]
        if short:
            kept.append((ids, short))
    return kept, apart


def _clip(value: Any, length: int = 50) -> str | None:
    return str(value)[:length] if isinstance(value, str) and value else None


def _note(record: Any, result: BulkResult) -> list[str]:
    record.activity_id = ",".join(result.activity_ids)[:64]
    record.result = {
        "activities": result.activity_ids,
        "failed": len(result.failed),
        "cannot_add_to_list_count": result.cannot_add_to_list_count,
    }
    return result.activity_errors


__all__ = ["IMPORT", "PULL", "PUSH", "SyncResult", "SyncService"]

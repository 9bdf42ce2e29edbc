"""The CTCT side of a commit: a push, through bulk activities and a few single requests.

This is the only module that changes CTCT. Every change goes through a journal step, recorded as
started before the request and as done (with CTCT's activity ids) or failed after it, so an
interrupted push can be told apart from a finished one and resumed. In Customer Focus it stores
only the CTCT ids of the lists it created or linked and of the contacts the plan matched; the
plan's other changes to Customer Focus are the pull's (ctct/sync/pull.py). After the changes
ctct/sync/push_check.py reads back what CTCT shows, which is what the baseline records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

import pandas as pd
from sqlalchemy import select, update

from ctct.api.activities import MAX_IMPORT_EMAIL_LENGTH, Activity, ActivityProgress, BulkResult, ImportBody, ImportRow
from ctct.api.client import CtctClient
from ctct.api.contacts import ContactUpdate, EmailAddressBody
from ctct.api.errors import ApiStatusError, BadRequest, Conflict, NotFound
from ctct.crm.normalize import name_key
from ctct.db import Database
from ctct.db.models import EmailList, ListMembership, SyncStep
from ctct.sync import journal
from ctct.sync.outcome import Outcome
from ctct.sync.plan import Plan
from ctct.sync.pull import link_contacts
from ctct.sync.push_check import Touched, check_push
from ctct.sync.push_progress import Progress, PushSteps, silent

CTCT_COMPANY_LENGTH = 50
FIELD_NAMES = ("first_name", "last_name", "job_title", "company_name")

# An import's contacts for one set of CTCT lists: (CTCT list ids, import rows).
ImportGroup = tuple[list[str], list[ImportRow]]
# A contact sent on its own (its address is too long for an import row), with its CTCT lists.
OneByOne = tuple[list[str], ImportRow]


class ContactFields(TypedDict, total=False):
    """The fields of a contact a push sends, those it has (never an empty one)."""

    first_name: str
    last_name: str
    job_title: str
    company_name: str


@dataclass
class _Push:
    """One push under way: where it writes, its journal's next position, and what it saw so far."""

    database: Database
    client: CtctClient
    run_id: int
    outcome: Outcome = field(default_factory=Outcome)
    touched: Touched = field(default_factory=dict)
    position: int = 0

    def step(self, kind: str, payload: dict[str, Any]) -> AbstractContextManager[SyncStep]:
        """The journal step of the next change, recorded before and after it."""
        self.position += 1
        return journal.journal_step(self.database, self.run_id, self.position, kind, payload)

    def touch(self, list_id: str, result: BulkResult[Any]) -> None:
        self.touched.setdefault(list_id, []).append(result)


def push(plan: Plan, run_id: int, database: Database, client: CtctClient, report: Progress) -> Outcome:
    """Applies a push plan to CTCT, step by step, and observes what CTCT shows afterwards."""
    run = _Push(database, client, run_id)
    adds = plan["memberships_add"].dropna(subset=["ctct_contact_id"])
    add_groups = list(adds.groupby("list_id"))
    remove_groups = list(plan["memberships_remove"].groupby("ctct_list_id"))
    steps = PushSteps.for_plan(plan, report, len(add_groups), len(remove_groups))
    steps.begin("lists")
    run.outcome.list_ids = _push_lists(run, plan)
    steps.begin("emails")
    _move_emails(run, plan)
    _send_contacts(run, plan, steps)
    _add_members(run, add_groups, steps)
    _remove_members(run, remove_groups, steps)
    _delete_lists(run, list(plan["lists_delete"]["ctct_list_id"]), steps)
    steps.begin("check")
    if len(plan["contacts_link"]):
        with database.session() as session:
            link_contacts(session, plan["contacts_link"])
    check_push(client, plan, run.touched, run.outcome)
    return run.outcome


# Lists


def _push_lists(run: _Push, plan: Plan) -> dict[int, str]:
    """Creates (or links) and renames lists in CTCT; returns local list id → CTCT list id, the
    lists just created or linked included."""
    linked: dict[int, str] = {}
    with run.database.session() as session:
        for list_id, ctct_list_id in session.execute(select(EmailList.id, EmailList.ctct_list_id)):
            if ctct_list_id:
                linked[list_id] = ctct_list_id
    for row in plan["lists_create"].itertuples():
        _place_list(run, row, linked)
    for old, new, ctct_list_id in zip(
        plan["lists_rename"]["from"], plan["lists_rename"]["to"], plan["lists_rename"]["ctct_list_id"], strict=True
    ):
        with run.step("rename_list", {"ctct_list_id": ctct_list_id, "from": old, "to": new}):
            run.client.lists.rename(str(ctct_list_id), str(new))
    return linked


def _place_list(run: _Push, row: Any, linked: dict[int, str]) -> None:
    """Creates or links one list in CTCT and stores its CTCT id here (adding it to `linked`)."""
    list_id = int(row.list_id)
    with run.step("create_list", {"list_id": list_id, "name": row.name, "link": bool(row.link)}) as record:
        ctct_list_id = str(row.ctct_list_id) if row.link else _create_or_find_list(run.client, row.name)
        record.result = {"ctct_list_id": ctct_list_id}
    if ctct_list_id is None or ctct_list_id in linked.values():
        # The name was taken in CTCT meanwhile, by a list that stands for another list
        # here (renamed in CTCT while this push ran, say): two lists here never share one.
        run.outcome.unplaced[list_id] = (
            f"Constant Contact has another list named '{row.name}' now: rename one of them and push again"
        )
        run.outcome.errors.append(f"list '{row.name}' was not created: {run.outcome.unplaced[list_id]}")
        return
    with run.database.session() as session:
        session.execute(update(EmailList).where(EmailList.id == list_id).values(ctct_list_id=ctct_list_id))
    linked[list_id] = ctct_list_id


def _create_or_find_list(client: CtctClient, name: str) -> str | None:
    try:
        return str(client.lists.create(name)["list_id"])
    except Conflict:
        # Created by an earlier, interrupted attempt (or by hand): the same list, linked.
        for item in client.lists.iterate(membership_count=None):
            if name_key(item["name"]) == name_key(name):
                return str(item["list_id"])
        return None


def _delete_lists(run: _Push, doomed: list[str], steps: PushSteps) -> None:
    if doomed:
        within = steps.begin("deletes")
        with run.step("delete_lists", {"list_ids": doomed}) as record:
            deleted = run.client.activities.delete_lists(doomed, _relay(within))
            run.outcome.errors += _note(record, deleted)


# Contacts


def _move_emails(run: _Push, plan: Plan) -> None:
    """Contacts whose email changed here: the new address goes to the same CTCT contact."""
    moved = plan["contacts_update"][plan["contacts_update"]["previous_email"].notna()]
    for row in moved.itertuples():
        body: ContactUpdate = {"email_address": {"address": row.email}, **_contact_fields(row)}
        try:
            with run.step("update_contact", {"ctct_contact_id": row.ctct_contact_id, "email": row.email}):
                run.client.contacts.update(str(row.ctct_contact_id), body)
        except ApiStatusError as error:
            run.outcome.fail("contacts_update", None, row.email, f"Constant Contact refused the new email: {error}")
        else:
            run.outcome.confirmed_contacts.add(str(row.email).strip().lower())


def _contact_fields(row: Any) -> ContactFields:
    """A planned contact's fields as CTCT takes them: the texts it has, its company cut to fit."""
    company = row.company[:CTCT_COMPANY_LENGTH] if isinstance(row.company, str) else None
    return _present(
        {"first_name": row.first_name, "last_name": row.last_name, "job_title": row.job_title, "company_name": company}
    )


def _present(values: Mapping[str, object]) -> ContactFields:
    """The fields among `values` that hold a text, empty ones left out."""
    texts = {name: values.get(name) for name in FIELD_NAMES}
    # The keys are ContactFields' own and every value a non-empty text: what the cast says.
    return cast(ContactFields, {name: value for name, value in texts.items() if isinstance(value, str) and value})


def _send_contacts(run: _Push, plan: Plan, steps: PushSteps) -> None:
    """New, restored and changed contacts, sent with the lists they go into: by import, or one by
    one where the address is too long for an import row."""
    imports, one_by_one = _long_addresses_apart(_import_groups(run.database, plan, run.outcome.list_ids))
    sending = sum(len(rows) for _, rows in imports) + len(one_by_one)
    # The plan foresaw contacts to send; none may be left once grouped by the lists created.
    words = f"sending {sending:,} new or changed contact(s) to Constant Contact"
    within = steps.begin("contacts", words=words) if sending else silent
    if one_by_one:
        for list_id in _push_long_addresses(run, one_by_one):
            # Not an activity with counts: those lists' members are read back after the push.
            run.touch(list_id, BulkResult([{"activity_id": "", "state": "sent one by one"}], [{}]))
    if imports:
        result = _import(run, imports, within)
        for activity, body in result.outcomes():
            for list_id in body["list_ids"]:
                run.touch(list_id, BulkResult([activity], [body]))
            if BulkResult.clean(activity):
                run.outcome.confirmed_contacts |= {str(row["email"]).strip().lower() for row in body["import_data"]}


def _import_groups(database: Database, plan: Plan, local_lists: dict[int, str]) -> list[ImportGroup]:
    """New, restored and changed contacts, grouped by the lists they go into."""
    new_members = plan["memberships_add"][plan["memberships_add"]["ctct_contact_id"].isna()]
    targets = new_members.groupby("contact_id")["list_id"].agg(_list_key)
    updates = plan["contacts_update"]
    updates = updates[updates["previous_email"].isna()]  # the moved ones went by id already
    if len(updates):
        with database.session() as session:
            rows = session.execute(select(ListMembership.contact_id, ListMembership.list_id)).all()
        current = pd.DataFrame(rows, columns=["contact_id", "list_id"])
        current = current[current["list_id"].isin(local_lists) & current["contact_id"].isin(updates["contact_id"])]
        extra = current.groupby("contact_id")["list_id"].agg(_list_key)
        targets = pd.concat([targets, extra[~extra.index.isin(targets.index)]])
    people = pd.concat([plan["contacts_create"], updates]).drop_duplicates("contact_id")
    people = people[people["contact_id"].isin(targets.index)]
    groups: dict[tuple[int, ...], list[ImportRow]] = {}
    for row in people.itertuples():
        groups.setdefault(targets[row.contact_id], []).append({"email": row.email, **_contact_fields(row)})
    placed = [([local_lists[i] for i in key if i in local_lists], rows) for key, rows in sorted(groups.items())]
    return [(ids, rows) for ids, rows in placed if ids]


def _list_key(list_ids: pd.Series) -> tuple[int, ...]:
    return tuple(sorted({int(i) for i in list_ids}))


def _long_addresses_apart(
    imports: list[ImportGroup],
) -> tuple[list[ImportGroup], list[OneByOne]]:
    """The import groups without the rows whose address is too long for an import, and those rows."""
    kept: list[ImportGroup] = []
    apart: list[OneByOne] = []
    for ids, rows in imports:
        short = [row for row in rows if len(row["email"]) <= MAX_IMPORT_EMAIL_LENGTH]
        apart += [(ids, row) for row in rows if len(row["email"]) > MAX_IMPORT_EMAIL_LENGTH]
        if short:
            kept.append((ids, short))
    return kept, apart


def _import(run: _Push, imports: list[ImportGroup], report: Progress) -> BulkResult[ImportBody]:
    """The import of new contacts into their lists. Refused outright because a list was
    deleted in CTCT meanwhile, it is sent once more without the lists CTCT no longer has;
    the rows for those fail (the re-read after the push finds them missing)."""
    groups = [(rows, ids) for ids, rows in imports]
    everywhere = sorted({list_id for ids, _ in imports for list_id in ids})
    for attempt in (1, 2):
        payload = {"groups": [{"list_ids": ids, "emails": [r["email"] for r in rows]} for rows, ids in groups]}
        try:
            with run.step("import_contacts", payload) as record:
                result = run.client.activities.import_groups(groups, _relay(report))
                run.outcome.errors += _note(record, result)
            return result
        except (BadRequest, NotFound) as error:
            run.outcome.errors.append(f"import_contacts: {error}")
            refusal = str(error)
        if attempt == 1:
            live = {str(item["list_id"]) for item in run.client.lists.iterate()}
            groups = [(rows, [i for i in ids if i in live]) for rows, ids in groups]
            groups = [(rows, ids) for rows, ids in groups if ids]
            if not groups:
                break
    refused: Activity = {"activity_id": "", "state": "failed", "activity_errors": [refusal]}
    return BulkResult([refused], [{"import_data": [], "list_ids": everywhere}])


def _push_long_addresses(run: _Push, one_by_one: list[OneByOne]) -> set[str]:
    """Contacts whose address is too long for an import row: looked up by email, then created
    (POST) or updated (PUT, keeping CTCT's fields, permission and lists, adding the new lists).
    An unsubscribed contact is not put back on any list. Returns the lists these touched."""
    touched: set[str] = set()
    for list_ids, record in one_by_one:
        email = record["email"]
        touched |= set(list_ids)
        try:
            with run.step("contact_one_by_one", {"email": email, "list_ids": list_ids}):
                placed = _create_or_update_contact(run.client, record, list_ids)
        except ApiStatusError as error:
            run.outcome.errors.append(f"contact {email}: {error}")
            continue
        if placed:
            run.outcome.confirmed_contacts.add(email.strip().lower())
        else:
            run.outcome.errors.append(f"contact {email}: unsubscribed in Constant Contact, not put back on lists")
    return touched


def _create_or_update_contact(client: CtctClient, record: ImportRow, list_ids: list[str]) -> bool:
    fields = _present(record)
    email = record["email"]
    existing = client.contacts.find_by_email(email)
    if existing is None:
        client.contacts.create(
            {
                "email_address": {"address": email, "permission_to_send": "implicit"},
                **fields,
                "list_memberships": list_ids,
            }
        )
        return True
    address: EmailAddressBody = {"address": email}
    held = existing.get("email_address")
    if held and "permission_to_send" in held:
        address["permission_to_send"] = held["permission_to_send"]
    if address.get("permission_to_send") == "unsubscribed":
        return False
    # PUT replaces every core field: what CTCT holds is sent back, with this push's values over it.
    lists = list(dict.fromkeys([*existing.get("list_memberships", []), *list_ids]))
    body: ContactUpdate = {**_present(existing), **fields, "email_address": address, "list_memberships": lists}
    client.contacts.update(existing["contact_id"], body)
    return True


# Memberships


def _add_members(run: _Push, add_groups: list[tuple[Any, pd.DataFrame]], steps: PushSteps) -> None:
    """Existing CTCT contacts added to lists, one activity per list."""
    local_lists = run.outcome.list_ids
    for part, (list_id, group) in enumerate(add_groups, 1):
        if int(list_id) in local_lists:  # else not created in CTCT: its rows fail when checked
            target = local_lists[int(list_id)]
            words = f"adding {len(group):,} member(s) to '{group['list'].iloc[0]}'"
            within = steps.begin("adds", part, len(add_groups), words)
            run.touch(target, _membership_step(run, "add_memberships", target, group, within))


def _remove_members(run: _Push, remove_groups: list[tuple[Any, pd.DataFrame]], steps: PushSteps) -> None:
    """Members removed from CTCT lists, one activity per list."""
    for part, (ctct_list_id, group) in enumerate(remove_groups, 1):
        target = str(ctct_list_id)
        words = f"removing {len(group):,} member(s) from '{group['list'].iloc[0]}'"
        within = steps.begin("removes", part, len(remove_groups), words)
        run.touch(target, _membership_step(run, "remove_memberships", target, group, within))


def _membership_step(run: _Push, kind: str, target: str, rows: pd.DataFrame, report: Progress) -> BulkResult[Any]:
    """One list's adds or removes (`kind` names the activity). One CTCT refuses outright (the
    list was deleted meanwhile, say) fails only its rows: the push goes on with the other
    lists, and the re-read after it tells which rows did not apply."""
    ids = list(dict.fromkeys(rows["ctct_contact_id"]))
    activities = run.client.activities
    submit = activities.add_memberships if kind == "add_memberships" else activities.remove_memberships
    try:
        with run.step(kind, {"list_id": target, "contact_ids": ids}) as record:
            result = submit(ids, [target], _relay(report))
            run.outcome.errors += _note(record, result)
    except (BadRequest, NotFound) as error:
        run.outcome.errors.append(f"{kind} for list {target}: {error}")
        refused: Activity = {"activity_id": "", "state": "failed", "activity_errors": [str(error)]}
        return BulkResult([refused], [{}])
    return result


# Activities


def _relay(report: Progress) -> Callable[[ActivityProgress], None]:
    """What an activity reports to: its progress in words a person waiting understands."""

    def relay(progress: ActivityProgress) -> None:
        if progress.queued:
            report(progress.overall, "you are in the queue, your data will be processed")
        else:
            report(progress.overall, f"Constant Contact is processing ({progress.percent_done}%)")

    return relay


def _note(record: SyncStep, result: BulkResult[Any]) -> list[str]:
    """Notes the activities in the journal step; returns the errors CTCT reported."""
    record.activity_id = ",".join(result.activity_ids)[:64]
    record.result = {
        "activities": result.activity_ids,
        "failed": len(result.failed),
        "cannot_add_to_list_count": result.cannot_add_to_list_count,
    }
    return result.activity_errors

"""The CTCT side of a commit: a push, through bulk activities and a few single requests.

This is the only module that changes CTCT. Every change goes through a journal step, recorded as
started before the request and as done (with CTCT's activity ids) or failed after it, so an
interrupted push can be told apart from a finished one and resumed. In Customer Focus it stores
only the CTCT ids of the lists it created or linked and of the contacts the plan matched; the
plan's other changes to Customer Focus are the pull's (ctct/sync/pull.py). After the changes
ctct/sync/push_check.py reads back what CTCT shows, which is what the baseline records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypedDict, cast

import pandas as pd
from sqlalchemy import select, update

from ctct.api.activities import (
    MAX_IMPORT_EMAIL_LENGTH,
    ActivityBatch,
    ActivityProgress,
    BulkResult,
    ImportBody,
    ImportRow,
    import_bodies,
    list_delete_bodies,
    membership_bodies,
)
from ctct.api.client import CtctClient
from ctct.api.contacts import ContactUpdate, EmailAddressBody
from ctct.api.errors import ApiStatusError, Conflict
from ctct.crm.normalize import name_key
from ctct.db import Database
from ctct.db.models import EmailList, ListMembership, SyncStep
from ctct.sync import journal
from ctct.sync.outcome import Outcome
from ctct.sync.plan import Plan
from ctct.sync.pull import link_contacts
from ctct.sync.push_check import Touched, check_push
from ctct.sync.push_progress import Progress, PushSteps, StepCounts
from ctct.sync.push_shape import ImportSet, Targets, group_members, importable_contacts

CTCT_COMPANY_LENGTH = 50
FIELD_NAMES = ("first_name", "last_name", "job_title", "company_name")

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
    """Applies a push plan to CTCT, step by step, and observes what CTCT shows afterwards.

    Lists and email changes go first, one request each (the activities need the lists). Then every
    bulk activity — imports, adds, removes, list deletions — is submitted, and all are watched
    together: one poll serves them all (ctct/sync/push_shape.py says how they are cut)."""
    run = _Push(database, client, run_id)
    shape = _shape_of(database, plan)
    steps = PushSteps.for_plan(plan, report, shape.counts())
    steps.begin("lists")
    run.outcome.list_ids = _push_lists(run, plan)
    steps.begin("emails")
    _move_emails(run, plan)
    _push_one_by_one(run, shape.one_by_one, steps)
    _run_activities(run, plan, shape, steps)
    steps.begin("check")
    if len(plan["contacts_link"]):
        with database.session() as session:
            link_contacts(session, plan["contacts_link"])
    check_push(client, plan, run.touched, run.outcome)
    return run.outcome


@dataclass
class _Shape:
    """What a push sends as activities, by the local ids of the lists (placed once they exist)."""

    imports: dict[Targets, list[ImportRow]]
    # The emails of the rows that carry a contact's fields (a new or changed contact).
    sent: set[str]
    one_by_one: list[tuple[Targets, ImportRow]]
    adds: dict[Targets, list[str]]
    removes: dict[Targets, list[str]]
    # Names of the lists, by local id (adds) and by CTCT id (removes).
    names: dict[Any, str]

    def counts(self) -> StepCounts:
        return StepCounts(bool(self.imports), len(self.adds), len(self.removes), len(self.one_by_one))


def _shape_of(database: Database, plan: Plan) -> _Shape:
    """The push cut into activities: new and changed contacts by import, grouped by the lists they
    go into; existing contacts added by id or, where that takes fewer activities, by an email-only
    import row (push_shape.py says when that is exact); removes by id."""
    placed = _linked_list_ids(database) | {int(i) for i in plan["lists_create"]["list_id"]}
    rows, one_by_one = _long_addresses_apart(_import_groups(database, plan, placed))
    sets = {key: ImportSet(len(group), sum(len(json.dumps(row)) + 2 for row in group)) for key, group in rows.items()}
    adds = plan["memberships_add"].dropna(subset=["ctct_contact_id"])
    adds = adds[adds["list_id"].astype(int).isin(placed)]  # else not created in CTCT: its rows fail when checked
    remote = plan.remote.contacts if plan.remote is not None else pd.DataFrame()
    added = group_members(adds, "list_id", importable_contacts(plan, remote), sets)
    removed = group_members(plan["memberships_remove"], "ctct_list_id", None, {})
    imports: dict[Targets, list[ImportRow]] = {}
    for key, chosen in sorted(added.imports.items(), key=lambda item: [str(i) for i in item[0]]):
        group = rows.get(key, [])
        present = {row["email"].strip().lower() for row in group}
        extra: list[ImportRow] = [
            {"email": email} for _, email in chosen.by_email if email.strip().lower() not in present
        ]
        imports[key] = [*group, *extra]
    names: dict[Any, str] = {}
    for frame, by in ((plan["memberships_add"], "list_id"), (plan["memberships_remove"], "ctct_list_id")):
        names.update(zip(frame[by], frame["list"], strict=True))
    sent = {row["email"].strip().lower() for group in rows.values() for row in group}
    return _Shape(imports, sent, one_by_one, added.by_id, removed.by_id, names)


def _linked_list_ids(database: Database) -> set[int]:
    with database.session() as session:
        return {
            int(list_id)
            for list_id, ctct_list_id in session.execute(select(EmailList.id, EmailList.ctct_list_id))
            if ctct_list_id
        }


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
    renames = plan["lists_rename"]
    for ctct_list_id, old, new in rename_order(
        zip(renames["ctct_list_id"].astype(str), renames["from"].astype(str), renames["to"].astype(str), strict=True)
    ):
        with run.step("rename_list", {"ctct_list_id": ctct_list_id, "from": old, "to": new}):
            run.client.lists.rename(ctct_list_id, new)
    return linked


def rename_order(renames: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """CTCT's renames (list id, from, to) as CTCT can take them, one at a time with no two lists
    of one name: a list is renamed to a name only once the list that has it was renamed away;
    names swapped or passed round in a ring go through a free name first (as the pull's renames
    here go through a temporary key)."""
    pending = [list(rename) for rename in renames]
    holders = {name_key(old): list_id for list_id, old, _new in pending}
    ordered: list[tuple[str, str, str]] = []
    while pending:
        ready = [r for r in pending if holders.get(name_key(r[2]), r[0]) == r[0]]
        for list_id, old, new in ready:
            ordered.append((list_id, old, new))
            holders.pop(name_key(old), None)
            holders[name_key(new)] = list_id
        pending = [r for r in pending if r not in ready]
        if pending and not ready:
            # A ring: the first steps aside under a name no list has.
            list_id, old, new = pending[0]
            aside = next(name for n in range(1, 1000) if name_key(name := f"{old} (renaming {n})") not in holders)
            ordered.append((list_id, old, aside))
            holders.pop(name_key(old), None)
            holders[name_key(aside)] = list_id
            pending[0][1] = aside
    return ordered


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


def _import_groups(database: Database, plan: Plan, placed: set[int]) -> dict[Targets, list[ImportRow]]:
    """New, restored and changed contacts, grouped by the lists (local ids among `placed`) they go into."""
    new_members = plan["memberships_add"][plan["memberships_add"]["ctct_contact_id"].isna()]
    targets = new_members.groupby("contact_id")["list_id"].agg(_list_key)
    updates = plan["contacts_update"]
    updates = updates[updates["previous_email"].isna()]  # the moved ones went by id already
    if len(updates):
        with database.session() as session:
            rows = session.execute(select(ListMembership.contact_id, ListMembership.list_id)).all()
        current = pd.DataFrame(rows, columns=["contact_id", "list_id"])
        current = current[current["list_id"].isin(placed) & current["contact_id"].isin(updates["contact_id"])]
        extra = current.groupby("contact_id")["list_id"].agg(_list_key)
        targets = pd.concat([targets, extra[~extra.index.isin(targets.index)]])
    people = pd.concat([plan["contacts_create"], updates]).drop_duplicates("contact_id")
    people = people[people["contact_id"].isin(targets.index)]
    groups: dict[Targets, list[ImportRow]] = {}
    for row in people.itertuples():
        key = tuple(i for i in targets[row.contact_id] if i in placed)
        if key:
            groups.setdefault(key, []).append({"email": row.email, **_contact_fields(row)})
    return dict(sorted(groups.items()))


def _list_key(list_ids: pd.Series) -> Targets:
    return tuple(sorted({int(i) for i in list_ids}))


def _long_addresses_apart(
    imports: dict[Targets, list[ImportRow]],
) -> tuple[dict[Targets, list[ImportRow]], list[tuple[Targets, ImportRow]]]:
    """The import groups without the rows whose address is too long for an import, and those rows."""
    kept: dict[Targets, list[ImportRow]] = {}
    apart: list[tuple[Targets, ImportRow]] = []
    for key, rows in imports.items():
        short = [row for row in rows if len(row["email"]) <= MAX_IMPORT_EMAIL_LENGTH]
        apart += [(key, row) for row in rows if len(row["email"]) > MAX_IMPORT_EMAIL_LENGTH]
        if short:
            kept[key] = short
    return kept, apart


def _push_one_by_one(run: _Push, one_by_one: list[tuple[Targets, ImportRow]], steps: PushSteps) -> None:
    """The contacts whose address is too long for an import row, sent on their own."""
    placed = [([run.outcome.list_ids[i] for i in key if i in run.outcome.list_ids], row) for key, row in one_by_one]
    placed = [(ids, row) for ids, row in placed if ids]
    if placed:
        steps.begin("contacts", words=f"sending {len(placed):,} new or changed contact(s) to Constant Contact")
        for list_id in _push_long_addresses(run, placed):
            # Not an activity with counts: those lists' members are read back after the push.
            run.touch(list_id, BulkResult([{"activity_id": "", "state": "sent one by one"}], [{}]))


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


# Activities


@dataclass
class _Operation:
    """An operation of the batch: its journal step, its result, and whether it changes members."""

    record: SyncStep
    result: BulkResult[Any]
    changes_members: bool = True


@dataclass
class _Submitting:
    """The push's activities being submitted: each operation in its journal step, kept open (in
    `open_steps`) until the batch is watched to the end."""

    run: _Push
    batch: ActivityBatch
    open_steps: ExitStack
    steps: PushSteps
    # Which of some lists CTCT still has (for a body it refused): one listing, the first time asked.
    retarget: Callable[[Sequence[str]], list[str]]
    operations: list[_Operation] = field(default_factory=list)

    def submit(
        self,
        step_kind: str,
        payload: dict[str, Any],
        relay: _StepRelay,
        send: Callable[[], BulkResult[Any]],
        *,
        members: bool = True,
    ) -> BulkResult[Any]:
        relay.announce()
        record = self.open_steps.enter_context(self.run.step(step_kind, payload))
        result = send()
        # Stored at once: a push stopped while they run leaves in its journal what it had queued.
        record.activity_id = ",".join(result.activity_ids)[:64]
        with self.run.database.session() as session:
            session.execute(update(SyncStep).where(SyncStep.id == record.id).values(activity_id=record.activity_id))
        self.operations.append(_Operation(record, result, members))
        return result


def _run_activities(run: _Push, plan: Plan, shape: _Shape, steps: PushSteps) -> None:
    """Submits every activity of the push, each operation in its journal step, then watches them all
    together; each step is noted done (with its activities) once they ended, or failed with the error
    that stopped the push."""
    with ExitStack() as open_steps:
        batch = run.client.activities.batch()
        submitting = _Submitting(run, batch, open_steps, steps, _live_lists(run))
        imported = _submit_imports(submitting, shape)
        _submit_members(submitting, shape)
        doomed = [str(i) for i in plan["lists_delete"]["ctct_list_id"]]
        if doomed:
            relay = _StepRelay(steps, "deletes", 1, 1, None)
            send = partial(batch.submit, "list_delete", list_delete_bodies(doomed), relay)
            submitting.submit("delete_lists", {"list_ids": doomed}, relay, send, members=False)
        batch.watch()
        for operation in submitting.operations:
            run.outcome.errors += _note(operation.record, operation.result)
    for operation in submitting.operations:
        for activity, body in operation.result.outcomes() if operation.changes_members else ():
            for list_id in body.get("list_ids", []):
                run.touch(list_id, BulkResult([activity], [body]))
    for activity, body in imported.outcomes() if imported is not None else ():
        if BulkResult.clean(activity):
            emails = {str(row["email"]).strip().lower() for row in body["import_data"]}
            run.outcome.confirmed_contacts |= emails & shape.sent


def _submit_imports(submitting: _Submitting, shape: _Shape) -> BulkResult[ImportBody] | None:
    """The imports, all in one journal step. One CTCT refuses outright (a list deleted meanwhile)
    is sent once more without the lists CTCT no longer has; the rows for those fail when checked."""
    local = submitting.run.outcome.list_ids
    placed = [([local[i] for i in key if i in local], rows) for key, rows in shape.imports.items()]
    imports = [(ids, rows) for ids, rows in placed if ids]
    if not imports:
        return None
    relay = _StepRelay(submitting.steps, "contacts", 1, 1, _import_words(shape, imports))
    bodies = import_bodies([(rows, ids) for ids, rows in imports])
    payload = {"groups": [{"list_ids": ids, "emails": [row["email"] for row in rows]} for ids, rows in imports]}
    send = partial(submitting.batch.submit, "contacts_json_import", bodies, relay, submitting.retarget)
    return submitting.submit("import_contacts", payload, relay, send)


def _submit_members(submitting: _Submitting, shape: _Shape) -> None:
    """Adds and removes by id, one journal step per set of lists. One CTCT refuses outright fails
    only its rows (after a second try without the lists CTCT no longer has): the push goes on."""
    local = submitting.run.outcome.list_ids
    placed = [([local[i] for i in key if i in local], key, ids) for key, ids in shape.adds.items()]
    adds = [(targets, key, ids) for targets, key, ids in placed if targets]
    removes = [([str(i) for i in key], key, ids) for key, ids in shape.removes.items()]
    for progress_key, step_kind, activity_kind, operations, verb in (
        ("adds", "add_memberships", "add_list_memberships", adds, "adding {} member(s) to {}"),
        ("removes", "remove_memberships", "remove_list_memberships", removes, "removing {} member(s) from {}"),
    ):
        for part, (targets, key, ids) in enumerate(operations, 1):
            words = verb.format(f"{len(ids):,}", _list_names(shape.names, key))
            relay = _StepRelay(submitting.steps, progress_key, part, len(operations), words)
            bodies = membership_bodies(ids, targets)
            send = partial(submitting.batch.submit, activity_kind, bodies, relay, submitting.retarget)
            submitting.submit(step_kind, {"list_ids": targets, "contact_ids": ids}, relay, send)


def _import_words(shape: _Shape, imports: list[tuple[list[str], list[ImportRow]]]) -> str:
    """`sending 3 new or changed contact(s) to Constant Contact`, and the members it adds besides."""
    rows = [row for _, group in imports for row in group]
    sending = sum(1 for row in rows if row["email"].strip().lower() in shape.sent)
    adding = len(rows) - sending
    said = [f"sending {sending:,} new or changed contact(s) to Constant Contact"] if sending else []
    if adding:
        said.append(f"adding {adding:,} member(s) by import")
    return " and ".join(said)


def _list_names(names: dict[Any, str], key: Targets) -> str:
    """`'News'`, `'News' and 'Promo'`, or `4 lists`: the lists an activity changes, as a person reads them."""
    named = [f"'{names.get(i, i)}'" for i in key]
    if len(named) == 1:
        return named[0]
    if len(named) <= 3:
        return ", ".join(named[:-1]) + " and " + named[-1]
    return f"{len(named):,} lists"


def _live_lists(run: _Push) -> Callable[[Sequence[str]], list[str]]:
    """Which of some lists CTCT still has: asked once (a listing) the first time a body is refused."""
    live: set[str] = set()
    asked = False

    def retarget(list_ids: Sequence[str]) -> list[str]:
        nonlocal asked
        if not asked:
            live.update(str(item["list_id"]) for item in run.client.lists.iterate())
            asked = True
        return [list_id for list_id in list_ids if list_id in live]

    return retarget


class _StepRelay:
    """What an operation's activities report to. Its step is named when the operation is submitted,
    the bar left where it is (`announce`); the bar reaches the step when CTCT reaches its activities,
    then shows their progress in words a person waiting understands."""

    def __init__(self, steps: PushSteps, key: str, part: int, parts: int, words: str | None) -> None:
        self._steps, self._key, self._part, self._parts, self._words = steps, key, part, parts, words
        self._within: Progress | None = None

    def announce(self) -> None:
        self._steps.announce(self._key, self._part, self._parts, self._words)

    def __call__(self, progress: ActivityProgress) -> None:
        if self._within is None:
            self._within = self._steps.begin(self._key, self._part, self._parts, self._words)
        if progress.queued:
            self._within(progress.overall, "you are in the queue, your data will be processed")
        else:
            self._within(progress.overall, f"Constant Contact is processing ({progress.percent_done}%)")


def _note(record: SyncStep, result: BulkResult[Any]) -> list[str]:
    """Notes the activities in the journal step; returns the errors CTCT reported."""
    record.activity_id = ",".join(result.activity_ids)[:64]
    record.result = {
        "activities": result.activity_ids,
        "failed": len(result.failed),
        "cannot_add_to_list_count": result.cannot_add_to_list_count,
    }
    return result.activity_errors

"""Bulk activities: chunked to CTCT's limits, submitted, polled to the end, results added up."""

# No `from __future__ import annotations`: a TypedDict tells its Required keys from the evaluated annotations.
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, NotRequired, TypedDict, TypeVar, cast

from ctct.api.errors import BadRequest, NotFound
from ctct.api.resources import Resource

if TYPE_CHECKING:
    from ctct.api.client import CtctClient

MAX_IMPORT_CONTACTS = 40_000
# CTCT drops whatever lies beyond 4 MB; stay clear of it.
MAX_IMPORT_BYTES = 4 * 1024 * 1024 - 64 * 1024
MAX_CONTACT_IDS = 500
MAX_TARGET_LISTS = 50
MAX_LIST_DELETE_IDS = 100
# The reference allows 50 characters for an import row's email (`import_data[].email`) but 80 for
# POST and PUT /contacts: a longer address goes to CTCT on its own, by those (SPEC §3: over 80 is
# not eligible at all).
MAX_IMPORT_EMAIL_LENGTH = 50
FINISHED = frozenset({"completed", "failed", "cancelled", "timed_out"})
POLL_FIRST = 1.0
POLL_FACTOR = 1.5
# The longest wait between polls once a pace is known.
POLL_CEILING = 30.0
# Activities a batch holds unfinished at most: one `GET /activities` lists up to 500, newest first,
# which leaves room for 50 others of the account (CTCT queues up to 1,000).
SUBMIT_TOGETHER = 450
POLL_MAX = 5.0
# How much longer than foreseen a poll waits once CTCT's pace is known.
POLL_MARGIN = 1.1

# What an activity's `status` counts; each kind of activity fills in only the counters it has.
StatusCounter = Literal[
    "items_total_count",
    "items_completed_count",
    "person_count",
    "error_count",
    "correctable_count",
    "cannot_add_to_list_count",
    "list_count",
]


class ActivityStatus(TypedDict, total=False):
    items_total_count: int
    items_completed_count: int
    person_count: int
    error_count: int
    correctable_count: int
    # Rows of an import, or contacts, that CTCT would not put on a list (they unsubscribed).
    cannot_add_to_list_count: int
    list_count: int


class Activity(TypedDict):
    """An activity as CTCT answers a submit or a poll: its state, its progress, what it counted."""

    activity_id: str
    # initialized (queued), processing, then one of FINISHED.
    state: str
    percent_done: NotRequired[int]
    activity_errors: NotRequired[list[str]]
    # Once CTCT has counted something.
    status: NotRequired[ActivityStatus]
    # When it began to run and when it ended, once it did, and when CTCT last changed it (ISO 8601).
    started_at: NotRequired[str]
    completed_at: NotRequired[str]
    updated_at: NotRequired[str]


class ImportRow(TypedDict):
    """One contact of `contacts_json_import`: created, or updated with only the fields given."""

    email: str
    first_name: NotRequired[str]
    last_name: NotRequired[str]
    job_title: NotRequired[str]
    company_name: NotRequired[str]


class ImportBody(TypedDict):
    import_data: list[ImportRow]
    list_ids: list[str]


class ContactSource(TypedDict):
    contact_ids: list[str]


class MembershipBody(TypedDict):
    """`add_list_memberships` and `remove_list_memberships`: these contacts, to or from these lists."""

    source: ContactSource
    list_ids: list[str]


class ContactDeleteBody(TypedDict):
    contact_ids: list[str]


class ListDeleteBody(TypedDict):
    list_ids: list[str]


Body = TypeVar("Body", bound=Mapping[str, Any])
Item = TypeVar("Item")


@dataclass(frozen=True)
class ActivityProgress:
    """What a progress bar needs: which chunk, its state, and whether CTCT still holds it queued."""

    activity_id: str
    state: str
    percent_done: int
    chunk: int
    chunks: int

    @property
    def queued(self) -> bool:
        return self.state == "initialized"

    @property
    def overall(self) -> float:
        return ((self.chunk - 1) + self.percent_done / 100) / max(self.chunks, 1)


ProgressCallback = Callable[[ActivityProgress], None]


@dataclass
class BulkResult(Generic[Body]):
    """The activities one bulk operation took, with their counts and errors added up."""

    activities: list[Activity] = field(default_factory=list)
    # The body each activity was submitted with, in the same order: what it was asked to do.
    bodies: list[Body] = field(default_factory=list)

    def outcomes(self) -> Iterator[tuple[Activity, Body]]:
        """Each activity as CTCT ended it, with the body it was submitted with."""
        return zip(self.activities, self.bodies, strict=True)

    @staticmethod
    def clean(activity: Activity) -> bool:
        """Completed, with no error and nothing refused: everything it was asked to do was done."""
        status = activity.get("status", {})
        return (
            activity.get("state") == "completed"
            and not activity.get("activity_errors")
            and not int(status.get("error_count", 0) or 0)
            and not int(status.get("cannot_add_to_list_count", 0) or 0)
        )

    @property
    def activity_ids(self) -> list[str]:
        return [activity["activity_id"] for activity in self.activities]

    @property
    def failed(self) -> list[Activity]:
        return [activity for activity in self.activities if activity.get("state") != "completed"]

    @property
    def activity_errors(self) -> list[str]:
        return [str(error) for activity in self.activities for error in activity.get("activity_errors", [])]

    def count(self, name: StatusCounter) -> int:
        return sum(int(activity.get("status", {}).get(name, 0)) for activity in self.activities)

    @property
    def cannot_add_to_list_count(self) -> int:
        return self.count("cannot_add_to_list_count")


def chunked(items: Sequence[Item], size: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def import_chunks(rows: Sequence[ImportRow], list_ids: Sequence[str]) -> Iterator[list[ImportRow]]:
    """Rows in chunks of at most 40,000 contacts and a payload under 4 MB."""
    overhead = len(json.dumps({"import_data": [], "list_ids": list(list_ids)}))
    chunk: list[ImportRow] = []
    size = overhead
    for row in rows:
        row_size = len(json.dumps(row)) + 2
        if chunk and (len(chunk) == MAX_IMPORT_CONTACTS or size + row_size > MAX_IMPORT_BYTES):
            yield chunk
            chunk, size = [], overhead
        chunk.append(row)
        size += row_size
    if chunk:
        yield chunk


def import_bodies(groups: Sequence[tuple[Sequence[ImportRow], Sequence[str]]]) -> list[ImportBody]:
    """Imports (rows and the lists they go into) cut to CTCT's limits: 50 lists, 40,000 rows, 4 MB."""
    return [
        {"import_data": chunk, "list_ids": targets}
        for rows, list_ids in groups
        for targets in chunked(list_ids, MAX_TARGET_LISTS)
        for chunk in import_chunks(rows, targets)
    ]


def membership_bodies(contact_ids: Sequence[str], list_ids: Sequence[str]) -> list[MembershipBody]:
    """Adds or removes of these contacts to or from these lists, cut to 500 contacts and 50 lists."""
    return [
        {"source": {"contact_ids": ids}, "list_ids": targets}
        for targets in chunked(list_ids, MAX_TARGET_LISTS)
        for ids in chunked(contact_ids, MAX_CONTACT_IDS)
    ]


def list_delete_bodies(list_ids: Sequence[str]) -> list[ListDeleteBody]:
    return [{"list_ids": ids} for ids in chunked(list_ids, MAX_LIST_DELETE_IDS)]


def _next_wait(activities: Iterable[Activity], waited: float, previous: float) -> float:
    """How long to wait before the next poll: at first a backoff; once CTCT shows progress, the
    time the rest should take — so a batch costs few polls. CTCT runs an account's activities one
    after the other: once some have ended, their own start and end times tell how long one takes;
    before that, the share done in the time waited tells the pace."""
    states = list(activities)
    done = sum(1 for activity in states if activity["state"] in FINISHED)
    running = sum(int(activity.get("percent_done", 0)) for activity in states if activity["state"] == "processing")
    progress = done + running / 100
    each = _seconds_each(states)
    if each is not None:
        # A little over the time foreseen: polling just before the last one ends costs a poll more.
        remaining = (len(states) - progress) * each * POLL_MARGIN
    elif waited <= 0 or progress <= 0:
        return previous if waited <= 0 else min(previous * POLL_FACTOR, POLL_MAX)
    else:
        remaining = (len(states) - progress) * waited / progress
    return min(max(remaining, POLL_FIRST), POLL_CEILING)


def _seconds_each(states: list[Activity]) -> float | None:
    """How long one of these activities takes to run, by CTCT's clock: the average of those that
    ended; before any did, the one running, from the share it did since it began (`updated_at` is
    when CTCT said so). None when CTCT has not shown either yet."""
    ended: list[float] = []
    running: list[float] = []
    for activity in states:
        started, completed = activity.get("started_at", ""), activity.get("completed_at", "")
        updated, percent = activity.get("updated_at", ""), int(activity.get("percent_done", 0))
        if started and completed:
            took = _seconds_between(started, completed)
            ended += [took] if took is not None else []
        elif started and updated and activity["state"] == "processing" and percent > 0:
            so_far = _seconds_between(started, updated)
            running += [so_far * 100 / percent] if so_far is not None else []
    found = ended or running
    return sum(found) / len(found) if found else None


def _seconds_between(start: str, end: str) -> float | None:
    """Seconds from one ISO 8601 time of CTCT's to another; None for a time not in that form."""
    try:
        return (
            dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
            - dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        ).total_seconds()
    except ValueError:
        return None


@dataclass
class _Operation(Generic[Body]):
    """One bulk operation of a batch: its result (filled in as CTCT reports) and who hears its progress."""

    result: BulkResult[Body]
    progress: ProgressCallback | None
    reported_done: bool = False


Retarget = Callable[[Sequence[str]], list[str]]


class ActivityBatch:
    """Bulk operations submitted one after another, then watched together.

    CTCT queues activities and runs them in turn; one `GET /activities` shows the state of all of
    them. So a push submits every activity first and polls them at once, instead of submitting and
    polling one operation after the other: a poll costs one request whatever the batch holds."""

    def __init__(self, activities: "Activities") -> None:
        self._activities = activities
        self._operations: list[_Operation[Any]] = []

    @property
    def client(self) -> "CtctClient":
        return self._activities.client

    def submit(
        self,
        kind: str,
        bodies: list[Body],
        progress: ProgressCallback | None = None,
        retarget: Retarget | None = None,
    ) -> BulkResult[Body]:
        """Submits the bodies now; the result holds each activity as CTCT ends it once `watch` returns.

        A body CTCT refuses outright (a 400 or 404: a target list deleted meanwhile, say) is sent once
        more to the lists `retarget` says are still there; refused again, or with none left, it stands
        as a failed activity carrying CTCT's words, and the other bodies go on."""
        # At the least a submit per body and a poll: refuse before the first if today cannot hold them.
        self.client.budget.ensure(len(bodies) + 1)
        result: BulkResult[Body] = BulkResult()
        self._operations.append(_Operation(result, progress))
        for body in bodies:
            if self._pending() >= SUBMIT_TOGETHER:
                # One listing shows at most 500 activities: watch these before queueing more.
                self.watch()
            activity, sent = self._submit_one(kind, body, retarget)
            result.activities.append(activity)
            result.bodies.append(sent)
        return result

    def _submit_one(self, kind: str, body: Body, retarget: Retarget | None) -> tuple[Activity, Body]:
        """The activity CTCT made of `body` (or a failed one with its refusal), and the body it got."""
        try:
            return self._activities.submit(kind, body), body
        except (BadRequest, NotFound) as error:
            refusal = str(error)
            targets = list(body.get("list_ids", []))
            live = retarget(targets) if retarget is not None and targets else targets
            if live and live != targets:
                # The same body for fewer lists: still the body's own type.
                narrowed = cast(Body, {**body, "list_ids": live})
                try:
                    return self._activities.submit(kind, narrowed), narrowed
                except (BadRequest, NotFound) as again:
                    refusal = str(again)
            return {"activity_id": "", "state": "failed", "activity_errors": [refusal]}, body

    def _pending(self) -> int:
        return sum(
            1
            for operation in self._operations
            for activity in operation.result.activities
            if activity["state"] not in FINISHED
        )

    def watch(self) -> None:
        """Polls every activity of the batch until all have ended: one `GET /activities` per poll
        (one `GET /activities/{id}` when one is left), waiting longer once CTCT's pace is known."""
        delay = POLL_FIRST
        waited = 0.0
        while True:
            self._report()
            waiting = self._waiting()
            if not waiting:
                return
            delay = _next_wait(self._all_activities(), waited, delay)
            self.client.sleep(delay)
            waited += delay
            self._poll(waiting)

    def _all_activities(self) -> list[Activity]:
        return [activity for operation in self._operations for activity in operation.result.activities]

    def _waiting(self) -> list[tuple[list[Activity], int]]:
        """Where each unfinished activity sits: (its operation's list, its index)."""
        return [
            (operation.result.activities, index)
            for operation in self._operations
            for index, activity in enumerate(operation.result.activities)
            if activity["state"] not in FINISHED
        ]

    def _poll(self, waiting: list[tuple[list[Activity], int]]) -> None:
        if len(waiting) == 1:
            activities, index = waiting[0]
            activities[index] = self._activities.get(activities[index]["activity_id"])
            return
        # Newest first: this batch is among the latest activities of the account.
        page = self.client.get("/activities", limit=min(500, len(self._all_activities()) + 50))
        seen = {activity["activity_id"]: activity for activity in page.get("activities", [])}
        for activities, index in waiting:
            activity_id = activities[index]["activity_id"]
            activities[index] = seen.get(activity_id) or self._activities.get(activity_id)

    def _report(self) -> None:
        """Tells each operation's listener its progress, in the order CTCT runs them: an operation
        whose activities all ended once (at 100 %), then the first one still running, and no later
        one — so a progress bar fed by them only moves forward."""
        for operation in self._operations:
            activities = operation.result.activities
            if operation.progress is None or not activities:
                continue
            unfinished = [number for number, activity in enumerate(activities, 1) if activity["state"] not in FINISHED]
            if not unfinished:
                if not operation.reported_done:
                    operation.reported_done = True
                    last = activities[-1]
                    operation.progress(
                        ActivityProgress(last["activity_id"], last["state"], 100, len(activities), len(activities))
                    )
                continue
            current = activities[unfinished[0] - 1]
            operation.progress(
                ActivityProgress(
                    current["activity_id"],
                    current["state"],
                    int(current.get("percent_done", 0)),
                    unfinished[0],
                    len(activities),
                )
            )
            return


class Activities(Resource):
    def get(self, activity_id: str) -> Activity:
        return self.client.get(f"/activities/{activity_id}")

    def unfinished(self) -> list[Activity]:
        """The account's activities still queued or running (newest first, the latest 500)."""
        listed: list[Activity] = self.client.get("/activities", limit=500).get("activities", [])
        return [activity for activity in listed if activity.get("state") not in FINISHED]

    def submit(self, kind: str, body: Mapping[str, Any]) -> Activity:
        # Every activity here is idempotent in effect, so a retried POST cannot duplicate data.
        return self.client.request("POST", f"/activities/{kind}", json=body, repeatable_post=True).json()

    def batch(self) -> ActivityBatch:
        """A batch: operations submitted one after another, then watched together (`watch`)."""
        return ActivityBatch(self)

    def _run(self, kind: str, bodies: list[Body], progress: ProgressCallback | None) -> BulkResult[Body]:
        """One operation on its own: its chunks submitted together, then watched together."""
        batch = self.batch()
        result = batch.submit(kind, bodies, progress)
        batch.watch()
        return result

    def import_contacts(
        self, rows: Sequence[ImportRow], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[ImportBody]:
        """Creates or updates contacts and adds them to up to 50 lists per activity."""
        return self.import_groups([(rows, list_ids)], progress)

    def import_groups(
        self,
        groups: Sequence[tuple[Sequence[ImportRow], Sequence[str]]],
        progress: ProgressCallback | None = None,
    ) -> BulkResult[ImportBody]:
        """Several imports (rows and the lists they go into), submitted and watched together."""
        return self._run("contacts_json_import", import_bodies(groups), progress)

    def add_memberships(
        self, contact_ids: Sequence[str], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[MembershipBody]:
        return self._run("add_list_memberships", membership_bodies(contact_ids, list_ids), progress)

    def remove_memberships(
        self, contact_ids: Sequence[str], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[MembershipBody]:
        return self._run("remove_list_memberships", membership_bodies(contact_ids, list_ids), progress)

    def delete_contacts(
        self, contact_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[ContactDeleteBody]:
        bodies: list[ContactDeleteBody] = [{"contact_ids": ids} for ids in chunked(contact_ids, MAX_CONTACT_IDS)]
        return self._run("contact_delete", bodies, progress)

    def delete_lists(
        self, list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[ListDeleteBody]:
        return self._run("list_delete", list_delete_bodies(list_ids), progress)

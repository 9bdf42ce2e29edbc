"""Bulk activities: chunked to CTCT's limits, submitted, polled to the end, results added up."""

# No `from __future__ import annotations`: a TypedDict tells its Required keys from the evaluated annotations.
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar

from ctct.api.resources import Resource

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
# Chunks submitted before watching them (CTCT queues up to 1,000 activities per account).
SUBMIT_TOGETHER = 50
POLL_MAX = 5.0

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


def _next_wait(activities: Iterable[Activity], waited: float, previous: float) -> float:
    """How long to wait before the next poll: at first a backoff; once CTCT shows progress, the
    time the rest should take at the pace seen so far — so a batch costs few polls."""
    states = list(activities)
    done = sum(1 for activity in states if activity["state"] in FINISHED)
    running = sum(int(activity.get("percent_done", 0)) for activity in states if activity["state"] == "processing")
    progress = done + running / 100
    if waited <= 0 or progress <= 0:
        return previous if waited <= 0 else min(previous * POLL_FACTOR, POLL_MAX)
    remaining = (len(states) - progress) * waited / progress
    return min(max(remaining, POLL_FIRST), POLL_CEILING)


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

    def _run(self, kind: str, bodies: list[Body], progress: ProgressCallback | None) -> BulkResult[Body]:
        """Submits the chunks together — CTCT queues them and runs them in turn — then watches them all
        with one `GET /activities` per poll: far fewer requests than polling each chunk."""
        # At the least a submit and a poll per chunk: refuse before the first if today cannot hold them.
        self.client.budget.ensure(len(bodies) + 1)
        result: BulkResult[Body] = BulkResult()
        for start in range(0, len(bodies), SUBMIT_TOGETHER):
            chunk = bodies[start : start + SUBMIT_TOGETHER]
            batch = [self.submit(kind, body) for body in chunk]
            result.activities += self._watch(batch, progress, offset=start, chunks=len(bodies))
            result.bodies += chunk
        return result

    def _watch(
        self, batch: list[Activity], progress: ProgressCallback | None, *, offset: int, chunks: int
    ) -> list[Activity]:
        latest = {activity["activity_id"]: activity for activity in batch}
        delay = POLL_FIRST
        waited = 0.0
        while True:
            waiting = [activity for activity in latest.values() if activity["state"] not in FINISHED]
            if progress is not None:
                done = len(latest) - len(waiting)
                current = waiting[0] if waiting else batch[-1]
                progress(
                    ActivityProgress(
                        current["activity_id"],
                        latest[current["activity_id"]]["state"],
                        int(latest[current["activity_id"]].get("percent_done", 0)),
                        offset + min(done + 1, len(batch)),
                        chunks,
                    )
                )
            if not waiting:
                return [latest[activity["activity_id"]] for activity in batch]
            delay = _next_wait(latest.values(), waited, delay)
            self.client.sleep(delay)
            waited += delay
            if len(waiting) == 1:
                latest[waiting[0]["activity_id"]] = self.get(waiting[0]["activity_id"])
                continue
            # Newest first: this batch is among the latest activities of the account.
            page = self.client.get("/activities", limit=min(500, len(latest) + 50))
            listed: list[Activity] = page.get("activities", [])
            seen = {activity["activity_id"]: activity for activity in listed}
            for activity_id in [a["activity_id"] for a in waiting]:
                latest[activity_id] = seen.get(activity_id) or self.get(activity_id)

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
        bodies: list[ImportBody] = [
            {"import_data": chunk, "list_ids": targets}
            for rows, list_ids in groups
            for targets in chunked(list_ids, MAX_TARGET_LISTS)
            for chunk in import_chunks(rows, targets)
        ]
        return self._run("contacts_json_import", bodies, progress)

    def _membership_bodies(self, contact_ids: Sequence[str], list_ids: Sequence[str]) -> list[MembershipBody]:
        return [
            {"source": {"contact_ids": ids}, "list_ids": targets}
            for targets in chunked(list_ids, MAX_TARGET_LISTS)
            for ids in chunked(contact_ids, MAX_CONTACT_IDS)
        ]

    def add_memberships(
        self, contact_ids: Sequence[str], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[MembershipBody]:
        return self._run("add_list_memberships", self._membership_bodies(contact_ids, list_ids), progress)

    def remove_memberships(
        self, contact_ids: Sequence[str], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[MembershipBody]:
        return self._run("remove_list_memberships", self._membership_bodies(contact_ids, list_ids), progress)

    def delete_contacts(
        self, contact_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[ContactDeleteBody]:
        bodies: list[ContactDeleteBody] = [{"contact_ids": ids} for ids in chunked(contact_ids, MAX_CONTACT_IDS)]
        return self._run("contact_delete", bodies, progress)

    def delete_lists(
        self, list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult[ListDeleteBody]:
        bodies: list[ListDeleteBody] = [{"list_ids": ids} for ids in chunked(list_ids, MAX_LIST_DELETE_IDS)]
        return self._run("list_delete", bodies, progress)

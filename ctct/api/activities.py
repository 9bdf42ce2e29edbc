"""Bulk activities: chunked to CTCT's limits, submitted, polled to the end, results added up."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctct.api.client import CtctClient

MAX_IMPORT_CONTACTS = 40_000
# CTCT drops whatever lies beyond 4 MB; stay clear of it.
MAX_IMPORT_BYTES = 4 * 1024 * 1024 - 64 * 1024
MAX_CONTACT_IDS = 500
MAX_TARGET_LISTS = 50
MAX_LIST_DELETE_IDS = 100
FINISHED = frozenset({"completed", "failed", "cancelled", "timed_out"})
POLL_FIRST = 1.0
POLL_FACTOR = 1.5
# The longest wait between polls once a pace is known.
POLL_CEILING = 30.0
# Chunks submitted before watching them (CTCT queues up to 1,000 activities per account).
SUBMIT_TOGETHER = 50
POLL_MAX = 5.0


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
class BulkResult:
    """The activities one bulk operation took, with their counts and errors added up."""

    activities: list[dict[str, Any]] = field(default_factory=list)
    # The body each activity was submitted with, in the same order: what it was asked to do.
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def outcomes(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """Each activity as CTCT ended it, with the body it was submitted with."""
        return zip(self.activities, self.bodies, strict=True)

    @staticmethod
    def clean(activity: dict[str, Any]) -> bool:
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
    def failed(self) -> list[dict[str, Any]]:
        return [activity for activity in self.activities if activity.get("state") != "completed"]

    @property
    def activity_errors(self) -> list[str]:
        return [str(error) for activity in self.activities for error in activity.get("activity_errors", [])]

    def count(self, name: str) -> int:
        return sum(int(activity.get("status", {}).get(name, 0)) for activity in self.activities)

    @property
    def cannot_add_to_list_count(self) -> int:
        return self.count("cannot_add_to_list_count")


def chunked(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def import_chunks(rows: Sequence[dict[str, Any]], list_ids: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    """Rows in chunks of at most 40,000 contacts and a payload under 4 MB."""
    overhead = len(json.dumps({"import_data": [], "list_ids": list(list_ids)}))
    chunk: list[dict[str, Any]] = []
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


def _next_wait(activities: Any, waited: float, previous: float) -> float:
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


class Activities:
    def __init__(self, client: CtctClient) -> None:
        self.client = client

    def get(self, activity_id: str) -> dict[str, Any]:
        return self.client.get(f"/activities/{activity_id}")

    def unfinished(self) -> list[dict[str, Any]]:
        """The account's activities still queued or running (newest first, the latest 500)."""
        listed = self.client.get("/activities", limit=500).get("activities", [])
        return [activity for activity in listed if activity.get("state") not in FINISHED]

    def submit(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        # Every activity here is idempotent in effect, so a retried POST cannot duplicate data.
        return self.client.request("POST", f"/activities/{kind}", json=body, repeatable_post=True).json()

    def _run(self, kind: str, bodies: list[dict[str, Any]], progress: ProgressCallback | None) -> BulkResult:
        """Submits the chunks together — CTCT queues them and runs them in turn — then watches them all
        with one `GET /activities` per poll: far fewer requests than polling each chunk."""
        # At the least a submit and a poll per chunk: refuse before the first if today cannot hold them.
        self.client.budget.ensure(len(bodies) + 1)
        result = BulkResult()
        for start in range(0, len(bodies), SUBMIT_TOGETHER):
            chunk = bodies[start : start + SUBMIT_TOGETHER]
            batch = [self.submit(kind, body) for body in chunk]
            result.activities += self._watch(batch, progress, offset=start, chunks=len(bodies))
            result.bodies += chunk
        return result

    def _watch(
        self, batch: list[dict[str, Any]], progress: ProgressCallback | None, *, offset: int, chunks: int
    ) -> list[dict[str, Any]]:
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
            listed = self.client.get("/activities", limit=min(500, len(latest) + 50)).get("activities", [])
            seen = {activity["activity_id"]: activity for activity in listed}
            for activity_id in [a["activity_id"] for a in waiting]:
                latest[activity_id] = seen.get(activity_id) or self.get(activity_id)

    def import_contacts(
        self, rows: Sequence[dict[str, Any]], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult:
        """Creates or updates contacts and adds them to up to 50 lists per activity."""
        return self.import_groups([(rows, list_ids)], progress)

    def import_groups(
        self,
        groups: Sequence[tuple[Sequence[dict[str, Any]], Sequence[str]]],
        progress: ProgressCallback | None = None,
    ) -> BulkResult:
        """Several imports (rows and the lists they go into), submitted and watched together."""
        bodies = [
            {"import_data": chunk, "list_ids": targets}
            for rows, list_ids in groups
            for targets in chunked(list_ids, MAX_TARGET_LISTS)
            for chunk in import_chunks(rows, targets)
        ]
        return self._run("contacts_json_import", bodies, progress)

    def _membership_bodies(self, contact_ids: Sequence[str], list_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [
            {"source": {"contact_ids": ids}, "list_ids": targets}
            for targets in chunked(list_ids, MAX_TARGET_LISTS)
            for ids in chunked(contact_ids, MAX_CONTACT_IDS)
        ]

    def add_memberships(
        self, contact_ids: Sequence[str], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult:
        return self._run("add_list_memberships", self._membership_bodies(contact_ids, list_ids), progress)

    def remove_memberships(
        self, contact_ids: Sequence[str], list_ids: Sequence[str], progress: ProgressCallback | None = None
    ) -> BulkResult:
        return self._run("remove_list_memberships", self._membership_bodies(contact_ids, list_ids), progress)

    def delete_contacts(self, contact_ids: Sequence[str], progress: ProgressCallback | None = None) -> BulkResult:
        bodies = [{"contact_ids": ids} for ids in chunked(contact_ids, MAX_CONTACT_IDS)]
        return self._run("contact_delete", bodies, progress)

    def delete_lists(self, list_ids: Sequence[str], progress: ProgressCallback | None = None) -> BulkResult:
        bodies = [{"list_ids": ids} for ids in chunked(list_ids, MAX_LIST_DELETE_IDS)]
        return self._run("list_delete", bodies, progress)

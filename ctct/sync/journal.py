"""The sync journal (runs, steps, row changes) and the one-sync-at-a-time lock.

Each journal write is its own transaction, committed before and after the work it describes, so
a crash leaves an exact record of what was started and what finished.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from ctct.db import Database
from ctct.db.models import RowChange, SyncLock, SyncRun, SyncStep, utcnow
from ctct.errors import SyncBusy, SyncRefused
from ctct.sync.changes import ROW_KINDS
from ctct.sync.merge import MergePlan
from ctct.sync.plan import Plan

LOCK_NAME = "ctct-sync"
# A lock lapses this long after its holder last renewed it; the holder renews it every
# LOCK_RENEW_EVERY while the sync runs, so only a dead or frozen holder lets it lapse.
LOCK_LIFETIME = dt.timedelta(minutes=2)
LOCK_RENEW_EVERY = 20.0


class SyncInterrupted(KeyboardInterrupt):
    """A stop asked for from outside (SIGTERM, SIGHUP): handled as Ctrl-C is."""


def _process_started(pid: int) -> str | None:
    """When the process `pid` started, as the kernel counts it (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name is in parentheses and may hold spaces: count fields after it.
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def holder_name() -> str:
    """Who holds the lock: host, process id, and the process's start time — so that a new
    process that happens to get the same id is not mistaken for the holder."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_started(pid) or 'unknown'}"


def holder_is_dead(holder: str) -> bool:
    """True when `holder` was a process on this host that provably no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return started not in ("", "unknown") and _process_started(pid) not in (None, started)


def _take_over_dead_lock(database: Database, now: dt.datetime) -> None:
    with database.session() as session:
        session.execute(delete(SyncLock).where(SyncLock.name == LOCK_NAME, SyncLock.expires_at < now))
        current = session.get(SyncLock, LOCK_NAME)
        if current is not None and holder_is_dead(current.holder):
            session.execute(delete(SyncLock).where(SyncLock.name == LOCK_NAME, SyncLock.holder == current.holder))


class _Renewal(threading.Thread):
    """Keeps the lock alive while the sync runs; stops with it."""

    def __init__(self, database: Database, holder: str) -> None:
        super().__init__(name="sync-lock-renewal", daemon=True)
        self.database, self.holder = database, holder
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(LOCK_RENEW_EVERY):
            # A missed renewal is retried at the next beat: the lifetime covers several.
            with contextlib.suppress(SQLAlchemyError), self.database.session() as session:
                session.execute(
                    update(SyncLock)
                    .where(SyncLock.name == LOCK_NAME, SyncLock.holder == self.holder)
                    .values(expires_at=utcnow() + LOCK_LIFETIME)
                )


@contextmanager
def sync_lock(database: Database, run_id: int | None = None) -> Iterator[None]:
    """One sync at a time, across processes, on SQLite and PostgreSQL alike. The lock is renewed
    while held; one whose holder is dead on this host, or whose renewal lapsed, is taken over."""
    holder = holder_name()
    _take_over_dead_lock(database, utcnow())
    try:
        with database.session() as session:
            session.execute(
                insert(SyncLock).values(
                    name=LOCK_NAME, holder=holder, run_id=run_id, expires_at=utcnow() + LOCK_LIFETIME
                )
            )
    except IntegrityError:
        with database.session() as session:
            current = session.get(SyncLock, LOCK_NAME)
            who = f"{current.holder}, run {current.run_id}" if current else "another process"
        raise SyncBusy(
            f"another sync is running ({who}); try again when it has finished "
            "(if it is not running any more: python -m ctct unlock)"
        ) from None
    renewal = _Renewal(database, holder)
    renewal.start()
    try:
        yield
    finally:
        renewal.stopped.set()
        with database.session() as session:
            session.execute(delete(SyncLock).where(SyncLock.name == LOCK_NAME, SyncLock.holder == holder))


def note_lock_run(database: Database, run_id: int) -> None:
    """Names the run the held lock is for (what `another sync is running` reports)."""
    with database.session() as session:
        session.execute(
            update(SyncLock).where(SyncLock.name == LOCK_NAME, SyncLock.holder == holder_name()).values(run_id=run_id)
        )


def current_lock(database: Database) -> SyncLock | None:
    with database.session() as session:
        return session.get(SyncLock, LOCK_NAME)


def break_lock(database: Database) -> SyncLock | None:
    """Removes the lock whoever holds it (`python -m ctct unlock`); returns what it was."""
    with database.session() as session:
        current = session.get(SyncLock, LOCK_NAME)
        if current is not None:
            session.delete(current)
        return current


def start_run(
    database: Database,
    plan: Plan | MergePlan,
    started_by: str,
    *,
    status: str = "running",
    with_run: Callable[[Session, int], None] | None = None,
) -> int:
    """The run of `plan`, with one row change per planned row; a both-ways plan's rows say on which
    side they are made. `status` queued: a run the worker is to commit; `with_run` adds to the
    same transaction (the plan a queued run keeps), so no one sees the run without it."""
    with database.session() as session:
        run = SyncRun(
            direction=str(plan.direction),
            status=status,
            started_by=started_by,
            plan=run_plan(plan),
            counts=plan.counts(),
        )
        session.add(run)
        session.flush()
        run_id = run.id
        rows = []
        parts = plan.parts if isinstance(plan, MergePlan) else ((None, plan),)
        for side, part in parts:
            rows += _planned_rows(run_id, part, side)
        if rows:
            session.connection().execute(insert(RowChange), rows)
        if with_run is not None:
            with_run(session, run_id)
    return run_id


def replace_planned_rows(
    database: Database, run_id: int, plan: Plan | MergePlan, *, held_because: list[str] | None = None
) -> None:
    """A run not started yet (held for review) planned again: its rows, counts and plan anew (and
    why it is held, when given)."""
    with database.session() as session:
        session.execute(delete(RowChange).where(RowChange.run_id == run_id))
        if held_because is None:
            held_because = (session.get(SyncRun, run_id).plan or {}).get("held_because")  # type: ignore[union-attr]
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(plan={**run_plan(plan), "held_because": held_because}, counts=plan.counts())
        )
        rows: list[dict[str, Any]] = []
        for side, part in plan.parts if isinstance(plan, MergePlan) else ((None, plan),):
            rows += _planned_rows(run_id, part, side)
        if rows:
            session.connection().execute(insert(RowChange), rows)


# A run waiting to be committed: queued for a worker, claimed by one, or held for review.
WAITING = ("queued", "running", "needs_review")


def mark_running(database: Database, run_id: int, started_by: str | None = None) -> None:
    """A queued or held run, started now; SyncBusy-free refusal (SyncRefused) when it no longer
    waits — dismissed, or committed meanwhile by another console — so no run is made twice."""
    values: dict[str, Any] = {"status": "running", "started_at": utcnow()}
    if started_by:
        values["started_by"] = started_by
    with database.session() as session:
        started = session.execute(
            update(SyncRun).where(SyncRun.id == run_id, SyncRun.status.in_(WAITING)).values(**values)
        )
        if started.rowcount != 1:  # type: ignore[attr-defined]
            status = session.scalar(select(SyncRun.status).where(SyncRun.id == run_id))
            raise SyncRefused(
                f"run {run_id} is {str(status or 'gone').replace('_', ' ')}: it no longer waits to be committed"
            )


def run_plan(plan: Plan | MergePlan) -> dict[str, Any]:
    """What a run keeps of its plan: counts, warnings, requests; a both-ways plan's counts per side
    and its conflicts with their resolutions."""
    if isinstance(plan, MergePlan):
        return {
            "counts": plan.counts(),
            "sides": plan.side_counts(),
            "conflicts": [conflict.to_json() for conflict in plan.conflicts],
            "warnings": [w.message for w in plan.all_warnings()],
            "mass_removals": plan.mass_removals,
            "estimated_requests": plan.estimated_requests,
        }
    return {
        "counts": plan.counts(),
        "warnings": [w.message for w in plan.warnings],
        "mass_removals": list(plan.mass_removals),
        "estimated_requests": plan.estimated_requests,
    }


def _planned_rows(run_id: int, plan: Plan, side: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind, journal_kind in ROW_KINDS.items():
        frame = plan[kind]
        if frame.empty:
            continue
        lists = frame[journal_kind.list_column] if journal_kind.list_column else [None] * len(frame)
        emails = frame[journal_kind.email_column] if journal_kind.email_column else [None] * len(frame)
        details = _details(kind, frame)
        if side is not None:
            details = [f"{side}: {detail}" if detail else side for detail in details]
        rows += [
            {
                "run_id": run_id,
                "change_kind": journal_kind.label,
                "list_name": lst,
                "email": email,
                "detail": detail,
                "outcome": "planned",
            }
            for lst, email, detail in zip(lists, emails, details, strict=True)
        ]
    return rows


def _details(kind: str, frame: Any) -> list[str | None]:
    if kind == "lists_rename":
        return [f"{old} → {new}" for old, new in zip(frame["from"], frame["to"], strict=True)]
    if kind == "skipped":
        return list(frame["reason"])
    if kind == "contacts_update":
        return list(frame["changes"])
    if kind == "contacts_create":
        return ["restored" if restored else None for restored in frame["restored"]]
    if kind == "lists_create":
        return ["linked to the list of the same name" if link else None for link in frame["link"]]
    return [None] * len(frame)


# A step whose activities were queued at CTCT, the push stopping before they were watched to their end.
STEP_QUEUED = "queued"


@contextmanager
def journal_step(
    database: Database, run_id: int, position: int, kind: str, payload: dict[str, Any]
) -> Iterator[SyncStep]:
    """Records a step as started before the work and as done (or failed) after it. A step whose
    activities CTCT had queued when the push stopped (at a later step, or while watching) is
    `queued`, not failed: they go on at CTCT, and the check of the next sync sees what they did."""
    with database.session() as session:
        step = SyncStep(
            run_id=run_id, position=position, kind=kind, status="started", payload=payload, started_at=utcnow()
        )
        session.add(step)
        session.flush()
        step_id = step.id
    record = SyncStep(id=step_id, run_id=run_id, position=position, kind=kind, payload=payload)
    try:
        yield record
    except Exception as error:
        with database.session() as session:
            session.execute(
                update(SyncStep)
                .where(SyncStep.id == step_id)
                .values(
                    status=STEP_QUEUED if record.activity_id else "failed",
                    error=str(error)[:2000],
                    finished_at=utcnow(),
                    activity_id=record.activity_id,
                )
            )
        raise
    with database.session() as session:
        session.execute(
            update(SyncStep)
            .where(SyncStep.id == step_id)
            .values(status="done", result=record.result, activity_id=record.activity_id, finished_at=utcnow())
        )


def finish_run(
    database: Database,
    run_id: int,
    status: str,
    requests_used: int,
    error: str | None = None,
    *,
    failed: list[dict[str, str]] | None = None,
) -> None:
    """Ends a run; when it ran to the end, its rows are marked applied, skipped, or failed (with
    the reason) as observed."""
    with database.session() as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(status=status, finished_at=utcnow(), requests_used=requests_used, error=error)
        )
        if status not in FINISHED_STATES:
            return
        session.execute(
            update(RowChange)
            .where(RowChange.run_id == run_id, RowChange.outcome == "planned", RowChange.change_kind != "skipped")
            .values(outcome="applied")
        )
        session.execute(
            update(RowChange)
            .where(RowChange.run_id == run_id, RowChange.change_kind == "skipped")
            .values(outcome="skipped")
        )
        for row in failed or []:
            label = ROW_KINDS[row["kind"]].label if row["kind"] in ROW_KINDS else row["kind"]
            matches = [RowChange.run_id == run_id, RowChange.change_kind == label]
            if row.get("email"):
                matches.append(RowChange.email == row["email"])
            if row.get("list"):
                matches.append(RowChange.list_name == row["list"])
            session.execute(update(RowChange).where(*matches).values(outcome="failed", detail=row["reason"][:2000]))


def record_empty_run(database: Database, plan: Plan | MergePlan, started_by: str, schedule_id: int | None) -> int:
    """A scheduled sync that found both sides in step: completed, nothing changed, its reads counted."""
    with database.session() as session:
        run = SyncRun(
            direction=str(plan.direction),
            status="completed",
            started_by=started_by,
            plan=run_plan(plan),
            counts=plan.counts(),
            requests_used=plan.snapshot_requests,
            finished_at=utcnow(),
            schedule_id=schedule_id,
            progress=1.0,
            progress_message="nothing to change",
        )
        session.add(run)
        session.flush()
        return run.id


def record_failed_run(database: Database, direction: str, started_by: str, error: str, schedule_id: int | None) -> int:
    """A scheduled sync that could not even plan (CTCT unreachable, the token revoked): failed, why."""
    with database.session() as session:
        run = SyncRun(
            direction=direction,
            status="failed",
            started_by=started_by,
            error=error[:2000],
            finished_at=utcnow(),
            schedule_id=schedule_id,
        )
        session.add(run)
        session.flush()
        return run.id


def record_import_run(database: Database, direction: str, counts: dict[str, Any]) -> int:
    with database.session() as session:
        run = SyncRun(direction=direction, status="completed", counts=counts, finished_at=utcnow())
        session.add(run)
        session.flush()
        return run.id


# A run that ran to its end: every row applied, or some failed (and said why).
FINISHED_STATES = ("completed", "completed_with_errors")
# A run that did not finish: killed while running, stopped by an error, or interrupted.
UNFINISHED = ("running", "failed", "interrupted")


def latest_unfinished_run(database: Database, direction: str) -> SyncRun | None:
    with database.session() as session:
        return session.scalar(
            select(SyncRun)
            .where(SyncRun.direction == direction, SyncRun.status.in_(UNFINISHED))
            .order_by(SyncRun.id.desc())
        )


def mark_resumed(database: Database, run_id: int, by_run: int) -> None:
    with database.session() as session:
        session.execute(
            update(SyncRun).where(SyncRun.id == run_id).values(status="resumed", error=f"resumed by run {by_run}")
        )

"""Runs that outlive the page: the queue the worker takes commits from, the runs held for review,
and the run's live progress in the database (SPEC §7, "Runs outlive the browser").

A commit from the console is queued here with the very plan that was previewed (a `HeldPlan`), and
the worker (ctct/worker.py) commits it. A scheduled run whose plan needs a decision is held here as
`needs_review` with its plan; a person commits it (`review`, re-planned when either side changed
since) or dismisses it. Whoever runs a sync writes its progress to the run's row, so any page can
show it, and leave and come back.
"""

from __future__ import annotations

import datetime as dt
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ctct.db import Database
from ctct.db.models import HeldPlan, SyncRun, SyncStep, SyncWorker, utcnow
from ctct.errors import InvalidInput, SyncRefused
from ctct.sync import journal
from ctct.sync.merge import MergePlan
from ctct.sync.plan import Plan
from ctct.sync.push_progress import Progress

QUEUED, RUNNING, NEEDS_REVIEW, DISMISSED = "queued", "running", "needs_review", "dismissed"
# A worker that has not said it is alive for this long is taken for stopped.
WORKER_SILENCE = dt.timedelta(seconds=20)
# The least time between two writes of a run's progress (the last one is always written).
PROGRESS_EVERY = 0.5

AnyPlan = Plan | MergePlan


# The queue


def queue_run(
    database: Database,
    plan: AnyPlan,
    *,
    started_by: str,
    allow_mass_removal: bool = False,
    status: str = QUEUED,
    schedule_id: int | None = None,
    held_because: list[str] | None = None,
) -> int:
    """Journals `plan` as a run in `status` (queued for the worker, or needs_review) with the plan
    itself kept beside it; returns the run's id."""

    def keep_the_plan(session: Session, run_id: int) -> None:
        session.add(
            HeldPlan(run_id=run_id, body=pickle.dumps(plan), options={"allow_mass_removal": allow_mass_removal})
        )
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.schedule_id = schedule_id
        run.progress_message = "waiting for the worker" if status == QUEUED else "needs review"
        if held_because:
            run.plan = {**(run.plan or {}), "held_because": held_because}

    return journal.start_run(database, plan, started_by, status=status, with_run=keep_the_plan)


@dataclass(frozen=True)
class Held:
    run_id: int
    status: str
    plan: AnyPlan
    allow_mass_removal: bool
    schedule_id: int | None


def held(database: Database, run_id: int, states: tuple[str, ...] = (QUEUED, NEEDS_REVIEW)) -> Held:
    """A queued or held run (in one of `states`) with its plan; InvalidInput naming the run when
    there is none."""
    with database.session() as session:
        run = session.get(SyncRun, run_id)
        body = session.get(HeldPlan, run_id)
        if run is None:
            raise InvalidInput("run", f"there is no run {run_id}")
        if body is None or run.status not in states:
            raise InvalidInput("run", f"run {run_id} is {run.status.replace('_', ' ')}, not queued or held for review")
        # Unpickled only from this console's own database, which only this console writes.
        plan = pickle.loads(body.body)
        options = body.options or {}
        return Held(run_id, run.status, plan, bool(options.get("allow_mass_removal")), run.schedule_id)


def requeue_held(database: Database, run_id: int, plan: AnyPlan, *, allow_mass_removal: bool) -> None:
    """A run held for review, confirmed by a person with `plan`: queued for the worker."""
    with database.session() as session:
        body = session.get(HeldPlan, run_id)
        run = session.get(SyncRun, run_id)
        if body is None or run is None or run.status != NEEDS_REVIEW:
            raise SyncRefused(f"run {run_id} is no longer held for review")
        body.body = pickle.dumps(plan)
        body.options = {"allow_mass_removal": allow_mass_removal}
        run.status, run.progress_message = QUEUED, "waiting for the worker"


def claim_queued(database: Database) -> int | None:
    """The oldest queued run, now marked running by this process; None when none is queued. Two
    workers never claim one run: the update only succeeds while the run is still queued."""
    with database.session() as session:
        for run_id in session.scalars(select(SyncRun.id).where(SyncRun.status == QUEUED).order_by(SyncRun.id).limit(5)):
            claimed = session.execute(
                update(SyncRun)
                .where(SyncRun.id == run_id, SyncRun.status == QUEUED)
                .values(
                    status=RUNNING, started_at=utcnow(), progress_message=f"taken by the worker {journal.holder_name()}"
                )
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return int(run_id)
    return None


def recover_orphans(database: Database, now: dt.datetime | None = None) -> list[int]:
    """Runs a worker claimed and then died with — still `running`, their plan still held, no live
    sync lock for them, claimed longer ago than a lock lives: queued again when no step of theirs
    started (nothing was made), else marked interrupted (`sync RUN --resume` finishes them)."""
    cutoff = (now or utcnow()) - journal.LOCK_LIFETIME
    lock = journal.current_lock(database)
    live = lock.run_id if lock is not None and not journal.holder_is_dead(lock.holder) else None
    recovered: list[int] = []
    with database.session() as session:
        orphans = session.execute(
            select(SyncRun.id, SyncRun.started_at)
            .join(HeldPlan, HeldPlan.run_id == SyncRun.id)
            .where(SyncRun.status == RUNNING)
        ).all()
        for run_id, started_at in orphans:
            if run_id == live or _aware(started_at) > cutoff:
                continue
            started = session.scalar(select(SyncStep.id).where(SyncStep.run_id == run_id).limit(1))
            if started is None:
                session.execute(
                    update(SyncRun)
                    .where(SyncRun.id == run_id, SyncRun.status == RUNNING)
                    .values(status=QUEUED, progress_message="queued again: the worker that took it stopped")
                )
            else:
                session.execute(
                    update(SyncRun)
                    .where(SyncRun.id == run_id, SyncRun.status == RUNNING)
                    .values(status="interrupted", finished_at=utcnow(), error="the worker running it stopped")
                )
                session.execute(delete(HeldPlan).where(HeldPlan.run_id == run_id))
            recovered.append(int(run_id))
    return recovered


def fail_unless_finished(database: Database, run_id: int, why: str) -> None:
    """A run whose commit did not start or stopped: failed with why — unless the commit itself
    ended it (failed or interrupted mid-way, which it journals). Its held plan goes either way."""
    with database.session() as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status.in_((RUNNING, QUEUED)))
            .values(status="failed", finished_at=utcnow(), error=why[:2000], progress_message="failed")
        )
        session.execute(delete(HeldPlan).where(HeldPlan.run_id == run_id))


def back_to_queue(database: Database, run_id: int, why: str) -> None:
    """A claimed run that could not start (another sync holds the lock): queued again."""
    with database.session() as session:
        session.execute(update(SyncRun).where(SyncRun.id == run_id).values(status=QUEUED, progress_message=why))


def drop_held_plan(database: Database, run_id: int) -> None:
    with database.session() as session:
        session.execute(delete(HeldPlan).where(HeldPlan.run_id == run_id))


def dismiss(database: Database, run_id: int, by: str = "cli") -> None:
    """Drops a run held for review (or still queued): nothing of it is made."""
    with database.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise InvalidInput("run", f"there is no run {run_id}")
        # One update that only succeeds while the run still waits: a worker that took it meanwhile keeps it.
        dismissed = session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status.in_((NEEDS_REVIEW, QUEUED)))
            .values(status=DISMISSED, finished_at=utcnow(), progress_message=f"dismissed by {by}")
        )
        if dismissed.rowcount != 1:  # type: ignore[attr-defined]
            raise SyncRefused(
                f"run {run_id} is {run.status.replace('_', ' ')}: only a held or queued run can be dismissed"
            )
        session.execute(delete(HeldPlan).where(HeldPlan.run_id == run_id))


def discard_run(database: Database, run_id: int) -> None:
    """A run journaled but never started (its plan held), removed with its rows: a scheduled run
    that found another sync running gives its due time back instead."""
    with database.session() as session:
        session.execute(delete(SyncRun).where(SyncRun.id == run_id, SyncRun.status.in_((RUNNING, QUEUED))))


def held_for_schedule(database: Database, schedule_id: int) -> int | None:
    """The run of this schedule waiting for review, if any."""
    with database.session() as session:
        return session.scalar(
            select(SyncRun.id).where(SyncRun.schedule_id == schedule_id, SyncRun.status == NEEDS_REVIEW).limit(1)
        )


def replan_run(database: Database, run_id: int, plan: AnyPlan, *, held_because: list[str] | None = None) -> None:
    """A held run planned again: its rows and plan become the new plan's. Refused (SyncRefused)
    once it no longer waits for review — queued, committed or dismissed meanwhile."""
    state = run_state(database, run_id)
    if state is None or state.status != NEEDS_REVIEW:
        raise SyncRefused(f"run {run_id} is no longer held for review")
    journal.replace_planned_rows(database, run_id, plan, held_because=held_because)
    with database.session() as session:
        body = session.get(HeldPlan, run_id)
        if body is not None:
            body.body = pickle.dumps(plan)


def needs_decision(plan: AnyPlan, budget_left: int, resolutions: Mapping[str, str] | None = None) -> list[str]:
    """Why an unattended run may not commit `plan` by itself (empty: it may): a conflict without
    a stored resolution, a mass removal, or more requests than are left today."""
    reasons: list[str] = []
    if isinstance(plan, MergePlan):
        stored = resolutions or {}
        open_conflicts = [c for c in plan.conflicts if c.id not in stored and c.kind not in stored]
        if open_conflicts:
            reasons.append(
                f"{len(open_conflicts):,} conflict(s) to resolve: "
                + "; ".join(f"'{c.list}' ({c.kind.replace('_', ' ')})" for c in open_conflicts[:3])
            )
    if plan.mass_removals:
        reasons.append("a mass removal to confirm: " + "; ".join(plan.mass_removals[:3]))
    if plan.estimated_requests > budget_left:
        reasons.append(
            f"about {plan.estimated_requests:,} requests needed, {budget_left:,} left today (Constant Contact's budget)"
        )
    return reasons


def runs_needing_review(database: Database) -> list[SyncRun]:
    with database.session() as session:
        found = list(session.scalars(select(SyncRun).where(SyncRun.status == NEEDS_REVIEW).order_by(SyncRun.id)))
        session.expunge_all()
        return found


def active_runs(database: Database) -> list[SyncRun]:
    """Runs queued or running, oldest first: what the Synchronize page follows."""
    with database.session() as session:
        found = list(session.scalars(select(SyncRun).where(SyncRun.status.in_((QUEUED, RUNNING))).order_by(SyncRun.id)))
        session.expunge_all()
        return found


def run_state(database: Database, run_id: int) -> SyncRun | None:
    with database.session() as session:
        run = session.get(SyncRun, run_id)
        if run is not None:
            session.expunge(run)
        return run


# Progress


class RunProgress:
    """A Progress that also writes the run's progress to its row (at most every PROGRESS_EVERY
    seconds, and always the end), so that any page can show it."""

    def __init__(
        self, database: Database, run_id: int, inner: Progress, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.database, self.run_id, self.inner, self.clock = database, run_id, inner, clock
        self.written_at = -PROGRESS_EVERY
        self.last_message: str | None = None

    def __call__(self, fraction: float, message: str) -> None:
        self.inner(fraction, message)
        now = self.clock()
        if message == self.last_message and now - self.written_at < PROGRESS_EVERY and fraction < 1.0:
            return
        self.written_at, self.last_message = now, message
        with self.database.session() as session:
            session.execute(
                update(SyncRun)
                .where(SyncRun.id == self.run_id)
                .values(progress=max(0.0, min(1.0, fraction)), progress_message=message[:500])
            )


# Workers


def note_worker_alive(database: Database, name: str, now: dt.datetime | None = None) -> None:
    with database.session() as session:
        found = session.get(SyncWorker, name)
        if found is None:
            session.add(SyncWorker(name=name, seen_at=now or utcnow()))
        else:
            found.seen_at = now or utcnow()


def note_worker_stopped(database: Database, name: str) -> None:
    with database.session() as session:
        session.execute(delete(SyncWorker).where(SyncWorker.name == name))


def workers_alive(database: Database, now: dt.datetime | None = None) -> list[str]:
    """The workers that said they were alive lately."""
    since = (now or utcnow()) - WORKER_SILENCE
    with database.session() as session:
        seen = session.execute(select(SyncWorker.name, SyncWorker.seen_at)).all()
    return [name for name, at in seen if _aware(at) >= since]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def describe(run: SyncRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "direction": run.direction,
        "state": run.status,
        "progress": run.progress,
        "message": run.progress_message,
        "schedule_id": run.schedule_id,
    }

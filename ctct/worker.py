"""`python -m ctct worker`: the background worker that commits queued runs and runs schedules.

Each round it says it is alive (the console shows whether a worker is there), commits the queued
runs one by one — the very plans that were previewed, refused as stale when either side changed
since — and runs each due schedule: it plans, commits by itself when the plan needs no decision
(ctct/sync/background.py: needs_decision), and otherwise holds the run as needs review with its
plan. Rounds run in the main thread, at the times APScheduler's interval trigger gives; `--once`
runs one round and exits.
Several workers (and consoles) on one database never run one sync twice: a queued run is claimed
by one update, a due time by one insert (ctct/sync/schedules.py), and the sync lock keeps one sync
at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.triggers.interval import IntervalTrigger

from ctct.db import Database
from ctct.db.models import utcnow
from ctct.errors import SyncBusy, SyncRefused
from ctct.sync import background, journal, schedules
from ctct.sync.apply import SyncService

log = logging.getLogger("ctct.worker")
ROUND_SECONDS = 2.0
HEARTBEAT_SECONDS = 5.0


@dataclass
class RoundReport:
    committed: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    nothing_to_do: list[int] = field(default_factory=list)

    @property
    def runs(self) -> list[int]:
        return sorted(self.committed + self.held + self.failed + self.nothing_to_do)


class Worker:
    """One worker. `service` makes the sync service a round uses (a new client each round, so a
    refreshed token is picked up); `now` is the clock schedules are due by (a fake one in tests)."""

    def __init__(
        self,
        database: Database,
        service: Callable[[], SyncService],
        *,
        name: str | None = None,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database, self.make_service, self.now = database, service, now
        self.name = name or journal.holder_name()

    def run_once(self) -> RoundReport:
        """One round: the queued runs, then the schedules due now. A queued run that finds another
        sync holding the lock waits for the next round (and so do the ones after it)."""
        report = RoundReport()
        background.note_worker_alive(self.database, self.name, self.now())
        background.recover_orphans(self.database, self.now())
        while (run_id := background.claim_queued(self.database)) is not None:
            if not self._commit_queued(run_id, report):
                break
        for due in schedules.claim_due(self.database, self.now(), self.name):
            self._run_scheduled(due, report)
        return report

    def _commit_queued(self, run_id: int, report: RoundReport) -> bool:
        """Commits a claimed run; False when another sync holds the lock (the run waits)."""
        try:
            held = background.held(self.database, run_id, states=(background.RUNNING,))
            service = self.make_service()
            service.commit(held.plan, allow_mass_removal=held.allow_mass_removal, started_by=self.name, run_id=run_id)
        except SyncBusy as busy:
            background.back_to_queue(self.database, run_id, f"waiting: {busy}")
            return False
        except Exception as error:
            self._failed(run_id, error, report)
            return True
        report.committed.append(run_id)
        return True

    def _failed(self, run_id: int, error: Exception, report: RoundReport) -> None:
        """A run that did not complete: journaled failed with why, unless the commit already ended
        it (interrupted, failed mid-way); the worker goes on with the next."""
        if not isinstance(error, SyncRefused):
            log.error("run %s failed: %s", run_id, error, exc_info=error)
        background.fail_unless_finished(self.database, run_id, str(error) or type(error).__name__)
        report.failed.append(run_id)

    def _run_scheduled(self, due: schedules.Due, report: RoundReport) -> None:
        started_by = f"schedule {due.schedule_id}"
        try:
            service = self.make_service()
            plan = service.plan(due.direction, resolutions=due.resolutions)
        except Exception as error:
            run_id = journal.record_failed_run(self.database, due.direction, started_by, str(error), due.schedule_id)
            schedules.note_firing_run(self.database, due, run_id)
            report.failed.append(run_id)
            return
        if plan.is_empty and not len(plan["contacts_link"]):
            run_id = journal.record_empty_run(self.database, plan, started_by, due.schedule_id)
            schedules.note_firing_run(self.database, due, run_id)
            report.nothing_to_do.append(run_id)
            return
        reasons = background.needs_decision(plan, service.client.budget.remaining(), due.resolutions)
        waiting = background.held_for_schedule(self.database, due.schedule_id) if reasons else None
        if waiting is not None:
            # One held run per schedule: the one waiting for review takes this newer plan.
            background.replan_run(self.database, waiting, plan, held_because=reasons)
            schedules.note_firing_run(self.database, due, waiting)
            report.held.append(waiting)
            return
        run_id = background.queue_run(
            self.database,
            plan,
            started_by=started_by,
            status=background.NEEDS_REVIEW if reasons else background.RUNNING,
            schedule_id=due.schedule_id,
            held_because=reasons,
        )
        schedules.note_firing_run(self.database, due, run_id)
        if reasons:
            report.held.append(run_id)
            return
        try:
            service.commit(plan, started_by=started_by, run_id=run_id)
        except SyncBusy:
            # Another sync runs, and will change what this plan saw: the due time is given back,
            # and a later round plans it afresh.
            background.discard_run(self.database, run_id)
            schedules.release_firing(self.database, due)
            return
        except Exception as error:
            self._failed(run_id, error, report)
            return
        report.committed.append(run_id)

    def run_forever(self, every: float = ROUND_SECONDS) -> None:
        """Rounds every `every` seconds until stopped. The rounds run in this, the main, thread:
        Ctrl-C or SIGTERM stops a commit under way as it stops the CLI's (the run is marked
        interrupted, its lock released; `sync DIRECTION --resume` finishes it). When the next
        round is due is APScheduler's interval trigger's to say."""
        trigger = IntervalTrigger(seconds=every, timezone=dt.UTC)
        alive = threading.Event()
        # Alive while a long commit runs, too: the console takes a silent worker for stopped.
        heartbeat = threading.Thread(target=self._say_alive, args=(alive,), daemon=True, name="worker-heartbeat")
        heartbeat.start()
        try:
            while True:
                self.run_once()
                # The next round at the trigger's next time after now (not after the last round's
                # time, which a long commit leaves far behind).
                due = trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC))
                if due is None:
                    return
                time.sleep(max((due - dt.datetime.now(dt.UTC)).total_seconds(), 0.0))
        finally:
            alive.set()
            background.note_worker_stopped(self.database, self.name)

    def _say_alive(self, stopped: threading.Event) -> None:
        while not stopped.wait(HEARTBEAT_SECONDS):
            try:
                background.note_worker_alive(self.database, self.name)
            except Exception:  # a database hiccup: the next beat says it again
                log.warning("the worker could not say it is alive", exc_info=True)

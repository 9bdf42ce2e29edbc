"""Commit: the plan → preview → commit service, and the run a commit is.

`SyncService` is what the CLI, the pages and the notebook session use. A commit takes the sync
lock, refuses a plan that is stale, a mass removal not confirmed or a run over the request budget,
starts the run in the journal, then hands the changes to the one module that makes them on their
side — ctct/sync/push.py changes CTCT, ctct/sync/pull.py changes Customer Focus, each recording
every step in the journal before and after — records the baseline (ctct/sync/recording.py) and
finishes the run. Nothing here changes either side itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ctct import display
from ctct.api.client import CtctClient
from ctct.api.errors import BudgetExceeded
from ctct.config import Settings
from ctct.db import Database
from ctct.errors import InvalidInput, SyncRefused
from ctct.sync import background, journal, mirror, staleness
from ctct.sync.changes import Direction, title_of
from ctct.sync.local_read import crm_frames, local_snapshot
from ctct.sync.merge import MergePlan, plan_both
from ctct.sync.outcome import Outcome
from ctct.sync.plan import (
    IMPORT,
    PULL,
    PUSH,
    MassRemovalPolicy,
    Plan,
    describe_counts,
    plan_import,
    plan_pull,
    plan_push,
)
from ctct.sync.pull import pull
from ctct.sync.push import push
from ctct.sync.push_progress import Progress, silent
from ctct.sync.recording import local_after, record_baseline
from ctct.sync.remote_read import ReadPolicy, observe_push, read_remote, removes_or_deletes
from ctct.sync.snapshot import Baseline, LocalSnapshot, RemoteSnapshot, load_baseline

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
            display.counts_table((title_of(kind), count) for kind, count in self.counts.items()),
            display.messages(self.warnings, "warning"),
            display.messages([f"Did not apply — {row}" for row in failed], "error"),
            display.messages([f"Constant Contact reported: {error}" for error in self.activity_errors], "error"),
        )


def known_direction(direction: str) -> Direction:
    """The direction named, or InvalidInput: a direction nothing here knows is never guessed."""
    try:
        return Direction(direction)
    except ValueError:
        known = ", ".join(Direction)
        raise InvalidInput("direction", f"direction '{direction}' is not one of {known}") from None


class SyncService:
    """Plan → preview → commit, for import, push and pull; the same service for CLI and pages."""

    def __init__(
        self,
        database: Database,
        client: CtctClient,
        settings: Settings,
        policy: MassRemovalPolicy | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.settings = settings
        self.policy = policy or MassRemovalPolicy.from_settings(settings)
        # When CTCT may be read incrementally (ctct/sync/remote_read.py); `clock` for tests.
        self.read_policy = ReadPolicy.from_settings(settings, clock)

    # Plans

    def local(self) -> LocalSnapshot:
        with self.database.session() as session:
            return local_snapshot(session, self.settings.role_addresses)

    def plan(
        self,
        direction: str,
        progress: Callable[[str], None] | None = None,
        *,
        resolutions: Mapping[str, str] | None = None,
    ) -> Plan | MergePlan:
        """The plan of `direction`; for `both`, `resolutions` choose how conflicts resolve (by
        conflict id or kind), the others keeping their defaults."""
        known = known_direction(direction)
        read = read_remote(self.client, self.database, self.read_policy, progress)
        local = self.local()
        with self.database.session() as session:
            baseline = load_baseline(session)
        planned = self._plan_on(known, local, read.snapshot, baseline, resolutions)
        if read.verified or not removes_or_deletes(planned):
            return planned
        # A plan that removes members or deletes lists never rests on the incremental read alone
        # (it trusts an unconfirmed CTCT behaviour): CTCT is read fully and the plan made again,
        # so the preview confirmed is the verified one. Its requests count both reads.
        full = read_remote(
            self.client,
            self.database,
            self.read_policy,
            progress,
            full_because="the plan removes members or deletes lists",
        )
        full.snapshot.requests += read.snapshot.requests
        return self._plan_on(known, local, full.snapshot, baseline, resolutions)

    def _plan_on(
        self,
        known: Direction,
        local: LocalSnapshot,
        remote: RemoteSnapshot,
        baseline: Baseline,
        resolutions: Mapping[str, str] | None = None,
    ) -> Plan | MergePlan:
        if known == Direction.BOTH:
            return plan_both(local, remote, baseline, self.policy, resolutions)
        if known == Direction.PUSH:
            return plan_push(local, remote, baseline, self.policy)
        if known == Direction.IMPORT:
            return plan_import(local, remote, baseline, self.policy)
        return plan_pull(local, remote, baseline, policy=self.policy)

    # Commit

    def commit(
        self,
        plan: Plan | MergePlan,
        *,
        allow_mass_removal: bool = False,
        progress: Progress | None = None,
        started_by: str = "cli",
        run_id: int | None = None,
    ) -> SyncResult:
        """Commits `plan`; `run_id`: the queued or held run it is (journaled already)."""
        known_direction(plan.direction)
        with journal.sync_lock(self.database):
            return self._commit_locked(plan, allow_mass_removal, progress, started_by, run_id=run_id)

    def resume(
        self,
        direction: str,
        *,
        allow_mass_removal: bool = False,
        progress: Progress | None = None,
        resolutions: Mapping[str, str] | None = None,
        accept_defaults: bool = True,
    ) -> SyncResult:
        """Finishes an interrupted sync: waits for what CTCT still runs of it, plans again from
        both sides as they are now — so what was done is not done twice — and commits that. The
        interrupted run is marked resumed only once the new run has started: a refused resume
        leaves it to resume later. A both-ways run resumes with the conflict resolutions it was
        committed with (and `resolutions` over them); a conflict new since is refused unless
        `accept_defaults`."""
        known_direction(direction)
        with journal.sync_lock(self.database):
            unfinished = journal.latest_unfinished_run(self.database, direction)
            if unfinished is None:
                raise SyncRefused(f"there is no interrupted {direction} to resume")
            self._wait_for_activities(progress or silent)
            chosen = {c["id"]: c["resolution"] for c in (unfinished.plan or {}).get("conflicts", [])}
            chosen.update(resolutions or {})
            plan = self.plan(direction, resolutions=chosen or None)
            if isinstance(plan, MergePlan) and plan.unresolved and not accept_defaults:
                ids = ", ".join(conflict.id for conflict in plan.unresolved[:5])
                raise SyncRefused(
                    f"{len(plan.unresolved):,} conflict(s) have no resolution: {ids}: choose with --resolve ID=CHOICE, "
                    "or take the defaults with --yes"
                )
            return self._commit_locked(
                plan, allow_mass_removal, progress, f"resume of run {unfinished.id}", resuming=unfinished.id
            )

    def _commit_locked(
        self,
        plan: Plan | MergePlan,
        allow_mass_removal: bool,
        progress: Progress | None,
        started_by: str,
        resuming: int | None = None,
        run_id: int | None = None,
    ) -> SyncResult:
        before = self.client.budget.used() - plan.snapshot_requests
        (progress or silent)(0.0, "checking that neither side changed since the preview")
        self._refuse(plan, allow_mass_removal)
        if run_id is None:
            run_id = journal.start_run(self.database, plan, started_by)
        else:
            journal.mark_running(self.database, run_id, started_by)
        # Every page can follow the run from its row, whoever runs it.
        report = background.RunProgress(self.database, run_id, progress or silent)
        journal.note_lock_run(self.database, run_id)
        if resuming is not None:
            # Only now, with this run under way, is the interrupted one done with.
            journal.mark_resumed(self.database, resuming, run_id)
        try:
            outcome = self._apply(plan, run_id, report)
        except BaseException as error:
            self._finish_stopped(run_id, self.client.budget.used() - before, error)
            raise
        finally:
            background.drop_held_plan(self.database, run_id)
        used = self.client.budget.used() - before
        status = COMPLETED_WITH_ERRORS if outcome.failed or outcome.errors else COMPLETED
        journal.finish_run(self.database, run_id, status, used, failed=outcome.failed)
        report(1.0, "done")
        warnings = [w.message for w in (plan.all_warnings() if isinstance(plan, MergePlan) else plan.warnings)]
        return SyncResult(status, run_id, plan.direction, used, plan.counts(), warnings, outcome.errors, outcome.failed)

    def _finish_stopped(self, run_id: int, used: int, error: BaseException) -> None:
        """Journals the run as interrupted (Ctrl-C, a stop signal) or failed, with what stopped it."""
        stopped = isinstance(error, KeyboardInterrupt)
        why = str(error) or ("interrupted" if stopped else type(error).__name__)
        journal.finish_run(self.database, run_id, INTERRUPTED if stopped else FAILED, used, why)

    def _refuse(self, plan: Plan | MergePlan, allow_mass_removal: bool) -> None:
        """Refuses a plan stale on either side, a mass removal not confirmed, or one over the budget."""
        staleness.refuse_local_change(plan, self.database, self.settings.role_addresses)
        staleness.refuse_remote_change(plan, self.client)
        if plan.mass_removals and not allow_mass_removal:
            raise SyncRefused(
                "this plan "
                + "; ".join(plan.mass_removals[:3])
                + ("…" if len(plan.mass_removals) > 3 else "")
                + ": confirm the mass removal (--allow-mass-removal)"
            )
        try:
            self.client.budget.ensure(plan.estimated_requests)
        except BudgetExceeded as error:
            raise SyncRefused(str(error)) from None

    def _apply(self, plan: Plan | MergePlan, run_id: int, report: Progress) -> Outcome:
        """The changes, made on the plan's target side, then the baseline they leave."""
        if isinstance(plan, MergePlan):
            return self._apply_both(plan, run_id, report)
        if plan.direction == Direction.PUSH:
            # Until the push's observation is in the mirror, only a full read can be trusted.
            mirror.require_full_read(self.database)
            outcome = push(plan, run_id, self.database, self.client, report)
            observe_push(self.database, plan, outcome)
        else:
            # One database transaction: there are no steps to follow, only its end.
            report(0.0, "saving the changes in Customer Focus, all in one go")
            outcome = pull(plan, run_id, self.database)
        # Customer Focus after the commit from what the plan read and the commit did, not a
        # third read of the whole CRM (see ctct/sync/recording.py).
        record_baseline(self.database, local_after(self.database, plan, outcome), plan, outcome)
        return outcome

    def _apply_both(self, plan: MergePlan, run_id: int, report: Progress) -> Outcome:
        """Customer Focus's part in one transaction, its baseline recorded; then CTCT's part, as a
        push, its baseline recorded from the CRM as that transaction left it. Each part only holds
        what the other side changed, so neither undoes the other."""
        report(0.0, "saving the changes from Constant Contact in Customer Focus, all in one go")
        here = pull(plan.to_local, run_id, self.database)
        record_baseline(self.database, local_after(self.database, plan.to_local, here), plan.to_local, here)
        if plan.to_ctct.is_empty:
            return here
        mirror.require_full_read(self.database)
        there = push(plan.to_ctct, run_id, self.database, self.client, report)
        observe_push(self.database, plan.to_ctct, there)
        with self.database.session() as session:
            now_here = crm_frames(session, self.settings.role_addresses)
        record_baseline(self.database, now_here, plan.to_ctct, there)
        return there

    def _wait_for_activities(self, report: Progress, patience: float = 3600.0) -> None:
        """Waits while CTCT still queues or runs activities (those of the interrupted run)."""
        waited, delay = 0.0, 1.0
        while True:
            waiting = self.client.activities.unfinished()
            if not waiting:
                return
            if waited >= patience:
                raise SyncRefused(
                    f"Constant Contact is still running {len(waiting):,} activities of the interrupted sync "
                    "after an hour: resume again later"
                )
            report(0.0, f"waiting for {len(waiting):,} Constant Contact activities of the interrupted sync")
            self.client.sleep(delay)
            waited += delay
            delay = min(delay * 1.5, 30.0)


__all__ = ["IMPORT", "PULL", "PUSH", "SyncResult", "SyncService"]

"""Schedules and the worker (issue 18) on a fake clock: due runs run (missed ones once), a run that
needs a decision is held with its preview and shown, a held run is reviewed or dismissed, and two
workers on one database (PostgreSQL in CI) run a due sync once."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from ctct import lists
from ctct.api.limits import RateLimiter
from ctct.db.models import HeldPlan, ScheduleFiring, SyncRun
from ctct.db.stores import open_client
from ctct.errors import InvalidInput
from ctct.sync import background, history, schedules
from ctct.sync.apply import SyncService
from ctct.worker import Worker
from tests.sandbox_client import sandbox_http
from tests.sync.test_both_ways import PEOPLE, members_here, names_here
from tests.sync.test_push_pull_rules import crm, local_list, remote_lists, remote_members

START = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


class Moment:
    """The worker's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.value = START

    def __call__(self) -> dt.datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += dt.timedelta(**delta)


@pytest.fixture
def moment() -> Moment:
    return Moment()


@pytest.fixture
def in_step(service, database, active_client):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com", "p1@acme.com")
    service.commit(service.plan("push"))
    service.commit(service.plan("pull"))
    assert service.plan("both").is_empty
    return remote_lists(active_client)


@pytest.fixture
def worker(database, service, moment) -> Worker:
    return Worker(database, lambda: service, name="worker-a", now=moment)


def runs_of(database, schedule_id):
    with database.session() as session:
        return list(
            session.execute(
                select(SyncRun.id, SyncRun.status).where(SyncRun.schedule_id == schedule_id).order_by(SyncRun.id)
            ).all()
        )


def test_a_due_schedule_runs_and_commits_a_plan_that_needs_no_decision(
    in_step, worker, database, active_client, moment
):
    every_hour = schedules.add_schedule(database, "both", every_minutes=60, now=moment())
    assert every_hour.next_due == START + dt.timedelta(hours=1)
    local_list(database, "News", "p2@acme.com")
    moment.advance(minutes=59)
    assert worker.run_once().runs == []
    assert remote_members(active_client, "News") == ["p0@acme.com", "p1@acme.com"]
    moment.advance(minutes=2)
    report = worker.run_once()
    assert len(report.committed) == 1
    assert runs_of(database, every_hour.id) == [(report.committed[0], "completed")]
    assert remote_members(active_client, "News") == ["p0@acme.com", "p1@acme.com", "p2@acme.com"]
    # The same due time is not run twice; the next one (nothing changed) is recorded as such.
    assert worker.run_once().runs == []
    # The next one stores the link to the contact CTCT created (bookkeeping, no change to review);
    # the one after finds both sides in step and says so.
    moment.advance(hours=1)
    assert len(worker.run_once().committed) == 1
    moment.advance(hours=1)
    assert len(worker.run_once().nothing_to_do) == 1
    assert [status for _id, status in runs_of(database, every_hour.id)] == ["completed"] * 3


def test_due_times_missed_while_no_worker_ran_make_one_run(in_step, worker, database, moment):
    every_quarter = schedules.add_schedule(database, "pull", every_minutes=15, now=moment())
    moment.advance(hours=5, minutes=7)
    assert len(worker.run_once().runs) == 1
    assert len(runs_of(database, every_quarter.id)) == 1
    assert schedules.view(database, every_quarter.id, moment()).next_due == START + dt.timedelta(hours=5, minutes=15)


def test_a_daily_schedule_is_due_at_its_time(in_step, worker, database, moment):
    daily = schedules.add_schedule(database, "both", daily_at="18:30", now=moment())
    assert daily.next_due == START.replace(hour=18, minute=30)
    moment.advance(hours=9, minutes=29)
    assert worker.run_once().runs == []
    moment.advance(minutes=2)
    assert len(worker.run_once().runs) == 1


def test_a_paused_schedule_does_not_run_until_resumed(in_step, worker, database, moment):
    paused = schedules.add_schedule(database, "both", every_minutes=10, now=moment())
    schedules.set_paused(database, paused.id, True)
    moment.advance(minutes=25)
    assert worker.run_once().runs == []
    schedules.set_paused(database, paused.id, False, moment())
    assert worker.run_once().runs == []  # the times missed while paused are not made up
    moment.advance(minutes=5)
    assert len(worker.run_once().runs) == 1


def test_a_run_with_a_conflict_is_held_with_its_preview_and_changes_nothing(
    in_step, worker, database, active_client, moment, cli_run
):
    active_client.lists.rename(in_step["News"]["list_id"], "News (CTCT)")
    with database.session() as session:
        lists.rename_list(session, "News", "News (here)")
    schedule = schedules.add_schedule(database, "both", every_minutes=30, now=moment())
    moment.advance(minutes=31)
    [held_id] = worker.run_once().held
    assert runs_of(database, schedule.id) == [(held_id, "needs_review")]
    assert names_here(database) == ["General Interest", "News (here)"]
    assert "News (CTCT)" in remote_lists(active_client)
    [shown] = [run for run in history.runs(database) if run["run_id"] == held_id]
    assert shown["state"] == "needs_review" and "conflict" in shown["held_because"][0]
    assert shown["conflicts"][0]["kind"] == "renamed_on_both"
    assert [run.id for run in background.runs_needing_review(database)] == [held_id]
    code, out, _err = cli_run("history")
    assert f"run {held_id}: both needs review" in out and f"sync review {held_id}" in out
    # Without --yes or a resolution: refused (exit 3), nothing made.
    code, _out, err = cli_run("sync", "review", str(held_id))
    assert code == 3 and "have no resolution" in err
    code, out, _err = cli_run("sync", "review", str(held_id), "--resolve", "renamed_on_both=local", "--yes", "--json")
    assert code == 0, out
    assert runs_of(database, schedule.id) == [(held_id, "completed")]
    assert "News (here)" in remote_lists(active_client) and names_here(database) == ["General Interest", "News (here)"]


def test_a_mass_removal_is_held_and_can_be_dismissed(in_step, worker, database, active_client, moment, cli_run):
    with database.session() as session:
        lists.delete_list(session, "News")
    schedule = schedules.add_schedule(database, "both", every_minutes=30, now=moment())
    moment.advance(minutes=30)
    [held_id] = worker.run_once().held
    assert "mass removal" in history.runs(database)[0]["held_because"][0]
    assert "News" in remote_lists(active_client)
    code, out, _err = cli_run("sync", "dismiss", str(held_id))
    assert code == 0 and "dismissed" in out
    assert runs_of(database, schedule.id) == [(held_id, "dismissed")]
    assert "News" in remote_lists(active_client)
    code, _out, err = cli_run("sync", "review", str(held_id))
    assert code == 1 and f"run {held_id} is dismissed" in err


def test_a_held_run_planned_again_when_a_side_changed_since(in_step, worker, database, active_client, moment, cli_run):
    with database.session() as session:
        lists.delete_list(session, "News")
    schedules.add_schedule(database, "both", every_minutes=30, now=moment())
    moment.advance(minutes=30)
    [held_id] = worker.run_once().held
    local_list(database, "Spring", "p3@acme.com")
    code, out, err = cli_run("sync", "review", str(held_id), "--yes", "--allow-mass-removal")
    assert code == 0, (out, err)
    assert "planned again" in out
    assert sorted(remote_lists(active_client)) == ["General Interest", "Spring"]
    assert members_here(database, "Spring") == remote_members(active_client, "Spring") == ["p3@acme.com"]


def test_a_stored_resolution_lets_the_schedule_commit_by_itself(in_step, worker, database, active_client, moment):
    active_client.lists.rename(in_step["News"]["list_id"], "News (CTCT)")
    with database.session() as session:
        lists.rename_list(session, "News", "News (here)")
    schedules.add_schedule(database, "both", every_minutes=30, resolutions={"renamed_on_both": "local"}, now=moment())
    moment.advance(minutes=30)
    assert len(worker.run_once().committed) == 1
    assert "News (here)" in remote_lists(active_client)


def test_bad_schedules_are_refused_naming_the_field(database):
    with pytest.raises(InvalidInput, match="--daily takes a time as HH:MM"):
        schedules.add_schedule(database, "both", daily_at="25:00")
    with pytest.raises(InvalidInput, match="--every takes 1 to 1440 minutes"):
        schedules.add_schedule(database, "both", every_minutes=0)
    with pytest.raises(InvalidInput, match="a schedule runs both, pull or push, not 'import'"):
        schedules.add_schedule(database, "import", every_minutes=5)


def test_two_workers_run_a_due_sync_once(in_step, database, settings, sandbox_app, clock, moment, active_client):
    """Each worker with its own client and connection pool, both claiming the same due time."""
    local_list(database, "News", "p4@acme.com")
    schedule = schedules.add_schedule(database, "both", every_minutes=5, now=moment())
    moment.advance(minutes=5)
    reports, errors = {}, []
    barrier = threading.Barrier(2)

    def run(name: str) -> None:
        try:
            with sandbox_http(sandbox_app) as http:
                limiter = RateLimiter(settings.rate_limit, clock=clock, sleep=clock.advance)
                client = open_client(settings, database, http=http, sleep=clock.advance, limiter=limiter)
                worker = Worker(database, lambda: SyncService(database, client, settings), name=name, now=moment)
                barrier.wait()
                reports[name] = worker.run_once()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sorted(len(report.runs) for report in reports.values()) == [0, 1]
    assert [status for _id, status in runs_of(database, schedule.id)] == ["completed"]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ScheduleFiring)) == 1
    assert remote_members(active_client, "News") == ["p0@acme.com", "p1@acme.com", "p4@acme.com"]


def test_two_workers_take_a_queued_run_once(in_step, database, settings, sandbox_app, clock, moment, service):
    local_list(database, "News", "p5@acme.com")
    run_id = background.queue_run(database, service.plan("both"), started_by="test")
    claims = []
    barrier = threading.Barrier(2)

    def claim() -> None:
        barrier.wait()
        claims.append(background.claim_queued(database))

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claims, key=lambda found: found or 0) == [None, run_id]


def test_a_run_whose_worker_died_after_taking_it_is_queued_again(in_step, database, service, worker, moment):
    local_list(database, "News", "p3@acme.com")
    run_id = background.queue_run(database, service.plan("both"), started_by="test")
    assert background.claim_queued(database) == run_id  # a worker took it, then died
    with database.session() as session:
        session.get(SyncRun, run_id).started_at = moment() - dt.timedelta(minutes=5)
    assert background.recover_orphans(database, moment()) == [run_id]
    assert worker.run_once().committed == [run_id]
    assert remote_members(service.client, "News") == ["p0@acme.com", "p1@acme.com", "p3@acme.com"]


def test_a_run_just_taken_by_a_live_worker_is_left_to_it(in_step, database, service, moment):
    run_id = background.queue_run(database, service.plan("both"), started_by="test")
    assert background.claim_queued(database) == run_id
    assert background.recover_orphans(database) == []


def test_a_queued_run_waits_while_another_sync_holds_the_lock(in_step, database, service, worker):
    from ctct.sync import journal

    local_list(database, "News", "p3@acme.com")
    run_id = background.queue_run(database, service.plan("both"), started_by="test")
    with journal.sync_lock(database):
        report = worker.run_once()  # one claim, back to the queue, no spinning
        assert report.runs == []
        assert background.run_state(database, run_id).status == "queued"
    assert worker.run_once().committed == [run_id]


def test_a_queued_run_whose_commit_cannot_start_is_failed_with_why_not_left_running(
    in_step, database, service, worker, sandbox
):
    local_list(database, "News", "p3@acme.com")
    run_id = background.queue_run(database, service.plan("both"), started_by="test")
    sandbox.faults.server_errors = 50  # CTCT answers 5xx to the stale check, again and again
    try:
        assert worker.run_once().failed == [run_id]
    finally:
        sandbox.faults.server_errors = 0
    run = background.run_state(database, run_id)
    assert run.status == "failed" and run.error
    with database.session() as session:
        assert session.get(HeldPlan, run_id) is None


def test_a_resumed_both_keeps_the_resolutions_it_was_committed_with(in_step, database, service, active_client):
    from ctct.sync import journal

    active_client.lists.rename(in_step["News"]["list_id"], "News (CTCT)")
    with database.session() as session:
        lists.rename_list(session, "News", "News (here)")
    plan = service.plan("both", resolutions={"renamed_on_both": "local"})
    run_id = journal.start_run(database, plan, "test")
    journal.finish_run(database, run_id, "interrupted", 0, "stopped")
    result = service.resume("both", accept_defaults=False)
    assert result.status == "completed"
    assert "News (here)" in remote_lists(active_client)


def test_resuming_a_paused_schedule_does_not_make_up_its_missed_times(in_step, worker, database, moment):
    schedule = schedules.add_schedule(database, "both", every_minutes=10, now=moment())
    schedules.set_paused(database, schedule.id, True, moment())
    moment.advance(minutes=35)
    schedules.set_paused(database, schedule.id, False, moment())
    assert worker.run_once().runs == []
    moment.advance(minutes=5)
    assert len(worker.run_once().runs) == 1


def test_a_stored_resolution_must_name_a_conflict_kind_and_one_of_its_choices(database):
    with pytest.raises(InvalidInput, match="'renamed' is no conflict kind"):
        schedules.add_schedule(database, "both", every_minutes=5, resolutions={"renamed": "local"})
    with pytest.raises(InvalidInput, match="'delete' is not a choice for renamed_on_both"):
        schedules.add_schedule(database, "both", every_minutes=5, resolutions={"renamed_on_both": "delete"})
    with pytest.raises(InvalidInput, match="--resolve is for `both`"):
        schedules.add_schedule(database, "pull", every_minutes=5, resolutions={"renamed_on_both": "local"})


def test_only_a_held_run_can_be_reviewed_and_a_taken_one_not_dismissed(in_step, database, service, cli_run):
    run_id = background.queue_run(database, service.plan("both"), started_by="test")
    code, _out, err = cli_run("sync", "review", str(run_id), "--yes")
    assert (code == 1 and "not queued or held for review" in err) or "is queued" in err
    assert background.claim_queued(database) == run_id
    code, _out, err = cli_run("sync", "dismiss", str(run_id))
    assert code == 3 and "only a held or queued run can be dismissed" in err
    assert background.run_state(database, run_id).status == "running"


def test_a_run_that_no_longer_waits_is_never_committed(in_step, database, service, active_client):
    from ctct.errors import SyncRefused

    local_list(database, "News", "p3@acme.com")
    plan = service.plan("both")
    run_id = background.queue_run(database, plan, started_by="test")
    background.dismiss(database, run_id)
    with pytest.raises(SyncRefused, match=f"run {run_id} is dismissed: it no longer waits"):
        service.commit(plan, run_id=run_id)
    assert remote_members(active_client, "News") == ["p0@acme.com", "p1@acme.com"]
    with pytest.raises(SyncRefused, match="no longer held for review"):
        background.replan_run(database, run_id, plan)


def test_a_scheduled_run_that_finds_another_sync_running_is_planned_again_later(in_step, database, worker, moment):
    from ctct.sync import journal

    schedule = schedules.add_schedule(database, "both", every_minutes=30, now=moment())
    local_list(database, "News", "p3@acme.com")
    moment.advance(minutes=30)
    with journal.sync_lock(database):
        assert worker.run_once().runs == []
    assert runs_of(database, schedule.id) == []  # nothing half-made: the due time was given back
    local_list(database, "News", "p4@acme.com")  # what the busy sync changed meanwhile
    assert len(worker.run_once().committed) == 1
    assert [status for _id, status in runs_of(database, schedule.id)] == ["completed"]


def test_a_schedule_keeps_one_held_run_which_each_due_time_plans_again(in_step, database, worker, moment):
    with database.session() as session:
        lists.delete_list(session, "News")
    schedule = schedules.add_schedule(database, "both", every_minutes=10, now=moment())
    moment.advance(minutes=10)
    [held] = worker.run_once().held
    moment.advance(minutes=10)
    assert worker.run_once().held == [held]
    assert runs_of(database, schedule.id) == [(held, "needs_review")]

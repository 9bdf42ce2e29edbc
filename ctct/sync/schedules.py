"""Schedules: a sync (usually both ways) every N minutes or daily at a time, run by the worker.

The schedules live in the console's database (`sync_schedules`), so no worker or console that
stops loses one, and every worker sees the same. When a schedule is due is APScheduler's to say
(its interval and cron triggers: docs/decisions/0012-schedules-on-apscheduler-triggers.md); which
worker runs a due time is the database's: a worker claims the time by inserting
(schedule, due time) into `sync_schedule_firings`, and a second worker's insert of the same key
fails — so a due run runs once however many workers there are. Due times missed while no worker ran
collapse into the latest one (one run, not a burst).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ctct.db import Database
from ctct.db.models import ScheduleFiring, SyncSchedule, utcnow
from ctct.errors import InvalidInput
from ctct.sync.changes import Direction
from ctct.sync.merge import CONFLICT_CHOICES

SCHEDULED_DIRECTIONS = (Direction.BOTH, Direction.PULL, Direction.PUSH)
DAILY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Longer than a day is not "every N minutes": use --daily.
MAX_MINUTES = 24 * 60


@dataclass(frozen=True)
class ScheduleView:
    id: int
    direction: str
    every_minutes: int | None
    daily_at: str | None
    paused: bool
    resolutions: dict[str, str]
    created_at: dt.datetime
    next_due: dt.datetime | None
    last_due: dt.datetime | None
    last_run_id: int | None

    @property
    def when(self) -> str:
        if self.every_minutes is not None:
            return f"every {self.every_minutes} minute{'s' if self.every_minutes != 1 else ''}"
        return f"daily at {self.daily_at} UTC"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "every_minutes": self.every_minutes,
            "daily_at": self.daily_at,
            "when": self.when,
            "paused": self.paused,
            "resolutions": self.resolutions,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "last_due": self.last_due.isoformat() if self.last_due else None,
            "last_run_id": self.last_run_id,
        }


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def trigger_of(schedule: SyncSchedule) -> BaseTrigger:
    if schedule.every_minutes is not None:
        return IntervalTrigger(minutes=schedule.every_minutes, start_date=_aware(schedule.created_at), timezone=dt.UTC)
    hour, minute = (int(part) for part in (schedule.daily_at or "00:00").split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=dt.UTC)


def next_after(schedule: SyncSchedule, moment: dt.datetime) -> dt.datetime | None:
    """The schedule's first due time strictly after `moment`."""
    trigger = trigger_of(schedule)
    after = _aware(moment) + dt.timedelta(microseconds=1)
    found = trigger.get_next_fire_time(None, after)
    return _aware(found) if found is not None else None


def latest_due(schedule: SyncSchedule, since: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The latest due time after `since` and not after `now` (None: none is due)."""
    due = None
    moment = next_after(schedule, since)
    while moment is not None and moment <= now:
        due = moment
        moment = next_after(schedule, moment)
    return due


def add_schedule(
    database: Database,
    direction: str,
    *,
    every_minutes: int | None = None,
    daily_at: str | None = None,
    resolutions: dict[str, str] | None = None,
    created_by: str = "cli",
    now: dt.datetime | None = None,
) -> ScheduleView:
    """A new schedule; InvalidInput naming the field when the direction or the time is wrong."""
    if direction not in SCHEDULED_DIRECTIONS:
        raise InvalidInput("direction", f"a schedule runs both, pull or push, not '{direction}'")
    if (every_minutes is None) == (daily_at is None):
        raise InvalidInput("when", "give either --every MINUTES or --daily HH:MM")
    if every_minutes is not None and not 1 <= every_minutes <= MAX_MINUTES:
        raise InvalidInput("every", f"--every takes 1 to {MAX_MINUTES} minutes, not {every_minutes}")
    if daily_at is not None and not DAILY.match(daily_at):
        raise InvalidInput("daily", f"--daily takes a time as HH:MM (00:00 to 23:59), not '{daily_at}'")
    _check_resolutions(direction, resolutions or {})
    with database.session() as session:
        schedule = SyncSchedule(
            direction=direction,
            every_minutes=every_minutes,
            daily_at=daily_at,
            paused=False,
            resolutions=resolutions or {},
            created_at=now or utcnow(),
            created_by=created_by,
        )
        session.add(schedule)
        session.flush()
        schedule_id = schedule.id
    return view(database, schedule_id, now)


def _check_resolutions(direction: str, resolutions: dict[str, str]) -> None:
    """A stored resolution names a conflict kind (or one conflict, KIND:CTCT-LIST-ID) and one of
    its choices: a misspelt one would be ignored at every run, holding each for review."""
    if resolutions and direction != Direction.BOTH:
        raise InvalidInput("resolve", "--resolve is for `both`: only a both-ways sync has conflicts")
    for key, choice in resolutions.items():
        kind = key.split(":", 1)[0]
        if kind not in CONFLICT_CHOICES:
            raise InvalidInput(
                "resolve", f"'{key}' is no conflict kind (one of {', '.join(CONFLICT_CHOICES)}, or KIND:LIST-ID)"
            )
        if choice not in CONFLICT_CHOICES[kind]:
            raise InvalidInput(
                "resolve", f"'{choice}' is not a choice for {kind} (choose {' or '.join(CONFLICT_CHOICES[kind])})"
            )


def _get(session: Any, schedule_id: int) -> SyncSchedule:
    schedule = session.get(SyncSchedule, schedule_id)
    if schedule is None:
        raise InvalidInput("schedule", f"there is no schedule {schedule_id}")
    return schedule


def view(database: Database, schedule_id: int, now: dt.datetime | None = None) -> ScheduleView:
    with database.session() as session:
        return _view(session, _get(session, schedule_id), now or utcnow())


def _view(session: Any, schedule: SyncSchedule, now: dt.datetime) -> ScheduleView:
    last = session.execute(
        select(ScheduleFiring.due_at, ScheduleFiring.run_id)
        .where(ScheduleFiring.schedule_id == schedule.id)
        .order_by(ScheduleFiring.due_at.desc())
        .limit(1)
    ).first()
    last_due = _aware(last[0]) if last else None
    since = max(_aware(schedule.created_at), last_due) if last_due else _aware(schedule.created_at)
    # A due time no worker took yet is the next one (it runs as soon as a worker is there).
    upcoming = latest_due(schedule, since, now) or next_after(schedule, max(since, now))
    return ScheduleView(
        schedule.id,
        schedule.direction,
        schedule.every_minutes,
        schedule.daily_at,
        schedule.paused,
        dict(schedule.resolutions or {}),
        _aware(schedule.created_at),
        None if schedule.paused else upcoming,
        last_due,
        last[1] if last else None,
    )


def list_schedules(database: Database, now: dt.datetime | None = None) -> list[ScheduleView]:
    with database.session() as session:
        return [
            _view(session, s, now or utcnow()) for s in session.scalars(select(SyncSchedule).order_by(SyncSchedule.id))
        ]


def remove_schedule(database: Database, schedule_id: int) -> None:
    with database.session() as session:
        session.delete(_get(session, schedule_id))


def set_paused(database: Database, schedule_id: int, paused: bool, now: dt.datetime | None = None) -> ScheduleView:
    """Pauses or resumes a schedule. The due times it missed while paused are not made up: on
    resuming, the latest of them is recorded as skipped, so the next run is the next due time."""
    moment = now or utcnow()
    with database.session() as session:
        schedule = _get(session, schedule_id)
        was_paused, schedule.paused = schedule.paused, paused
        if was_paused and not paused:
            last = session.scalar(
                select(func.max(ScheduleFiring.due_at)).where(ScheduleFiring.schedule_id == schedule_id)
            )
            since = max(_aware(schedule.created_at), _aware(last)) if last is not None else _aware(schedule.created_at)
            missed = latest_due(schedule, since, moment)
            if missed is not None:
                session.add(ScheduleFiring(schedule_id=schedule_id, due_at=missed, claimed_by="skipped while paused"))
    return view(database, schedule_id, moment)


@dataclass(frozen=True)
class Due:
    schedule_id: int
    direction: str
    due_at: dt.datetime
    resolutions: dict[str, str]


def claim_due(database: Database, now: dt.datetime, worker: str) -> list[Due]:
    """The schedules due at `now`, each claimed for this worker: a due time another worker claimed
    first is not returned. Paused schedules are not due (their missed times are not made up)."""
    claimed: list[Due] = []
    with database.session() as session:
        schedules = list(session.scalars(select(SyncSchedule).where(SyncSchedule.paused.is_(False))))
        lasts = dict(
            session.execute(
                select(ScheduleFiring.schedule_id, func.max(ScheduleFiring.due_at)).group_by(ScheduleFiring.schedule_id)
            ).all()
        )
        wanted: list[Due] = []
        for schedule in schedules:
            since = _aware(schedule.created_at)
            if lasts.get(schedule.id) is not None:
                since = max(since, _aware(lasts[schedule.id]))
            moment = latest_due(schedule, since, now)
            if moment is not None:
                wanted.append(Due(schedule.id, schedule.direction, moment, dict(schedule.resolutions or {})))
    for due in wanted:
        try:
            with database.session() as session:
                session.execute(
                    insert(ScheduleFiring).values(schedule_id=due.schedule_id, due_at=due.due_at, claimed_by=worker)
                )
        except IntegrityError:
            continue  # another worker has it
        claimed.append(due)
    return claimed


def release_firing(database: Database, due: Due) -> None:
    """Gives a claimed due time back (its run could not start): a later round claims it again."""
    with database.session() as session:
        session.execute(
            delete(ScheduleFiring).where(
                ScheduleFiring.schedule_id == due.schedule_id, ScheduleFiring.due_at == due.due_at
            )
        )


def note_firing_run(database: Database, due: Due, run_id: int) -> None:
    with database.session() as session:
        session.execute(
            update(ScheduleFiring)
            .where(ScheduleFiring.schedule_id == due.schedule_id, ScheduleFiring.due_at == due.due_at)
            .values(run_id=run_id)
        )

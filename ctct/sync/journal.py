"""The sync journal (runs, steps, row changes) and the one-sync-at-a-time lock.

Each journal write is its own transaction, committed before and after the work it describes, so
a crash leaves an exact record of what was started and what finished.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ctct.db import Database
from ctct.db.models import RowChange, SyncLock, SyncRun, SyncStep, utcnow
from ctct.errors import ConsoleError
from ctct.sync.plan import Plan

LOCK_NAME = "ctct-sync"
LOCK_LIFETIME = dt.timedelta(minutes=30)
ROW_KINDS = {
    "lists_create": ("list created", "name", None),
    "lists_rename": ("list renamed", "to", None),
    "lists_delete": ("list deleted", "name", None),
    "contacts_create": ("contact created", None, "email"),
    "contacts_update": ("contact updated", None, "email"),
    "contacts_unsubscribed": ("contact unsubscribed", None, "email"),
    "contacts_resubscribed": ("contact re-subscribed", None, "email"),
    "contacts_deleted_in_ctct": ("contact deleted in CTCT", None, "email"),
    "memberships_add": ("member added", "list", "email"),
    "memberships_remove": ("member removed", "list", "email"),
    "skipped": ("skipped", "list", "email"),
}


class SyncRefused(ConsoleError):
    """The sync did not start or commit, on purpose: stale plan, mass removal, budget, busy."""

    exit_code = 3


class SyncBusy(SyncRefused):
    pass


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def sync_lock(database: Database, run_id: int | None = None) -> Iterator[None]:
    """Held in the database, so it works across processes on SQLite and PostgreSQL alike; a
    lock left by a crashed process expires after 30 minutes."""
    holder = holder_name()
    now = utcnow()
    with database.session() as session:
        session.execute(delete(SyncLock).where(SyncLock.name == LOCK_NAME, SyncLock.expires_at < now))
    try:
        with database.session() as session:
            session.execute(
                insert(SyncLock).values(name=LOCK_NAME, holder=holder, run_id=run_id, expires_at=now + LOCK_LIFETIME)
            )
    except IntegrityError:
        with database.session() as session:
            current = session.get(SyncLock, LOCK_NAME)
            who = f"{current.holder}, run {current.run_id}" if current else "another process"
        raise SyncBusy(f"another sync is running ({who}); try again when it has finished") from None
    try:
        yield
    finally:
        with database.session() as session:
            session.execute(delete(SyncLock).where(SyncLock.name == LOCK_NAME, SyncLock.holder == holder))


def start_run(database: Database, plan: Plan, started_by: str) -> int:
    with database.session() as session:
        run = SyncRun(
            direction=plan.direction,
            status="running",
            started_by=started_by,
            plan={
                "counts": plan.counts(),
                "warnings": [w.message for w in plan.warnings],
                "estimated_requests": plan.estimated_requests,
            },
            counts=plan.counts(),
        )
        session.add(run)
        session.flush()
        run_id = run.id
        rows = []
        for kind, (label, list_column, email_column) in ROW_KINDS.items():
            frame = plan[kind]
            if frame.empty:
                continue
            lists = frame[list_column] if list_column else [None] * len(frame)
            emails = frame[email_column] if email_column else [None] * len(frame)
            details = _details(kind, frame)
            rows += [
                {
                    "run_id": run_id,
                    "change_kind": label,
                    "list_name": lst,
                    "email": email,
                    "detail": detail,
                    "outcome": "planned",
                }
                for lst, email, detail in zip(lists, emails, details, strict=True)
            ]
        if rows:
            session.connection().execute(insert(RowChange.__table__), rows)
    return run_id


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


@contextmanager
def journal_step(
    database: Database, run_id: int, position: int, kind: str, payload: dict[str, Any]
) -> Iterator[SyncStep]:
    """Records a step as started before the work and as done (or failed) after it."""
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
                .values(status="failed", error=str(error)[:2000], finished_at=utcnow(), activity_id=record.activity_id)
            )
        raise
    with database.session() as session:
        session.execute(
            update(SyncStep)
            .where(SyncStep.id == step_id)
            .values(status="done", result=record.result, activity_id=record.activity_id, finished_at=utcnow())
        )


def finish_run(database: Database, run_id: int, status: str, requests_used: int, error: str | None = None) -> None:
    with database.session() as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(status=status, finished_at=utcnow(), requests_used=requests_used, error=error)
        )
        if status == "completed":
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


def record_import_run(database: Database, direction: str, counts: dict[str, Any]) -> int:
    with database.session() as session:
        run = SyncRun(direction=direction, status="completed", counts=counts, finished_at=utcnow())
        session.add(run)
        session.flush()
        return run.id


def latest_unfinished_run(database: Database, direction: str) -> SyncRun | None:
    with database.session() as session:
        return session.scalar(
            select(SyncRun)
            .where(SyncRun.direction == direction, SyncRun.status.in_(["running", "failed"]))
            .order_by(SyncRun.id.desc())
        )

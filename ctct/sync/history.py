"""Past imports and syncs (SPEC §8): runs with counts, duration, requests used, and row changes."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from ctct.db import Database
from ctct.db.models import RowChange, SyncRun
from ctct.errors import NotFound


def _as_dict(run: SyncRun) -> dict[str, Any]:
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    return {
        "run_id": run.id,
        "direction": run.direction,
        "status": run.status,
        "started_by": run.started_by,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(duration, 2) if duration is not None else None,
        "requests_used": run.requests_used,
        "counts": {kind: count for kind, count in (run.counts or {}).items() if count},
        "warnings": (run.plan or {}).get("warnings", []),
        "error": run.error,
    }


def runs(database: Database) -> list[dict[str, Any]]:
    with database.session() as session:
        return [_as_dict(run) for run in session.scalars(select(SyncRun).order_by(SyncRun.id.desc()))]


def run_detail(database: Database, run_id: int) -> dict[str, Any]:
    with database.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise NotFound(f"no sync run {run_id}")
        rows = session.execute(
            select(RowChange.change_kind, RowChange.list_name, RowChange.email, RowChange.detail, RowChange.outcome)
            .where(RowChange.run_id == run_id)
            .order_by(RowChange.id)
        ).all()
        return {
            "run": _as_dict(run),
            "changes": pd.DataFrame(rows, columns=["change", "list", "email", "detail", "outcome"]),
        }


def describe(run: dict[str, Any]) -> str:
    counts = ", ".join(f"{kind.replace('_', ' ')} {count:,}" for kind, count in run["counts"].items()) or "no changes"
    took = f", {run['duration_seconds']:.1f} s" if run["duration_seconds"] is not None else ""
    return (
        f"run {run['run_id']}: {run['direction']} {run['status']} at {run['started_at'][:19]}{took}, "
        f"{run['requests_used']:,} requests — {counts}"
    )

"""Past imports and syncs (SPEC §8): runs with counts, duration, requests used, and row changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select

from ctct import display
from ctct.db import Database
from ctct.db.models import RowChange, SyncRun
from ctct.errors import NotFound
from ctct.sync.plan import describe_counts


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
    counts = describe_counts(run["counts"]) or "no changes"
    took = f", {run['duration_seconds']:.1f} s" if run["duration_seconds"] is not None else ""
    return (
        f"run {run['run_id']}: {run['direction']} {run['status'].replace('_', ' ')} at {run['started_at'][:19]}{took}, "
        f"{run['requests_used']:,} requests — {counts}"
    )


def runs_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The runs as one row each: what the History page and the notebook show."""
    return pd.DataFrame(
        [
            {
                "Run": run["run_id"],
                "Direction": run["direction"],
                "Status": run["status"].replace("_", " "),
                "Started": (run["started_at"] or "")[:19].replace("T", " "),
                "Seconds": run["duration_seconds"],
                "Requests": run["requests_used"],
                "Changes": describe_counts(run["counts"]),
            }
            for run in runs
        ],
        columns=["Run", "Direction", "Status", "Started", "Seconds", "Requests", "Changes"],
    )


@dataclass
class RunHistory:
    """Every import and sync, newest first (`Console.history()`)."""

    runs: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.runs)

    def to_frame(self) -> pd.DataFrame:
        return runs_frame(self.runs)

    def __repr__(self) -> str:
        return "\n".join(describe(run) for run in self.runs) or "no imports or syncs yet"

    def _repr_html_(self) -> str:
        if not self.runs:
            return display.card(display.heading("History"), display.paragraph("No imports or syncs yet."))
        return display.card(
            display.heading(f"History: {len(self.runs):,} runs, newest first"),
            display.frame_table(self.to_frame(), limit=20, more_hint="to_frame()"),
        )


@dataclass
class RunDetail:
    """One run with its row-level changes (`Console.history(run_id)`)."""

    run: dict[str, Any]
    changes: pd.DataFrame

    def __repr__(self) -> str:
        return f"<{describe(self.run)}; {len(self.changes):,} row-level changes>"

    def _repr_html_(self) -> str:
        # A CRM import records counts only, no row-level changes.
        counts = self.changes["change"].value_counts(sort=False) if len(self.changes) else pd.Series(self.run["counts"])
        return display.card(
            display.heading(describe(self.run)),
            display.paragraph(self.run["error"], "error") if self.run["error"] else "",
            display.messages(self.run["warnings"], "warning"),
            display.counts_table(((str(kind).replace("_", " "), int(count)) for kind, count in counts.items())),
            display.frame_table(self.changes, more_hint="changes (a DataFrame)") if len(self.changes) else "",
        )

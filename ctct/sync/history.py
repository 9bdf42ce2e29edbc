"""Past imports and syncs (SPEC §8): runs with counts, duration, requests used, and row changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from ctct import display
from ctct.db import Database
from ctct.db.models import RowChange, SyncRun
from ctct.errors import RecordNotFound
from ctct.sync.changes import CHANGES, DONE_WORDS, ROW_KINDS, ChangeKind
from ctct.sync.plan import describe_counts, plain_counts

# The journal's row labels (`member added`) back to the plan's change kinds (`memberships_add`).
KIND_OF_LABEL = {journal_kind.label: kind for kind, journal_kind in ROW_KINDS.items()}
MEMBER_ADDED = ROW_KINDS[ChangeKind.MEMBERSHIPS_ADD].label
MEMBER_REMOVED = ROW_KINDS[ChangeKind.MEMBERSHIPS_REMOVE].label
LIST_CREATED = ROW_KINDS[ChangeKind.LISTS_CREATE].label
LIST_RENAMED = ROW_KINDS[ChangeKind.LISTS_RENAME].label
LIST_DELETED = ROW_KINDS[ChangeKind.LISTS_DELETE].label
LIST_LABELS = (LIST_CREATED, LIST_RENAMED, LIST_DELETED)
# A run's contact changes are said by their counts, in the plan's order.
CONTACT_KINDS = tuple(spec.kind for spec in CHANGES if spec.shown and spec.json_section == "contacts")
NAMES_SHOWN = 5
# A run's rows that were not applied, by outcome, in words.
OUTCOME_WORDS = {
    "skipped": "row(s) skipped, each with its reason in History",
    "failed": "change(s) did not apply, each with Constant Contact's reason in History",
    "planned": "planned change(s) were not made: the run did not finish",
}


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
        # queued, running, completed, completed_with_errors, needs_review, dismissed, failed,
        # interrupted (or resumed): the same as `status`, under the name the issue gave it.
        "state": run.status,
        "progress": run.progress,
        "progress_message": run.progress_message,
        "schedule_id": run.schedule_id,
        "held_because": (run.plan or {}).get("held_because") or [],
        "conflicts": (run.plan or {}).get("conflicts", []),
    }


def runs(database: Database) -> list[dict[str, Any]]:
    with database.session() as session:
        return [_as_dict(run) for run in session.scalars(select(SyncRun).order_by(SyncRun.id.desc()))]


def run_detail(database: Database, run_id: int) -> dict[str, Any]:
    with database.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise RecordNotFound(f"no sync run {run_id}")
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
    text = (
        f"run {run['run_id']}: {run['direction']} {run['status'].replace('_', ' ')} at {run['started_at'][:19]}{took}, "
        f"{run['requests_used']:,} requests — {counts}"
    )
    if run.get("held_because"):
        text += f" (held: {'; '.join(run['held_because'])}: `python -m ctct sync review {run['run_id']}`)"
    elif run["status"] in ("queued", "running") and run.get("progress_message"):
        text += f" ({round(100 * (run.get('progress') or 0))} %: {run['progress_message']})"
    return text


def runs_frame(runs: list[dict[str, Any]], changes: Callable[[dict[str, int]], str] = describe_counts) -> pd.DataFrame:
    """The runs as one row each: what the History page (`changes=plain_counts`) and the notebook show."""
    return pd.DataFrame(
        [
            {
                "Run": run["run_id"],
                "Direction": run["direction"],
                "Status": run["status"].replace("_", " "),
                "Started": (run["started_at"] or "")[:19].replace("T", " "),
                "Seconds": run["duration_seconds"],
                "Requests": run["requests_used"],
                "Changes": changes(run["counts"]),
            }
            for run in runs
        ],
        columns=["Run", "Direction", "Status", "Started", "Seconds", "Requests", "Changes"],
    )


def _words(count: int, kind: str) -> str:
    one, several = DONE_WORDS[kind]
    return f"{count:,} {one if count == 1 else several}"


def _named(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return f" ({shown}{f' and {len(names) - NAMES_SHOWN:,} more' if len(names) > NAMES_SHOWN else ''})"


def run_summary(database: Database, run_id: int) -> str:
    """What a run did, in plain words, from its row changes as they turned out: `2 lists created
    (News, Promo); 13 contacts created; News: 8 added, 1 removed`. Only what was applied counts
    as done; what failed, was skipped, or never ran (a run that stopped) is said apart."""
    with database.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise RecordNotFound(f"no sync run {run_id}")
        counts = dict(run.counts or {})
        grouped = session.execute(
            select(RowChange.change_kind, RowChange.list_name, RowChange.outcome, func.count())
            .where(RowChange.run_id == run_id)
            .group_by(RowChange.change_kind, RowChange.list_name, RowChange.outcome)
        ).all()
        list_rows = session.execute(
            select(RowChange.change_kind, RowChange.list_name, RowChange.detail)
            .where(RowChange.run_id == run_id, RowChange.change_kind.in_(LIST_LABELS), RowChange.outcome == "applied")
            .order_by(RowChange.id)
        ).all()
    if not grouped:
        # A CRM file import, or a run recorded by its counts only: the counts are all there is.
        return plain_counts(counts) or "nothing needed to change"
    frame = pd.DataFrame(grouped, columns=["label", "list", "outcome", "rows"])
    done = frame[frame["outcome"] == "applied"]
    by_kind = done.assign(kind=done["label"].map(KIND_OF_LABEL)).groupby("kind")["rows"].sum()
    phrases = [
        *_list_phrases(list_rows),
        *(_words(int(by_kind[kind]), kind) for kind in CONTACT_KINDS if by_kind.get(kind, 0)),
        *_member_phrases(done),
        *_not_done_phrases(frame),
    ]
    return "; ".join(phrases) or "nothing needed to change"


def _list_phrases(list_rows: Sequence[tuple[str, str | None, str | None]]) -> list[str]:
    """The lists a run created, linked, renamed and deleted, each named."""
    created = [name for label, name, detail in list_rows if label == LIST_CREATED and not detail]
    linked = [name for label, name, detail in list_rows if label == LIST_CREATED and detail]
    renamed = [str(detail) for label, _name, detail in list_rows if label == LIST_RENAMED]
    deleted = [name for label, name, _detail in list_rows if label == LIST_DELETED]
    return [
        f"{len(names):,} {one if len(names) == 1 else several}{_named([str(n) for n in names])}"
        for names, one, several in (
            (created, "list created", "lists created"),
            (linked, "list linked to the one of the same name", "lists linked to the ones of the same name"),
            (renamed, "list renamed", "lists renamed"),
            (deleted, "list deleted", "lists deleted"),
        )
        if names
    ]


def _member_phrases(done: pd.DataFrame) -> list[str]:
    """`News: 8 added, 1 removed`, per list, lists by name."""
    members = done[done["label"].isin([MEMBER_ADDED, MEMBER_REMOVED])]
    per_list = members.pivot_table(index="list", columns="label", values="rows", aggfunc="sum", fill_value=0)
    phrases = []
    for name, row in per_list.sort_index(key=lambda names: names.str.lower()).iterrows():
        parts = [
            f"{int(row[label]):,} {word}"
            for label, word in ((MEMBER_ADDED, "added"), (MEMBER_REMOVED, "removed"))
            if int(row.get(label, 0))
        ]
        phrases.append(f"{name}: {', '.join(parts)}")
    return phrases


def _not_done_phrases(frame: pd.DataFrame) -> list[str]:
    """What was skipped, failed, or never ran, said apart from what was done."""
    rows = {outcome: int(frame.loc[frame["outcome"] == outcome, "rows"].sum()) for outcome in OUTCOME_WORDS}
    return [f"{rows[outcome]:,} {words}" for outcome, words in OUTCOME_WORDS.items() if rows[outcome]]


def member_changes(database: Database) -> pd.DataFrame:
    """Members added and removed per list and run, as applied: what History charts over time."""
    with database.session() as session:
        rows = session.execute(
            select(SyncRun.id, SyncRun.direction, SyncRun.started_at, RowChange.list_name, RowChange.change_kind)
            .add_columns(func.count())
            .join(RowChange, RowChange.run_id == SyncRun.id)
            .where(RowChange.change_kind.in_([MEMBER_ADDED, MEMBER_REMOVED]), RowChange.outcome == "applied")
            .group_by(SyncRun.id, SyncRun.direction, SyncRun.started_at, RowChange.list_name, RowChange.change_kind)
            .order_by(SyncRun.id)
        ).all()
    columns = ["Run", "Direction", "Started", "List", "Added", "Removed"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows, columns=["Run", "Direction", "Started", "List", "label", "rows"])
    wide = frame.pivot_table(
        index=["Run", "Direction", "Started", "List"], columns="label", values="rows", aggfunc="sum", fill_value=0
    ).reset_index()
    wide = wide.rename(columns={MEMBER_ADDED: "Added", MEMBER_REMOVED: "Removed"})
    for column in ("Added", "Removed"):
        if column not in wide:
            wide[column] = 0
    wide["Started"] = pd.to_datetime(wide["Started"]).dt.strftime("%Y-%m-%d %H:%M")
    return wide[columns].astype({"Run": int, "Added": int, "Removed": int}).reset_index(drop=True)


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

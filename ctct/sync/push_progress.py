"""How a push shows its progress: one bar that only moves forward, naming the step it is on.

Apart from ctct/sync/push.py because it changes nothing on either side: it only turns the steps a
plan needs, and the 0–100 % CTCT reports for each activity, into one bar (SPEC §7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ctct.sync.plan import Plan

Progress = Callable[[float, str], None]
# A step's share of the bar per activity it submits (its polls are shared with the others).
ACTIVITY_WEIGHT = 2


@dataclass(frozen=True)
class StepCounts:
    """What a push sends beside list and email changes: whether it imports, its add and remove
    operations (one per set of lists), and the contacts it sends one by one."""

    imports: bool
    add_parts: int
    remove_parts: int
    one_by_one: int


def silent(_fraction: float, _message: str) -> None:
    """The progress of work not shown as a step of its own."""


class PushSteps:
    """A push's progress as one bar that only moves forward, naming the step it is on (SPEC §7).

    Only the steps this plan needs are counted, each with a share of the bar by the requests it
    takes. CTCT reports each activity's own 0–100 %, starting again for every activity: within a
    step (and within each list's part of it) that fills the step's share, never more."""

    def __init__(self, report: Progress, steps: list[tuple[str, str, int]]) -> None:
        self._report = report
        total = sum(weight for _, _, weight in steps) or 1
        self._spans: dict[str, tuple[int, str, float, float]] = {}
        start = 0.0
        for number, (key, words, weight) in enumerate(steps, 1):
            self._spans[key] = (number, words, start, start + weight / total)
            start += weight / total
        self._count = len(steps)
        self._shown = 0.0

    @classmethod
    def for_plan(cls, plan: Plan, report: Progress, counts: StepCounts) -> PushSteps:
        activity = ACTIVITY_WEIGHT
        creates, renames = plan["lists_create"], plan["lists_rename"]
        moved = int(plan["contacts_update"]["previous_email"].notna().sum())
        deletes = len(plan["lists_delete"])
        contacts = activity * counts.imports + 2 * counts.one_by_one  # a look-up and a write each
        candidates = [
            ("lists", _list_words(creates, renames), len(creates) + len(renames)),
            ("emails", f"changing {moved:,} email address(es) in Constant Contact", moved),
            ("contacts", "sending new or changed contacts to Constant Contact", contacts),
            ("adds", "adding members", activity * counts.add_parts),
            ("removes", "removing members", activity * counts.remove_parts),
            ("deletes", f"deleting {deletes:,} list(s) in Constant Contact", activity if deletes else 0),
            ("check", "checking what Constant Contact shows now", 1),
        ]
        return cls(report, [step for step in candidates if step[2]])

    def _say(self, fraction: float, message: str) -> None:
        self._shown = max(self._shown, min(max(fraction, 0.0), 1.0))
        self._report(self._shown, message)

    def announce(self, key: str, part: int = 1, parts: int = 1, words: str | None = None) -> None:
        """Names a step (and part of it) whose work was handed to CTCT, the bar left where it is:
        the bar reaches the step when CTCT does (`begin`)."""
        if key in self._spans:
            self._say(self._shown, self._label(key, words))

    def _label(self, key: str, words: str | None) -> str:
        number, planned_words, _, _ = self._spans[key]
        return f"Step {number} of {self._count}: {words or planned_words}"

    def begin(self, key: str, part: int = 1, parts: int = 1, words: str | None = None) -> Progress:
        """Says which step (and part of it) starts; returns what its activities report to. A step
        the plan did not foresee says nothing: the bar then moves on with the next one."""
        if key not in self._spans:
            return silent
        _, _, start, end = self._spans[key]
        width = (end - start) / max(parts, 1)
        low = start + width * (part - 1)
        label = self._label(key, words)
        self._say(low, label)

        def within(fraction: float, message: str) -> None:
            self._say(low + width * min(max(fraction, 0.0), 1.0), f"{label} — {message}")

        return within


def _list_words(creates: pd.DataFrame, renames: pd.DataFrame) -> str:
    """`creating 2 and renaming 1 list(s) in Constant Contact`: what the push's first step does."""
    linked = int(creates["link"].astype(bool).sum())
    verbs = [
        f"{verb} {count:,}"
        for verb, count in (("creating", len(creates) - linked), ("linking", linked), ("renaming", len(renames)))
        if count
    ]
    if not verbs:
        return "lists"
    joined = verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]
    return f"{joined} list(s) in Constant Contact"

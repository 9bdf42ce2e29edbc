"""The "Known differences from CTCT" section of docs/sandbox.md, read as data.

Its table has one row per accepted kind of schemathesis failure: the check (a schemathesis check name), the
operations it fails on (`METHOD /path` as the spec spells them), the statuses the sandbox answers there, and why —
a quirk of CTCT or of its published spec, never a sandbox bug (those get fixed, not listed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SANDBOX_DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
HEADING = "## Known differences from CTCT"
COLUMNS = ["check", "operations", "status", "why"]
CODE_SPAN = re.compile(r"`([^`]+)`")
STATUS = re.compile(r"\b[1-5]\d\d\b")


@dataclass(frozen=True)
class KnownDifference:
    check: str
    operations: frozenset[str]
    statuses: frozenset[int]
    why: str

    def covers(self, check: str, operation: str, status: int | None) -> bool:
        return check == self.check and operation in self.operations and status in self.statuses


def known_differences(doc: Path = SANDBOX_DOC) -> list[KnownDifference]:
    """The rows of the section's table; a malformed row is an error rather than a row that silently matches nothing."""
    rows = [line.strip() for line in _section(doc.read_text(encoding="utf-8")) if line.strip().startswith("|")]
    if len(rows) < 2:
        raise ValueError(f"{doc.name}: {HEADING!r} has no table")
    header = [cell.lower() for cell in _cells(rows[0])]
    if header != COLUMNS:
        raise ValueError(f"{doc.name}: the table's columns are {header}, expected {COLUMNS}")
    differences = []
    for row in rows[2:]:  # rows[1] is the |---| line
        check_cell, operations_cell, status_cell, why = _cells(row)
        checks = CODE_SPAN.findall(check_cell)
        operations = frozenset(CODE_SPAN.findall(operations_cell))
        statuses = frozenset(int(status) for status in STATUS.findall(status_cell))
        if len(checks) != 1 or not operations or not statuses or not why:
            raise ValueError(f"{doc.name}: a row needs one check, operations, statuses and a reason: {row}")
        differences.append(KnownDifference(checks[0], operations, statuses, why))
    return differences


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    try:
        start = lines.index(HEADING)
    except ValueError:
        raise ValueError(f"{SANDBOX_DOC.name} has no {HEADING!r} section") from None
    end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("## ")), len(lines))
    return lines[start + 1 : end]


def _cells(row: str) -> list[str]:
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    if len(cells) != len(COLUMNS):
        raise ValueError(f"{SANDBOX_DOC.name}: a row of {HEADING!r} needs {len(COLUMNS)} cells: {row}")
    return cells

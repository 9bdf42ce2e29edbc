"""What a commit did, as observed afterwards: the one value its parts hand each other.

The push (ctct/sync/push.py) fills it from CTCT's answers and what CTCT shows after it; a pull or
import (ctct/sync/pull.py) leaves it empty, its one transaction having committed whole. The
baseline recording (ctct/sync/recording.py) and the run's result (ctct/sync/apply.py) read it.
It lives apart so that none of those modules needs another to know its shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Outcome:
    """What a commit did, as observed afterwards."""

    errors: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    # Push: CTCT's lists after the sync, and the members of the lists it touched (by email).
    remote_lists: pd.DataFrame | None = None
    remote_members: dict[str, set[str]] = field(default_factory=dict)
    # Push: the contacts whose fields CTCT confirmed (by email).
    confirmed_contacts: set[str] = field(default_factory=set)
    # Push: local list id → CTCT list id, the lists it created or linked included.
    list_ids: dict[int, str] = field(default_factory=dict)
    # Push: local lists it could not create or link in CTCT, and why.
    unplaced: dict[int, str] = field(default_factory=dict)

    def fail(self, kind: str, list_name: Any, email: Any, reason: str) -> None:
        self.failed.append(
            {
                "kind": kind,
                "list": "" if pd.isna(list_name) else str(list_name),
                "email": str(email or ""),
                "reason": reason,
            }
        )

"""Errors of the console's own services (the CTCT client has its own, in ctct/api/errors.py).

Each carries a message a user can act on; the CLI prints it as one line, the pages as st.error.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every error a service raises on purpose."""


class InvalidInput(ConsoleError):
    """A value a user gave cannot be stored; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(ConsoleError):
    """The company, contact, tag or list named does not exist."""


class Conflict(ConsoleError):
    """The change would break a uniqueness rule (list or tag names)."""


class IneligibleContacts(ConsoleError):
    """Contacts refused for a list, each with the reason (SPEC §3)."""

    def __init__(self, refused: list[tuple[str, str]]) -> None:
        self.refused = refused
        shown = "; ".join(f"{who}: {reason}" for who, reason in refused[:5])
        more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
        super().__init__(f"{len(refused)} contact(s) refused — {shown}{more}")

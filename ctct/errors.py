"""Every error the console raises on purpose, under one root: `ConsoleError`.

The CTCT client's errors (`CtctError` and below, in ctct/api/errors.py) are one branch of it, kept
beside the client so that layer imports nothing of the console but this root. Each error carries
a message a user can act on: the CLI maps its class to an exit code and prints it as one line
(ctct.cli.ERROR_EXITS), the pages show it with st.error.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every error the console raises on purpose: `except ConsoleError` catches any of ours."""


# What the services refuse to store


class InvalidInput(ConsoleError):
    """A value a user gave cannot be stored; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RecordNotFound(ConsoleError):
    """The company, contact, tag, list, membership change or sync run named does not exist."""


class RecordConflict(ConsoleError):
    """The change would break a rule of what is stored: a list, tag or contact email already taken,
    a change undone twice."""


class IneligibleContacts(ConsoleError):
    """Contacts refused for a list, each with the reason (SPEC §3)."""

    def __init__(self, refused: list[tuple[str, str]]) -> None:
        self.refused = refused
        shown = "; ".join(f"{who}: {reason}" for who, reason in refused[:5])
        more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
        super().__init__(f"{len(refused)} contact(s) refused — {shown}{more}")


# Syncs


class SyncRefused(ConsoleError):
    """The sync did not start or commit, on purpose: stale plan, mass removal, budget, busy."""


class SyncBusy(SyncRefused):
    """Another sync holds the lock."""


# CRM imports from a file


class ImportFileError(ConsoleError):
    """The file as a whole cannot be read: encoding, format or columns."""


class ImportStale(ConsoleError):
    """Commit refused because the CRM changed after the plan was made."""


class ImportRejected(ConsoleError):
    """Commit refused because rows were rejected and `skip_invalid` was not given."""

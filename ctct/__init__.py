"""The Constant Contact list-sync console for the Customer Focus CRM.

In Python (a notebook, a script): `ctct.connect(…)` opens a console — see ctct.session — and
`ctct.start_sandbox()` runs the built-in Constant Contact sandbox to rehearse against.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Console", "connect", "start_sandbox"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the sandbox server and `python -m ctct` start without pandas & co.
    if name in {"Console", "connect"}:
        from ctct import session

        return getattr(session, name)
    if name == "start_sandbox":
        from ctct.sandbox.process import start_sandbox

        return start_sandbox
    raise AttributeError(f"module 'ctct' has no attribute {name!r}")

"""The Constant Contact list-sync console for the Customer Focus CRM.

In Python (a notebook, a script): `ctct.connect(…)` opens a console — see ctct.session — and
`ctct.start_sandbox()` runs the built-in Constant Contact sandbox to rehearse against.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["Console", "connect", "start_sandbox"]

# Arrow's allocator for the frames (pandas' text columns are Arrow's): jemalloc hands freed memory
# back to the system where mimalloc, Arrow's default, keeps it; a plan of a million contacts then
# peaks 1,128 MiB instead of 1,271 (bench/bench_sync_plan.py). Chosen by the variable pyarrow reads
# when it loads, or set on its pool when something loaded it before us. A choice made before —
# in the environment, or in code — is kept. Linux only: the wheels elsewhere may lack jemalloc,
# and a variable naming a missing one makes every process print a warning.
ARROW_POOL = "jemalloc"
ARROW_DEFAULT_POOL = "mimalloc"


def _choose_arrow_pool() -> None:
    if not sys.platform.startswith("linux") or os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is None:
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = ARROW_POOL
        return
    chosen_in_code = pyarrow.default_memory_pool().backend_name != ARROW_DEFAULT_POOL
    if not chosen_in_code and ARROW_POOL in pyarrow.supported_memory_backends():
        pyarrow.set_memory_pool(pyarrow.jemalloc_memory_pool())


_choose_arrow_pool()


def __getattr__(name: str) -> Any:
    # Imported on first use: the sandbox server and `python -m ctct` start without pandas & co.
    if name in {"Console", "connect"}:
        from ctct import session

        return getattr(session, name)
    if name == "start_sandbox":
        from ctct.sandbox.process import start_sandbox

        return start_sandbox
    raise AttributeError(f"module 'ctct' has no attribute {name!r}")

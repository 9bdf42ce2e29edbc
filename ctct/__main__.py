"""`python -m ctct …`: the command line (ctct.cli), after checking its packages are importable.

Run with a Python that lacks them (the system python3 rather than .venv's), importing the CLI
would end in a ModuleNotFoundError traceback; instead one line says which Python to use.
Only the standard library may be imported before that check.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _shown(path: Path) -> str:
    """`path` relative to the current folder when it lies inside it: what to type from here."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def missing_dependency_message(missing: str, arguments: list[str]) -> str:
    command = shlex.join(["-m", "ctct", *arguments])
    venv_python = ROOT / ".venv" / "bin" / "python"
    runner = f"python3 {_shown(ROOT / 'scripts' / '_venv.py')} {command}"
    # Not resolved: the venv's python is often a symlink to the very interpreter it was made from.
    in_venv = Path(sys.executable).absolute().parent == venv_python.parent
    if venv_python.exists() and not in_venv:
        next_step = f"run it with the project's venv: {_shown(venv_python)} {command}"
    else:
        # No venv yet, or this is the venv and it lacks a requirement: the runner creates or
        # refreshes it from requirements.txt.
        next_step = f"run {runner} (it creates or refreshes .venv first)"
    return f"error: this Python ({sys.executable}) lacks the console's packages (no module {missing!r}): {next_step}"


def run() -> int:
    try:
        from ctct.cli import main
    except KeyboardInterrupt:
        # Stopped while still starting (Ctrl-C, or the demo script stopping its processes): nothing
        # was begun, so no traceback — the code a shell reports for SIGINT.
        return 130
    except ModuleNotFoundError as error:
        # A module of the project itself missing is a bug, not a setup step: keep its traceback.
        if not error.name or error.name.split(".")[0] == "ctct":
            raise
        print(missing_dependency_message(error.name, sys.argv[1:]), file=sys.stderr)
        return 1
    return main()


if __name__ == "__main__":
    sys.exit(run())

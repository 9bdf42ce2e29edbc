"""`python -m ctct` started with a Python that lacks the console's packages (the system python3
instead of .venv's): one line saying how to run it, exit 1 — not a ModuleNotFoundError traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def interpreters_without_packages() -> list[list[str]]:
    """Pythons that cannot import sqlalchemy: each plain one found here (the system's, the one the
    venv was made from), and that last one with -S, which leaves out every site-packages and so
    lacks them wherever this runs."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    found: list[list[str]] = []
    for candidate in (base, shutil.which("python3"), "/usr/bin/python3"):
        if not candidate or not Path(candidate).exists() or [candidate] in found:
            continue
        probe = subprocess.run([candidate, "-c", "import sqlalchemy"], capture_output=True, timeout=60)
        if probe.returncode != 0:
            found.append([candidate])
    if Path(base).exists():
        found.append([base, "-S"])
    return found


CANDIDATES = interpreters_without_packages()


@pytest.mark.skipif(not CANDIDATES, reason="no Python without the console's packages was found to run it with")
@pytest.mark.parametrize("python", CANDIDATES, ids=" ".join)
def test_a_python_without_the_packages_is_told_how_to_run_it(python, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "PYTHONHOME"}}
    env["PYTHONPATH"] = str(ROOT)  # the package itself is found, its dependencies are not
    done = subprocess.run(
        [*python, "-m", "ctct", "lists", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: this Python (") and "lacks the console's packages (no module" in done.stderr
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.exists():
        # Run from elsewhere: the venv's python by its full path, with the same arguments.
        assert done.stderr.rstrip().endswith(f"{venv_python} -m ctct lists --json"), done.stderr
    else:
        assert f"python3 {ROOT / 'scripts' / '_venv.py'} -m ctct lists --json" in done.stderr


def test_the_suggested_runner_runs_the_command(tmp_path):
    """`python3 scripts/_venv.py -m ctct …`, suggested when there is no usable .venv, runs it
    in the venv from the current folder (the venv exists here: it runs this test)."""
    env = os.environ | {"CTCT_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "_venv.py"), "-m", "ctct", "lists", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

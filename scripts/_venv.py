"""Creates or refreshes .venv from requirements.txt, then runs a command inside it.

Only the standard library is used here: this runs on a fresh machine with nothing but Python.
Run directly, `python3 scripts/_venv.py [ARGS...]` runs `.venv/bin/python ARGS...` from the current
folder, e.g. `python3 scripts/_venv.py -m ctct status` (what `python -m ctct` suggests when the
Python it was started with lacks the console's packages).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".requirements.sha256"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older python3
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    python = venv_python()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        link_project(python)
        return python
    if not python.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing requirements.txt into .venv (first run takes a few minutes) ...", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")], check=True)
    STAMP.write_text(wanted)
    link_project(python)
    return python


def link_project(python: Path) -> None:
    """Makes `import ctct` work for the venv's python from any folder — a Jupyter kernel started
    in notebooks/, a sandbox process — by putting the project root on its path (a .pth file)."""
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    link = Path(site_packages) / "ctct-console.pth"
    if not link.exists() or link.read_text().strip() != str(ROOT):
        link.write_text(str(ROOT) + "\n")


def run_in_venv(args: list[str], env: dict[str, str] | None = None) -> int:
    python = ensure_venv()
    return subprocess.call([str(python), *args], cwd=ROOT, env={**os.environ, **(env or {})})


if __name__ == "__main__":
    python = ensure_venv()
    if len(sys.argv) == 1:
        print(f"ready: {python}")
        sys.exit(0)
    if os.name == "nt":
        sys.exit(subprocess.call([str(python), *sys.argv[1:]]))
    # Replaced rather than wrapped: Ctrl-C and SIGTERM reach the command itself (a sync marks its
    # run interrupted) and its exit code is this one's.
    os.execv(python, [str(python), *sys.argv[1:]])

"""The static checks are part of the test suite, so CI fails on them like on any test: ruff's lint
rules (complexity included) and formatting over the whole project, and mypy over ctct/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    tool = TOOLS / command[0]
    if not tool.exists():
        pytest.skip(f"{command[0]} is not installed in this environment (pip install -r requirements.txt)")
    return subprocess.run([str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean() -> None:
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_complexity_rules_are_on() -> None:
    """Functions short enough to read at once: the rules stay switched on for ctct/."""
    result = _run("ruff", "check", "--no-cache", "--show-settings", "ctct/cli.py")
    for rule in ("C901", "PLR0912", "PLR0915"):
        assert rule in result.stdout, f"{rule} is not enabled"


def test_mypy_is_clean() -> None:
    result = _run("mypy", "--no-incremental")
    assert result.returncode == 0, result.stdout + result.stderr

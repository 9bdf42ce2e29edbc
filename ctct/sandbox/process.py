"""The sandbox as its own process on a free loopback port (demo mode, real-HTTP tests, benchmarks)."""

from __future__ import annotations

import atexit
import html
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import httpx

from ctct.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    """Polls `url` until it answers; fails early if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server at {url} exited with code {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server at {url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.1)


class ServerProcess:
    """A local server process on 127.0.0.1:`port`, up once its health URL answers; `stop()` ends it
    (and so does the interpreter's exit, so a notebook kernel never leaves one behind)."""

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        health_path: str = "/",
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        with socket.socket() as probe:  # otherwise whatever holds the port would answer for us
            if hasattr(socket, "SO_REUSEADDR") and os.name != "nt":
                # As the server itself binds: a port left in TIME_WAIT by a stopped server is free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise RuntimeError(f"port {port} on 127.0.0.1 is in use: choose another (or none)") from None
        # Errors go to a file rather than a pipe: a pipe nobody reads would block a chatty server.
        # It lives as long as the process and is closed by stop().
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self.errors, cwd=cwd, env={**os.environ, **(env or {})}
        )
        atexit.register(self.stop)
        try:
            wait_until_up(self.url + health_path, self.process, timeout)
        except RuntimeError as error:
            tail = self._error_tail()
            self.stop()
            raise RuntimeError(f"{error}{tail}") from None
        except BaseException:
            self.stop()
            raise

    def _error_tail(self, lines: int = 5) -> str:
        self.errors.seek(0)
        tail = self.errors.read().decode(errors="replace").strip().splitlines()[-lines:]
        return (":\n" + "\n".join(tail)) if tail else ""

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.errors.close()
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def sandbox_command(port: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "ctct", "sandbox", "--port", str(port), *options]


@contextmanager
def running_sandbox(*options: str, port: int | None = None, cwd: Path | None = None) -> Iterator[str]:
    """`python -m ctct sandbox OPTIONS` on 127.0.0.1; yields its base URL and stops it afterwards."""
    port = port or free_port()
    with ServerProcess(sandbox_command(port, *options), port, cwd=cwd) as server:
        yield server.url


class SandboxServer(ServerProcess):
    """A sandbox started from Python (`ctct.start_sandbox()`): what `ctct.connect(sandbox=…)` needs,
    and its controls — seeding a customer's existing CTCT data, request statistics."""

    def __init__(self, port: int, options: Sequence[str] = ()) -> None:
        super().__init__(sandbox_command(port, *options), port)

    @property
    def api_base(self) -> str:
        return f"{self.url}/v3"

    @property
    def auth_base(self) -> str:
        return f"{self.url}/oauth2/default/v1"

    def _control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = (
            httpx.post(self.url + path, json=body, timeout=30) if body is not None else httpx.get(self.url + path)
        )
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        if response.status_code >= 400 or not isinstance(answer, dict):
            reason = answer.get("error", answer) if isinstance(answer, dict) else answer
            raise ValueError(f"the sandbox refused {path} (HTTP {response.status_code}): {reason}")
        return answer

    def seed(
        self, contacts: Iterable[dict[str, Any]] | Any, lists: Sequence[str] = (), account: str | None = None
    ) -> dict[str, Any]:
        """Puts existing contacts (and lists) into an account, as if the customer had them in CTCT
        already; see docs/sandbox.md. Nothing is created when any row is invalid.

        `contacts` is a list of dicts, or a DataFrame with the same column names (`email`,
        `first_name`, …, `lists`, `permission_to_send`), where empty cells are left out and `lists`
        holds list names separated by `;` (or a list of names)."""
        if hasattr(contacts, "to_dict"):  # a pandas DataFrame
            contacts = [_seed_row(number, row) for number, row in enumerate(contacts.to_dict("records"))]
        body: dict[str, Any] = {"contacts": list(contacts), "lists": list(lists)}
        if account is not None:
            body["account"] = account
        return self._control("/_sandbox/seed", body)

    def stats(self) -> dict[str, Any]:
        return self._control("/_sandbox/stats")

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Constant Contact sandbox at {self.url} ({state}; log in as demo / demo)"

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>"


def _seed_row(number: int, row: dict[str, Any]) -> dict[str, Any]:
    """A frame's row as a seed contact: empty cells left out, `lists` split on `;`."""
    seeded: dict[str, Any] = {}
    for column, value in row.items():
        if column == "lists" and isinstance(value, list):
            seeded[column] = value
        elif column == "lists" and isinstance(value, str):
            seeded[column] = [part.strip() for part in value.split(";") if part.strip()]
        elif isinstance(value, str):
            if value.strip():
                seeded[column] = value
        elif value is not None and not (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"row {number}, column {column!r}: {value!r} is not text")
    return seeded


def start_sandbox(
    *,
    port: int | None = None,
    state_file: Path | str | None = None,
    activity_seconds: float | None = None,
    rate_limit: float | None = None,
    daily_quota: int | None = None,
) -> SandboxServer:
    """Starts `python -m ctct sandbox` on 127.0.0.1 (a free port unless given) and waits until it
    answers; `.stop()` or a `with` block ends it."""
    options: list[str] = []
    for flag, value in (
        ("--state", state_file),
        ("--activity-seconds", activity_seconds),
        ("--rate-limit", rate_limit),
        ("--daily-quota", daily_quota),
    ):
        if value is not None:
            options += [flag, str(value)]
    return SandboxServer(port or free_port(), options)


@contextmanager
def running_console(env: dict[str, str], port: int | None = None, options: Sequence[str] = ()) -> Iterator[str]:
    """`streamlit run app.py` on 127.0.0.1 with `env` (database, CTCT settings) and more Streamlit
    `options` (`--secrets.files …`, say); yields its URL."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        *options,
    ]
    with ServerProcess(command, port, "/_stcore/health", env=env, cwd=PROJECT_ROOT, timeout=60) as server:
        yield server.url


@contextmanager
def running_worker(env: dict[str, str], cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m ctct worker` with `env` (the console's database and CTCT settings); stopped (as
    Ctrl-C stops it) afterwards. It has no port: the console sees it through the database."""
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "ctct", "worker"],
        stdout=subprocess.DEVNULL,
        stderr=errors,
        cwd=cwd or PROJECT_ROOT,
        env={**os.environ, **env},
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()

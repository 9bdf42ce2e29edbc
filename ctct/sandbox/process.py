"""The sandbox as its own process on a free loopback port (demo mode, real-HTTP tests, benchmarks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

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


@contextmanager
def running_server(
    command: Sequence[str],
    port: int,
    health_path: str = "/",
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[str]:
    """Runs `command` (which must listen on 127.0.0.1:`port`) until the block ends; yields its URL."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env={**os.environ, **(env or {})}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + health_path, process, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def running_sandbox(*options: str, port: int | None = None, cwd: Path | None = None) -> AbstractContextManager[str]:
    """`python -m ctct sandbox OPTIONS` on 127.0.0.1; yields its base URL and stops it afterwards."""
    port = port or free_port()
    return running_server([sys.executable, "-m", "ctct", "sandbox", "--port", str(port), *options], port, cwd=cwd)


def running_console(env: dict[str, str], port: int | None = None) -> AbstractContextManager[str]:
    """`streamlit run app.py` on 127.0.0.1 with `env` (database, CTCT settings); yields its URL."""
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
    ]
    return running_server(command, port, "/_stcore/health", env=env, cwd=PROJECT_ROOT, timeout=60)

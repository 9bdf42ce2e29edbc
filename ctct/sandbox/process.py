"""The sandbox as its own process on a free loopback port (demo mode, real-HTTP tests, benchmarks)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


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
def running_sandbox(*options: str, port: int | None = None, cwd: Path | None = None) -> Iterator[str]:
    """`python -m ctct sandbox OPTIONS` on 127.0.0.1; yields its base URL and stops it afterwards."""
    port = port or free_port()
    command: Sequence[str] = [sys.executable, "-m", "ctct", "sandbox", "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/", process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

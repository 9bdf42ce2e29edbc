"""SPEC §11: `python3 scripts/demo.py` — the README's first command — listens on 127.0.0.1 only,
unless `--host` says otherwise."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctct.sandbox.process import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
PROC_TCP = Path("/proc/net/tcp")
LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """The IPv4 and IPv6 addresses something listens on at `port` (Linux's socket tables)."""
    found = set()
    for table in (PROC_TCP, Path("/proc/net/tcp6")):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == LISTEN and int(port_hex, 16) == port:
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:  # IPv4, little-endian
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return "::" if set(hex_address) == {"0"} else hex_address


@pytest.mark.skipif(not PROC_TCP.exists(), reason="reads Linux's /proc/net/tcp to see where the demo listens")
@pytest.mark.parametrize(("options", "console_address"), [([], "127.0.0.1"), (["--host", "0.0.0.0"], "0.0.0.0")])
def test_the_demo_listens_on_loopback_unless_asked(tmp_path, options, console_address):
    port, sandbox_port = free_port(), free_port()
    command = [sys.executable, str(ROOT / "scripts" / "demo.py"), "--port", str(port)]
    command += ["--sandbox-port", str(sandbox_port), "--data-dir", str(tmp_path), *options]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CTCT_")}
    demo = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", demo, timeout=120)
        assert listening_addresses(port) == {console_address}
        assert listening_addresses(sandbox_port) == {"127.0.0.1"}
        assert (tmp_path / "demo.db").exists()
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    assert not listening_addresses(port) and not listening_addresses(sandbox_port)


def start_demo(tmp_path: Path, port: int, sandbox_port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """The demo in a session of its own (so that a test can signal the whole group, as a terminal's
    Ctrl+C does); its output in a file, which a leftover child holding it open cannot block."""
    output = tmp_path / "demo-output.txt"
    command = [sys.executable, str(ROOT / "scripts" / "demo.py"), "--port", str(port)]
    command += ["--sandbox-port", str(sandbox_port), "--data-dir", str(tmp_path)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CTCT_")}
    with output.open("wb") as sink:
        demo = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    return demo, output


def wait_for_worker(database_file: Path, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if database_file.exists():
            with sqlite3.connect(database_file) as connection:
                try:
                    if connection.execute("SELECT count(*) FROM sync_workers").fetchone()[0]:
                        return True
                except sqlite3.OperationalError:
                    pass  # not migrated yet
        time.sleep(0.3)
    return False


STOPPED = "stopped: the console and its Constant Contact sandbox are shut down"


def group_is_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.skipif(not PROC_TCP.exists(), reason="reads Linux's /proc/net/tcp to see what still listens")
@pytest.mark.parametrize(
    ("stop", "whole_group"),
    [
        (signal.SIGTERM, False),  # `kill PID`
        (signal.SIGHUP, False),  # its terminal closed
        (signal.SIGINT, True),  # Ctrl+C: the terminal signals the demo and its children
    ],
    ids=["SIGTERM", "SIGHUP", "Ctrl+C"],
)
def test_a_stop_signal_stops_the_console_and_the_sandbox(tmp_path, stop, whole_group):
    port, sandbox_port = free_port(), free_port()
    demo, output = start_demo(tmp_path, port, sandbox_port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", demo, timeout=120)
        # Beside the console, the background worker: it says it is alive in the demo's database.
        assert wait_for_worker(tmp_path / "demo.db"), output.read_text()
        (os.killpg if whole_group else os.kill)(demo.pid, stop)
        assert demo.wait(timeout=30) == 130
        # Nothing of the demo left running, re-parented, or holding a port for the next one.
        assert group_is_gone(demo.pid)
        assert not listening_addresses(port) and not listening_addresses(sandbox_port)
        printed = output.read_text()
        assert "Traceback" not in printed, printed
        assert printed.rstrip().splitlines()[-1] == STOPPED
    finally:
        if not group_is_gone(demo.pid):
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(timeout=10)


@pytest.mark.skipif(not PROC_TCP.exists(), reason="reads Linux's /proc/net/tcp to see what listens")
@pytest.mark.parametrize("taken", ["--port", "--sandbox-port"])
def test_a_port_in_use_is_reported_before_anything_starts(tmp_path, taken):
    ports = {"--port": free_port(), "--sandbox-port": free_port()}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[taken]))
        holder.listen()
        demo, output = start_demo(tmp_path, ports["--port"], ports["--sandbox-port"])
        try:
            assert demo.wait(timeout=60) == 1
        finally:
            if not group_is_gone(demo.pid):
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait(timeout=10)
    assert output.read_text() == f"port {ports[taken]} is in use: choose another with {taken} N\n"
    # Nothing was started: no demo data loaded, neither server up (so no address announced).
    assert not (tmp_path / "demo.db").exists()
    assert not any(listening_addresses(number) for number in ports.values())

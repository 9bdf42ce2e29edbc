"""Starts the console in demo mode: `python3 scripts/demo.py [--port 8501] [--sandbox-port 8765] [--host 127.0.0.1]`.

Runs the built-in Constant Contact sandbox (log in as demo / demo) and the console against it, on
their own data (data/demo.db, data/demo-sandbox.json); loads the demo CRM on first start. No
Constant Contact account is needed. Both listen on 127.0.0.1 only: the demo holds a CRM's worth of
(made-up) personal data; `--host 0.0.0.0` opens the console to the network when that is wanted.
Ctrl+C, SIGTERM or SIGHUP stops both and exits with 130; a port in use is reported before
anything starts.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _venv import ROOT, ensure_venv

# As `python -m ctct` reports a command stopped by a signal.
EXIT_STOPPED = 130
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
# How long the console and the sandbox get to shut down before they are killed.
GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2


def port(text: str) -> int:
    number = int(text)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port (1-65535)")
    return number


def port_problem(host: str, number: int, option: str) -> str | None:
    """Why `number` on `host` cannot be listened on, with the option that picks another; None when free.

    Checked before anything starts: otherwise the sandbox would start, the console's address be
    announced, and only then Streamlit fail on a taken port."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, number, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        return f"cannot listen on {host!r} ({error.strerror}): choose another address with --host"
    with socket.socket(family, kind, protocol) as probe:
        if os.name != "nt":
            # As the servers themselves bind: a port a demo just stopped left in TIME_WAIT is free.
            # (On Windows the option would let the probe share a port in use.)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {number} is in use: choose another with {option} N"
            return f"port {number} on {host} cannot be used ({error.strerror}): choose another with {option} N"
    return None


class Demo:
    """The demo's child processes, and the stop signal that ends them all."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []
        self.stop_signal: str | None = None

    def catch_stop_signals(self) -> None:
        # A flag rather than an exception: a signal arriving while a child is being started
        # must not leave that child running unrecorded.
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, _frame: object) -> None:
        self.stop_signal = self.stop_signal or signal.Signals(number).name

    def start(self, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(command, cwd=ROOT, env=env)
        self.children.append(child)
        return child

    def wait(self, child: subprocess.Popen[bytes]) -> int | None:
        """`child`'s exit code, or None when a stop signal came first."""
        while child.poll() is None and self.stop_signal is None:
            time.sleep(POLL_SECONDS)
        return child.returncode

    def stop(self) -> None:
        """Ends every child still running: SIGTERM, then SIGKILL after the grace period."""
        if self.stop_signal == "SIGINT":
            # Ctrl+C in a terminal reaches the children too: they get a moment to stop by
            # themselves (a second signal would have Streamlit say "Stopping..." twice).
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and any(child.poll() is None for child in self.children):
                time.sleep(POLL_SECONDS / 4)
        running = [child for child in self.children if child.poll() is None]
        for child in running:
            child.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for child in running:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_for(url: str, child: subprocess.Popen[bytes], demo: Demo) -> None:
    deadline = time.monotonic() + 30
    while demo.stop_signal is None:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if child.poll() is not None:
                sys.exit(f"the Constant Contact sandbox did not start (exit code {child.returncode}): see above why")
            if time.monotonic() > deadline:
                sys.exit("the Constant Contact sandbox did not answer within 30 s: see above why")
            time.sleep(POLL_SECONDS)


def run(demo: Demo, args: argparse.Namespace) -> int:
    python = str(ensure_venv())
    args.data_dir.mkdir(parents=True, exist_ok=True)
    # The address a browser opens, and CTCT's sandbox sends it back to: the console's own.
    console_url = f"http://{'127.0.0.1' if args.host in ('127.0.0.1', '0.0.0.0') else args.host}:{args.port}"
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    env = {
        **os.environ,
        "CTCT_DATABASE_URL": f"sqlite:///{args.data_dir / 'demo.db'}",
        "CTCT_DEMO_MODE": "1",
        "CTCT_API_BASE": f"{sandbox_url}/v3",
        "CTCT_AUTH_BASE": f"{sandbox_url}/oauth2/default/v1",
        "CTCT_REDIRECT_URI": f"{console_url}/",
        "CTCT_SECRET_KEY_FILE": os.environ.get("CTCT_SECRET_KEY_FILE", str(args.data_dir / "secret.key")),
        "CTCT_CLIENT_ID": "customer-focus-demo",
    }
    demo.catch_stop_signals()
    loaded = demo.wait(demo.start([python, "-m", "ctct", "demo-data", "--if-empty"], env))
    if demo.stop_signal is not None:
        return EXIT_STOPPED
    if loaded:  # the command said why, in one line
        return 1
    state = str(args.data_dir / "demo-sandbox.json")
    sandbox = demo.start([python, "-m", "ctct", "sandbox", "--port", str(args.sandbox_port), "--state", state], env)
    wait_for(sandbox_url + "/", sandbox, demo)
    if demo.stop_signal is not None:
        return EXIT_STOPPED
    # Beside them, the worker that runs committed syncs and schedules (they outlive the browser).
    worker = demo.start([python, "-m", "ctct", "worker"], env)
    print(
        f"\nThe console opens at {console_url}  (Constant Contact sandbox: {sandbox_url}, "
        "log in as demo / demo; a background worker runs the syncs; Ctrl+C stops all three)\n",
        flush=True,
    )
    console = demo.start(
        [
            python,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.address",
            args.host,
            "--server.port",
            str(args.port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        env,
    )
    while demo.stop_signal is None:
        if console.poll() is not None:
            return console.returncode
        if sandbox.poll() is not None:
            print(f"the Constant Contact sandbox stopped (exit code {sandbox.returncode}): see above why", flush=True)
            return 1
        if worker.poll() is not None:
            print(f"the background worker stopped (exit code {worker.returncode}): see above why", flush=True)
            return 1
        time.sleep(POLL_SECONDS)
    return EXIT_STOPPED


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, as every message of the console's commands, instead of argparse's usage block.
        self.exit(2, f"{self.prog}: {message}; see `python3 scripts/demo.py --help`\n")


def main() -> int:
    parser = Parser(prog="demo.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=port, default=8501)
    parser.add_argument("--sandbox-port", type=port, default=8765)
    parser.add_argument("--host", default="127.0.0.1", help="the console's listening address (default 127.0.0.1)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data", help="where the demo's files live")
    args = parser.parse_args()
    if args.port == args.sandbox_port:
        parser.error("--port and --sandbox-port must differ")
    for problem in (
        port_problem(args.host, args.port, "--port"),
        port_problem("127.0.0.1", args.sandbox_port, "--sandbox-port"),
    ):
        if problem:
            print(problem, file=sys.stderr)
            return 1
    demo = Demo()
    try:
        code = run(demo, args)
    except KeyboardInterrupt:  # Ctrl+C while .venv was being made, before the demo's own handling
        code = EXIT_STOPPED
    finally:
        # Whatever ended the demo, nothing of it is left running (or holding its ports).
        demo.stop()
    if code == EXIT_STOPPED:
        print("stopped: the console and its Constant Contact sandbox are shut down", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

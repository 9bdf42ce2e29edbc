"""Starts the console in demo mode: `python3 scripts/demo.py [--port 8501] [--sandbox-port 8765] [--host 127.0.0.1]`.

Runs the built-in Constant Contact sandbox (log in as demo / demo) and the console against it, on
their own data (data/demo.db, data/demo-sandbox.json); loads the demo CRM on first start. No
Constant Contact account is needed. Both listen on 127.0.0.1 only: the demo holds a CRM's worth of
(made-up) personal data; `--host 0.0.0.0` opens the console to the network when that is wanted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _venv import ROOT, ensure_venv


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if process.poll() is not None:
                sys.exit("the Constant Contact sandbox did not start")
            time.sleep(0.1)
    sys.exit("the Constant Contact sandbox did not answer")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--sandbox-port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1", help="the console's listening address (default 127.0.0.1)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data", help="where the demo's files live")
    args = parser.parse_args()
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
    if subprocess.call([python, "-m", "ctct", "demo-data", "--if-empty"], cwd=ROOT, env=env):
        sys.exit(1)
    sandbox = subprocess.Popen(
        [
            python,
            "-m",
            "ctct",
            "sandbox",
            "--port",
            str(args.sandbox_port),
            "--state",
            str(args.data_dir / "demo-sandbox.json"),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(sandbox_url + "/", sandbox)
        print(
            f"\nThe console opens at {console_url}  (Constant Contact sandbox: {sandbox_url}, "
            "log in as demo / demo; Ctrl+C stops both)\n",
            flush=True,
        )
        code = subprocess.call(
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
            cwd=ROOT,
            env=env,
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    sys.exit(code)

"""Starts the console in demo mode: `python3 scripts/demo.py [--port 8501]`.

Uses its own database (data/demo.db), loads the demo data on first start, and needs no
Constant Contact account.
"""

from __future__ import annotations

import argparse
import sys

from _venv import ROOT, run_in_venv

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    args = parser.parse_args()
    database_url = f"sqlite:///{ROOT / 'data' / 'demo.db'}"
    env = {"CTCT_DATABASE_URL": database_url, "CTCT_DEMO_MODE": "1"}
    code = run_in_venv(["-m", "ctct", "demo-data", "--if-empty"], env)
    if code:
        sys.exit(code)
    print(f"\nThe console opens at http://localhost:{args.port}  (Ctrl+C stops it)\n", flush=True)
    sys.exit(
        run_in_venv(
            [
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.port",
                str(args.port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            env,
        )
    )

"""The whole test suite: `python3 scripts/test.py [pytest args]`.

PostgreSQL tests run when CTCT_TEST_DATABASE_URL is set, browser tests when Chromium is
installed; otherwise they are skipped and the summary says why.
"""

from __future__ import annotations

import shutil
import sys

from _venv import run_in_venv

if __name__ == "__main__":
    if not shutil.which("chromium") and not shutil.which("chromium-browser"):
        print("note: Chromium not found: browser tests will be skipped (apt-get install -y chromium)")
    sys.exit(run_in_venv(["-m", "pytest", *sys.argv[1:]]))

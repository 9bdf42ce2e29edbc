"""More seeded random walks over the Email Lists page than CI runs (tests/e2e/email_lists_walk.py).

Run: .venv/bin/python bench/walk_email_lists.py [--seeds 20] [--steps 40] [--first-seed 100]
Prints JSON: walks run, steps taken, and each failure with its seed, step and the steps before it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from ctct.sandbox.process import running_console
from tests.activated import activated
from tests.browser import CHROMIUM_ARGS, chromium_executable
from tests.e2e.email_lists_walk import EmailListsPage, Walk, WalkFailure, console_env, prepare_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args()
    failures, steps, started = [], 0, time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            with tempfile.TemporaryDirectory() as folder:
                database = prepare_database(Path(folder) / "console.db", seed)
                env = console_env(Path(folder) / "console.db", Path(folder) / "key")
                # Email lists exist only while Constant Contact is activated.
                with (
                    activated(env["CTCT_DATABASE_URL"], env["CTCT_SECRET_KEY_FILE"]) as connection,
                    running_console({**env, **connection}) as url,
                ):
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    page = context.new_page()
                    page.set_default_timeout(20_000)
                    walk = Walk(EmailListsPage(page, url), database, seed, args.steps, Path(folder))
                    try:
                        walk.run()
                    except WalkFailure as failure:
                        failures.append({"seed": seed, "failure": str(failure)})
                    steps += len(walk.done)
                    context.close()
                database.dispose()
            print(f"seed {seed}: {'failed' if failures and failures[-1]['seed'] == seed else 'ok'}", file=sys.stderr)
        browser.close()
    print(
        json.dumps(
            {
                "walks": args.seeds,
                "steps_per_walk": args.steps,
                "steps_taken": steps,
                "failures": failures,
                "minutes": round((time.perf_counter() - started) / 60, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

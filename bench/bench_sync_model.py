"""The sync engine's model test (tests/sync/engine_model.py), run long: many seeds, many examples.

Run: .venv/bin/python bench/bench_sync_model.py [--seeds 5] [--examples 200] [--steps 40]
     [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
Reports, per database: rules run, invariant checks, faults injected by kind, crashes, kills,
resumes, edits midway, sync outcomes, the errors syncs ended with, and violations (a seed whose run found one prints the
shrunk sequence of steps and the broken invariant).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

from hypothesis import seed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.virtual_sandbox import sandbox_settings
from ctct.db import Database
from ctct.sandbox import SandboxConfig, create_app
from ctct.sandbox.inprocess import SandboxTransport
from tests.sandbox.conftest import FakeClock
from tests.sync.engine_model import EngineMachine, World, machine_settings


def run(database_url: str, seeds: int, examples: int, steps: int, workdir: Path) -> dict[str, object]:
    clock = FakeClock()
    app = create_app(SandboxConfig(clock=clock, activity_seconds=2.0))
    settings = sandbox_settings(database_url, client_id="console-bench", secret_key_file=workdir / "unused.key")
    database = Database(database_url)
    transport = SandboxTransport(app)
    world = World(database, app.state.sandbox, settings, clock, transport)
    EngineMachine.world = world
    violations: list[str] = []
    try:
        for number in range(seeds):
            runner = EngineMachine.TestCase
            runner.settings = machine_settings(examples, steps)
            try:
                seed(number)(runner)().runTest()
            except Exception:  # a violation: hypothesis has shrunk it and says which invariant broke
                violations.append(f"seed {number}:\n{traceback.format_exc(limit=3)}")
                print(violations[-1], file=sys.stderr)
            print(f"seed {number + 1}/{seeds}: {world.counts['rules run']:,} rules so far", file=sys.stderr)
    finally:
        transport.close()
        database.dispose()
    counts: Counter[str] = world.counts
    return {
        "database": database_url.split(":")[0],
        "seeds": seeds,
        "examples per seed": examples,
        "steps per example (max)": steps,
        "rules run": counts["rules run"],
        "invariant checks": counts["invariant checks"],
        "faults injected": {key[7:]: value for key, value in sorted(counts.items()) if key.startswith("fault: ")},
        "crashes": sum(value for key, value in counts.items() if key.endswith(" crashed")),
        "killed (run and lock left behind)": counts["killed"],
        "edits midway": counts["midway edit here"] + counts["midway edit there"],
        "outcomes": {
            key: value
            for key, value in sorted(counts.items())
            if key.split(" ")[0] in ("push", "pull", "resume") and not key.endswith(" crashed")
        },
        "errors the syncs ended with": dict(world.errors.most_common(12)),
        "violations": len(violations),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--database-url", action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        urls = args.database_url or [f"sqlite:///{workdir / 'bench.db'}"]
        reports = [run(url, args.seeds, args.examples, args.steps, workdir) for url in urls]
    print(json.dumps(reports, indent=2))
    return 1 if any(report["violations"] for report in reports) else 0


if __name__ == "__main__":
    raise SystemExit(main())

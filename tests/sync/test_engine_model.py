"""The sync engine against the model of tests/sync/engine_model.py, on SQLite and PostgreSQL:
random edits on both sides, pushes and pulls under injected faults, crashes and resumes, edits
in the middle of an apply — with the invariants checked after every step. Bounded for CI;
bench/bench_sync_model.py runs it longer."""

import os

import pytest

from ctct.sandbox.inprocess import SandboxTransport
from tests.sync.engine_model import EngineMachine, World, machine_settings

EXAMPLES = int(os.environ.get("CTCT_MODEL_EXAMPLES", "30"))
STEPS = int(os.environ.get("CTCT_MODEL_STEPS", "25"))


@pytest.mark.timeout(900)
def test_the_engine_loses_nothing(database, sandbox_app, sandbox, settings, clock):
    transport = SandboxTransport(sandbox_app)
    try:
        EngineMachine.world = World(database, sandbox, settings, clock, transport)
        runner = EngineMachine.TestCase
        runner.settings = machine_settings(EXAMPLES, STEPS)
        runner().runTest()
    finally:
        transport.close()
        print(dict(EngineMachine.world.counts), dict(EngineMachine.world.errors))

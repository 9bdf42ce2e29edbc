"""SPEC §11: the files that hold the CRM's personal data are readable by their owner only."""

import os
import stat

import pytest

from ctct.crm import demo
from ctct.db import Database
from ctct.sandbox import SandboxConfig
from ctct.sandbox.state import Sandbox

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_created_600(tmp_path):
    old_umask = os.umask(0o022)  # the usual umask: files would be 644
    try:
        path = tmp_path / "data" / "console.db"
        database = Database(f"sqlite:///{path}")
        with database.session() as session:
            demo.load_demo_data(session, companies=3)
            assert mode(path) == 0o600
            assert mode(tmp_path / "data" / "console.db-wal") == 0o600
            assert mode(tmp_path / "data" / "console.db-shm") == 0o600
        database.dispose()
    finally:
        os.umask(old_umask)


def test_an_existing_database_readable_by_others_is_tightened(tmp_path):
    path = tmp_path / "console.db"
    Database(f"sqlite:///{path}").dispose()
    path.chmod(0o644)
    Database(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600


def test_the_sandbox_state_file_is_written_600(tmp_path):
    old_umask = os.umask(0o022)
    try:
        state_file = tmp_path / "sandbox.json"
        Sandbox(SandboxConfig(state_file=state_file)).save()
        assert mode(state_file) == 0o600
    finally:
        os.umask(old_umask)

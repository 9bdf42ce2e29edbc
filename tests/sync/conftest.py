"""Sync scenarios run the real engine and client against the in-process sandbox; the client
fixtures (tests/sandbox_client.py) are shared through `pytest_plugins` in tests/conftest.py."""

import pytest

from ctct.sync.apply import SyncService


@pytest.fixture
def service(database, active_client, settings) -> SyncService:
    return SyncService(database, active_client, settings)

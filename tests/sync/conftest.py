"""Sync scenarios run the real engine and client against the in-process sandbox (see tests/client)."""

import pytest

from ctct.sync.apply import SyncService
from tests.client.conftest import (  # noqa: F401 - fixtures shared with the client tests
    active_client,
    client,
    clock,
    http,
    sandbox,
    sandbox_app,
    sandbox_config,
    settings,
)


@pytest.fixture
def service(database, active_client, settings) -> SyncService:
    return SyncService(database, active_client, settings)

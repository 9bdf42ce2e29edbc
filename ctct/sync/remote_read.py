"""Constant Contact as a RemoteSnapshot for a plan."""

from __future__ import annotations

from collections.abc import Callable

from ctct.api.client import CtctClient
from ctct.sync.remote_full import full_remote_read
from ctct.sync.snapshot import RemoteSnapshot


def remote_snapshot(client: CtctClient, progress: Callable[[str], None] | None = None) -> RemoteSnapshot:
    return full_remote_read(client, progress)

"""What every API noun's namespace shares: the client whose one request path it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctct.api.client import CtctClient


class Resource:
    """One API noun (`client.lists`, `client.contacts`, …): thin, typed calls over `CtctClient.request`."""

    def __init__(self, client: CtctClient) -> None:
        self.client = client

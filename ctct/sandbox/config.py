"""Settings of one sandbox instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SandboxAccount:
    username: str
    password: str
    name: str
    email: str = ""
    first_name: str = "Demo"
    last_name: str = "Owner"

    @property
    def contact_email(self) -> str:
        return self.email or f"{self.username}@example.com"


DEMO_ACCOUNT = SandboxAccount(username="demo", password="demo", name="Demo Company", email="owner@demo-company.example")


@dataclass
class SandboxConfig:
    accounts: list[SandboxAccount] = field(default_factory=lambda: [DEMO_ACCOUNT])
    # None: any client id is accepted; otherwise only these (and the confidential ones below).
    client_ids: frozenset[str] | None = None
    # Confidential clients, client id -> secret: their token and revoke requests must authenticate
    # (HTTP Basic, or client_secret in the form). Every other client is public and uses PKCE.
    client_secrets: dict[str, str] = field(default_factory=dict)
    # Redirect URIs allowed besides loopback ones (http://127.0.0.1:*, http://localhost:*, http://[::1]:*).
    redirect_uris: frozenset[str] = frozenset()
    rate_limit: float = 4.0
    daily_quota: int = 10_000
    activity_seconds: float = 2.0
    # Whether adding or removing a list member moves the contact's `updated_at`, as the console's
    # incremental read assumes (unconfirmed for CTCT itself): False emulates a CTCT where it does not.
    membership_bumps_updated_at: bool = True
    access_token_seconds: int = 86_400
    code_seconds: int = 300
    state_file: Path | None = None
    # Seconds between saves of a changed state to `state_file` (also saved at shutdown).
    save_every: float = 2.0
    clock: Callable[[], float] = time.time

    def knows_client(self, client_id: str) -> bool:
        """Whether the authorization server deals with this client id at all."""
        if self.client_ids is None:
            return True
        return client_id in self.client_ids or client_id in self.client_secrets

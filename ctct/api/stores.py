"""What the client keeps between requests, and between processes: the connection's sealed tokens,
the sign-ins waiting for CTCT's redirect, and the requests made per day.

The client asks only for these operations, so it runs on any storage that offers them — the
console's database (the SQL stores beside the models), or a dict in a test. Every secret crosses this boundary
sealed by the `TokenVault`; a store never sees a token in plain text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in started but not finished: its PKCE verifier survives the browser's redirect."""

    state: str
    sealed_verifier: bytes = field(repr=False)
    redirect_uri: str
    started_at: dt.datetime


@dataclass(frozen=True)
class SealedTokens:
    """Tokens as CTCT granted them, sealed; no refresh token means: keep the one stored."""

    access_token: bytes = field(repr=False)
    refresh_token: bytes | None = field(repr=False)
    expires_at: dt.datetime
    scope: str


@dataclass(frozen=True)
class StoredConnection:
    """The connected account as stored. Its tokens are None once CTCT stopped accepting them."""

    access_token: bytes | None = field(repr=False)
    refresh_token: bytes | None = field(repr=False)
    expires_at: dt.datetime | None
    scope: str | None
    reauthorization_required: bool
    account_name: str | None
    account_email: str | None


class TokenStore(Protocol):
    """The connection's tokens and the pending sign-ins, shared by every process of a console."""

    def add_pending(self, pending: PendingSignIn, *, discard_started_before: dt.datetime) -> None:
        """Keeps `pending`, and drops the sign-ins started before `discard_started_before`."""
        ...

    def take_pending(self, state: str) -> PendingSignIn | None:
        """The sign-in started with `state`, removed: a state is used once only."""
        ...

    def connection(self) -> StoredConnection | None:
        """The connection requests use; None before the first activation."""
        ...

    def save_activation(self, tokens: SealedTokens, activated_at: dt.datetime) -> None:
        """The tokens of a completed sign-in, as the connection (replacing any tokens before)."""
        ...

    def record_account(self, name: str | None, email: str | None) -> None:
        """Which CTCT account the connection's tokens belong to."""
        ...

    def claim_refresh(self, access_token: bytes, holder: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Takes the refresh lease for `holder` — atomically, across processes — if the stored
        access token is still `access_token` and no one took the lease within `lease` of `now`."""
        ...

    def save_refreshed(self, holder: str, tokens: SealedTokens) -> None:
        """The refreshed tokens, stored and the lease released, if `holder` still holds it."""
        ...

    def release_refresh(self, holder: str) -> None:
        """Gives the lease back after a refresh that failed, so the next caller may try."""
        ...

    def forget_tokens(self) -> None:
        """Deletes the tokens CTCT no longer accepts and marks the connection for a new activation;
        which account it was stays."""
        ...

    def delete_connection(self) -> StoredConnection | None:
        """Deletes the connection; returns it as it was stored (None when there was none)."""
        ...


class UsageStore(Protocol):
    """Requests made per UTC day, counted for every process of a console together."""

    def requests_on(self, day: str) -> int: ...

    def add_requests(self, day: str, requests: int) -> None:
        """Adds atomically: callers in other threads and processes add at the same time."""
        ...

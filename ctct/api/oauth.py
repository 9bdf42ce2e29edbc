"""OAuth2 authorization code with PKCE against CTCT's authorization server (or the sandbox).

The verifier and state are kept in the token store (the console's database), not in a browser
session, so they survive the redirect to CTCT's login page and back — even into another process —
and expire after 10 minutes.
Authlib supplies the PKCE and token primitives; requests go through our own httpx client (see
docs/decisions/0004-authlib-for-pkce-httpx-for-transport.md).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ctct.api.errors import CtctConnectionError, NotActivated, OAuthFlowError, ReauthorizationRequired
from ctct.api.stores import PendingSignIn, SealedTokens, StoredConnection, TokenStore
from ctct.api.vault import SecretKeyError, TokenVault
from ctct.config import SCOPES, Settings

PENDING_LIFETIME = dt.timedelta(minutes=10)
# Refresh this long before the access token expires, so no request meets an expired token.
REFRESH_AHEAD = dt.timedelta(minutes=5)
# How long a refresh may take before another refresher may take over its lease.
REFRESH_LEASE = dt.timedelta(seconds=30)


class Revocation(StrEnum):
    """What `Authorization.revoke_and_forget` achieved at CTCT; the tokens here are deleted in every case."""

    REVOKED = "revoked"
    NOT_REACHED = "not_reached"  # CTCT could not be reached
    REFUSED = "refused"  # CTCT answered with an error status
    KEY_LOST = "key_lost"  # the stored token could not be decrypted, so there was nothing to send
    NO_TOKEN = "no_token"  # nothing was connected


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: dt.datetime
    scope: str

    @classmethod
    def from_response(cls, body: dict[str, Any], now: dt.datetime) -> TokenSet:
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token"),
            expires_at=now + dt.timedelta(seconds=int(body.get("expires_in", 86_400))),
            scope=str(body.get("scope", SCOPES)),
        )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OAuthClient:
    """Talks to the authorization server: the authorize URL, code exchange, refresh, revoke."""

    def __init__(self, settings: Settings, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http

    def authorize_url(self, state: str, challenge: str) -> str:
        query = {
            "client_id": self.settings.client_id,
            "redirect_uri": self.settings.redirect_uri,
            "response_type": "code",
            "scope": SCOPES,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.settings.auth_base}/authorize?{urlencode(query)}"

    def _client_authentication(self, fields: dict[str, str]) -> tuple[dict[str, str], httpx.Auth]:
        """A confidential client (a client secret is configured) authenticates with HTTP Basic; a
        public one names itself in the form (and `httpx.Auth()` adds nothing to the request)."""
        if self.settings.client_secret:
            return fields, httpx.BasicAuth(self.settings.client_id, self.settings.client_secret)
        return {**fields, "client_id": self.settings.client_id}, httpx.Auth()

    def _token_request(self, grant: dict[str, str]) -> dict[str, Any]:
        form, auth = self._client_authentication(grant)
        try:
            response = self.http.post(f"{self.settings.auth_base}/token", data=form, auth=auth)
        except httpx.TransportError as error:
            raise CtctConnectionError(f"Constant Contact's sign-in service cannot be reached: {error}") from None
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200:
            error_code = body.get("error", f"HTTP {response.status_code}")
            description = body.get("error_description", "")
            if error_code == "invalid_grant" and grant["grant_type"] == "refresh_token":
                raise ReauthorizationRequired(f"refresh refused: {description}")
            raise OAuthFlowError(f"Constant Contact refused the sign-in ({error_code}): {description}")
        return body

    def exchange_code(self, code: str, verifier: str) -> dict[str, Any]:
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.redirect_uri,
                "code_verifier": verifier,
            }
        )

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, token: str) -> bool:
        """True when the authorization server accepted the revoke (RFC 7009: 200, also for a dead token)."""
        form, auth = self._client_authentication({"token": token, "token_type_hint": "refresh_token"})
        return self.http.post(f"{self.settings.auth_base}/revoke", data=form, auth=auth).is_success


class Authorization:
    """Starts and completes the PKCE flow, and keeps the resulting tokens sealed in the token store."""

    def __init__(
        self, tokens: TokenStore, vault: TokenVault, oauth: OAuthClient, wait: Callable[[float], None] = time.sleep
    ) -> None:
        self.tokens = tokens
        self.vault = vault
        self.oauth = oauth
        self._refresh_lock = threading.Lock()
        self._wait = wait

    # The flow

    def start(self) -> str:
        """A fresh state and verifier, stored; returns the URL of CTCT's login page."""
        state, verifier = generate_token(32), generate_token(64)
        now = utcnow()
        pending = PendingSignIn(state, self.vault.seal(verifier), self.oauth.settings.redirect_uri, now)
        self.tokens.add_pending(pending, discard_started_before=now - PENDING_LIFETIME)
        return self.oauth.authorize_url(state, create_s256_code_challenge(verifier))

    def complete(self, redirected_url: str) -> TokenSet:
        """Checks the state, exchanges the code once, and stores the tokens as the connection."""
        query = {key: values[0] for key, values in parse_qs(urlsplit(redirected_url.strip()).query).items()}
        if query.get("error"):
            if query["error"] == "access_denied":
                raise OAuthFlowError("Access was denied on Constant Contact's login page: nothing was connected.")
            raise OAuthFlowError(
                f"Constant Contact refused the sign-in ({query['error']}): {query.get('error_description', '')}"
            )
        state, code = query.get("state"), query.get("code")
        if not state or not code:
            raise OAuthFlowError("The address is not a Constant Contact sign-in redirect (no code and state).")
        pending = self.tokens.take_pending(state)  # one use only, whatever happens next
        if pending is None:
            raise OAuthFlowError(
                "The sign-in answer does not match a sign-in started here (unknown state): start again."
            )
        verifier = self.vault.open(pending.sealed_verifier)
        if pending.started_at < utcnow() - PENDING_LIFETIME:
            raise OAuthFlowError("The sign-in took longer than 10 minutes and expired: start again.")
        tokens = TokenSet.from_response(self.oauth.exchange_code(code, verifier), utcnow())
        self.tokens.save_activation(self._sealed(tokens), activated_at=utcnow())
        return tokens

    def _sealed(self, tokens: TokenSet) -> SealedTokens:
        return SealedTokens(
            access_token=self.vault.seal(tokens.access_token),
            refresh_token=self.vault.seal(tokens.refresh_token) if tokens.refresh_token else None,
            expires_at=tokens.expires_at,
            scope=tokens.scope,
        )

    # Tokens for requests

    def access_token(self) -> str:
        """The current access token, refreshed first when it is about to expire."""
        connection, sealed_access = self._active_connection()
        token = self.vault.open(sealed_access)
        if connection.expires_at is not None and connection.expires_at - REFRESH_AHEAD <= utcnow():
            return self.refresh(token)
        return token

    def _active_connection(self) -> tuple[StoredConnection, bytes]:
        """The connection whose tokens requests use, with its sealed access token; why there is
        none, as the error says."""
        connection = self.tokens.connection()
        if connection is None or connection.access_token is None:
            if connection is not None and connection.reauthorization_required:
                raise ReauthorizationRequired()
            raise NotActivated()
        return connection, connection.access_token

    def refresh(self, stale_token: str) -> str:
        """Swaps `stale_token` for a new one — once, however many threads or processes ask.

        No storage transaction stays open across CTCT's answer: the token store takes a refresh
        lease on the connection (atomically, also against other processes), the token request runs
        outside any transaction, and the new tokens are stored the moment CTCT answers. A second
        refresher finds the lease taken, waits, and then uses the new token instead of spending the
        (rotating, single-use) refresh token again.
        """
        with self._refresh_lock:
            claim = self._wait_for_refresh_lease(stale_token)
            if isinstance(claim, str):
                return claim  # another refresher already replaced the token
            refresh_token, holder = claim
            try:
                body = self.oauth.refresh(refresh_token)
            except ReauthorizationRequired:
                self.tokens.forget_tokens()
                raise
            except BaseException:
                self.tokens.release_refresh(holder)
                raise
            tokens = TokenSet.from_response(body, utcnow())
            self.tokens.save_refreshed(holder, self._sealed(tokens))
            return tokens.access_token

    def _wait_for_refresh_lease(self, stale_token: str) -> str | tuple[str, str]:
        """The new token, or (refresh token, lease holder) once this caller holds the lease."""
        waited = 0.0
        while True:
            claim = self._claim_refresh(stale_token)
            if claim is not None:
                return claim
            if waited >= REFRESH_LEASE.total_seconds():
                raise CtctConnectionError("another process is refreshing the token and has not finished")
            self._wait(0.2)
            waited += 0.2

    def _claim_refresh(self, stale_token: str) -> str | tuple[str, str] | None:
        """The new token when someone replaced it already; (refresh token, lease holder) when this
        caller now holds the refresh lease; None when another holds it (wait and ask again)."""
        connection, sealed_access = self._active_connection()
        current = self.vault.open(sealed_access)
        if current != stale_token:
            return current
        if connection.refresh_token is None:
            self.tokens.forget_tokens()
            raise ReauthorizationRequired("no refresh token was granted")
        holder = generate_token(16)
        if not self.tokens.claim_refresh(sealed_access, holder, utcnow(), REFRESH_LEASE):
            return None
        return self.vault.open(connection.refresh_token), holder

    def revoke_and_forget(self) -> Revocation:
        """Revokes the refresh token at CTCT (best effort) and deletes the stored tokens; says
        whether CTCT revoked it, so no caller claims a revoke that did not happen."""
        connection = self.tokens.delete_connection()
        sealed = (connection.refresh_token or connection.access_token) if connection is not None else None
        if sealed is None:
            return Revocation.NO_TOKEN
        # Best effort: the tokens are deleted here anyway, and CTCT expires unused ones.
        # A lost key leaves nothing to revoke with: the tokens are deleted here all the same.
        try:
            token = self.vault.open(sealed)
        except SecretKeyError:
            return Revocation.KEY_LOST
        try:
            accepted = self.oauth.revoke(token)
        except (httpx.TransportError, CtctConnectionError):
            return Revocation.NOT_REACHED
        return Revocation.REVOKED if accepted else Revocation.REFUSED

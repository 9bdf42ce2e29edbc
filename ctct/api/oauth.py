"""OAuth2 authorization code with PKCE against CTCT's authorization server (or the sandbox).

The verifier and state are kept in the database, not in a browser session, so they survive the
redirect to CTCT's login page and back — even into another process — and expire after 10 minutes.
Authlib supplies the PKCE and token primitives; requests go through our own httpx client (see
docs/decisions/0004-authlib-for-pkce-httpx-for-transport.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, select, update

from ctct.api.errors import CtctConnectionError, NotActivated, OAuthFlowError, ReauthorizationRequired
from ctct.api.vault import TokenVault
from ctct.config import SCOPES, Settings
from ctct.db import Database
from ctct.db.models import CtctConnection, OAuthPending, utcnow

PENDING_LIFETIME = dt.timedelta(minutes=10)
# Refresh this long before the access token expires, so no request meets an expired token.
REFRESH_AHEAD = dt.timedelta(minutes=5)


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


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; they were written in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


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

    def _token_request(self, data: dict[str, str]) -> dict[str, Any]:
        auth = (self.settings.client_id, self.settings.client_secret) if self.settings.client_secret else None
        if auth is None:
            data = {**data, "client_id": self.settings.client_id}
        try:
            response = self.http.post(f"{self.settings.auth_base}/token", data=data, auth=auth)
        except httpx.TransportError as error:
            raise CtctConnectionError(f"Constant Contact's sign-in service cannot be reached: {error}") from None
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200:
            error_code = body.get("error", f"HTTP {response.status_code}")
            description = body.get("error_description", "")
            if error_code == "invalid_grant" and data["grant_type"] == "refresh_token":
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

    def revoke(self, token: str) -> None:
        data = {"token": token, "token_type_hint": "refresh_token", "client_id": self.settings.client_id}
        self.http.post(f"{self.settings.auth_base}/revoke", data=data)


class Authorization:
    """Starts and completes the PKCE flow, and keeps the resulting tokens sealed in the database."""

    def __init__(self, database: Database, vault: TokenVault, oauth: OAuthClient) -> None:
        self.database = database
        self.vault = vault
        self.oauth = oauth
        self._refresh_lock = threading.Lock()

    # The flow

    def start(self) -> str:
        """A fresh state and verifier, stored; returns the URL of CTCT's login page."""
        state, verifier = generate_token(32), generate_token(64)
        with self.database.session() as session:
            session.execute(delete(OAuthPending).where(OAuthPending.created_at < utcnow() - PENDING_LIFETIME))
            session.add(
                OAuthPending(
                    state=state,
                    encrypted_verifier=self.vault.seal(verifier),
                    redirect_uri=self.oauth.settings.redirect_uri,
                )
            )
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
        with self.database.session() as session:
            pending = session.get(OAuthPending, state)
            if pending is None:
                raise OAuthFlowError(
                    "The sign-in answer does not match a sign-in started here (unknown state): start again."
                )
            session.delete(pending)  # one use only, whatever happens next
            expired = as_utc(pending.created_at) < utcnow() - PENDING_LIFETIME
            verifier = self.vault.open(pending.encrypted_verifier)
        if expired:
            raise OAuthFlowError("The sign-in took longer than 10 minutes and expired: start again.")
        tokens = TokenSet.from_response(self.oauth.exchange_code(code, verifier), utcnow())
        self._store(tokens)
        return tokens

    def _store(self, tokens: TokenSet) -> None:
        with self.database.session() as session:
            connection = session.scalar(select(CtctConnection).order_by(CtctConnection.id)) or CtctConnection()
            connection.encrypted_access_token = self.vault.seal(tokens.access_token)
            connection.encrypted_refresh_token = self.vault.seal(tokens.refresh_token) if tokens.refresh_token else None
            connection.access_token_expires_at = tokens.expires_at
            connection.scopes = tokens.scope
            connection.reauthorization_required = False
            connection.activated_at = utcnow()
            session.add(connection)

    # Tokens for requests

    def access_token(self) -> str:
        """The current access token, refreshed first when it is about to expire."""
        with self.database.session() as session:
            connection = session.scalar(select(CtctConnection).order_by(CtctConnection.id))
            if connection is None or connection.encrypted_access_token is None:
                if connection is not None and connection.reauthorization_required:
                    raise ReauthorizationRequired()
                raise NotActivated()
            token = self.vault.open(connection.encrypted_access_token)
            expires_at = as_utc(connection.access_token_expires_at)
        if expires_at is not None and expires_at - REFRESH_AHEAD <= utcnow():
            return self.refresh(token)
        return token

    def refresh(self, stale_token: str) -> str:
        """Swaps `stale_token` for a new one — once, however many threads or processes ask.

        The first statement of the transaction is a write to the connection row, which takes the
        row lock on PostgreSQL and the write lock on SQLite; a second refresher waits there, then
        finds the token already replaced and uses the new one instead of spending the (rotating,
        single-use) refresh token again.
        """
        with self._refresh_lock:
            refusal: ReauthorizationRequired | None = None
            with self.database.session() as session:
                session.execute(update(CtctConnection).values(updated_at=CtctConnection.updated_at))
                connection = session.scalar(select(CtctConnection).order_by(CtctConnection.id))
                if connection is None or connection.encrypted_access_token is None:
                    raise NotActivated()
                current = self.vault.open(connection.encrypted_access_token)
                if current != stale_token:
                    return current
                if connection.encrypted_refresh_token is None:
                    refusal = ReauthorizationRequired("no refresh token was granted")
                else:
                    try:
                        body = self.oauth.refresh(self.vault.open(connection.encrypted_refresh_token))
                    except ReauthorizationRequired as error:
                        refusal = error
                    else:
                        tokens = TokenSet.from_response(body, utcnow())
                        connection.encrypted_access_token = self.vault.seal(tokens.access_token)
                        if tokens.refresh_token:
                            connection.encrypted_refresh_token = self.vault.seal(tokens.refresh_token)
                        connection.access_token_expires_at = tokens.expires_at
                        return tokens.access_token
            # Outside the locked transaction, which must end first.
            self._forget_dead_tokens()
            raise refusal

    def _forget_dead_tokens(self) -> None:
        # In its own transaction (the refresh's rolls back): the dead tokens go; the account
        # name, the lists and everything else stay.
        with self.database.session() as session:
            session.execute(
                update(CtctConnection).values(
                    encrypted_access_token=None, encrypted_refresh_token=None, reauthorization_required=True
                )
            )

    def revoke_and_forget(self) -> None:
        """Revokes the refresh token at CTCT (best effort) and deletes the stored tokens."""
        with self.database.session() as session:
            connection = session.scalar(select(CtctConnection).order_by(CtctConnection.id))
            if connection is None:
                return
            sealed = connection.encrypted_refresh_token or connection.encrypted_access_token
            session.delete(connection)
        if sealed is not None:
            # Best effort: the tokens are deleted here anyway, and CTCT expires unused ones.
            with contextlib.suppress(httpx.TransportError, CtctConnectionError):
                self.oauth.revoke(self.vault.open(sealed))

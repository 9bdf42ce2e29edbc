"""Authorization codes, access tokens and rotating refresh tokens of the emulated OAuth server."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any


class OAuthError(Exception):
    """An OAuth error answered as `{error, error_description}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Grant:
    """What a token was issued for: the account, the client and the scopes."""

    username: str
    client_id: str
    scope: str


@dataclass
class TokenStore:
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)

    def issue_code(
        self,
        grant: Grant,
        redirect_uri: str,
        challenge: str | None,
        method: str | None,
        now: float,
        lifetime: int,
    ) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            **grant.__dict__,
            "redirect_uri": redirect_uri,
            "challenge": challenge,
            "method": method,
            "expires_at": now + lifetime,
            "used": False,
        }
        return code

    def redeem_code(
        self, code: str, client_id: str, redirect_uri: str, verifier: str | None, now: float
    ) -> tuple[Grant, str]:
        """The grant behind a one-time code, and the family id tying its tokens together."""
        entry = self.codes.get(code)
        if entry is None:
            raise OAuthError("invalid_grant", "The authorization code is invalid.")
        if entry["used"]:
            # A replayed code revokes what the first redemption issued (RFC 6749 §4.1.2).
            self.revoke_family(entry.get("family", ""))
            raise OAuthError("invalid_grant", "The authorization code has already been used.")
        if entry["expires_at"] < now:
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        if entry["client_id"] != client_id:
            raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
        if entry["redirect_uri"] != redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
        if entry["challenge"]:
            if not verifier:
                raise OAuthError("invalid_request", "PKCE verification failed: code_verifier is required.")
            if not secrets.compare_digest(s256(verifier), entry["challenge"]):
                raise OAuthError("invalid_grant", "PKCE verification failed: code_verifier does not match.")
        entry["used"] = True
        entry["family"] = secrets.token_hex(8)
        return Grant(entry["username"], entry["client_id"], entry["scope"]), entry["family"]

    def issue_tokens(self, grant: Grant, family: str, now: float, lifetime: int) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        self.access[access] = {**grant.__dict__, "family": family, "expires_at": now + lifetime}
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": grant.scope,
        }
        if "offline_access" in grant.scope.split():
            refresh = secrets.token_urlsafe(32)
            self.refresh[refresh] = {**grant.__dict__, "family": family}
            body["refresh_token"] = refresh
        return body

    def rotate(self, refresh_token: str, client_id: str, now: float, lifetime: int) -> dict[str, Any]:
        """Rotating refresh: the old refresh token stops working once it has been used."""
        entry = self.refresh.pop(refresh_token, None)
        if entry is None:
            raise OAuthError("invalid_grant", "unknown, invalid, or expired refresh token")
        if entry["client_id"] != client_id:
            self.refresh[refresh_token] = entry
            raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
        grant = Grant(entry["username"], entry["client_id"], entry["scope"])
        return self.issue_tokens(grant, entry["family"], now, lifetime)

    def revoke(self, token: str) -> None:
        """Revokes one token and, for a refresh token, every token of its grant."""
        entry = self.refresh.get(token) or self.access.get(token)
        if entry is not None:
            self.revoke_family(entry["family"])

    def revoke_family(self, family: str) -> None:
        if not family:
            return
        for store in (self.access, self.refresh):
            for token in [token for token, entry in store.items() if entry["family"] == family]:
                del store[token]

    def expire_all(self, now: float) -> None:
        for entry in self.access.values():
            entry["expires_at"] = min(entry["expires_at"], now - 1)

    def grant_for(self, access_token: str, now: float) -> Grant | None:
        entry = self.access.get(access_token)
        if entry is None or entry["expires_at"] <= now:
            return None
        return Grant(entry["username"], entry["client_id"], entry["scope"])

    def state(self) -> dict[str, Any]:
        return {"codes": self.codes, "access": self.access, "refresh": self.refresh}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> TokenStore:
        return cls(codes=data.get("codes", {}), access=data.get("access", {}), refresh=data.get("refresh", {}))

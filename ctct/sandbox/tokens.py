"""Authorization codes, access tokens and rotating refresh tokens of the emulated OAuth server.

Access tokens and ID tokens are JWTs signed RS256, as CTCT's (Okta's) are, so that clients that
decode them meet real ones. The sandbox never trusts what a token says, though: every token is
looked up here, so revocation, rotation and expiry work as before whatever its claims are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Okta's ID tokens live one hour, whatever the access token's lifetime.
ID_TOKEN_SECONDS = 3600
# Where `python -m ctct sandbox` listens by default; tokens issued outside a request (benchmarks) say so.
DEFAULT_ORIGIN = "http://127.0.0.1:8765"


class OAuthError(Exception):
    """An OAuth error answered as `{error, error_description}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return _base64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _base64url_uint(value: int) -> str:
    return _base64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _compact_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


@dataclass
class Grant:
    """What a token was issued for: the account, the client, the scopes and when the user logged in."""

    username: str
    client_id: str
    scope: str
    # None only for grants saved before the sandbox recorded it; their ID tokens leave auth_time out.
    auth_time: float | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Grant:
        return cls(entry["username"], entry["client_id"], entry["scope"], entry.get("auth_time"))


class SigningKey:
    """The RSA key that signs the sandbox's JWTs; its public half is published as a JWKS."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private_key = private_key
        numbers = private_key.public_key().public_numbers()
        modulus, exponent = _base64url_uint(numbers.n), _base64url_uint(numbers.e)
        # The RFC 7638 thumbprint: a key id that follows from the key, so a reloaded key keeps its id.
        thumbprint_input = json.dumps({"e": exponent, "kty": "RSA", "n": modulus}, separators=(",", ":"))
        self.kid = _base64url(hashlib.sha256(thumbprint_input.encode("ascii")).digest())
        self.public_jwk: dict[str, str] = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": modulus,
            "e": exponent,
        }

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = {"kid": self.kid, "alg": "RS256"}
        signing_input = f"{_base64url(_compact_json(header))}.{_base64url(_compact_json(claims))}"
        signature = self._private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_base64url(signature)}"

    def to_pem(self) -> str:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        private_key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("the saved signing key is not an RSA key")
        return cls(private_key)


@dataclass(frozen=True)
class Issuer:
    """What the JWTs say about where they come from: the sandbox's address as the client reached it
    (issuer `…/oauth2/default`; audience its API `…/v3`, as CTCT's is https://api.cc.email/v3) and the
    accounts' names and emails for ID tokens."""

    origin: str = DEFAULT_ORIGIN
    # username -> {"name": …, "email": …}, each present only when the account has it
    profiles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.origin}/oauth2/default"

    @property
    def audience(self) -> str:
        return f"{self.origin}/v3"

    def access_claims(self, grant: Grant, now: float, lifetime: int) -> dict[str, Any]:
        issued_at = int(now)
        return {
            "iss": self.url,
            "aud": self.audience,
            "sub": grant.username,
            "cid": grant.client_id,
            "scp": grant.scope.split(),
            "iat": issued_at,
            "exp": issued_at + lifetime,
            "jti": f"AT.{secrets.token_urlsafe(24)}",
        }

    def id_claims(self, grant: Grant, now: float) -> dict[str, Any]:
        issued_at = int(now)
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": grant.client_id,
            "sub": grant.username,
            "iat": issued_at,
            "exp": issued_at + ID_TOKEN_SECONDS,
        }
        if grant.auth_time is not None:
            claims["auth_time"] = int(grant.auth_time)
        claims.update(self.profiles.get(grant.username, {}))
        return claims


@dataclass
class TokenStore:
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)
    signing_key: SigningKey | None = field(default=None, repr=False)

    def signer(self) -> SigningKey:
        """The signing key, made on first use: generating one takes tens of milliseconds, and most
        sandboxes (one per test) never sign anything."""
        if self.signing_key is None:
            self.signing_key = SigningKey.generate()
        return self.signing_key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signer().public_jwk]}

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
        return Grant.from_entry(entry), entry["family"]

    def issue_tokens(
        self, grant: Grant, family: str, now: float, lifetime: int, issuer: Issuer | None = None
    ) -> dict[str, Any]:
        issuer = issuer or Issuer()
        key = self.signer()
        access = key.sign(issuer.access_claims(grant, now, lifetime))
        self.access[access] = {**grant.__dict__, "family": family, "expires_at": now + lifetime}
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": grant.scope,
            "id_token": key.sign(issuer.id_claims(grant, now)),
        }
        if "offline_access" in grant.scope.split():
            refresh = secrets.token_urlsafe(32)
            self.refresh[refresh] = {**grant.__dict__, "family": family}
            body["refresh_token"] = refresh
        return body

    def rotate(
        self, refresh_token: str, client_id: str, now: float, lifetime: int, issuer: Issuer | None = None
    ) -> dict[str, Any]:
        """Rotating refresh: the old refresh token stops working once it has been used."""
        entry = self.refresh.pop(refresh_token, None)
        if entry is None:
            raise OAuthError("invalid_grant", "unknown, invalid, or expired refresh token")
        if entry["client_id"] != client_id:
            self.refresh[refresh_token] = entry
            raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
        return self.issue_tokens(Grant.from_entry(entry), entry["family"], now, lifetime, issuer)

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
        return Grant.from_entry(entry)

    def owner_of(self, token: str) -> str | None:
        """The client id an access or refresh token was issued to; None for an unknown token."""
        entry = self.refresh.get(token) or self.access.get(token)
        return None if entry is None else str(entry["client_id"])

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = {"codes": self.codes, "access": self.access, "refresh": self.refresh}
        if self.signing_key is not None:
            # Saved with the tokens it signed, so that they still verify against the JWKS after a restart.
            data["signing_key"] = self.signing_key.to_pem()
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> TokenStore:
        pem = data.get("signing_key")
        return cls(
            codes=data.get("codes", {}),
            access=data.get("access", {}),
            refresh=data.get("refresh", {}),
            signing_key=SigningKey.from_pem(pem) if pem else None,
        )

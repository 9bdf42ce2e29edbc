"""Tokens at rest: Fernet encryption with a key from the configuration or a generated key file."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ctct.api.errors import CtctError
from ctct.config import Settings


class SecretKeyError(CtctError):
    """The key that encrypts tokens is missing, unreadable or not the one they were sealed with."""


def _key_from_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Created with mode 600 from the start: there is no moment when others could read it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


class TokenVault:
    """Seals and opens secrets. Its repr shows nothing of the key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SecretKeyError("CTCT_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes)") from None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVault:
        if settings.secret_key:
            return cls(settings.secret_key.encode())
        return cls(_key_from_file(settings.secret_key_file))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise SecretKeyError(
                "the stored Constant Contact tokens cannot be decrypted with the current secret key "
                "(CTCT_SECRET_KEY or data/secret.key changed): activate again"
            ) from None

    def __repr__(self) -> str:
        return "TokenVault(<key hidden>)"

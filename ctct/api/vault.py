"""Tokens at rest: Fernet encryption with a key from the configuration or a generated key file.

A key file is generated only when a secret is sealed (an activation) and there is no key yet. A
key that is missing or wrong when stored tokens are opened is an error that names the key used:
a silently generated new key would only hide that the stored tokens can no longer be read.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ctct.api.errors import CtctError
from ctct.config import Settings

KEY_LOST = "the key that encrypted the stored tokens is missing or wrong: activate again"


class SecretKeyError(CtctError):
    """The key that encrypts tokens is missing, unreadable or not the one they were sealed with."""


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except OSError as error:
        raise SecretKeyError(f"the key file {path} cannot be read ({error.strerror})") from None


def _new_key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        # Created with mode 600 from the start: there is no moment when others could read it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: its key is the one
        return _read_key(path)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


class TokenVault:
    """Seals and opens secrets. Its repr shows nothing of the key."""

    def __init__(self, key: bytes | None = None, *, key_file: Path | None = None) -> None:
        self.key_file = key_file.resolve() if key_file is not None else None
        # Where the key comes from, as messages name it.
        self.key_source = f"key file {self.key_file}" if self.key_file is not None else "CTCT_SECRET_KEY"
        self._lock = threading.Lock()
        self._fernet: Fernet | None = None
        if key is not None:
            self._fernet = self._fernet_of(key)

    def _fernet_of(self, key: bytes) -> Fernet:
        try:
            return Fernet(key)
        except ValueError:
            raise SecretKeyError(
                f"{self.key_source} does not hold a valid Fernet key (32 url-safe base64 bytes)"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVault:
        if settings.secret_key:
            return cls(settings.secret_key.encode())
        return cls(key_file=settings.secret_key_file)

    def _key(self, *, create: bool) -> Fernet:
        with self._lock:
            if self._fernet is None:
                assert self.key_file is not None
                if self.key_file.exists():
                    self._fernet = self._fernet_of(_read_key(self.key_file))
                elif create:
                    self._fernet = self._fernet_of(_new_key_file(self.key_file))
                else:
                    raise SecretKeyError(f"{KEY_LOST} ({self.key_source} was not found)")
            return self._fernet

    def seal(self, secret: str) -> bytes:
        return self._key(create=True).encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._key(create=False).decrypt(sealed).decode()
        except InvalidToken:
            raise SecretKeyError(f"{KEY_LOST} ({self.key_source} does not open them)") from None

    def __repr__(self) -> str:
        return f"TokenVault(<key hidden>, from {self.key_source})"

"""Encryption of identifier and contact columns at rest, and keyed blind indexes for looking them up.

Keys come from configuration (`DATA_KEY`: Fernet keys separated by commas, newest first). The first
key encrypts; every listed key decrypts, so a key can be rotated by listing the new one before the old
one, re-encrypting (`flask --app wsgi rotate-data-key`) and then dropping the old one.

A blind index is HMAC-SHA256 over the normalised value with a key derived from a data key. New rows
are indexed with the first key; lookups try the index under every listed key, so uniqueness checks and
`find_borrower` keep working while a rotation is half done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_INDEX_LABEL = b"jihuitong blind index v1"


class DataKeyError(Exception):
    """No data key configured, a malformed key, or a value no configured key can decrypt."""


def generate_key() -> str:
    """A fresh Fernet key (urlsafe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def parse_keys(value: str) -> tuple[str, ...]:
    """`DATA_KEY` as a tuple of keys, newest first; blanks and surrounding spaces are ignored."""
    return tuple(k.strip() for k in value.split(",") if k.strip())


class DataKeys:
    """The configured keys: encrypt with the first, decrypt with any, index under each."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise DataKeyError("no data key configured (DATA_KEY)")
        try:
            fernets = [Fernet(k.encode()) for k in keys]
        except (ValueError, TypeError) as exc:
            raise DataKeyError("DATA_KEY holds a malformed key (expected Fernet keys)") from exc
        self.keys = tuple(keys)
        self._fernet = MultiFernet(fernets)
        self._index_keys = [
            hmac.new(base64.urlsafe_b64decode(k.encode()), _INDEX_LABEL, hashlib.sha256).digest()
            for k in keys
        ]

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Raises DataKeyError when no configured key opens the token."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise DataKeyError("a stored value cannot be decrypted with any configured DATA_KEY") from exc

    def rotate(self, token: str) -> str:
        """The token re-encrypted under the first key. Raises DataKeyError."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise DataKeyError("a stored value cannot be decrypted with any configured DATA_KEY") from exc

    def blind_index(self, value: str) -> str:
        """The index new rows store: HMAC under the first key."""
        return hmac.new(self._index_keys[0], value.encode(), hashlib.sha256).hexdigest()

    def blind_indexes(self, value: str) -> list[str]:
        """The index of value under every configured key (what a lookup must match)."""
        return [hmac.new(k, value.encode(), hashlib.sha256).hexdigest() for k in self._index_keys]


_current: DataKeys | None = None


def configure(keys: Sequence[str]) -> DataKeys:
    """Install the process's data keys (the app factory, the worker and the migrations call this)."""
    global _current
    if _current is None or _current.keys != tuple(keys):
        _current = DataKeys(keys)
    return _current


def current() -> DataKeys:
    """The installed keys. Raises DataKeyError when none were configured."""
    if _current is None:
        raise DataKeyError("no data key configured (DATA_KEY); call core.crypto.configure() first")
    return _current

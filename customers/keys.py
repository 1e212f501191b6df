"""Key-encryption keys: what wraps every data key, behind an interface a KMS can implement.

A data key (DEK) never rests anywhere unwrapped. The local provider wraps with AES-256-GCM
under a KEK read from a file or an environment variable; a cloud KMS provider would send
the DEK to the KMS instead and keep only what it returns. The wrapping context (the data
key's id) is bound as associated data, so a wrapped key copied onto another id fails.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class KeyUnwrapError(Exception):
    """A wrapped key that is corrupt, under another KEK, or bound to another key id."""


class KeyProvider(Protocol):
    @property
    def kek_id(self) -> str:
        """Names the KEK a key was wrapped under, so a KEK rotation can find old wraps."""
        ...

    def wrap(self, dek: bytes, *, context: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, context: str) -> bytes: ...


def _kek_id(kek: bytes) -> str:
    # A fingerprint, not the key: enough to tell KEKs apart in the key store.
    return "local-" + hashlib.sha256(b"kek-id:" + kek).hexdigest()[:16]


class LocalKeyProvider:
    """A KEK held in this process (from ``CHECKOUT_KEK`` or its ``_FILE``).

    ``previous`` KEKs (``CHECKOUT_KEK_PREVIOUS``) only unwrap: during a KEK rotation the
    data keys still wrapped under an old KEK keep opening until ``checkout keys rotate``
    has re-wrapped them under the current one, after which the old KEK can go.
    """

    def __init__(self, kek: bytes, *, previous: tuple[bytes, ...] = ()) -> None:
        if len(kek) != 32 or any(len(k) != 32 for k in previous):
            raise ValueError("a KEK is 32 bytes")
        self._aead = AESGCM(kek)
        self._id = _kek_id(kek)
        self._previous = {_kek_id(k): AESGCM(k) for k in previous if k != kek}

    @property
    def kek_id(self) -> str:
        return self._id

    def __repr__(self) -> str:
        return f"LocalKeyProvider(kek_id={self._id!r})"

    def wrap(self, dek: bytes, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, dek, context.encode())

    def unwrap(self, wrapped: bytes, *, context: str) -> bytes:
        for aead in (self._aead, *self._previous.values()):
            try:
                return aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], context.encode())
            except (InvalidTag, ValueError):
                continue
        raise KeyUnwrapError("the key does not unwrap under any configured KEK")

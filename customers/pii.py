"""Authenticated encryption of personal fields, bound to the row they belong to.

Stored form: ``version(1) | key id (1) | nonce (12) | AES-256-GCM ciphertext+tag``.
The associated data is ``table/column/row id``, so a ciphertext copied into another
row or column fails to decrypt instead of silently showing someone else's data.

Keys are derived per purpose from the service's root secret with HKDF. The customers
issue replaces the root with a keyring of per-customer data keys wrapped by a KEK; the
stored format already carries the key id that rotation needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = 1
_NONCE = 12


class FieldCipher(Protocol):
    """What code that stores personal fields needs: the vault, or this module's cipher."""

    def encrypt(
        self, plaintext: str, *, table: str, column: str, row_id: str, owner: str | None = None
    ) -> bytes: ...

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> str: ...


class PiiDecryptError(Exception):
    """A ciphertext that is corrupt, moved to another row, or under an unknown key."""


def derive_key(root: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(root)


class PiiCipher:
    def __init__(self, keys: Mapping[int, bytes], current: int) -> None:
        if current not in keys:
            raise ValueError("current key id has no key")
        if any(len(k) != 32 for k in keys.values()):
            raise ValueError("PII keys are 32 bytes")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self._current = current

    @classmethod
    def from_root(cls, root: bytes) -> PiiCipher:
        return cls({1: derive_key(root, "checkout/pii/v1")}, current=1)

    def __repr__(self) -> str:
        return f"PiiCipher(current={self._current}, keys=<{len(self._aead)} hidden>)"

    @staticmethod
    def _aad(table: str, column: str, row_id: str) -> bytes:
        return f"{table}/{column}/{row_id}".encode()

    def encrypt(
        self, plaintext: str, *, table: str, column: str, row_id: str, owner: str | None = None
    ) -> bytes:
        # One key for everything (the vault's predecessor): ``owner`` is accepted and unused.
        nonce = os.urandom(_NONCE)
        ct = self._aead[self._current].encrypt(
            nonce, plaintext.encode(), self._aad(table, column, row_id)
        )
        return bytes([_VERSION, self._current]) + nonce + ct

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> str:
        if len(blob) < 2 + _NONCE + 16 or blob[0] != _VERSION:
            raise PiiDecryptError("not a PII ciphertext")
        aead = self._aead.get(blob[1])
        if aead is None:
            raise PiiDecryptError("unknown key id")
        try:
            pt = aead.decrypt(
                blob[2 : 2 + _NONCE], blob[2 + _NONCE :], self._aad(table, column, row_id)
            )
        except InvalidTag:
            raise PiiDecryptError("ciphertext does not belong here or was altered") from None
        return pt.decode()

"""The PII vault: authenticated encryption of personal fields under rotatable data keys.

Stored form (version 2): ``0x02 | len(key id) | key id | nonce (12) | AES-256-GCM
ciphertext+tag``. The associated data is ``table/column/row id``, so a ciphertext copied
to another row or column fails to decrypt instead of showing someone else's data. The key
id names a data key in the :class:`~customers.keystore.KeyStore`: the system's, or a
customer's own (``owner``), so erasing a customer is destroying their keys.

Version 1 blobs (one key derived from the root secret, before the vault) still decrypt
through ``legacy``; rotation rewrites them as version 2.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag

from customers.keystore import SYSTEM, KeyStore
from customers.pii import PiiCipher, PiiDecryptError

_V2 = 2
_NONCE = 12
_TAG = 16


class KeyDestroyed(PiiDecryptError):
    """The ciphertext's key is gone: the data was erased (or never belonged here)."""


def key_id_of(blob: bytes) -> str | None:
    """Which data key a stored value is under (None for version 1, the root-derived key)."""
    if len(blob) < 2 or blob[0] != _V2:
        return None
    n = blob[1]
    return blob[2 : 2 + n].decode("ascii", errors="replace")


class Vault:
    """Drop-in for :class:`PiiCipher` (same ``encrypt``/``decrypt``), plus an owner."""

    def __init__(self, keys: KeyStore, *, legacy: PiiCipher | None = None) -> None:
        self._keys = keys
        self._legacy = legacy

    def __repr__(self) -> str:
        return "Vault(<keys hidden>)"

    @property
    def keys(self) -> KeyStore:
        return self._keys

    def encrypt(
        self, plaintext: str, *, table: str, column: str, row_id: str, owner: str | None = None
    ) -> bytes:
        key_id, _ = self._keys.primary(owner or SYSTEM)
        aead = self._keys.cipher(key_id)
        if aead is None:  # destroyed since primary() looked: the owner was just erased
            raise KeyDestroyed("the owner's key no longer exists")
        nonce = os.urandom(_NONCE)
        ct = aead.encrypt(nonce, plaintext.encode(), f"{table}/{column}/{row_id}".encode())
        kid = key_id.encode("ascii")
        return bytes((_V2, len(kid))) + kid + nonce + ct

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> str:
        # A page of orders opens dozens of these per request, so this path is kept flat:
        # one cached cipher lookup, one AES-GCM call.
        size = len(blob)
        if size < 2 or blob[0] != _V2:
            if size and blob[0] == 1 and self._legacy is not None:
                return self._legacy.decrypt(blob, table=table, column=column, row_id=row_id)
            raise PiiDecryptError("not a PII ciphertext")
        start = 2 + blob[1]
        if size < start + _NONCE + _TAG:
            raise PiiDecryptError("not a PII ciphertext")
        aead = self._keys.cipher(blob[2:start].decode("ascii", errors="replace"))
        if aead is None:
            raise KeyDestroyed("the key of this value no longer exists")
        body = blob[start:]
        try:
            pt = aead.decrypt(body[:_NONCE], body[_NONCE:], f"{table}/{column}/{row_id}".encode())
        except InvalidTag:
            raise PiiDecryptError("ciphertext does not belong here or was altered") from None
        return pt.decode()

    def forget(self, owner: str) -> int:
        """Erase an owner's data everywhere it is stored, by destroying their keys."""
        return self._keys.destroy(owner)

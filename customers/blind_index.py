"""Blind index: find and de-duplicate by email without storing or decrypting it.

HMAC-SHA256 of the normalized address under a key of its own (derived for this purpose
alone, never an encryption key): equal emails give equal digests, and the digest reveals
nothing without the key. Normalization is what makes ``Jane@Example.com `` and
``jane@example.com`` one account: Unicode NFKC, trimmed, case-folded. Provider-specific
tricks (dots or ``+tags`` in Gmail) are deliberately not folded: they are distinct
mailboxes elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata


def normalize_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().casefold()


class BlindIndex:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the blind-index key is at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "BlindIndex(<key hidden>)"

    def email(self, email: str) -> str:
        return hmac.new(self._key, normalize_email(email).encode(), hashlib.sha256).hexdigest()

"""Time-based one-time passwords for staff sign-in (RFC 6238: HMAC-SHA1, 6 digits, 30 s).

A code is accepted for the current time step or one step either side (clock drift), and
only for a step later than the last one the member used: the caller records the step it
got back, so the same code (or an older one) never signs in twice.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended length for SHA-1
ISSUER = "Headless Checkout"


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def encode_secret(secret: bytes) -> str:
    """The base32 form authenticator apps take (and our encrypted column stores)."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def decode_secret(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=True)  # noqa: S303


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


@dataclass(frozen=True, slots=True)
class TotpKey:
    """One member's TOTP key; printed, it shows nothing."""

    secret: bytes = field(repr=False)

    def code(self, step: int) -> str:
        return _totp(self.secret).generate(step * STEP_SECONDS).decode("ascii")

    def matching_step(self, code: str, at: datetime, *, after: int | None) -> int | None:
        """The time step within the drift window whose code is `code` and which is later
        than `after` (the last step used), else None. Every candidate is computed and
        compared in constant time, whichever matches."""
        if len(code) != DIGITS or not code.isascii() or not code.isdigit():
            return None
        now = step_of(at)
        found: int | None = None
        for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
            same = hmac.compare_digest(self.code(step).encode(), code.encode())
            if same and (after is None or step > after) and found is None:
                found = step
        return found

    def provisioning_uri(self, account: str, issuer: str = ISSUER) -> str:
        """``otpauth://totp/…`` for an authenticator app (contains the secret)."""
        return _totp(self.secret).get_provisioning_uri(account, issuer)

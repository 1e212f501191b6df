"""TOTP codes for tests: the secret read back out of an ``otpauth://`` enrolment URI, as
an authenticator app would."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from checkout.access.totp import TotpKey, decode_secret, step_of


def key_of(otpauth_uri: str) -> TotpKey:
    parts = urlsplit(otpauth_uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp", otpauth_uri
    return TotpKey(decode_secret(parse_qs(parts.query)["secret"][0]))


def code(otpauth_uri: str, offset: int = 0) -> str:
    """The code of the current time step plus `offset` (within the accepted drift, a
    later step gives a second sign-in a code that is not a replay)."""
    return key_of(otpauth_uri).code(step_of(datetime.now(UTC)) + offset)


def wrong_code(otpauth_uri: str) -> str:
    """Six digits that are none of the codes a sign-in would accept now."""
    key = key_of(otpauth_uri)
    now = step_of(datetime.now(UTC))
    near = {key.code(s) for s in range(now - 2, now + 3)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)

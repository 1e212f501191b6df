"""``Checkout-Signature`` on our outbound deliveries (API.md).

The scheme is Stripe's, so integrators can reuse what they know: ``t=<unix>,v1=<hex>``
where the hex is HMAC-SHA256 of ``"{t}.{body}"`` under the endpoint's secret. The
timestamp is signed with the body, so a captured delivery cannot be replayed later
under a fresh time; receivers should refuse ``t`` outside a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Checkout-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
TOLERANCE_S = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(
    secret: str, body: bytes, header: str, *, now: float | None = None, tolerance: int = TOLERANCE_S
) -> bool:
    """What a receiver does (our SDK docs and tests use it): any v1 matching, t fresh."""
    t: int | None = None
    candidates: list[str] = []
    for part in header[:4096].split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            t = int(value)
        elif key == "v1":
            candidates.append(value)
    if t is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = _mac(secret, t, body)
    # Every candidate compared, in constant time each.
    return any(hmac.compare_digest(expected, c) for c in candidates)

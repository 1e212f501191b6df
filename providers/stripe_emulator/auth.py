"""API-key checks, with Stripe's answers for a missing, wrong or publishable key."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from providers.stripe_emulator.errors import AuthenticationFailed

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="Stripe"'}


@dataclass(frozen=True)
class ApiKeys:
    secret: str = field(repr=False)
    publishable: str = field(repr=False)


def authenticate(authorization: str | None, keys: ApiKeys, *, publishable_ok: bool) -> None:
    """Raise unless `authorization` carries the secret key (or, where allowed, the publishable)."""
    scheme, _, presented = (authorization or "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationFailed(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
            "or we can help at https://support.stripe.com/.",
            headers=_CHALLENGE,
        )
    if _same(presented, keys.secret):
        return
    if _same(presented, keys.publishable):
        if publishable_ok:
            return
        raise AuthenticationFailed(
            "This API call cannot be made with a publishable API key. Please use a secret "
            "API key. You can find a list of your API keys at "
            "https://dashboard.stripe.com/account/apikeys.",
            headers=_CHALLENGE,
        )
    raise AuthenticationFailed(f"Invalid API Key provided: {_mask(presented)}", headers=_CHALLENGE)


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())


def _mask(key: str) -> str:
    # Stripe echoes a wrong key with its middle starred out.
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]

"""API-key authentication for the private listener, declared per route.

Every route states its policy: ``open`` (health, metrics) or the one scope it needs.
Default deny is tested by walking the route table (tests/integration/test_s2s_auth.py):
a route that declares nothing fails the build.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from checkout.access.api_keys import ApiKey
from checkout.access.scopes import Scope
from checkout.services.api_keys import ApiKeys
from checkout.web.errors import Forbidden, Unauthenticated

Endpoint = Callable[[Request], Awaitable[Response]]
POLICY_ATTR = "checkout_policy"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="checkout-private"'}


def policy_of(endpoint: object) -> str | None:
    value = getattr(endpoint, POLICY_ATTR, None)
    return value if isinstance(value, str) else None


def open_route(fn: Endpoint) -> Endpoint:
    """No credential needed (health and metrics, which hold nothing personal)."""

    @functools.wraps(fn)
    async def unguarded(request: Request) -> Response:
        return await fn(request)

    setattr(unguarded, POLICY_ATTR, "open")
    return unguarded


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class KeyAuth:
    def __init__(self, keys: ApiKeys) -> None:
        self._keys = keys

    def requires(self, scope: Scope) -> Callable[[Endpoint], Endpoint]:
        def wrap(fn: Endpoint) -> Endpoint:
            @functools.wraps(fn)
            async def guarded(request: Request) -> Response:
                key = await self.authenticate(request)
                if not key.allows(scope):
                    raise Forbidden(f"This API key does not have the {scope.value} scope.")
                request.state.api_key = key
                return await fn(request)

            setattr(guarded, POLICY_ATTR, f"scope:{scope.value}")
            return guarded

        return wrap

    async def authenticate(self, request: Request) -> ApiKey:
        secret = bearer(request)
        key = await self._keys.authenticate(secret) if secret else None
        if key is None:
            # Unknown, revoked and malformed keys look the same from outside.
            raise Unauthenticated("A valid API key is required.", headers=_CHALLENGE)
        return key

"""API-key authentication for the private listener, declared per route.

Every route states its policy: ``open`` (health, metrics) or the one scope it needs
(the vocabulary is ``checkout.web.policy``'s). Default deny is tested by walking both
listeners' route tables (tests/integration/test_listeners.py): a route that declares
nothing fails the build.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from checkout.access.api_keys import ApiKey
from checkout.access.scopes import Scope
from checkout.services.api_keys import ApiKeys
from checkout.web.errors import Forbidden, Unauthenticated
from checkout.web.policy import POLICY_ATTR, Endpoint, Policy, declare, mark, policy_of

__all__ = ["POLICY_ATTR", "KeyAuth", "bearer", "open_route", "policy_of"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="checkout-private"'}


def open_route(fn: Endpoint) -> Endpoint:
    """No credential needed (health and metrics, which hold nothing personal)."""
    return declare(Policy.OPEN)(fn)


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

            return mark(guarded, f"scope:{scope.value}")

        return wrap

    async def authenticate(self, request: Request) -> ApiKey:
        secret = bearer(request)
        key = await self._keys.authenticate(secret) if secret else None
        if key is None:
            # Unknown, revoked and malformed keys look the same from outside.
            raise Unauthenticated("A valid API key is required.", headers=_CHALLENGE)
        return key

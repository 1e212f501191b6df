"""Staff bearer tokens on ``/staff/v1/*``, declared per route with the permission needed.

A missing, unknown, expired or revoked token, a customer's token, and the token of a
member who was deactivated are all ``401``; a live staff token whose role lacks the
route's permission is ``403``. The role is the one the member's row holds on this
request, not the one they signed in with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from checkout.access.roles import Permission
from checkout.services.staff import StaffPrincipal, StaffService
from checkout.store.audit import Actor
from checkout.web.customer_auth import bearer_token
from checkout.web.errors import Forbidden, Unauthenticated
from checkout.web.policy import Endpoint, Policy, mark
from checkout.web.request_id import request_id_of

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="checkout-staff"'}


def principal_of(request: Request) -> StaffPrincipal:
    """The member a guard admitted (only inside a guarded endpoint)."""
    principal: StaffPrincipal = request.state.staff
    return principal


def actor_of(request: Request) -> Actor:
    """The audit log's actor for this request."""
    return Actor("staff", principal_of(request).member_id, request_id_of(request.scope))


class StaffAuth:
    def __init__(self, staff: StaffService) -> None:
        self._staff = staff

    async def authenticate(self, request: Request) -> StaffPrincipal:
        token = bearer_token(request)
        principal = None if token is None else await self._staff.authenticate(token)
        if principal is None:
            raise Unauthenticated("A live staff token is required.", headers=_CHALLENGE)
        request.state.staff = principal
        return principal

    def requires(self, permission: Permission) -> Callable[[Endpoint], Endpoint]:
        def wrap(fn: Endpoint) -> Endpoint:
            @functools.wraps(fn)
            async def guarded(request: Request) -> Response:
                principal = await self.authenticate(request)
                if not principal.role.allows(permission):
                    raise Forbidden(f"The {principal.role.value} role may not do this.")
                return await fn(request)

            return mark(guarded, f"staff:{permission.value}")

        return wrap

    def signed_in(self, fn: Endpoint) -> Endpoint:
        """Any live staff session (signing out)."""

        @functools.wraps(fn)
        async def guarded(request: Request) -> Response:
            await self.authenticate(request)
            return await fn(request)

        return mark(guarded, Policy.STAFF)

"""Customer bearer tokens (``Authorization: Bearer sess_…``) on the public listener.

A request without the header is anonymous (a guest may still buy); one with a token that
is unknown, expired or revoked is ``401``, never quietly treated as a guest's: a
storefront that believes its customer signed in must hear otherwise.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from checkout.services.accounts import AccountService
from checkout.web.errors import Unauthenticated
from checkout.web.policy import Endpoint, Policy, mark
from customers.sessions import Session

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use Authorization: Bearer <token>.", headers=_CHALLENGE)
    return token.strip()


class CustomerAuth:
    def __init__(self, accounts: AccountService) -> None:
        self._accounts = accounts

    async def optional(self, request: Request) -> Session | None:
        known: Session | None = getattr(request.state, "customer_session", None)
        if known is not None:
            return known  # a guard around the endpoint checked it already
        token = bearer_token(request)
        if token is None:
            return None
        session = await self._accounts.authenticate(token)
        if session is None:
            raise Unauthenticated("The token is invalid or expired.", headers=_CHALLENGE)
        # Whose request this is, for layers around the endpoint: a stored idempotent
        # response is encrypted under this customer's key, so erasing them erases it too.
        request.state.customer_id = session.subject_id
        request.state.customer_session = session
        return session

    async def required(self, request: Request) -> Session:
        session = await self.optional(request)
        if session is None:
            raise Unauthenticated("Sign in first.", headers=_CHALLENGE)
        return session

    def signed_in(self, fn: Endpoint) -> Endpoint:
        """Declare and enforce the ``customer`` policy: a live customer token, checked
        before the endpoint runs (which finds the session with :meth:`required`)."""

        @functools.wraps(fn)
        async def guarded(request: Request) -> Response:
            await self.required(request)
            return await fn(request)

        return mark(guarded, Policy.CUSTOMER)

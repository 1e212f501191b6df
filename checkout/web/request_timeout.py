"""A deadline for every request: past it, the handler is cancelled and the client gets
``503 service_unavailable`` in API.md's format, with ``Retry-After``.

The deadline covers reading the body too, so a client trickling its body cannot hold a
request open either. It is set above the provider calls' worst case (every attempt
timing out, with backoff: see providers/retry.py), so a slow provider is answered by
that code's own ``provider_unavailable`` first; this is the backstop for a handler that
is stuck. A cancelled payment is safe to retry: money-moving calls carry idempotency
keys derived from our ids, and its ``Idempotency-Key`` claim expires with its lease.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout.web.errors import error_response

log = logging.getLogger("checkout.web")


class RequestTimeout:
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        deadline = asyncio.timeout(self.seconds)
        try:
            async with deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if not deadline.expired():
                raise  # the handler's own TimeoutError, not our deadline
            log.error("request timed out", extra={"timeout_s": self.seconds})
            if started:
                raise  # half a response went out; the server closes the connection
            response = error_response(
                503,
                "service_unavailable",
                "The request took too long and was stopped; it is safe to retry.",
                scope,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)

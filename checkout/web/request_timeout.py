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
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout.web.errors import error_response

log = logging.getLogger("checkout.web")


class RequestTimeout:
    """One watchdog task per listener cancels the requests past their deadline, checking
    every second (a quarter of the deadline if that is shorter): a request is stopped
    between ``seconds`` and ``seconds`` plus one check after it began. It is cheaper on
    the hot path than a timer per request (``asyncio.timeout`` cost 6-8 µs of CPU a request
    here; registering in a dict costs well under one), and it only runs while requests do.
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self._tick = min(1.0, seconds / 4)
        self._running: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if scope["type"] != "http" or task is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        self._running[task] = time.monotonic() + self.seconds
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch(), name="request deadlines")
        expired = False
        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise  # cancelled by someone else (shutdown): not ours to answer
            expired = True
        finally:
            self._running.pop(task, None)
            if task in self._expired:
                self._expired.discard(task)
                task.uncancel()
        if not expired:
            return
        log.error("request timed out", extra={"timeout_s": self.seconds})
        if started:
            return  # half a response went out; the server closes the connection
        response = error_response(
            503,
            "service_unavailable",
            "The request took too long and was stopped; it is safe to retry.",
            scope,
            headers={"Retry-After": "1"},
        )
        await response(scope, receive, send)

    async def _watch(self) -> None:
        while self._running:
            await asyncio.sleep(self._tick)
            now = time.monotonic()
            late = [task for task, deadline in self._running.items() if deadline <= now]
            for task in late:
                del self._running[task]
                self._expired.add(task)
                task.cancel()

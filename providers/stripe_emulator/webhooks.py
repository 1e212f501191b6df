"""Webhook deliveries from the emulator, signed as Stripe signs them.

Events are made at once when state changes (a snapshot of the object, under the state
lock), kept in the account's event log, and queued here; the middleware sends what is
queued after each request has been answered, so deliveries never run inside the lock nor
hold up the caller. Each delivery is retried with backoff until the receiver answers 2xx
or the attempts run out, as Stripe retries. `DeliveryFaults` can drop, hold back,
duplicate or reorder them; Stripe itself promises no ordering between events.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from providers.emulator_deliveries import DeliveryFaults
from providers.stripe.webhook import sign

log = logging.getLogger("providers.stripe_emulator.webhooks")


class WebhookDeliverer:
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        faults: DeliveryFaults,
        ledger: Callable[[str], None] | None = None,
        attempts: int = 6,
        first_delay: float = 0.5,
    ) -> None:
        self._url = url
        self._secret = secret
        self._faults = faults
        self._ledger = ledger
        self._attempts = attempts
        self._first_delay = first_delay
        self._queue: list[bytes] = []
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def enqueue(self, payload: bytes) -> None:
        """Queue an event's body (called with the state lock held: no I/O here)."""
        with self._lock:
            self._queue.append(payload)

    def flush(self) -> None:
        """Start delivering everything queued (called on the event loop)."""
        with self._lock:
            queued, self._queue = self._queue, []
        self._send(self._faults.dispatch(queued))

    def release(self) -> int:
        """Send what `DeliveryFaults` held back; how many events that was."""
        bodies, count = self._faults.release()
        self._send(bodies)
        return count

    def _send(self, bodies: list[bytes]) -> None:
        if not bodies:
            return
        # One task per batch, sending in turn, so a chosen order is the order of arrival.
        task = asyncio.create_task(self._deliver_in_turn(bodies))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_in_turn(self, bodies: list[bytes]) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            for body in bodies:
                await self._deliver(client, body)

    async def _deliver(self, client: httpx.AsyncClient, body: bytes) -> None:
        for attempt in range(self._attempts):
            try:
                answer = await client.post(
                    self._url,
                    content=body,
                    headers={
                        "Stripe-Signature": sign(body, self._secret),
                        "Content-Type": "application/json",
                    },
                )
                if answer.is_success:
                    if self._ledger is not None:
                        self._ledger("webhooks.delivered")
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(self._first_delay * 2**attempt)
        log.warning("webhook delivery gave up", extra={"attempts": self._attempts})


class DeliverAfterResponse:
    """Pure ASGI: once a request has been answered, send the webhooks it caused."""

    def __init__(self, app: ASGIApp, deliverer: WebhookDeliverer | None) -> None:
        self.app = app
        self.deliverer = deliverer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if self.deliverer is not None and scope["type"] == "http":
                self.deliverer.flush()

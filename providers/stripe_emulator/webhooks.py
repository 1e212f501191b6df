"""Webhook deliveries from the emulator, signed as Stripe signs them.

State changes are turned into events at once (a snapshot of the object, under the state
lock) and queued; the middleware sends what is queued after each request has been
answered, so deliveries never run inside the lock nor hold up the caller. Each delivery
is retried with backoff until the receiver answers 2xx or the attempts run out, as Stripe
retries, and with no ordering promise between events, as with Stripe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from providers.stripe.webhook import sign
from providers.stripe_emulator.state import EmulatorState, PaymentIntent
from providers.stripe_emulator.wire import payment_intent

log = logging.getLogger("providers.stripe_emulator.webhooks")


class WebhookDeliverer:
    def __init__(
        self,
        state: EmulatorState,
        *,
        url: str,
        secret: str,
        public_base_url: str,
        attempts: int = 6,
        first_delay: float = 0.5,
    ) -> None:
        self._state = state
        self._url = url
        self._secret = secret
        self._public = public_base_url
        self._attempts = attempts
        self._first_delay = first_delay
        self._queue: list[bytes] = []
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        state.on_event = self.enqueue

    def enqueue(self, event_type: str, intent: PaymentIntent) -> None:
        obj: dict[str, Any] = payment_intent(self._state, intent, self._public)
        if event_type.startswith("charge."):
            obj = {
                "id": intent.latest_charge,
                "object": "charge",
                "payment_intent": intent.id,
                "metadata": dict(intent.metadata),
            }
        event = {
            "id": EmulatorState.new_id("evt"),
            "object": "event",
            "type": event_type,
            "created": self._state.now(),
            "livemode": False,
            "data": {"object": obj},
        }
        with self._lock:
            self._queue.append(json.dumps(event, separators=(",", ":")).encode())

    def flush(self) -> None:
        """Start delivering everything queued (called on the event loop)."""
        with self._lock:
            queued, self._queue = self._queue, []
        for body in queued:
            task = asyncio.create_task(self._deliver(body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, body: bytes) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
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

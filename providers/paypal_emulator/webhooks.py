"""Webhook deliveries from the emulator, signed as PayPal signs them.

A change is turned into an event at once (a snapshot of the resource, under the state
lock) and queued; the middleware sends what is queued after each request has been
answered, so deliveries never run inside the lock nor hold up the caller. Each attempt is
a new transmission (its own id and time, signed afresh over
``transmission_id|transmission_time|webhook_id|crc32(body)`` with SHA256withRSA), and a
receiver that does not answer 2xx is tried again with backoff: PayPal makes up to 25
attempts over three days; the emulator makes as many, compressed into minutes. As with
PayPal, nothing is promised about the order in which events arrive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from providers.paypal.webhook_signature import ALGORITHM, sign
from providers.paypal_emulator import events
from providers.paypal_emulator.errors import JsonObject
from providers.paypal_emulator.pki import SigningIdentity
from providers.paypal_emulator.state import PayPalState, Resource

log = logging.getLogger("providers.paypal_emulator.webhooks")

# Sent events are kept for `GET …/webhooks-events/{id}` and resends; the oldest go first.
_KEEP_EVENTS = 1000


class WebhookDeliverer:
    def __init__(
        self,
        state: PayPalState,
        *,
        url: str,
        webhook_id: str,
        identity: SigningIdentity,
        public_base_url: str,
        attempts: int = 25,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._url = url
        self._webhook_id = webhook_id
        self.identity = identity
        self._public = public_base_url.rstrip("/")
        # Public so a test can shorten the schedule on a running app.
        self.attempts = attempts
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: list[bytes] = []
        self._sent: OrderedDict[str, bytes] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        state.on_event = self.enqueue

    def __repr__(self) -> str:
        return f"WebhookDeliverer(url={self._url!r}, in_flight={len(self._tasks)})"

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being sent (for tests that wait for quiet)."""
        with self._lock:
            return not self._queue and not self._tasks

    def enqueue(self, event_type: str, record: Resource) -> None:
        """The state's event listener: snapshot now (lock held), send after the response."""
        event = events.build(self._state, event_type, record, self._public)
        body = json.dumps(event, separators=(",", ":")).encode()
        with self._lock:
            self._remember(str(event["id"]), body)
            self._queue.append(body)

    def event(self, event_id: str) -> JsonObject | None:
        with self._lock:
            body = self._sent.get(event_id)
        return None if body is None else dict(json.loads(body))

    def resend(self, event_id: str) -> bool:
        """Queue a sent event once more, byte for byte (PayPal's "resend event")."""
        with self._lock:
            body = self._sent.get(event_id)
            if body is not None:
                self._queue.append(body)
        return body is not None

    def flush(self) -> None:
        """Start delivering everything queued (called on the event loop)."""
        with self._lock:
            queued, self._queue = self._queue, []
        for body in queued:
            task = asyncio.create_task(self._deliver(body))
            with self._lock:
                self._tasks.add(task)
            task.add_done_callback(self._done)

    def _headers(self, body: bytes) -> dict[str, str]:
        """One transmission's headers: a fresh id and time, and their signature."""
        transmission_id = str(uuid.uuid4())
        sent_at = datetime.fromtimestamp(self._clock(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "Content-Type": "application/json",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": sent_at,
            "PAYPAL-TRANSMISSION-SIG": sign(
                key=self.identity.key,
                transmission_id=transmission_id,
                transmission_time=sent_at,
                webhook_id=self._webhook_id,
                body=body,
            ),
            "PAYPAL-CERT-URL": self.identity.cert_url,
            "PAYPAL-AUTH-ALGO": ALGORITHM,
        }

    def _delay(self, attempt: int) -> float:
        return float(min(self.first_delay * 2**attempt, self.max_delay))

    async def _deliver(self, body: bytes) -> None:
        async with httpx.AsyncClient(timeout=self._timeout, trust_env=False) as client:
            for attempt in range(self.attempts):
                try:
                    answer = await client.post(self._url, content=body, headers=self._headers(body))
                    if answer.is_success:
                        return
                except httpx.HTTPError:
                    pass
                if attempt + 1 < self.attempts:
                    await asyncio.sleep(self._delay(attempt))
        log.warning("webhook delivery gave up", extra={"attempts": self.attempts})

    def _done(self, task: asyncio.Task[None]) -> None:
        with self._lock:
            self._tasks.discard(task)

    def _remember(self, event_id: str, body: bytes) -> None:
        self._sent[event_id] = body
        while len(self._sent) > _KEEP_EVENTS:
            self._sent.popitem(last=False)


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

"""Provider webhook endpoints: verify the raw bytes, store once, answer 200 at once.

Nothing is parsed before the signature holds, nothing is stored when it does not, and no
processing happens on the request path: the worker applies what the inbox holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from providers.base import WebhookRejected
from providers.paypal.webhook import parse_event as parse_paypal_event
from providers.paypal.webhook_signature import PayPalVerifier, SignatureError
from providers.stripe.webhook import parse_event, verify_signature
from webhooks.inbox import Inbox

log = logging.getLogger("webhooks")

Reject = Callable[[Request, str], Response]

# The two answers, as JSONResponse would write them, made once: a provider's burst is
# thousands of deliveries a second, each answered with one of them.
_STORED = {
    fresh: b'{"received":true,"duplicate":%s}' % (b"false" if fresh else b"true")
    for fresh in (True, False)
}


async def _body(request: Request) -> bytes:
    """The raw body, as ``Request.body()`` reads it but without its async generator and
    ``aclosing`` (3 of a delivery's few microseconds of its own): a delivery arrives
    as one message once the card-data guard has read it."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _received(fresh: bool) -> Response:
    return Response(_STORED[fresh], media_type="application/json")


class WebhookEndpoints:
    def __init__(
        self,
        inbox: Inbox,
        *,
        stripe_secrets: Sequence[str],
        paypal: PayPalVerifier | None,
        reject: Reject,
    ) -> None:
        self._inbox = inbox
        self._stripe_secrets = tuple(stripe_secrets)
        self._paypal = paypal
        self._reject = reject

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/webhooks/stripe", self.stripe, methods=["POST"]),
            Route("/webhooks/paypal", self.paypal, methods=["POST"]),
        ]

    async def paypal(self, request: Request) -> Response:
        payload = await _body(request)
        if self._paypal is None:
            # Without a webhook id and trust anchors nothing can be verified, so nothing
            # is stored: the same answer as a forged delivery.
            log.warning("paypal webhook refused", extra={"reason": "not configured"})
            return self._reject(request, "The webhook could not be verified.")
        try:
            await self._paypal.verify(request.headers, payload)
            event = parse_paypal_event(payload)
        except (SignatureError, WebhookRejected) as exc:
            log.warning("paypal webhook refused", extra={"reason": str(exc)})
            return self._reject(request, "The webhook could not be verified.")
        fresh = await self._inbox.store(event, payload)
        return _received(fresh)

    async def stripe(self, request: Request) -> Response:
        payload = await _body(request)
        try:
            verify_signature(payload, request.headers.get("stripe-signature"), self._stripe_secrets)
            event = parse_event(payload)
        except WebhookRejected as exc:
            # The reason is ours and never quotes the request; it goes to the log only.
            log.warning("stripe webhook refused", extra={"reason": str(exc)})
            return self._reject(request, "The webhook could not be verified.")
        fresh = await self._inbox.store(event, payload)
        return _received(fresh)

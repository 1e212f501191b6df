"""PayPal refund events name a capture, not the order we know the payment by.

The inbox handler finds payments by provider reference; for PayPal that is the order id.
A ``PAYMENT.CAPTURE.REFUNDED`` event carries only its capture (``capture:<id>``, see
``providers/paypal/webhook.py``), so before handing such an event on, this asks PayPal
which order the capture belongs to. It runs in the worker, never on the request path, and
a PayPal outage raises, so the worker retries the event later like any other failure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from providers.base import ProviderEvent, ProviderRejected
from webhooks.worker import Handler, Outcome


class OrderIds(Protocol):
    """The part of `providers.paypal.PayPalProvider` this needs."""

    async def order_id_for(self, reference: str) -> str | None: ...


class PayPalEventRefs:
    def __init__(self, paypal: OrderIds | None, handler: Handler) -> None:
        self._paypal = paypal
        self._handler = handler

    async def apply(self, event: ProviderEvent) -> Outcome:
        ref = event.provider_ref
        if event.provider == "paypal" and self._paypal is not None and ref:
            try:
                order_id = await self._paypal.order_id_for(ref)
            except ProviderRejected:
                order_id = None  # PayPal does not know the capture (or it is malformed)
            if order_id is None:
                return Outcome.UNKNOWN_OBJECT
            event = replace(event, provider_ref=order_id)
        return await self._handler(event)

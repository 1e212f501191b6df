"""PayPal webhook events parsed into provider-neutral ones (after the signature holds).

Our provider reference for PayPal is the order id. Order events carry it as the resource
id, capture and authorization events in ``supplementary_data.related_ids.order_id``. A
refund (``PAYMENT.CAPTURE.REFUNDED``) carries neither: only an ``up`` link to the capture
it refunds. Its reference is then ``capture:<capture id>``, which
:meth:`providers.paypal.PayPalProvider.order_id_for` turns into the order id by asking
PayPal, once the event is out of the request path.
"""

from __future__ import annotations

import json
import re
from typing import Any

from providers.base import ProviderEvent, WebhookRejected

CAPTURE_REF_PREFIX = "capture:"
# PayPal's ids are upper-case alphanumerics; the link may be on api.paypal.com,
# api-m.paypal.com or (for the emulator) a local origin.
_CAPTURE_LINK = re.compile(r"/v2/payments/captures/([A-Z0-9]{1,64})\Z")


def parse_event(payload: bytes) -> ProviderEvent:
    try:
        event: Any = json.loads(payload)
        event_id = str(event["id"])
        kind = str(event["event_type"])
        resource = event.get("resource") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WebhookRejected("not a PayPal event") from None
    if not event_id or len(event_id) > 255 or not isinstance(resource, dict):
        raise WebhookRejected("not a PayPal event")
    return ProviderEvent("paypal", event_id, kind, _reference(kind, resource), None, 0)


def _reference(kind: str, resource: dict[str, Any]) -> str | None:
    supplementary = resource.get("supplementary_data")
    related = supplementary.get("related_ids") if isinstance(supplementary, dict) else None
    order_id = related.get("order_id") if isinstance(related, dict) else None
    if order_id is None and kind.startswith("CHECKOUT.ORDER."):
        order_id = resource.get("id")
    if isinstance(order_id, str) and order_id:
        return order_id
    if kind.startswith("PAYMENT.CAPTURE."):
        capture_id = _up_capture(resource)
        if capture_id is not None:
            return CAPTURE_REF_PREFIX + capture_id
    return None


def _up_capture(resource: dict[str, Any]) -> str | None:
    """The capture a refund belongs to, from its ``rel: up`` link."""
    links = resource.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "up":
            match = _CAPTURE_LINK.search(str(link.get("href", "")))
            if match:
                return match.group(1)
    return None

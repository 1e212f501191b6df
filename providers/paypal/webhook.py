"""PayPal webhook events parsed into provider-neutral ones (after the signature holds)."""

from __future__ import annotations

import json
from typing import Any

from providers.base import ProviderEvent, WebhookRejected


def parse_event(payload: bytes) -> ProviderEvent:
    try:
        event: Any = json.loads(payload)
        event_id = str(event["id"])
        kind = str(event["event_type"])
        resource = event.get("resource") or {}
    except (ValueError, KeyError, TypeError):
        raise WebhookRejected("not a PayPal event") from None
    if not event_id or len(event_id) > 255 or not isinstance(resource, dict):
        raise WebhookRejected("not a PayPal event")
    # Our provider reference for PayPal is the order id: order events carry it as the
    # resource id; capture/authorization events in supplementary_data.related_ids.
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    order_id = related.get("order_id") if isinstance(related, dict) else None
    if order_id is None and kind.startswith("CHECKOUT.ORDER."):
        order_id = resource.get("id")
    return ProviderEvent(
        "paypal",
        event_id,
        kind,
        order_id if isinstance(order_id, str) else None,
        None,
        0,
    )

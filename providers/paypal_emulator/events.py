"""PayPal's webhook event shapes (Webhooks v1 envelope around an Orders/Payments v2 resource).

    {"id": "WH-…-…", "event_version": "1.0", "create_time": "…Z", "resource_type": "capture",
     "resource_version": "2.0", "event_type": "PAYMENT.CAPTURE.COMPLETED", "summary": "…",
     "resource": {…the capture as the API shows it…}, "links": [self, resend]}

The resource is the object as the REST API renders it at the moment of the change, so it
carries what PayPal's does: `supplementary_data.related_ids.order_id` on captures and
authorizations, and only an `up` link to its capture on a refund.
"""

from __future__ import annotations

from datetime import UTC, datetime

from providers.paypal_emulator import wire
from providers.paypal_emulator.errors import JsonObject
from providers.paypal_emulator.money import Money, format_value
from providers.paypal_emulator.state import (
    Authorization,
    Capture,
    Order,
    PayPalState,
    Refund,
    Resource,
)

EVENT_VERSION = "1.0"
RESOURCE_VERSION = "2.0"


def event_path(event_id: str) -> str:
    return f"/v1/notifications/webhooks-events/{event_id}"


def new_event_id() -> str:
    # PayPal's: WH-652880104N329422Y-06P85183JY752714D.
    return f"WH-{PayPalState.new_id()}-{PayPalState.new_id()}"


def build(state: PayPalState, event_type: str, record: Resource, base: str) -> JsonObject:
    """The event announcing `event_type` about `record`, as of now. Lock held."""
    resource_type, resource, summary = _resource(state, event_type, record, base)
    event_id = new_event_id()
    return {
        "id": event_id,
        "event_version": EVENT_VERSION,
        "create_time": _millis(state.clock()),
        "resource_type": resource_type,
        "resource_version": RESOURCE_VERSION,
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
        "links": [
            wire.link(base, event_path(event_id), "self"),
            wire.link(base, event_path(event_id) + "/resend", "resend", "POST"),
        ],
    }


def _resource(
    state: PayPalState, event_type: str, record: Resource, base: str
) -> tuple[str, JsonObject, str]:
    if isinstance(record, Order):
        summary = _ORDER_SUMMARIES.get(event_type, "A checkout order was updated")
        return "checkout-order", wire.order(state, record, base), summary
    if isinstance(record, Authorization):
        summary = (
            "A payment authorization was voided"
            if event_type == "PAYMENT.AUTHORIZATION.VOIDED"
            else f"A payment authorization was created for {_amount(record.amount)}"
        )
        return "authorization", wire.authorization(state, record, base), summary
    if isinstance(record, Capture):
        summary = f"Payment completed for {_amount(record.amount)}"
        return "capture", wire.capture(record, base), summary
    assert isinstance(record, Refund)
    summary = f"A {_amount(record.amount)} capture payment was refunded"
    return "refund", wire.refund(state, record, base), summary


_ORDER_SUMMARIES = {
    "CHECKOUT.ORDER.APPROVED": "An order has been approved by buyer",
}


def _amount(money: Money) -> str:
    return f"{format_value(money.minor, money.currency)} {money.currency}"


def _millis(timestamp: float) -> str:
    """Event times carry milliseconds, unlike the resources' whole seconds."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

"""An order's status follows its payment, and each step is an event integrations hear of.

Fulfillment is a separate dimension (a paid order can be shipped and later refunded), so it
is not part of this status.
"""

from __future__ import annotations

from checkout.domain.payment import Payment, PaymentStatus

_FROM_PAYMENT = {
    PaymentStatus.AUTHORIZED: "authorized",
    PaymentStatus.CAPTURED: "paid",
    PaymentStatus.PARTIALLY_REFUNDED: "partially_refunded",
    PaymentStatus.REFUNDED: "refunded",
    PaymentStatus.VOIDED: "canceled",
}


def order_status(payment: PaymentStatus) -> str | None:
    """The order status a payment in ``payment`` implies; None where no order exists."""
    return _FROM_PAYMENT.get(payment)


def events_between(before: Payment | None, after: Payment) -> list[str]:
    """API.md's order events that moving the payment from ``before`` to ``after`` emits
    (``before`` None, or without an order: the order was created by this change).

    Every partial refund is its own ``order.refunded``; replaying a change emits nothing,
    since the state machine and the refunded total only move forward.
    """
    if after.order_id is None:
        return []
    created = before is None or before.order_id is None
    events = ["order.created"] if created else []
    was = None if created or before is None else order_status(before.status)
    now = order_status(after.status)
    was_captured = 0 if created or before is None else before.amount_captured
    was_refunded = 0 if created or before is None else before.amount_refunded
    if after.amount_captured > was_captured and was in (None, "authorized"):
        events.append("order.paid")
    if after.amount_refunded > was_refunded:
        events.append("order.refunded")
    if now == "canceled" and was != "canceled":
        events.append("order.canceled")
    return events

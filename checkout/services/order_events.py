"""An order follows its payment: its status, and the events integrations hear of, written
to the outbox in the caller's transaction.

Called wherever a payment change is saved (a charge settling, a capture, a refund, a
webhook or reconciliation), with the payment before and after; the event list comes from
:func:`checkout.domain.orders.events_between`, so the rule lives in one place. Events hold
no personal data: amounts, lines and ids only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from checkout.domain.fulfillment import Fulfillment
from checkout.domain.money import Money
from checkout.domain.orders import events_between, order_status
from checkout.domain.payment import Payment
from checkout.store import orders as order_store
from webhooks import outbox


def follow_payment(conn: Connection, before: Payment | None, after: Payment) -> list[str]:
    """Bring an existing order's status in line with its payment, and record the order
    events this payment change means; returns their types, in order."""
    if before is not None and before.order_id is not None and after.order_id is not None:
        status = order_status(after.status)
        if status is not None and status != order_status(before.status):
            order_store.set_status(conn, after.order_id, status)
    types = events_between(before, after)
    if not types or after.order_id is None:
        return []
    found = order_store.summary(conn, after.order_id)
    if found is None:  # the order is written before its events; missing means a bug
        raise LookupError(f"order {after.order_id} not found for its events")
    order, lines = found
    base = {"order": _order_json(order, lines), "payment": _payment_json(after)}
    refunded_before = 0 if before is None or before.order_id is None else before.amount_refunded
    for event_type in types:
        data: dict[str, Any] = dict(base)
        if event_type == "order.refunded":
            data["refund"] = {
                "amount": Money(
                    after.amount_refunded - refunded_before, after.amount.currency
                ).to_json(),
            }
        outbox.publish(conn, event_type, data)
    return types


def publish_fulfilled(conn: Connection, fulfillment: Fulfillment) -> None:
    """``order.fulfilled`` for one shipment (an order shipped in parcels sends several)."""
    found = order_store.summary(conn, fulfillment.order_id)
    if found is None:
        raise LookupError(f"order {fulfillment.order_id} not found for its events")
    outbox.publish(
        conn,
        "order.fulfilled",
        {
            "order": _order_json(*found),
            "fulfillment": fulfillment_json(fulfillment),
        },
    )


def publish_canceled(conn: Connection, order_id: str) -> None:
    """``order.canceled`` for an order canceled after its money was refunded (a voided
    payment's cancel is announced by :func:`follow_payment`)."""
    found = order_store.summary(conn, order_id)
    if found is None:
        raise LookupError(f"order {order_id} not found for its events")
    outbox.publish(conn, "order.canceled", {"order": _order_json(*found)})


def fulfillment_json(f: Fulfillment) -> dict[str, Any]:
    return {
        "id": f.id,
        "object": "fulfillment",
        "order_id": f.order_id,
        "carrier": f.carrier,
        "tracking_number": f.tracking_number,
        "created": int(f.created_at.timestamp()),
    }


def _order_json(order: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    currency = order["currency"]
    return {
        "id": order["id"],
        "object": "order",
        "status": order["status"],
        "checkout_id": order["checkout_id"],
        "customer_id": order["customer_id"],
        "currency": currency,
        "subtotal": Money(order["subtotal"], currency).to_json(),
        "shipping": Money(order["shipping"], currency).to_json(),
        "total": Money(order["total"], currency).to_json(),
        "fulfilled": (
            int(order["fulfilled_at"].timestamp()) if order["fulfilled_at"] is not None else None
        ),
        "lines": [
            {
                "sku": ln["sku"],
                "name": ln["name"],
                "quantity": ln["quantity"],
                "unit_price": Money(ln["unit_amount"], currency).to_json(),
                "total": Money(ln["total_amount"], currency).to_json(),
            }
            for ln in lines
        ],
        "created": int(order["created_at"].timestamp()),
    }


def _payment_json(p: Payment) -> dict[str, Any]:
    currency = p.amount.currency
    return {
        "id": p.id,
        "provider": p.provider,
        "status": p.status.value,
        "amount": p.amount.to_json(),
        "amount_captured": Money(p.amount_captured, currency).to_json(),
        "amount_refunded": Money(p.amount_refunded, currency).to_json(),
    }

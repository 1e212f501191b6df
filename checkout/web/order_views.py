"""Orders as staff and integrations see them: the whole order, personal fields under a
:class:`~checkout.domain.disclosure.Disclosure` policy."""

from __future__ import annotations

from typing import Any

from checkout.domain.disclosure import Disclosure, disclose_contact
from checkout.domain.order import OrderDetail, PaymentSummary
from checkout.services.order_events import fulfillment_json


def payment_summary_json(p: PaymentSummary) -> dict[str, Any]:
    return {
        "id": p.id,
        "object": "payment",
        "provider": p.provider,
        "status": p.status,
        "amount": p.amount.to_json(),
        "amount_captured": p.amount_captured.to_json(),
        "amount_refunded": p.amount_refunded.to_json(),
    }


def order_detail_json(detail: OrderDetail, policy: Disclosure) -> dict[str, Any]:
    order = detail.order
    return {
        "id": order.id,
        "object": "order",
        "checkout_id": order.checkout_id,
        "customer_id": order.customer_id,
        "status": order.status,
        "currency": order.total.currency,
        "lines": [
            {
                "sku": ln.sku,
                "name": ln.name,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price.to_json(),
                "total": ln.total.to_json(),
            }
            for ln in order.lines
        ],
        "subtotal": order.subtotal.to_json(),
        "shipping": order.shipping.to_json(),
        "total": order.total.to_json(),
        **disclose_contact(order.contact, policy),
        "payments": [payment_summary_json(p) for p in detail.payments],
        "fulfillments": [fulfillment_json(f) for f in detail.fulfillments],
        "created": int(order.created_at.timestamp()),
        "fulfilled": None if order.fulfilled_at is None else int(order.fulfilled_at.timestamp()),
    }

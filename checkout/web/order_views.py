"""Orders as staff and integrations see them: the whole order, personal fields under a
:class:`~checkout.domain.disclosure.Disclosure` policy."""

from __future__ import annotations

from typing import Any

from checkout.domain.disclosure import Disclosure, disclose_contact
from checkout.domain.order import OrderDetail, PaymentSummary
from checkout.services.order_events import fulfillment_json
from checkout.web.views import order_core_json


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
        **order_core_json(order),
        "customer_id": order.customer_id,
        **disclose_contact(order.contact, policy),
        "payments": [payment_summary_json(p) for p in detail.payments],
        "fulfillments": [fulfillment_json(f) for f in detail.fulfillments],
    }

"""An order: amounts, lines and the contact it was placed with; and, for staff and
integrations, the order with its payments and shipments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checkout.domain.checkout import Contact
from checkout.domain.fulfillment import Fulfillment
from checkout.domain.money import Money


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price: Money
    total: Money


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    checkout_id: str
    customer_id: str | None
    status: str
    lines: tuple[OrderLine, ...]
    subtotal: Money
    shipping: Money
    total: Money
    contact: Contact
    created_at: datetime
    fulfilled_at: datetime | None


# Statuses an order can be in (checkout.domain.orders maps payments onto them).
ORDER_STATUSES = frozenset({"authorized", "paid", "partially_refunded", "refunded", "canceled"})


@dataclass(frozen=True, slots=True)
class PaymentSummary:
    """What an order's reader needs of each payment: no token, no provider reference."""

    id: str
    provider: str
    status: str
    amount: Money
    amount_captured: Money
    amount_refunded: Money


@dataclass(frozen=True, slots=True)
class OrderDetail:
    """An order with its payments and shipments, as staff and integrations read it."""

    order: Order
    payments: tuple[PaymentSummary, ...]
    fulfillments: tuple[Fulfillment, ...]

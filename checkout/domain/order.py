"""An order as its customer sees it: amounts, lines and the contact it was placed with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checkout.domain.checkout import Contact
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

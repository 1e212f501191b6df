"""The checkout aggregate as the services see it, with its personal fields masked."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from checkout.domain.errors import CheckoutNotOpen
from checkout.domain.pricing import PricedCart
from customers.masking import Personal


class CheckoutStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


Address = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Contact:
    """What the buyer told us about themselves: every field is personal data."""

    email: Personal[str] | None = None
    shipping_address: Personal[Address] | None = None
    billing_address: Personal[Address] | None = None


@dataclass(frozen=True, slots=True)
class Checkout:
    id: str
    status: CheckoutStatus
    cart: PricedCart
    contact: Contact
    customer_id: str | None
    order_id: str | None
    version: int

    def ensure_open(self) -> None:
        if self.status is not CheckoutStatus.OPEN:
            raise CheckoutNotOpen(self.status)

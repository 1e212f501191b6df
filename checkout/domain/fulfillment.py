"""Shipping an order: which orders may ship, and what a shipment records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from checkout.domain.errors import DomainError

# Money is secured (authorized or captured) and not all given back or released. Shipping
# an authorized order is how merchants who capture on shipment work.
FULFILLABLE = frozenset({"authorized", "paid", "partially_refunded"})
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


class NotFulfillable(DomainError):
    def __init__(self, status: str) -> None:
        super().__init__(f"An order that is {status} cannot be fulfilled.")
        self.status = status


@dataclass(frozen=True, slots=True)
class Fulfillment:
    id: str
    order_id: str
    carrier: str
    tracking_number: str
    actor: str
    created_at: datetime


def check_fulfillable(order_status: str) -> None:
    if order_status not in FULFILLABLE:
        raise NotFulfillable(order_status)


def clean_label(value: str, max_len: int) -> str | None:
    """A carrier name or tracking number: printable ASCII, trimmed, within bounds."""
    value = value.strip()
    if not value or len(value) > max_len or not _PRINTABLE.match(value):
        return None
    return value

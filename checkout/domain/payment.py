"""The provider-neutral payment state machine.

    requires_action ─┐
          ▲          ▼
    processing ──► authorized ──► captured ──► partially_refunded ──► refunded
          │            │
          ▼            ▼
        failed       voided

``processing`` is also where a payment starts: the row is written before the provider
is called, and ``processing`` means "the outcome is not known to us yet". That is why
``processing -> requires_action`` is allowed: it is learning the first outcome, not going
back. Every other edge moves forward only, so an older or duplicate event can never undo
a newer state (it is simply not an allowed transition, and is ignored by ``advance``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from checkout.domain.errors import InvalidTransition
from checkout.domain.money import Money


class PaymentStatus(StrEnum):
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    VOIDED = "voided"


S = PaymentStatus
# A provider's report may skip states we never saw (a capture and a refund both made before
# the first webhook is applied): every later state is reachable, never an earlier one.
_REFUNDS = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED})
_EDGES: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.PROCESSING: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.FAILED, S.VOIDED})
    | _REFUNDS,
    S.REQUIRES_ACTION: frozenset({S.PROCESSING, S.AUTHORIZED, S.CAPTURED, S.FAILED, S.VOIDED})
    | _REFUNDS,
    S.AUTHORIZED: frozenset({S.CAPTURED, S.VOIDED}) | _REFUNDS,
    S.CAPTURED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.FAILED: frozenset(),
    S.VOIDED: frozenset(),
}

# Payments in these states hold the checkout: no second payment may start beside them.
ACTIVE = frozenset(
    {S.PROCESSING, S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED}
)
# The buyer's money is secured: the order exists from here on.
SECURED = frozenset({S.AUTHORIZED, S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED})
TERMINAL = frozenset({S.REFUNDED, S.FAILED, S.VOIDED})


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in _EDGES[current]


def transition(current: PaymentStatus, target: PaymentStatus) -> PaymentStatus:
    """The new status, or ``InvalidTransition`` for an edge the machine forbids."""
    if not can_transition(current, target):
        raise InvalidTransition(current, target)
    return target


def advance(current: PaymentStatus, reported: PaymentStatus) -> PaymentStatus:
    """Apply a provider's report; stale or repeated reports leave the status as it is."""
    return reported if can_transition(current, reported) else current


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    checkout_id: str
    order_id: str | None
    provider: str
    provider_ref: str | None
    status: PaymentStatus
    amount: Money
    amount_captured: int
    amount_refunded: int
    capture_method: str
    idempotency_key: str
    decline_code: str | None = None
    failure_message: str | None = None
    # {"type": "redirect", "url": ...} or {"type": "provider_sdk", "client_secret": ...}
    next_action: dict[str, str] | None = field(default=None, repr=False)  # may hold a secret
    payment_token: str | None = field(default=None, repr=False)
    return_url: str | None = None
    locked_until: datetime | None = None
    review_reason: str | None = None
    # A signed-in customer's provider customer (a saved method pays, or one is kept) and
    # whether the method is kept after this payment.
    provider_customer: str | None = field(default=None, repr=False)
    save_method: bool = False
    version: int = 1

    def key_for(self, operation: str) -> str:
        """The provider idempotency key for one money-moving operation on this payment."""
        return f"{self.idempotency_key}:{operation}"

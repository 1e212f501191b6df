"""Capture, void and refund: the rules, provider-neutral and free of I/O.

Each operation is recorded before the provider is asked (``pending``), so an outcome
that never reached us is retried under the same key and never repeated under a new one.
Refunds count pending ones against the limit: two refunds racing for the last of the
captured money cannot both be sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from checkout.domain.errors import DomainError
from checkout.domain.money import Money
from checkout.domain.payment import Payment, PaymentStatus, advance


class OperationKind(StrEnum):
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class OperationStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    payment_id: str
    kind: OperationKind
    status: OperationStatus
    amount: Money
    locked_until: datetime
    provider_ref: str | None = None
    reason: str | None = None
    failure_code: str | None = None

    @property
    def idempotency_key(self) -> str:
        """The provider key: our operation id, the same on every retry of it."""
        return self.id


class OperationRefused(DomainError):
    """The payment's state does not allow the operation now (-> 409)."""


class InvalidAmount(DomainError):
    """An amount no state could make valid (-> 422)."""


def check_capture(payment: Payment, amount: int | None) -> Money:
    if payment.status is not PaymentStatus.AUTHORIZED:
        raise OperationRefused(
            f"Only an authorized payment can be captured; it is {payment.status}."
        )
    value = payment.amount.amount if amount is None else amount
    if not 1 <= value <= payment.amount.amount:
        raise InvalidAmount(f"A capture is 1 to {payment.amount.amount} minor units.")
    return Money(value, payment.amount.currency)


def check_void(payment: Payment) -> Money:
    if payment.status is not PaymentStatus.AUTHORIZED or payment.amount_captured:
        raise OperationRefused(
            f"Only an uncaptured authorization can be voided; it is {payment.status}."
        )
    return payment.amount


def check_refund(payment: Payment, amount: int, committed: int) -> Money:
    """``committed``: the sum of this payment's refunds that succeeded or are pending."""
    if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        raise OperationRefused(f"Only a captured payment can be refunded; it is {payment.status}.")
    if not 1 <= amount <= payment.amount_captured:
        raise InvalidAmount(f"A refund is 1 to {payment.amount_captured} minor units.")
    remaining = payment.amount_captured - committed
    if amount > remaining:
        raise OperationRefused(f"Only {remaining} minor units remain refundable.")
    return Money(amount, payment.amount.currency)


def apply(payment: Payment, op: Operation, refunded_total: int) -> Payment:
    """The payment after ``op`` succeeded at the provider.

    A refresh or a webhook may have told us the same news first, so amounts only grow
    (``refunded_total`` is the sum of this payment's succeeded refunds, this one included)
    and the status only moves forward: nothing is counted twice, nothing goes back.
    """
    if op.kind is OperationKind.CAPTURE:
        return replace(
            payment,
            status=advance(payment.status, PaymentStatus.CAPTURED),
            amount_captured=max(payment.amount_captured, op.amount.amount),
        )
    if op.kind is OperationKind.VOID:
        return replace(payment, status=advance(payment.status, PaymentStatus.VOIDED))
    refunded = max(payment.amount_refunded, refunded_total)
    target = (
        PaymentStatus.REFUNDED
        if refunded >= payment.amount_captured
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    return replace(payment, status=advance(payment.status, target), amount_refunded=refunded)

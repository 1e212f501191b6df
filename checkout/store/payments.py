"""Payment rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checkout.db.tables import PaymentRow, utcnow
from checkout.domain.money import Money
from checkout.domain.payment import Payment, PaymentStatus

_PAY = PaymentRow.__table__  # type: ignore[attr-defined]
_INACTIVE = ("failed", "voided")


def _payment(row: Any) -> Payment:
    return Payment(
        id=row.id,
        checkout_id=row.checkout_id,
        order_id=row.order_id,
        provider=row.provider,
        provider_ref=row.provider_ref,
        status=PaymentStatus(row.status),
        amount=Money(row.amount, row.currency),
        amount_captured=row.amount_captured,
        amount_refunded=row.amount_refunded,
        capture_method=row.capture_method,
        idempotency_key=row.idempotency_key,
        decline_code=row.decline_code,
        failure_message=row.failure_message,
        next_action=row.next_action,
        version=row.version,
    )


def insert(session: Session, payment: Payment) -> None:
    now = utcnow()
    session.execute(
        sa.insert(_PAY).values(
            id=payment.id,
            checkout_id=payment.checkout_id,
            order_id=payment.order_id,
            provider=payment.provider,
            provider_ref=payment.provider_ref,
            status=payment.status.value,
            amount=payment.amount.amount,
            currency=payment.amount.currency,
            amount_captured=payment.amount_captured,
            amount_refunded=payment.amount_refunded,
            capture_method=payment.capture_method,
            idempotency_key=payment.idempotency_key,
            version=payment.version,
            created_at=now,
            updated_at=now,
        )
    )


def load(session: Session, payment_id: str, *, for_update: bool = False) -> Payment | None:
    q = sa.select(_PAY).where(_PAY.c.id == payment_id)
    if for_update:
        q = q.with_for_update()
    row = session.execute(q).one_or_none()
    return None if row is None else _payment(row)


def active_for_checkout(session: Session, checkout_id: str) -> Payment | None:
    row = session.execute(
        sa.select(_PAY).where(_PAY.c.checkout_id == checkout_id, _PAY.c.status.not_in(_INACTIVE))
    ).one_or_none()
    return None if row is None else _payment(row)


def save(session: Session, before: Payment, after: Payment) -> bool:
    """Write ``after`` if the row is still at ``before``'s version (optimistic lock)."""
    result = session.execute(
        sa.update(_PAY)
        .where(_PAY.c.id == before.id, _PAY.c.version == before.version)
        .values(
            order_id=after.order_id,
            provider_ref=after.provider_ref,
            status=after.status.value,
            amount_captured=after.amount_captured,
            amount_refunded=after.amount_refunded,
            decline_code=after.decline_code,
            failure_message=after.failure_message,
            next_action=after.next_action,
            version=before.version + 1,
            updated_at=utcnow(),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

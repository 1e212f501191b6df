"""Payment rows."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import PaymentRow, utcnow
from checkout.domain.money import Money
from checkout.domain.payment import Payment, PaymentStatus
from customers.timestamps import as_utc

_PAY = PaymentRow.__table__  # type: ignore[attr-defined]
_INACTIVE = ("failed", "voided")

_INSERT = sa.insert(_PAY)
_BY_ID = sa.select(_PAY).where(_PAY.c.id == sa.bindparam("b_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_ACTIVE = sa.select(_PAY).where(
    _PAY.c.checkout_id == sa.bindparam("b_checkout"), _PAY.c.status.not_in(_INACTIVE)
)
_BY_REF = sa.select(_PAY).where(
    _PAY.c.provider == sa.bindparam("b_provider"), _PAY.c.provider_ref == sa.bindparam("b_ref")
)
_SAVE = sa.update(_PAY).where(
    _PAY.c.id == sa.bindparam("b_id"), _PAY.c.version == sa.bindparam("b_version")
)


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
        payment_token=row.payment_token,
        return_url=row.return_url,
        locked_until=None if row.locked_until is None else as_utc(row.locked_until),
        review_reason=row.review_reason,
        provider_customer=row.provider_customer,
        save_method=bool(row.save_method),
        version=row.version,
    )


def insert(conn: Connection, payment: Payment) -> None:
    now = utcnow()
    conn.execute(
        _INSERT,
        {
            "id": payment.id,
            "checkout_id": payment.checkout_id,
            "order_id": payment.order_id,
            "provider": payment.provider,
            "provider_ref": payment.provider_ref,
            "status": payment.status.value,
            "amount": payment.amount.amount,
            "currency": payment.amount.currency,
            "amount_captured": payment.amount_captured,
            "amount_refunded": payment.amount_refunded,
            "capture_method": payment.capture_method,
            "idempotency_key": payment.idempotency_key,
            "decline_code": None,
            "failure_message": None,
            "next_action": None,
            "payment_token": payment.payment_token,
            "return_url": payment.return_url,
            "locked_until": payment.locked_until,
            "review_reason": None,
            "provider_customer": payment.provider_customer,
            "save_method": payment.save_method,
            "version": payment.version,
            "created_at": now,
            "updated_at": now,
        },
    )


def load(conn: Connection, payment_id: str, *, for_update: bool = False) -> Payment | None:
    row = conn.execute(_BY_ID_LOCKED if for_update else _BY_ID, {"b_id": payment_id}).one_or_none()
    return None if row is None else _payment(row)


def by_provider_ref(conn: Connection, provider: str, ref: str) -> Payment | None:
    row = conn.execute(_BY_REF, {"b_provider": provider, "b_ref": ref}).first()
    return None if row is None else _payment(row)


def load_many(
    conn: Connection, payment_ids: Collection[str], provider_refs: Collection[tuple[str, str]]
) -> list[Payment]:
    """The payments with any of ``payment_ids`` or (provider, reference) pairs, in one
    query (the inbox worker looks up a whole batch of events at once)."""
    if not payment_ids and not provider_refs:
        return []
    rows = conn.execute(load_many_statement(payment_ids, provider_refs))
    wanted_ids, wanted_refs = set(payment_ids), set(provider_refs)
    # The statement matches on the reference alone (see below); the provider is checked
    # here, so a reference another provider happens to share is never taken for ours.
    return [
        _payment(row)
        for row in rows
        if row.id in wanted_ids or (row.provider, row.provider_ref) in wanted_refs
    ]


def load_many_statement(
    payment_ids: Collection[str], provider_refs: Collection[tuple[str, str]]
) -> sa.Select[Any]:
    """By id or by provider reference, each through its own index. Not a row-value
    ``(provider, provider_ref) IN (...)``: SQLite answers that with a scan of the whole
    payments table, once per batch of events."""
    conditions = []
    if payment_ids:
        conditions.append(_PAY.c.id.in_(list(payment_ids)))
    if provider_refs:
        conditions.append(_PAY.c.provider_ref.in_(sorted({ref for _, ref in provider_refs})))
    return sa.select(_PAY).where(sa.or_(*conditions))


def active_for_checkout(conn: Connection, checkout_id: str) -> Payment | None:
    row = conn.execute(_ACTIVE, {"b_checkout": checkout_id}).one_or_none()
    return None if row is None else _payment(row)


def held_for_review(conn: Connection, limit: int = 100) -> list[Payment]:
    rows = conn.execute(
        sa.select(_PAY)
        .where(_PAY.c.review_reason.is_not(None))
        .order_by(_PAY.c.updated_at)
        .limit(limit)
    )
    return [_payment(r) for r in rows]


def save(conn: Connection, before: Payment, after: Payment) -> bool:
    """Write ``after`` if the row is still at ``before``'s version (optimistic lock)."""
    result = conn.execute(
        _SAVE,
        {
            "b_id": before.id,
            "b_version": before.version,
            "order_id": after.order_id,
            "provider_ref": after.provider_ref,
            "status": after.status.value,
            "amount_captured": after.amount_captured,
            "amount_refunded": after.amount_refunded,
            "decline_code": after.decline_code,
            "failure_message": after.failure_message,
            "next_action": after.next_action,
            "locked_until": after.locked_until,
            "review_reason": after.review_reason,
            "version": before.version + 1,
            "updated_at": utcnow(),
        },
    )
    return bool(result.rowcount)

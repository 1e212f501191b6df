"""Nulling personal fields in the main database: a customer's (erasure) and an order's
(retention). The ciphertexts are under the customer's key too, which erasure destroys
afterwards; nulling them as well keeps erased rows from looking like data at all."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import CheckoutRow, OrderRow
from customers.tables import CustomerRow, EmailOutboxRow, EmailVerificationRow

_C: sa.Table = CustomerRow.__table__  # type: ignore[attr-defined]
_CHK: sa.Table = CheckoutRow.__table__  # type: ignore[attr-defined]
_ORD: sa.Table = OrderRow.__table__  # type: ignore[attr-defined]
_OUT: sa.Table = EmailOutboxRow.__table__  # type: ignore[attr-defined]
_EVF: sa.Table = EmailVerificationRow.__table__  # type: ignore[attr-defined]

# The contact columns of checkouts and orders; email_index is the blind index of the
# email, linkable to the address, so it goes too.
CONTACT_NULLS = {
    "email_enc": None,
    "shipping_address_enc": None,
    "billing_address_enc": None,
    "email_index": None,
}


def lock_customer(conn: Connection, customer_id: str) -> tuple[bool, str | None] | None:
    """(already erased, Stripe customer id) of a customer, row locked; None if unknown."""
    row = conn.execute(
        sa.select(_C.c.erased_at, _C.c.stripe_customer_id)
        .where(_C.c.id == customer_id)
        .with_for_update()
    ).first()
    return None if row is None else (row.erased_at is not None, row.stripe_customer_id)


def scrub_customer(conn: Connection, customer_id: str, *, now: datetime) -> dict[str, int]:
    """Null every personal field held about a customer, in this transaction; counts."""
    conn.execute(
        sa.update(_C)
        .where(_C.c.id == customer_id)
        .values(
            email_enc=None,
            email_index=None,  # so the address can register again
            email_verified_at=None,
            name_enc=None,
            phone_enc=None,
            addresses_enc=None,
            password_hash=None,
            stripe_customer_id=None,
            erased_at=sa.func.coalesce(_C.c.erased_at, now),
            updated_at=now,
        )
    )
    checkouts = conn.execute(
        sa.update(_CHK)
        .where(_CHK.c.customer_id == customer_id)
        .values(**CONTACT_NULLS, updated_at=now)
    ).rowcount
    orders = conn.execute(
        sa.update(_ORD)
        .where(_ORD.c.customer_id == customer_id)
        .values(**CONTACT_NULLS, erased_at=sa.func.coalesce(_ORD.c.erased_at, now), updated_at=now)
    ).rowcount
    # Queued or sent emails: recipient and content go; an unsent one is never sent.
    emails = conn.execute(
        sa.update(_OUT)
        .where(_OUT.c.customer_id == customer_id)
        .values(
            to_enc=None,
            data_enc=None,
            status=sa.case((_OUT.c.status == "pending", "canceled"), else_=_OUT.c.status),
        )
    ).rowcount
    conn.execute(sa.delete(_EVF).where(_EVF.c.customer_id == customer_id))
    return {"checkouts": int(checkouts), "orders": int(orders), "emails": int(emails)}


def expired_orders(conn: Connection, *, cutoff: datetime, limit: int) -> list[tuple[str, str]]:
    """(order id, checkout id) of orders fulfilled, or canceled, before `cutoff` whose
    personal fields are still there. A canceled order's last change is its cancelation."""
    rows = conn.execute(
        sa.select(_ORD.c.id, _ORD.c.checkout_id)
        .where(
            _ORD.c.erased_at.is_(None),
            sa.or_(
                _ORD.c.fulfilled_at <= cutoff,
                sa.and_(_ORD.c.status == "canceled", _ORD.c.updated_at <= cutoff),
            ),
        )
        .order_by(_ORD.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [(r.id, r.checkout_id) for r in rows]


def scrub_orders(conn: Connection, orders: list[tuple[str, str]], *, now: datetime) -> None:
    """Null the contact fields of these orders and of the checkouts they came from."""
    if not orders:
        return
    conn.execute(
        sa.update(_ORD)
        .where(_ORD.c.id.in_([o for o, _ in orders]))
        .values(**CONTACT_NULLS, erased_at=now)
    )
    conn.execute(
        sa.update(_CHK)
        .where(_CHK.c.id.in_([c for _, c in orders]))
        .values(**CONTACT_NULLS, updated_at=now)
    )

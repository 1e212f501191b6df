"""Saved payment methods, and the customer's provider customer id they hang on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import PaymentMethodRow, utcnow
from customers.tables import CustomerRow
from customers.timestamps import as_utc

_PM: sa.Table = PaymentMethodRow.__table__  # type: ignore[attr-defined]
_C: sa.Table = CustomerRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SavedPaymentMethod:
    id: str
    customer_id: str
    provider: str
    # The provider's token: charged and detached, never shown to anyone.
    token: str = field(repr=False)
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    created_at: datetime


def _method(row: Any) -> SavedPaymentMethod:
    return SavedPaymentMethod(
        id=row.id,
        customer_id=row.customer_id,
        provider=row.provider,
        token=row.token,
        brand=row.brand,
        last4=row.last4,
        exp_month=row.exp_month,
        exp_year=row.exp_year,
        created_at=as_utc(row.created_at),
    )


def insert_if_absent(conn: Connection, method: SavedPaymentMethod) -> bool:
    """Keep a method once: a webhook and a refresh may both report the same save."""
    found = conn.execute(
        sa.select(_PM.c.id).where(_PM.c.provider == method.provider, _PM.c.token == method.token)
    ).first()
    if found is not None:
        return False
    conn.execute(
        sa.insert(_PM),
        {
            "id": method.id,
            "customer_id": method.customer_id,
            "provider": method.provider,
            "token": method.token,
            "brand": method.brand,
            "last4": method.last4,
            "exp_month": method.exp_month,
            "exp_year": method.exp_year,
            "created_at": method.created_at,
        },
    )
    return True


def for_customer(conn: Connection, customer_id: str) -> list[SavedPaymentMethod]:
    rows = conn.execute(
        sa.select(_PM)
        .where(_PM.c.customer_id == customer_id)
        .order_by(_PM.c.created_at.desc(), _PM.c.id.desc())
    )
    return [_method(r) for r in rows]


def get(conn: Connection, customer_id: str, method_id: str) -> SavedPaymentMethod | None:
    """The customer's own method; another customer's is None, like a missing one."""
    row = conn.execute(
        sa.select(_PM).where(_PM.c.id == method_id, _PM.c.customer_id == customer_id)
    ).first()
    return None if row is None else _method(row)


def delete(conn: Connection, method_id: str) -> None:
    conn.execute(sa.delete(_PM).where(_PM.c.id == method_id))


def delete_all(conn: Connection, customer_id: str) -> list[SavedPaymentMethod]:
    methods = for_customer(conn, customer_id)
    conn.execute(sa.delete(_PM).where(_PM.c.customer_id == customer_id))
    return methods


def stripe_customer(conn: Connection, customer_id: str) -> tuple[bool, str | None]:
    """(whether the customer is live, their Stripe customer id)."""
    row = conn.execute(
        sa.select(_C.c.stripe_customer_id, _C.c.erased_at).where(_C.c.id == customer_id)
    ).first()
    if row is None or row.erased_at is not None:
        return False, None
    return True, row.stripe_customer_id


def set_stripe_customer(conn: Connection, customer_id: str, provider_customer: str) -> str:
    """Store the Stripe customer unless one is set already; the one that stays."""
    conn.execute(
        sa.update(_C)
        .where(
            _C.c.id == customer_id,
            _C.c.stripe_customer_id.is_(None),
            _C.c.erased_at.is_(None),
        )
        .values(stripe_customer_id=provider_customer, updated_at=utcnow())
    )
    return str(
        conn.execute(sa.select(_C.c.stripe_customer_id).where(_C.c.id == customer_id)).scalar()
    )

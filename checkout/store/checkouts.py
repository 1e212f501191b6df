"""Checkout rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.driver_insert import DriverInsert
from checkout.db.tables import CheckoutRow, utcnow
from checkout.domain.checkout import Checkout, CheckoutStatus, Contact
from checkout.domain.money import Money
from checkout.domain.pricing import PricedCart, PricedLine
from checkout.store.personal import ContactCodec

_C = CheckoutRow.__table__  # type: ignore[attr-defined]
TABLE = "checkouts"

# Statements are built once: building one per call costs more than running it.
_INSERT = DriverInsert(_C)
_BY_ID = sa.select(_C).where(_C.c.id == sa.bindparam("b_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_UPDATE = sa.update(_C).where(
    _C.c.id == sa.bindparam("b_id"), _C.c.version == sa.bindparam("b_version")
)
_COMPLETE = (
    sa.update(_C)
    .where(_C.c.id == sa.bindparam("b_id"), _C.c.status == CheckoutStatus.OPEN.value)
    .values(status=CheckoutStatus.COMPLETED.value, version=_C.c.version + 1)
)


def _lines_json(cart: PricedCart) -> list[dict[str, Any]]:
    return [
        {
            "sku": ln.sku,
            "product_id": ln.product_id,
            "name": ln.name,
            "quantity": ln.quantity,
            "unit_amount": ln.unit_price.amount,
        }
        for ln in cart.lines
    ]


def _cart(row: Any) -> PricedCart:
    cur = row.currency
    lines = tuple(
        PricedLine(
            sku=ln["sku"],
            product_id=ln["product_id"],
            name=ln["name"],
            quantity=int(ln["quantity"]),
            unit_price=Money(int(ln["unit_amount"]), cur),
        )
        for ln in row.lines
    )
    return PricedCart(cur, lines, Money(row.subtotal, cur), Money(row.shipping, cur))


def insert(
    conn: Connection,
    codec: ContactCodec,
    *,
    checkout_id: str,
    secret_hash: str,
    cart: PricedCart,
    contact: Contact,
    customer_id: str | None,
) -> None:
    now = utcnow()
    _INSERT.execute(
        conn,
        {
            "id": checkout_id,
            "secret_hash": secret_hash,
            "status": CheckoutStatus.OPEN.value,
            "currency": cart.currency,
            "lines": _lines_json(cart),
            "subtotal": cart.subtotal.amount,
            "shipping": cart.shipping.amount,
            "total": cart.total.amount,
            "customer_id": customer_id,
            "order_id": None,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            **codec.encode(contact, checkout_id, owner=customer_id),
        },
    )


def load(
    conn: Connection, codec: ContactCodec, checkout_id: str, *, for_update: bool = False
) -> tuple[Checkout, str] | None:
    """The checkout and its secret hash, or None."""
    row = conn.execute(_BY_ID_LOCKED if for_update else _BY_ID, {"b_id": checkout_id}).one_or_none()
    if row is None:
        return None
    checkout = Checkout(
        id=row.id,
        status=CheckoutStatus(row.status),
        cart=_cart(row),
        contact=codec.decode(row, row.id),
        customer_id=row.customer_id,
        order_id=row.order_id,
        version=row.version,
    )
    return checkout, row.secret_hash


def update(
    conn: Connection,
    codec: ContactCodec,
    checkout: Checkout,
    *,
    cart: PricedCart,
    contact: Contact,
) -> bool:
    """Write new cart and contact if nobody changed the row since it was read."""
    result = conn.execute(
        _UPDATE,
        {
            "b_id": checkout.id,
            "b_version": checkout.version,
            "currency": cart.currency,
            "lines": _lines_json(cart),
            "subtotal": cart.subtotal.amount,
            "shipping": cart.shipping.amount,
            "total": cart.total.amount,
            "version": checkout.version + 1,
            "updated_at": utcnow(),
            **codec.encode(contact, checkout.id, owner=checkout.customer_id),
        },
    )
    return bool(result.rowcount)


def complete(conn: Connection, checkout: Checkout, order_id: str) -> bool:
    result = conn.execute(
        _COMPLETE, {"b_id": checkout.id, "order_id": order_id, "updated_at": utcnow()}
    )
    return bool(result.rowcount)

"""Order rows: created once from a checkout whose payment secured the money."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import OrderLineRow, OrderRow, utcnow
from checkout.domain.checkout import Checkout
from checkout.store.personal import ContactCodec
from customers.timestamps import as_utc

_O = OrderRow.__table__  # type: ignore[attr-defined]
_OL = OrderLineRow.__table__  # type: ignore[attr-defined]
TABLE = "orders"

_INSERT = sa.insert(_O)
_INSERT_LINE = sa.insert(_OL)


def insert_from_checkout(
    conn: Connection, codec: ContactCodec, checkout: Checkout, order_id: str, status: str
) -> None:
    cart = checkout.cart
    now = utcnow()
    conn.execute(
        _INSERT,
        {
            "id": order_id,
            "checkout_id": checkout.id,
            "customer_id": checkout.customer_id,
            "status": status,
            "currency": cart.currency,
            "subtotal": cart.subtotal.amount,
            "shipping": cart.shipping.amount,
            "total": cart.total.amount,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            # Re-encrypted for the order row (ciphertexts are bound to their row), under
            # the customer's key when the checkout is a customer's.
            **codec.encode(checkout.contact, order_id, owner=checkout.customer_id),
        },
    )
    conn.execute(
        _INSERT_LINE,
        [
            {
                "order_id": order_id,
                "position": i,
                "sku": ln.sku,
                "product_id": ln.product_id,
                "name": ln.name,
                "quantity": ln.quantity,
                "unit_amount": ln.unit_price.amount,
                "total_amount": ln.total.amount,
            }
            for i, ln in enumerate(cart.lines)
        ],
    )


_SET_STATUS = sa.update(_O).where(_O.c.id == sa.bindparam("b_id"))


def set_status(conn: Connection, order_id: str, status: str) -> None:
    conn.execute(_SET_STATUS, {"b_id": order_id, "status": status, "updated_at": utcnow()})


_SUMMARY = sa.select(
    _O.c.id,
    _O.c.checkout_id,
    _O.c.customer_id,
    _O.c.status,
    _O.c.currency,
    _O.c.subtotal,
    _O.c.shipping,
    _O.c.total,
    _O.c.fulfilled_at,
    _O.c.created_at,
).where(_O.c.id == sa.bindparam("b_id"))
_LINES = (
    sa.select(_OL.c.sku, _OL.c.name, _OL.c.quantity, _OL.c.unit_amount, _OL.c.total_amount)
    .where(_OL.c.order_id == sa.bindparam("b_id"))
    .order_by(_OL.c.position)
)


def summary(conn: Connection, order_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The order and its lines without any personal field (for events to integrations)."""
    row = conn.execute(_SUMMARY, {"b_id": order_id}).first()
    if row is None:
        return None
    order = dict(row._mapping)
    order["created_at"] = as_utc(order["created_at"])
    if order["fulfilled_at"] is not None:
        order["fulfilled_at"] = as_utc(order["fulfilled_at"])
    return order, [dict(r._mapping) for r in conn.execute(_LINES, {"b_id": order_id})]


_STATUS_LOCKED = sa.select(_O.c.status).where(_O.c.id == sa.bindparam("b_id")).with_for_update()


def status_for_update(conn: Connection, order_id: str) -> str | None:
    """The order's status, its row locked until the transaction ends (PostgreSQL)."""
    row = conn.execute(_STATUS_LOCKED, {"b_id": order_id}).first()
    return None if row is None else str(row[0])


def mark_fulfilled(conn: Connection, order_id: str, at: datetime) -> None:
    """The first shipment's time; later parcels leave it as it is."""
    conn.execute(
        sa.update(_O)
        .where(_O.c.id == order_id, _O.c.fulfilled_at.is_(None))
        .values(fulfilled_at=at, updated_at=at)
    )

"""Order rows: created once from a checkout whose payment secured the money."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import OrderLineRow, OrderRow, utcnow
from checkout.domain.checkout import Checkout
from checkout.store.personal import ContactCodec

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
            # Re-encrypted for the order row: ciphertexts are bound to their row.
            **codec.encode(checkout.contact, order_id),
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

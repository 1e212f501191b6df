"""A customer's orders, newest first, with their personal fields opened."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import OrderLineRow, OrderRow
from checkout.domain.money import Money
from checkout.domain.order import Order, OrderLine
from checkout.store.personal import ContactCodec
from customers.timestamps import as_utc

_O = OrderRow.__table__  # type: ignore[attr-defined]
_OL = OrderLineRow.__table__  # type: ignore[attr-defined]

_ONE = sa.select(_O).where(
    _O.c.id == sa.bindparam("b_id"), _O.c.customer_id == sa.bindparam("b_customer")
)


def lines_of(conn: Connection, orders: Sequence[Any]) -> dict[str, list[OrderLine]]:
    if not orders:
        return {}
    currency = {o.id: o.currency for o in orders}
    rows = conn.execute(
        sa.select(_OL)
        .where(_OL.c.order_id.in_(list(currency)))
        .order_by(_OL.c.order_id, _OL.c.position)
    )
    out: dict[str, list[OrderLine]] = defaultdict(list)
    for ln in rows:
        cur = currency[ln.order_id]
        out[ln.order_id].append(
            OrderLine(
                ln.sku,
                ln.name,
                ln.quantity,
                Money(ln.unit_amount, cur),
                Money(ln.total_amount, cur),
            )
        )
    return out


def order_of(row: Any, lines: list[OrderLine], codec: ContactCodec) -> Order:
    cur = row.currency
    return Order(
        id=row.id,
        checkout_id=row.checkout_id,
        customer_id=row.customer_id,
        status=row.status,
        lines=tuple(lines),
        subtotal=Money(row.subtotal, cur),
        shipping=Money(row.shipping, cur),
        total=Money(row.total, cur),
        contact=codec.decode(row, row.id),
        created_at=as_utc(row.created_at),
        fulfilled_at=None if row.fulfilled_at is None else as_utc(row.fulfilled_at),
    )


def get(conn: Connection, codec: ContactCodec, customer_id: str, order_id: str) -> Order | None:
    """The order if it is this customer's; another's is None, as a missing one is."""
    row = conn.execute(_ONE, {"b_id": order_id, "b_customer": customer_id}).first()
    if row is None:
        return None
    return order_of(row, lines_of(conn, [row]).get(row.id, []), codec)


def page(
    conn: Connection,
    codec: ContactCodec,
    customer_id: str,
    *,
    limit: int,
    starting_after: str | None,
) -> tuple[list[Order], bool]:
    """Up to `limit` orders after the one named (newest first), and whether more follow."""
    q = sa.select(_O).where(_O.c.customer_id == customer_id)
    if starting_after is not None:
        cursor = conn.execute(
            sa.select(_O.c.created_at, _O.c.id).where(
                _O.c.id == starting_after, _O.c.customer_id == customer_id
            )
        ).first()
        if cursor is None:
            return [], False
        q = q.where(
            sa.or_(
                _O.c.created_at < cursor.created_at,
                sa.and_(_O.c.created_at == cursor.created_at, _O.c.id < cursor.id),
            )
        )
    rows = conn.execute(q.order_by(_O.c.created_at.desc(), _O.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    lines = lines_of(conn, rows)
    return [order_of(r, lines.get(r.id, []), codec) for r in rows], more

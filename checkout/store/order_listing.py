"""Orders for staff and integrations: one filtered, keyset-paginated query, newest first.

Every filter lands on an index of its own (migration 0010): ``(created_at, id)`` for the
plain list and a date range, ``(status, created_at, id)`` for a status,
``(email_index, created_at, id)`` for an email (its blind index, never a decrypted scan),
the primary key for an order id. A page is read by walking the index from the cursor
(``(created_at, id) < (cursor's)``, a row comparison both databases use as an index
bound), so a page deep in the list costs what the first one does: no OFFSET, no count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import FulfillmentRow, OrderRow, PaymentRow
from checkout.domain.fulfillment import Fulfillment
from checkout.domain.money import Money
from checkout.domain.order import OrderDetail, PaymentSummary
from checkout.store.customer_orders import lines_of, order_of
from checkout.store.personal import ContactCodec
from customers.timestamps import as_utc

_O: sa.Table = OrderRow.__table__  # type: ignore[attr-defined]
_PAY: sa.Table = PaymentRow.__table__  # type: ignore[attr-defined]
_F: sa.Table = FulfillmentRow.__table__  # type: ignore[attr-defined]

_NEWEST_FIRST = (_O.c.created_at.desc(), _O.c.id.desc())
_CURSOR = sa.select(_O.c.created_at, _O.c.id).where(_O.c.id == sa.bindparam("b_id"))


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders; every field given must match. ``email_index`` is the blind index of
    an email, computed by the caller, so this module never sees the address."""

    status: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    order_id: str | None = None
    email_index: str | None = None


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: str


class UnknownCursor(LookupError):
    """``starting_after`` names no order."""


def cursor_of(conn: Connection, order_id: str) -> Cursor | None:
    row = conn.execute(_CURSOR, {"b_id": order_id}).first()
    return None if row is None else Cursor(row.created_at, row.id)


def page_query(flt: OrderFilter, cursor: Cursor | None, limit: int) -> sa.Select[Any]:
    """The page's SELECT (also what ``EXPLAIN`` is asked about in tests and the bench)."""
    q = sa.select(_O)
    if flt.order_id is not None:
        q = q.where(_O.c.id == flt.order_id)
    if flt.email_index is not None:
        q = q.where(_O.c.email_index == flt.email_index)
    if flt.status is not None:
        q = q.where(_O.c.status == flt.status)
    if flt.created_gte is not None:
        q = q.where(_O.c.created_at >= flt.created_gte)
    if flt.created_lt is not None:
        q = q.where(_O.c.created_at < flt.created_lt)
    if cursor is not None:
        q = q.where(sa.tuple_(_O.c.created_at, _O.c.id) < sa.tuple_(cursor.created_at, cursor.id))
    return q.order_by(*_NEWEST_FIRST).limit(limit + 1)


def _payments(conn: Connection, ids: list[str]) -> dict[str, list[PaymentSummary]]:
    out: dict[str, list[PaymentSummary]] = defaultdict(list)
    if not ids:
        return out
    rows = conn.execute(
        sa.select(
            _PAY.c.id,
            _PAY.c.order_id,
            _PAY.c.provider,
            _PAY.c.status,
            _PAY.c.amount,
            _PAY.c.currency,
            _PAY.c.amount_captured,
            _PAY.c.amount_refunded,
        )
        .where(_PAY.c.order_id.in_(ids))
        .order_by(_PAY.c.created_at, _PAY.c.id)
    )
    for p in rows:
        cur = p.currency
        out[p.order_id].append(
            PaymentSummary(
                id=p.id,
                provider=p.provider,
                status=p.status,
                amount=Money(p.amount, cur),
                amount_captured=Money(p.amount_captured, cur),
                amount_refunded=Money(p.amount_refunded, cur),
            )
        )
    return out


def _fulfillments(conn: Connection, ids: list[str]) -> dict[str, list[Fulfillment]]:
    out: dict[str, list[Fulfillment]] = defaultdict(list)
    if not ids:
        return out
    rows = conn.execute(
        sa.select(_F).where(_F.c.order_id.in_(ids)).order_by(_F.c.created_at, _F.c.id)
    )
    for r in rows:
        out[r.order_id].append(
            Fulfillment(
                id=r.id,
                order_id=r.order_id,
                carrier=r.carrier,
                tracking_number=r.tracking_number,
                actor=r.actor,
                created_at=as_utc(r.created_at),
            )
        )
    return out


def details(conn: Connection, codec: ContactCodec, rows: Sequence[Any]) -> list[OrderDetail]:
    """Orders from their rows, with lines, payments and shipments: three queries a page."""
    ids = [r.id for r in rows]
    lines = lines_of(conn, rows)
    payments = _payments(conn, ids)
    shipped = _fulfillments(conn, ids)
    return [
        OrderDetail(
            order=order_of(r, lines.get(r.id, []), codec),
            payments=tuple(payments.get(r.id, ())),
            fulfillments=tuple(shipped.get(r.id, ())),
        )
        for r in rows
    ]


def page(
    conn: Connection,
    codec: ContactCodec,
    flt: OrderFilter,
    *,
    limit: int,
    starting_after: str | None,
) -> tuple[list[OrderDetail], bool]:
    """Up to ``limit`` matching orders after the one named, newest first, and whether
    more follow. A cursor that names no order raises :class:`UnknownCursor`."""
    cursor = None
    if starting_after is not None:
        cursor = cursor_of(conn, starting_after)
        if cursor is None:
            raise UnknownCursor(starting_after)
    rows = conn.execute(page_query(flt, cursor, limit)).all()
    return details(conn, codec, rows[:limit]), len(rows) > limit


def get(conn: Connection, codec: ContactCodec, order_id: str) -> OrderDetail | None:
    row = conn.execute(sa.select(_O).where(_O.c.id == order_id)).first()
    return None if row is None else details(conn, codec, [row])[0]

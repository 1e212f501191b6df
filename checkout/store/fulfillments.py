"""Fulfillment rows ↔ :class:`checkout.domain.fulfillment.Fulfillment`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import FulfillmentRow
from checkout.domain.fulfillment import Fulfillment
from customers.timestamps import as_utc

_F: sa.Table = FulfillmentRow.__table__  # type: ignore[attr-defined]


def insert(conn: Connection, f: Fulfillment) -> None:
    conn.execute(
        sa.insert(_F),
        {
            "id": f.id,
            "order_id": f.order_id,
            "carrier": f.carrier,
            "tracking_number": f.tracking_number,
            "actor": f.actor,
            "created_at": f.created_at,
        },
    )


def for_order(conn: Connection, order_id: str) -> list[Fulfillment]:
    rows = conn.execute(
        sa.select(_F).where(_F.c.order_id == order_id).order_by(_F.c.created_at, _F.c.id)
    )
    return [
        Fulfillment(
            id=r.id,
            order_id=r.order_id,
            carrier=r.carrier,
            tracking_number=r.tracking_number,
            actor=r.actor,
            created_at=as_utc(r.created_at),
        )
        for r in rows
    ]

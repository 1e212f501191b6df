"""Guest checkouts and orders claimed by the customer who verified their email.

A guest's rows carry the email's blind index and no customer. Once a customer proves
they read that mailbox, each such row becomes theirs: its personal fields are decrypted
(under the system's key) and encrypted again under the customer's own key, so erasing the
customer erases them too. Every update is conditional on the row still being a guest's,
so a claim racing another changes each row once.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import CheckoutRow, OrderRow, utcnow
from checkout.store.personal import ContactCodec

_C = CheckoutRow.__table__  # type: ignore[attr-defined]
_O = OrderRow.__table__  # type: ignore[attr-defined]


def _claim(
    conn: Connection, table: sa.Table, codec: ContactCodec, customer_id: str, email_index: str
) -> int:
    c = table.c
    q = (
        sa.select(c.id, c.email_enc, c.shipping_address_enc, c.billing_address_enc)
        .where(c.email_index == email_index, c.customer_id.is_(None))
        .order_by(c.id)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    claimed = 0
    for row in conn.execute(q).all():
        contact = codec.decode(row, row.id)
        values = {
            **codec.encode(contact, row.id, owner=customer_id),
            "customer_id": customer_id,
            "version": c.version + 1,
            "updated_at": utcnow(),
        }
        result = conn.execute(
            sa.update(table).where(c.id == row.id, c.customer_id.is_(None)).values(values)
        )
        claimed += result.rowcount
    return claimed


def claim_guest_rows(
    conn: Connection,
    checkout_codec: ContactCodec,
    order_codec: ContactCodec,
    customer_id: str,
    email_index: str,
) -> tuple[int, int]:
    """(checkouts, orders) made the customer's."""
    return (
        _claim(conn, _C, checkout_codec, customer_id, email_index),
        _claim(conn, _O, order_codec, customer_id, email_index),
    )

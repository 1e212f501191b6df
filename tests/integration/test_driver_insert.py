"""The SQLite fast insert stores exactly what SQLAlchemy's own insert would."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from checkout.db.driver_insert import DriverInsert
from checkout.db.engine import make_database
from checkout.db.tables import CheckoutRow, utcnow

_C: sa.Table = CheckoutRow.__table__  # type: ignore[attr-defined]


def _row(checkout_id: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": checkout_id,
        "secret_hash": "h" * 64,
        "status": "open",
        "currency": "JPY",
        "lines": [{"sku": "A", "quantity": 2, "unit_amount": 3800, "name": "caf\u00e9"}],
        "subtotal": 7600,
        "shipping": 0,
        "total": 7600,
        "email_enc": b"\x01\x02\x00\xff",
        "email_index": None,
        "shipping_address_enc": None,
        "billing_address_enc": None,
        "customer_id": None,
        "order_id": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def test_a_row_written_by_the_driver_reads_back_like_one_written_by_sqlalchemy(
    db_url: str,
) -> None:
    db = make_database(db_url, pool_size=1)
    try:
        fast, slow = _row("chk_fast"), _row("chk_slow")
        slow["created_at"] = slow["updated_at"] = fast["created_at"]
        with db.writer.begin() as conn:
            DriverInsert(_C).execute(conn, fast)
            conn.execute(sa.insert(_C), slow)
        with db.reader.connect() as conn:
            rows = {r.id: r._asdict() for r in conn.execute(sa.select(_C))}
            raw = {
                r[0]: tuple(r[1:])
                for r in conn.exec_driver_sql(
                    "SELECT id, lines, created_at, email_enc FROM checkouts"
                )
            }
    finally:
        db.dispose()
    a, b = rows["chk_fast"], rows["chk_slow"]
    a.pop("id"), b.pop("id")
    assert a == b
    assert raw["chk_fast"] == raw["chk_slow"]

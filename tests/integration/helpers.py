"""Small helpers the API tests share: row counts and a standard checkout body."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from checkout.context import AppContext

ADDRESS = {
    "name": "Jane Doe",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def checkout_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currency": "USD",
        "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}, {"sku": "MUG-WHITE", "quantity": 1}],
        "email": "jane.doe@example.com",
        "shipping_address": ADDRESS,
    }
    body.update(overrides)
    return body


def count(ctx: AppContext, table: str) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one())


def counts(ctx: AppContext) -> dict[str, int]:
    return {
        t: count(ctx, t)
        for t in ("checkouts", "payments", "orders", "order_lines", "idempotency_keys")
    }

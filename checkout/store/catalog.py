"""Catalog queries and upserts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import ProductPriceRow, ProductRow, utcnow
from checkout.domain.catalog import Product
from checkout.domain.ids import new_id

_P = ProductRow.__table__  # type: ignore[attr-defined]
_PP = ProductPriceRow.__table__  # type: ignore[attr-defined]


def _attach_prices(conn: Connection, rows: Sequence[Any]) -> list[Product]:
    """Products from (id, sku, name, active) rows, with all their prices in one query."""
    if not rows:
        return []
    prices: dict[str, dict[str, int]] = {r[0]: {} for r in rows}
    for pid, currency, amount in conn.execute(_PRICES_OF, {"b_ids": list(prices)}):
        prices[pid][currency] = amount
    return [Product(id=r[0], sku=r[1], name=r[2], active=r[3], prices=prices[r[0]]) for r in rows]


_PRICES_OF = sa.select(_PP.c.product_id, _PP.c.currency, _PP.c.amount).where(
    _PP.c.product_id.in_(sa.bindparam("b_ids", expanding=True))
)
# Products and their prices in one round trip: pricing a cart runs this on every miss.
_BY_SKUS = (
    sa.select(_P.c.id, _P.c.sku, _P.c.name, _P.c.active, _PP.c.currency, _PP.c.amount)
    .select_from(_P.outerjoin(_PP, _PP.c.product_id == _P.c.id))
    .where(_P.c.sku.in_(sa.bindparam("b_skus", expanding=True)))
)


def list_products(
    conn: Connection, *, limit: int, starting_after: str | None, active_only: bool = True
) -> tuple[list[Product], bool]:
    """Products ordered by id (opaque and stable), one page plus whether more follow."""
    q = sa.select(_P.c.id, _P.c.sku, _P.c.name, _P.c.active).order_by(_P.c.id).limit(limit + 1)
    if active_only:
        q = q.where(_P.c.active.is_(True))
    if starting_after:
        q = q.where(_P.c.id > starting_after)
    rows = list(conn.execute(q))
    return _attach_prices(conn, rows[:limit]), len(rows) > limit


def products_by_sku(conn: Connection, skus: Iterable[str]) -> dict[str, Product]:
    wanted = list(set(skus))
    if not wanted:
        return {}
    heads: dict[str, tuple[str, str, bool]] = {}
    prices: dict[str, dict[str, int]] = {}
    for pid, sku, name, active, currency, amount in conn.execute(_BY_SKUS, {"b_skus": wanted}):
        heads[sku] = (pid, name, active)
        if currency is not None:
            prices.setdefault(sku, {})[currency] = amount
    return {
        sku: Product(id=pid, sku=sku, name=name, active=active, prices=prices.get(sku, {}))
        for sku, (pid, name, active) in heads.items()
    }


def upsert_product(
    conn: Connection, *, sku: str, name: str, active: bool, prices: Mapping[str, int]
) -> Product:
    """Create or update a product by sku; the given prices replace its prices in those
    currencies and leave its other currencies alone."""
    now = utcnow()
    existing = conn.execute(
        sa.select(_P.c.id).where(_P.c.sku == sku).with_for_update()
    ).scalar_one_or_none()
    if existing is None:
        pid = new_id("prod")
        conn.execute(
            sa.insert(_P).values(
                id=pid, sku=sku, name=name, active=active, created_at=now, updated_at=now
            )
        )
    else:
        pid = existing
        conn.execute(
            sa.update(_P).where(_P.c.id == pid).values(name=name, active=active, updated_at=now)
        )
    for currency, amount in prices.items():
        updated = conn.execute(
            sa.update(_PP)
            .where(_PP.c.product_id == pid, _PP.c.currency == currency)
            .values(amount=amount)
        )
        if updated.rowcount == 0:
            conn.execute(sa.insert(_PP).values(product_id=pid, currency=currency, amount=amount))
    return products_by_sku(conn, [sku])[sku]

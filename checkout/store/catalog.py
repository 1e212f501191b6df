"""Catalog queries and upserts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checkout.db.tables import ProductPriceRow, ProductRow, utcnow
from checkout.domain.catalog import Product
from checkout.domain.ids import new_id

_P = ProductRow.__table__  # type: ignore[attr-defined]
_PP = ProductPriceRow.__table__  # type: ignore[attr-defined]


def _attach_prices(session: Session, rows: Sequence[Any]) -> list[Product]:
    """Products from (id, sku, name, active) rows, with all their prices in one query."""
    if not rows:
        return []
    prices: dict[str, dict[str, int]] = {r[0]: {} for r in rows}
    q = sa.select(_PP.c.product_id, _PP.c.currency, _PP.c.amount).where(
        _PP.c.product_id.in_(list(prices))
    )
    for pid, currency, amount in session.execute(q):
        prices[pid][currency] = amount
    return [Product(id=r[0], sku=r[1], name=r[2], active=r[3], prices=prices[r[0]]) for r in rows]


def list_products(
    session: Session, *, limit: int, starting_after: str | None, active_only: bool = True
) -> tuple[list[Product], bool]:
    """Products ordered by id (opaque and stable), one page plus whether more follow."""
    q = sa.select(_P.c.id, _P.c.sku, _P.c.name, _P.c.active).order_by(_P.c.id).limit(limit + 1)
    if active_only:
        q = q.where(_P.c.active.is_(True))
    if starting_after:
        q = q.where(_P.c.id > starting_after)
    rows = list(session.execute(q))
    return _attach_prices(session, rows[:limit]), len(rows) > limit


def products_by_sku(session: Session, skus: Iterable[str]) -> dict[str, Product]:
    wanted = list(set(skus))
    if not wanted:
        return {}
    q = sa.select(_P.c.id, _P.c.sku, _P.c.name, _P.c.active).where(_P.c.sku.in_(wanted))
    return {p.sku: p for p in _attach_prices(session, list(session.execute(q)))}


def currencies_sold(session: Session) -> set[str]:
    q = (
        sa.select(_PP.c.currency)
        .join(_P, _P.c.id == _PP.c.product_id)
        .where(_P.c.active.is_(True))
        .distinct()
    )
    return set(session.scalars(q))


def upsert_product(
    session: Session, *, sku: str, name: str, active: bool, prices: Mapping[str, int]
) -> Product:
    """Create or update a product by sku; the given prices replace its prices in those
    currencies and leave its other currencies alone."""
    now = utcnow()
    existing = session.execute(
        sa.select(_P.c.id).where(_P.c.sku == sku).with_for_update()
    ).scalar_one_or_none()
    if existing is None:
        pid = new_id("prod")
        session.execute(
            sa.insert(_P).values(
                id=pid, sku=sku, name=name, active=active, created_at=now, updated_at=now
            )
        )
    else:
        pid = existing
        session.execute(
            sa.update(_P).where(_P.c.id == pid).values(name=name, active=active, updated_at=now)
        )
    for currency, amount in prices.items():
        updated = session.execute(
            sa.update(_PP)
            .where(_PP.c.product_id == pid, _PP.c.currency == currency)
            .values(amount=amount)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.execute(sa.insert(_PP).values(product_id=pid, currency=currency, amount=amount))
    return products_by_sku(session, [sku])[sku]

"""Reading and changing the catalog, with a short-lived in-process copy for pricing.

Pricing a new checkout may use a copy of a product up to ``cache_seconds`` old: paying
re-prices from the database inside the payment's own transaction and refuses a total that
moved, so a stale copy can never be charged. The copy is what keeps checkout creation to
one write.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.domain.catalog import Product
from checkout.domain.money import Money
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from checkout.store import catalog as store

# Bound on remembered skus, so a client naming random skus cannot grow memory.
_MAX_CACHED = 20_000


class CatalogService:
    def __init__(self, uow: UnitOfWork, *, cache_seconds: float = 0.0) -> None:
        self._uow = uow
        self._ttl = cache_seconds
        self._by_sku: dict[str, tuple[float, Product | None]] = {}

    async def list(self, *, limit: int, starting_after: str | None) -> tuple[list[Product], bool]:
        def work() -> tuple[list[Product], bool]:
            with self._uow.read() as conn:
                return store.list_products(conn, limit=limit, starting_after=starting_after)

        return await self._uow.run(work)

    def for_pricing(self, conn: Connection, skus: Iterable[str]) -> dict[str, Product]:
        """Products by sku for pricing a new or changed checkout (possibly a moment old)."""
        if self._ttl <= 0:
            return store.products_by_sku(conn, skus)
        now = time.monotonic()
        found: dict[str, Product] = {}
        missing: list[str] = []
        for sku in set(skus):
            hit = self._by_sku.get(sku)
            if hit is None or hit[0] <= now:
                missing.append(sku)
            elif hit[1] is not None:
                found[sku] = hit[1]
        if missing:
            fresh = store.products_by_sku(conn, missing)
            if len(self._by_sku) > _MAX_CACHED:
                self._by_sku.clear()
            for sku in missing:
                product = fresh.get(sku)
                self._by_sku[sku] = (now + self._ttl, product)
                if product is not None:
                    found[sku] = product
        return found

    def upsert_sync(
        self, *, sku: str, name: str, active: bool, prices: Mapping[str, int]
    ) -> Product:
        with self._uow.write() as conn:
            product = store.upsert_product(conn, sku=sku, name=name, active=active, prices=prices)
        self._by_sku.pop(sku, None)
        return product

    async def put(
        self, *, sku: str, name: str, price: Money, active: bool, actor: audit.Actor
    ) -> tuple[Product, bool]:
        """Create or update the product ``sku`` (its price in ``price``'s currency; its
        prices in other currencies stay), audited; the product and whether it is new.
        The same request twice leaves the same product: a PUT is idempotent by nature."""

        def attempt() -> tuple[Product, bool]:
            with self._uow.write() as conn:
                created = not store.products_by_sku(conn, [sku])
                product = store.upsert_product(
                    conn, sku=sku, name=name, active=active, prices={price.currency: price.amount}
                )
                audit.record(
                    conn,
                    actor,
                    audit.AuditEvent(
                        action="product.created" if created else "product.updated",
                        target_type="product",
                        target_id=product.id,
                        details={"sku": sku, "currency": price.currency, "active": active},
                    ),
                )
            self._by_sku.pop(sku, None)
            return product, created

        def work() -> tuple[Product, bool]:
            try:
                return attempt()
            except sa.exc.IntegrityError:
                # Two first PUTs of one sku raced and the other inserted it: now an update.
                return attempt()

        return await self._uow.run(work)

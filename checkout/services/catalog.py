"""Reading and changing the catalog."""

from __future__ import annotations

from collections.abc import Mapping

from checkout.domain.catalog import Product
from checkout.services.uow import UnitOfWork
from checkout.store import catalog as store


class CatalogService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def list(self, *, limit: int, starting_after: str | None) -> tuple[list[Product], bool]:
        def work() -> tuple[list[Product], bool]:
            with self._uow.read() as s:
                return store.list_products(s, limit=limit, starting_after=starting_after)

        return await self._uow.run(work)

    def upsert_sync(
        self, *, sku: str, name: str, active: bool, prices: Mapping[str, int]
    ) -> Product:
        with self._uow.write() as s:
            return store.upsert_product(s, sku=sku, name=name, active=active, prices=prices)

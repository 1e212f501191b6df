"""A signed-in customer's orders: only their own, another's answers as a missing one."""

from __future__ import annotations

from checkout.domain.order import Order
from checkout.services.errors import NotFoundError
from checkout.services.uow import UnitOfWork
from checkout.store import customer_orders as store
from checkout.store.personal import ContactCodec


class CustomerOrders:
    def __init__(self, uow: UnitOfWork, codec: ContactCodec) -> None:
        self._uow = uow
        self._codec = codec

    async def list(
        self, customer_id: str, *, limit: int, starting_after: str | None
    ) -> tuple[list[Order], bool]:
        def work() -> tuple[list[Order], bool]:
            with self._uow.read() as conn:
                return store.page(
                    conn, self._codec, customer_id, limit=limit, starting_after=starting_after
                )

        return await self._uow.run(work)

    async def get(self, customer_id: str, order_id: str) -> Order:
        def work() -> Order | None:
            with self._uow.read() as conn:
                return store.get(conn, self._codec, customer_id, order_id)

        found = await self._uow.run(work)
        if found is None:
            raise NotFoundError("No such order.")
        return found

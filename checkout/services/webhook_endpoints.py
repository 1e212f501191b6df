"""Integrations subscribing to order events (the private listener's webhook-endpoints)."""

from __future__ import annotations

from collections.abc import Sequence

from checkout.services.errors import NotFoundError
from checkout.services.uow import UnitOfWork
from webhooks.subscriptions import Endpoint, Subscriptions


class WebhookEndpoints:
    def __init__(self, uow: UnitOfWork, subscriptions: Subscriptions) -> None:
        self._uow = uow
        self._subs = subscriptions

    async def create(self, url: str, events: Sequence[str]) -> tuple[Endpoint, str]:
        """The endpoint and its signing secret, which is shown this once."""

        def create() -> tuple[Endpoint, str]:
            with self._uow.write() as conn:
                return self._subs.create(conn, url, events)

        return await self._uow.run(create)

    async def list(self) -> list[Endpoint]:
        def read() -> list[Endpoint]:
            with self._uow.read() as conn:
                return Subscriptions.list(conn)

        return await self._uow.run(read)

    async def disable(self, endpoint_id: str) -> Endpoint:
        def disable() -> Endpoint | None:
            with self._uow.write() as conn:
                return Subscriptions.disable(conn, endpoint_id)

        found = await self._uow.run(disable)
        if found is None:
            raise NotFoundError("No such webhook endpoint.")
        return found

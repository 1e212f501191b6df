"""Listing and reading orders for staff and integrations, with every read of personal
data written to the audit log.

The caller picks the :class:`~checkout.domain.disclosure.Disclosure` its reader is
entitled to; the service returns the orders whole (for rendering under that policy) and,
when the policy shows anything personal and the answer is not empty, records one audit
event for the request: who, which request, which orders and how many, under which
policy, never a value. The read and its audit row are one unit of work, so a response
with personal data never goes out unrecorded.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from checkout.domain.disclosure import Disclosure
from checkout.domain.order import OrderDetail
from checkout.services.errors import InvalidInput, NotFoundError
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from checkout.store import order_listing as store
from checkout.store.personal import ContactCodec
from customers.blind_index import BlindIndex

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """A page request. ``q`` is an exact order id (``ord_…``) or an exact customer email
    (anything with an ``@``), found through the email's blind index."""

    status: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    q: str | None = None
    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None

    def __repr__(self) -> str:  # q can be an email address
        return (
            f"OrderQuery(status={self.status!r}, q={'***' if self.q else None}, "
            f"limit={self.limit}, starting_after={self.starting_after!r})"
        )


@dataclass(frozen=True, slots=True)
class OrderPage:
    data: list[OrderDetail]
    has_more: bool


class OrderListing:
    def __init__(self, uow: UnitOfWork, codec: ContactCodec, blind_index: BlindIndex) -> None:
        self._uow = uow
        self._codec = codec
        self._index = blind_index

    def filter_of(self, query: OrderQuery) -> store.OrderFilter:
        order_id = email_index = None
        if query.q is not None:
            if "@" in query.q:
                email_index = self._index.email(query.q)
            else:
                order_id = query.q
        return store.OrderFilter(
            status=query.status,
            created_gte=query.created_gte,
            created_lt=query.created_lt,
            order_id=order_id,
            email_index=email_index,
        )

    async def list(self, query: OrderQuery, policy: Disclosure, actor: audit.Actor) -> OrderPage:
        if not 1 <= query.limit <= MAX_LIMIT:
            raise InvalidInput("limit must be 1 to 100.", field="limit")
        flt = self.filter_of(query)

        def work() -> OrderPage:
            with self._uow.read() as conn:
                try:
                    found, more = store.page(
                        conn,
                        self._codec,
                        flt,
                        limit=query.limit,
                        starting_after=query.starting_after,
                    )
                except store.UnknownCursor:
                    raise InvalidInput(
                        "starting_after names no order.", field="starting_after"
                    ) from None
            self._audit(actor, policy, found, target=("order_list", actor.request_id or "-"))
            return OrderPage(found, more)

        return await self._uow.run(work)

    async def get(self, order_id: str, policy: Disclosure, actor: audit.Actor) -> OrderDetail:
        def work() -> OrderDetail:
            with self._uow.read() as conn:
                found = store.get(conn, self._codec, order_id)
            if found is None:
                raise NotFoundError("No such order.")
            self._audit(actor, policy, [found], target=("order", order_id))
            return found

        return await self._uow.run(work)

    def _audit(
        self,
        actor: audit.Actor,
        policy: Disclosure,
        orders: builtins.list[OrderDetail],
        *,
        target: tuple[str, str],
    ) -> None:
        if not orders or not policy.reveals_personal_data:
            return
        event = audit.AuditEvent(
            action="order.pii_read",
            target_type=target[0],
            target_id=target[1][:64],
            details={
                "count": len(orders),
                "order_ids": [d.order.id for d in orders],
                "disclosure": policy.name,
            },
        )
        with self._uow.write() as conn:
            audit.record(conn, actor, event)

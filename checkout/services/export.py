"""Everything held about a customer, for ``GET /v1/me/export`` (GDPR access)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import CheckoutRow, PaymentRow
from checkout.domain.checkout import Checkout
from checkout.domain.order import Order
from checkout.domain.payment import Payment
from checkout.services.errors import NotFoundError
from checkout.services.uow import UnitOfWork
from checkout.store import checkouts as checkout_store
from checkout.store import customer_orders
from checkout.store import payment_methods as pm_store
from checkout.store import payments as payment_store
from checkout.store.payment_methods import SavedPaymentMethod
from checkout.store.personal import ContactCodec
from customers.accounts import Customer, Customers
from customers.sessions import Session, Sessions
from customers.vault import Vault

_CHK: sa.Table = CheckoutRow.__table__  # type: ignore[attr-defined]
_PAY: sa.Table = PaymentRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class CustomerExport:
    customer: Customer
    orders: list[Order]
    checkouts: list[Checkout]
    payments: list[Payment]
    payment_methods: list[SavedPaymentMethod]
    sessions: list[Session]

    def __repr__(self) -> str:
        return f"CustomerExport(customer={self.customer.id!r})"


class ExportService:
    def __init__(
        self,
        uow: UnitOfWork,
        vault: Vault,
        checkout_codec: ContactCodec,
        order_codec: ContactCodec,
        sessions: Sessions,
    ) -> None:
        self._uow = uow
        self._customers = Customers(vault)
        self._checkout_codec = checkout_codec
        self._order_codec = order_codec
        self._sessions = sessions

    def __repr__(self) -> str:
        return "ExportService()"

    async def export(self, customer_id: str) -> CustomerExport:
        """One read transaction, so the parts agree with each other."""

        def work() -> CustomerExport:
            with self._uow.read() as conn:
                customer = self._customers.get(conn, customer_id)
                if customer is None:
                    raise NotFoundError("No such customer.")
                checkouts = self._checkouts(conn, customer_id)
                return CustomerExport(
                    customer=customer,
                    orders=self._orders(conn, customer_id),
                    checkouts=checkouts,
                    payments=self._payments(conn, [c.id for c in checkouts]),
                    payment_methods=pm_store.for_customer(conn, customer_id),
                    sessions=self._sessions.active(conn, customer_id),
                )

        return await self._uow.run(work)

    def _orders(self, conn: Connection, customer_id: str) -> list[Order]:
        orders: list[Order] = []
        after: str | None = None
        while True:
            page, more = customer_orders.page(
                conn, self._order_codec, customer_id, limit=100, starting_after=after
            )
            orders.extend(page)
            if not more or not page:
                return orders
            after = page[-1].id

    def _checkouts(self, conn: Connection, customer_id: str) -> list[Checkout]:
        ids = conn.execute(
            sa.select(_CHK.c.id)
            .where(_CHK.c.customer_id == customer_id)
            .order_by(_CHK.c.created_at.desc(), _CHK.c.id)
        ).scalars()
        found = [checkout_store.load(conn, self._checkout_codec, i) for i in ids]
        return [f[0] for f in found if f is not None]

    def _payments(self, conn: Connection, checkout_ids: list[str]) -> list[Payment]:
        if not checkout_ids:
            return []
        ids = conn.execute(
            sa.select(_PAY.c.id)
            .where(_PAY.c.checkout_id.in_(checkout_ids))
            .order_by(_PAY.c.created_at, _PAY.c.id)
        ).scalars()
        found = [payment_store.load(conn, i) for i in list(ids)]
        return [p for p in found if p is not None]

"""Recording shipments: a warehouse (API key) or staff mark an order fulfilled; each one
is in the audit log (``order.fulfilled``: who, which order and shipment; no tracking
number, which a parcel service can resolve to an address)."""

from __future__ import annotations

from checkout.db.tables import utcnow
from checkout.domain.fulfillment import Fulfillment, check_fulfillable
from checkout.domain.ids import new_id
from checkout.services.errors import NotFoundError
from checkout.services.order_events import publish_fulfilled
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from checkout.store import fulfillments as store
from checkout.store import orders as order_store


class Fulfillments:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def create(
        self, order_id: str, carrier: str, tracking_number: str, actor: audit.Actor
    ) -> Fulfillment:
        def create() -> Fulfillment:
            with self._uow.write() as conn:
                # Locked, so a refund or void racing this shipment is ordered with it.
                status = order_store.status_for_update(conn, order_id)
                if status is None:
                    raise NotFoundError("No such order.")
                check_fulfillable(status)
                f = Fulfillment(
                    id=new_id("ful"),
                    order_id=order_id,
                    carrier=carrier,
                    tracking_number=tracking_number,
                    actor=actor.id or actor.type,
                    created_at=utcnow(),
                )
                store.insert(conn, f)
                order_store.mark_fulfilled(conn, order_id, f.created_at)
                publish_fulfilled(conn, f)
                audit.record(
                    conn,
                    actor,
                    audit.AuditEvent(
                        action="order.fulfilled",
                        target_type="order",
                        target_id=order_id,
                        details={"fulfillment_id": f.id, "carrier": carrier},
                    ),
                )
                return f

        return await self._uow.run(create)

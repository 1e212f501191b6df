"""What staff do to an order: capture, refund, cancel (reading and shipping are
``OrderListing`` and ``Fulfillments``, shared with the integration API).

The role's permission to call each route is declared on the route; what depends on the
order itself is decided here, after the order is read: a refund past the caller's
per-refund limit and a cancel of a paid order by a role that may cancel unpaid ones only
are ``NotPermitted`` (403). Money moves through :class:`PaymentOperations`, which writes
each operation ahead, and records ``payment.captured`` / ``payment.refunded`` /
``payment.voided`` in the audit log in the transaction that settles it.

Cancel: an order whose payment is authorized and not captured ("unpaid") is canceled by
voiding the authorization. A paid order (manager and up) is canceled by refunding what
is left of the captured amount, then marking the order ``canceled`` (``order.refunded``
then ``order.canceled`` to integrations); ``order.canceled`` goes in the audit log either
way. An order already canceled, or with a refund still pending at the provider, is 409.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkout.access.refund_limits import RefundLimits
from checkout.domain.money import Money
from checkout.domain.operations import Operation, OperationRefused
from checkout.domain.payment import Payment, PaymentStatus
from checkout.services.errors import ConflictError, NotFoundError, NotPermitted
from checkout.services.operations import PaymentOperations
from checkout.services.order_events import publish_canceled
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from checkout.store import operations as op_store
from checkout.store import orders as order_store
from checkout.store import payments as payment_store

CANCEL_REASON = "order canceled"


@dataclass(frozen=True, slots=True)
class Cancellation:
    order_id: str
    method: str  # "void" | "refund" | "none" (nothing left to give back)
    operation: Operation | None


class StaffOrders:
    def __init__(self, uow: UnitOfWork, operations: PaymentOperations) -> None:
        self._uow = uow
        self._ops = operations

    def _read(self, order_id: str) -> tuple[str, Payment | None, int]:
        """The order's status, its payment (None once voided) and the refunds committed
        against it (succeeded or pending)."""
        with self._uow.read() as conn:
            found = order_store.summary(conn, order_id)
            if found is None:
                raise NotFoundError("No such order.")
            order, _ = found
            payment = payment_store.active_for_checkout(conn, order["checkout_id"])
            committed = 0 if payment is None else op_store.committed_refunds(conn, payment.id)
            return str(order["status"]), payment, committed

    async def _payment(self, order_id: str) -> Payment:
        _, payment, _ = await self._uow.run(lambda: self._read(order_id))
        if payment is None or payment.order_id != order_id:
            raise ConflictError("The order has no payment that money can move on.")
        return payment

    async def capture(self, order_id: str, amount: int | None, actor: audit.Actor) -> Operation:
        payment = await self._payment(order_id)
        return await self._ops.capture(payment.id, amount, actor=actor)

    async def refund(
        self,
        order_id: str,
        amount: int,
        reason: str,
        actor: audit.Actor,
        *,
        limits: RefundLimits | None,
    ) -> Operation:
        """``limits`` None: any amount (manager and up)."""
        payment = await self._payment(order_id)
        refund = Money(amount, payment.amount.currency)
        if limits is not None and not limits.allows(refund):
            ceiling = limits.limit(refund.currency)
            raise NotPermitted(
                f"This role may refund at most {Money(ceiling, refund.currency).format()} "
                f"({ceiling} minor units) at once; a larger refund needs a manager."
                if ceiling
                else f"This role may not refund in {refund.currency}; ask a manager."
            )
        return await self._ops.refund(payment.id, amount, reason, actor=actor)

    async def cancel(self, order_id: str, actor: audit.Actor, *, any_order: bool) -> Cancellation:
        """``any_order`` False: unpaid (authorized, uncaptured) orders only."""
        status, payment, committed = await self._uow.run(lambda: self._read(order_id))
        if status == "canceled":
            raise ConflictError("The order is already canceled.")
        if payment is None or payment.order_id != order_id:
            raise ConflictError("The order has no payment to void or refund.")
        op: Operation | None = None
        if payment.status is PaymentStatus.AUTHORIZED and payment.amount_captured == 0:
            op = await self._ops.void(payment.id, actor=actor)
            method = "void"
        elif not any_order:
            raise NotPermitted("Only unpaid orders may be canceled by this role; ask a manager.")
        elif committed > payment.amount_refunded:
            raise ConflictError("A refund of this order is still pending; try again shortly.")
        elif payment.amount_captured - committed > 0:
            remaining = payment.amount_captured - committed
            op = await self._ops.refund(payment.id, remaining, CANCEL_REASON, actor=actor)
            method = "refund"
        else:
            method = "none"
        await self._uow.run(lambda: self._mark_canceled(order_id, method, op, actor))
        return Cancellation(order_id, method, op)

    def _mark_canceled(
        self, order_id: str, method: str, op: Operation | None, actor: audit.Actor
    ) -> None:
        with self._uow.write() as conn:
            status = order_store.status_for_update(conn, order_id)
            if status is None:
                raise NotFoundError("No such order.")
            if status != "canceled":
                if status != "refunded":
                    # Between the refund and here something else moved the order.
                    raise OperationRefused(f"The order is {status}; it was not canceled.")
                order_store.set_status(conn, order_id, "canceled")
                publish_canceled(conn, order_id)
            details: dict[str, object] = {"method": method}
            if op is not None:
                details["operation_id"] = op.id
            audit.record(
                conn,
                actor,
                audit.AuditEvent(
                    action="order.canceled",
                    target_type="order",
                    target_id=order_id,
                    details=details,
                ),
            )

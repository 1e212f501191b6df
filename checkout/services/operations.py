"""Capture, void and refund of a payment: write ahead, ask the provider, settle.

Staff order management (``checkout.services.staff_orders``) calls these with the staff
member as ``actor``: the operation's success and its audit event are one transaction.
Each operation is inserted ``pending`` under a lock on its payment (row lock on
PostgreSQL, the write lock on SQLite) after the domain check, so concurrent requests are
decided one at a time: one capture or void per authorization (also a partial unique
index), and refunds never past what was captured, counting those still pending. The
provider is called with the operation's id as idempotency key. An outcome that never
reached us leaves the operation pending; asking again after its lease re-sends the same
request under the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from functools import partial

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from checkout.db.tables import utcnow
from checkout.domain.ids import new_id
from checkout.domain.money import Money
from checkout.domain.operations import (
    Operation,
    OperationKind,
    OperationRefused,
    OperationStatus,
    apply,
    check_capture,
    check_refund,
    check_void,
)
from checkout.domain.payment import Payment
from checkout.services.errors import (
    ConflictError,
    NotFoundError,
    PaymentDeclined,
    PaymentRejected,
    ProviderDown,
)
from checkout.services.order_events import follow_payment
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from checkout.store import operations as op_store
from checkout.store import payments as payment_store
from providers.base import (
    PaymentProvider,
    ProviderDeclined,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)

log = logging.getLogger("checkout.operations")


class PaymentOperations:
    def __init__(
        self,
        uow: UnitOfWork,
        providers: Mapping[str, PaymentProvider],
        *,
        lease: timedelta,
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._lease = lease

    async def capture(
        self, payment_id: str, amount: int | None = None, *, actor: audit.Actor | None = None
    ) -> Operation:
        return await self._run(payment_id, OperationKind.CAPTURE, amount, None, actor)

    async def void(self, payment_id: str, *, actor: audit.Actor | None = None) -> Operation:
        return await self._run(payment_id, OperationKind.VOID, None, None, actor)

    async def refund(
        self,
        payment_id: str,
        amount: int,
        reason: str | None = None,
        *,
        actor: audit.Actor | None = None,
    ) -> Operation:
        return await self._run(payment_id, OperationKind.REFUND, amount, reason, actor)

    async def _run(
        self,
        payment_id: str,
        kind: OperationKind,
        amount: int | None,
        reason: str | None,
        actor: audit.Actor | None,
    ) -> Operation:
        payment, op = await self._uow.run(
            lambda: self._write_ahead(payment_id, kind, amount, reason)
        )
        return await self._send(payment, op, actor)

    def _write_ahead(
        self, payment_id: str, kind: OperationKind, amount: int | None, reason: str | None
    ) -> tuple[Payment, Operation]:
        with self._uow.write() as conn:
            payment = payment_store.load(conn, payment_id, for_update=True)
            if payment is None or payment.provider_ref is None:
                raise NotFoundError("No such payment.")
            stale = self._stale_pending(conn, payment, kind)
            if stale is not None:
                # The same operation was asked before and its outcome never reached us:
                # take it over and ask again under its own key, never under a new one.
                op_store.relock(conn, stale.id, utcnow() + self._lease)
                return payment, stale
            money = self._check(conn, payment, kind, amount)
            op = Operation(
                id=new_id("re" if kind is OperationKind.REFUND else "op"),
                payment_id=payment.id,
                kind=kind,
                status=OperationStatus.PENDING,
                amount=money,
                locked_until=utcnow() + self._lease,
                reason=reason,
            )
            try:
                op_store.insert(conn, op)
            except IntegrityError:
                raise OperationRefused(
                    "This payment is already being captured or voided."
                ) from None
            return payment, op

    def _stale_pending(
        self, conn: Connection, payment: Payment, kind: OperationKind
    ) -> Operation | None:
        if kind is OperationKind.REFUND:
            return None  # each refund is its own request; retries go through its id
        now = utcnow()
        for op in op_store.pending(conn, payment.id, kind):
            if op.locked_until > now:
                raise OperationRefused(f"A {kind} of this payment is in progress.")
            return op
        return None

    @staticmethod
    def _check(
        conn: Connection, payment: Payment, kind: OperationKind, amount: int | None
    ) -> Money:
        if kind is OperationKind.CAPTURE:
            return check_capture(payment, amount)
        if kind is OperationKind.VOID:
            return check_void(payment)
        assert amount is not None
        return check_refund(payment, amount, op_store.committed_refunds(conn, payment.id))

    async def _send(
        self, payment: Payment, op: Operation, actor: audit.Actor | None = None
    ) -> Operation:
        provider = self._providers[payment.provider]
        ref = payment.provider_ref
        assert ref is not None
        try:
            if op.kind is OperationKind.CAPTURE:
                await provider.capture(ref, op.amount.amount, op.idempotency_key)
                provider_ref = ref
            elif op.kind is OperationKind.VOID:
                await provider.void(ref, op.idempotency_key)
                provider_ref = ref
            else:
                refund = await provider.refund(ref, op.amount.amount, op.idempotency_key)
                if refund.status == "failed":
                    raise ProviderDeclined(
                        "The provider refused the refund.", decline_code="refund_failed"
                    )
                provider_ref = refund.provider_ref
        except ProviderDeclined as exc:
            await self._uow.run(partial(self._fail, op, exc.decline_code))
            raise PaymentDeclined(
                exc.message, decline_code=exc.decline_code, payment_id=payment.id
            ) from None
        except ProviderRejected as exc:
            await self._uow.run(partial(self._fail, op, "invalid_request"))
            raise PaymentRejected(exc.message, field=None, payment_id=payment.id) from None
        except ProviderUnavailable as exc:
            log.warning("provider unavailable", extra={"operation": op.kind.value})
            raise ProviderDown(exc.message, payment_id=payment.id) from None
        except ProviderError as exc:
            await self._uow.run(partial(self._fail, op, "provider_error"))
            raise ProviderDown(exc.message, payment_id=payment.id) from None
        return await self._uow.run(lambda: self._succeed(op, provider_ref, actor))

    def _fail(self, op: Operation, code: str) -> None:
        with self._uow.write() as conn:
            op_store.settle(conn, op.id, OperationStatus.FAILED, failure_code=code)

    def _succeed(
        self, op: Operation, provider_ref: str, actor: audit.Actor | None = None
    ) -> Operation:
        with self._uow.write() as conn:
            payment = payment_store.load(conn, op.payment_id, for_update=True)
            assert payment is not None
            if not op_store.settle(
                conn, op.id, OperationStatus.SUCCEEDED, provider_ref=provider_ref
            ):
                # Settled meanwhile by another request that took it over: nothing to add.
                settled = op_store.load(conn, op.id)
                assert settled is not None
                return settled
            after = apply(payment, op, op_store.succeeded_refunds(conn, payment.id))
            if not payment_store.save(conn, payment, after):
                raise ConflictError("The payment changed meanwhile; refresh it.")
            follow_payment(conn, payment, after)
            if actor is not None:
                audit.record(conn, actor, _audit_event(payment, op))
            return replace(op, status=OperationStatus.SUCCEEDED, provider_ref=provider_ref)


def _audit_event(payment: Payment, op: Operation) -> audit.AuditEvent:
    """``payment.captured`` / ``payment.voided`` / ``payment.refunded``: ids and money."""
    action = {
        OperationKind.CAPTURE: "payment.captured",
        OperationKind.VOID: "payment.voided",
        OperationKind.REFUND: "payment.refunded",
    }[op.kind]
    target = ("order", payment.order_id) if payment.order_id else ("payment", payment.id)
    return audit.AuditEvent(
        action=action,
        target_type=target[0],
        target_id=target[1],
        details={
            "payment_id": payment.id,
            "operation_id": op.id,
            "amount": op.amount.amount,
            "currency": op.amount.currency,
        },
    )

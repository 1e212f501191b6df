"""Capture, void and refund records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import PaymentOperationRow, utcnow
from checkout.domain.money import Money
from checkout.domain.operations import Operation, OperationKind, OperationStatus
from customers.timestamps import as_utc

_OP = PaymentOperationRow.__table__  # type: ignore[attr-defined]

_INSERT = sa.insert(_OP)
_BY_ID = sa.select(_OP).where(_OP.c.id == sa.bindparam("b_id"))
_SETTLE = sa.update(_OP).where(
    _OP.c.id == sa.bindparam("b_id"), _OP.c.status == OperationStatus.PENDING.value
)
_COMMITTED_REFUNDS = sa.select(sa.func.coalesce(sa.func.sum(_OP.c.amount), 0)).where(
    _OP.c.payment_id == sa.bindparam("b_payment"),
    _OP.c.kind == OperationKind.REFUND.value,
    _OP.c.status != OperationStatus.FAILED.value,
)
_SUCCEEDED_REFUNDS = sa.select(sa.func.coalesce(sa.func.sum(_OP.c.amount), 0)).where(
    _OP.c.payment_id == sa.bindparam("b_payment"),
    _OP.c.kind == OperationKind.REFUND.value,
    _OP.c.status == OperationStatus.SUCCEEDED.value,
)
_PENDING_OF = sa.select(_OP).where(
    _OP.c.payment_id == sa.bindparam("b_payment"),
    _OP.c.kind == sa.bindparam("b_kind"),
    _OP.c.status == OperationStatus.PENDING.value,
)
_OF_PAYMENT = (
    sa.select(_OP)
    .where(_OP.c.payment_id == sa.bindparam("b_payment"))
    .order_by(_OP.c.created_at, _OP.c.id)
)


def _operation(row: Any) -> Operation:
    return Operation(
        id=row.id,
        payment_id=row.payment_id,
        kind=OperationKind(row.kind),
        status=OperationStatus(row.status),
        amount=Money(row.amount, row.currency),
        locked_until=as_utc(row.locked_until),
        provider_ref=row.provider_ref,
        reason=row.reason,
        failure_code=row.failure_code,
    )


def insert(conn: Connection, op: Operation) -> None:
    now = utcnow()
    conn.execute(
        _INSERT,
        {
            "id": op.id,
            "payment_id": op.payment_id,
            "kind": op.kind.value,
            "status": op.status.value,
            "amount": op.amount.amount,
            "currency": op.amount.currency,
            "provider_ref": op.provider_ref,
            "reason": op.reason,
            "failure_code": op.failure_code,
            "locked_until": op.locked_until,
            "created_at": now,
            "updated_at": now,
        },
    )


def load(conn: Connection, op_id: str) -> Operation | None:
    row = conn.execute(_BY_ID, {"b_id": op_id}).one_or_none()
    return None if row is None else _operation(row)


def pending(conn: Connection, payment_id: str, kind: OperationKind) -> list[Operation]:
    rows = conn.execute(_PENDING_OF, {"b_payment": payment_id, "b_kind": kind.value})
    return [_operation(r) for r in rows]


def of_payment(conn: Connection, payment_id: str) -> list[Operation]:
    return [_operation(r) for r in conn.execute(_OF_PAYMENT, {"b_payment": payment_id})]


def committed_refunds(conn: Connection, payment_id: str) -> int:
    return int(conn.execute(_COMMITTED_REFUNDS, {"b_payment": payment_id}).scalar_one())


def succeeded_refunds(conn: Connection, payment_id: str) -> int:
    return int(conn.execute(_SUCCEEDED_REFUNDS, {"b_payment": payment_id}).scalar_one())


def settle(
    conn: Connection,
    op_id: str,
    status: OperationStatus,
    *,
    provider_ref: str | None = None,
    failure_code: str | None = None,
) -> bool:
    """Move a pending operation to its outcome; False if it was no longer pending."""
    result = conn.execute(
        _SETTLE,
        {
            "b_id": op_id,
            "status": status.value,
            "provider_ref": provider_ref,
            "failure_code": failure_code,
            "updated_at": utcnow(),
        },
    )
    return bool(result.rowcount)


def relock(conn: Connection, op_id: str, until: datetime) -> None:
    conn.execute(
        sa.update(_OP).where(_OP.c.id == op_id).values(locked_until=until, updated_at=utcnow())
    )

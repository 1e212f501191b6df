"""The queue of erasure steps outside the main database (see ``ErasureTaskRow``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import ErasureTaskRow, utcnow

_T: sa.Table = ErasureTaskRow.__table__  # type: ignore[attr-defined]

DESTROY_KEYS = "destroy_keys"
DETACH_METHOD = "detach_method"
DELETE_PROVIDER_CUSTOMER = "delete_provider_customer"
VAULT = "vault"

# Retries of a provider step back off to this; they never give up (the token must go).
_MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ErasureTask:
    id: int
    kind: str
    provider: str
    ref: str = field(repr=False)
    attempts: int


def enqueue(conn: Connection, kind: str, provider: str, ref: str) -> None:
    """Queue a step once (erasing twice queues nothing new)."""
    exists = conn.execute(
        sa.select(_T.c.id).where(_T.c.kind == kind, _T.c.provider == provider, _T.c.ref == ref)
    ).first()
    if exists is None:
        now = utcnow()
        conn.execute(
            sa.insert(_T),
            {
                "kind": kind,
                "provider": provider,
                "ref": ref,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )


def claim(conn: Connection, *, now: datetime, lease: timedelta, limit: int) -> list[ErasureTask]:
    """Due steps, leased to this caller (``SKIP LOCKED`` lets workers share them)."""
    rows = conn.execute(
        sa.select(_T)
        .where(_T.c.next_attempt_at <= now)
        .order_by(_T.c.next_attempt_at, _T.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        conn.execute(
            sa.update(_T)
            .where(_T.c.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + lease)
        )
    return [ErasureTask(r.id, r.kind, r.provider, r.ref, r.attempts) for r in rows]


def done(conn: Connection, task_id: int) -> None:
    conn.execute(sa.delete(_T).where(_T.c.id == task_id))


def failed(conn: Connection, task: ErasureTask, error: str, *, now: datetime) -> None:
    delay = min(timedelta(seconds=30) * 2 ** min(task.attempts, 10), _MAX_BACKOFF)
    conn.execute(
        sa.update(_T)
        .where(_T.c.id == task.id)
        .values(attempts=task.attempts + 1, next_attempt_at=now + delay, last_error=error[:100])
    )


def pending(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(_T)).scalar_one())

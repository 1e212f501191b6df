"""The audit log: append-only, hash-chained (``checkout/domain/audit_chain.py``).

Appends are serialized so the chain never forks: on PostgreSQL each append takes a
transaction-level advisory lock before reading the chain's head, held until the
transaction ends (so the next appender reads a head that is committed); SQLite writers
hold the database's write lock from BEGIN IMMEDIATE. The unique ``prev_hash`` refuses a
fork even if something bypassed both. Because the lock lasts until commit, callers record
as late in their transaction as they can.

Rows are never updated or deleted. Nothing personal goes in: ids, actions, role names and
counts only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import AuditEventRow, utcnow
from checkout.domain.audit_chain import GENESIS, ChainedFields, chain_hash
from customers.timestamps import as_utc

_A: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]
# pg_advisory_xact_lock key for chain appends: the first 8 bytes of
# SHA-256("checkout/audit-chain") as a signed 64-bit integer, unlikely to meet another's.
CHAIN_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"checkout/audit-chain").digest()[:8], "big", signed=True
)


@dataclass(frozen=True, slots=True)
class Actor:
    type: str  # customer | staff | api_key | cli | system
    id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    occurred_at: datetime
    actor: Actor
    action: str
    target_type: str
    target_id: str
    details: Mapping[str, Any] | None
    prev_hash: str
    hash: str

    def fields(self) -> ChainedFields:
        return ChainedFields(
            occurred_at=self.occurred_at,
            actor_type=self.actor.type,
            actor_id=self.actor.id,
            action=self.action,
            target_type=self.target_type,
            target_id=self.target_id,
            request_id=self.actor.request_id,
            details=self.details,
        )


def _lock_chain(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))


def head(conn: Connection) -> str:
    """The hash of the newest event (the genesis value for an empty log)."""
    last = conn.execute(sa.select(_A.c.hash).order_by(_A.c.id.desc()).limit(1)).scalar()
    return GENESIS if last is None else str(last)


def record(conn: Connection, actor: Actor, event: AuditEvent) -> str:
    """Append one event to the chain in the caller's transaction; its hash."""
    _lock_chain(conn)
    prev = head(conn)
    fields = ChainedFields(
        occurred_at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        request_id=actor.request_id,
        details=event.details or None,
    )
    digest = chain_hash(fields, prev)
    conn.execute(
        sa.insert(_A),
        {
            "occurred_at": fields.occurred_at,
            "actor_type": fields.actor_type,
            "actor_id": fields.actor_id,
            "action": fields.action,
            "target_type": fields.target_type,
            "target_id": fields.target_id,
            "request_id": fields.request_id,
            "details": fields.details,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    return digest


def _event(m: Any) -> StoredEvent:
    return StoredEvent(
        id=int(m["id"]),
        occurred_at=as_utc(m["occurred_at"]),
        actor=Actor(m["actor_type"], m["actor_id"], m["request_id"]),
        action=m["action"],
        target_type=m["target_type"],
        target_id=m["target_id"],
        details=m["details"],
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


def newest_first(
    conn: Connection, *, limit: int, starting_after: int | None = None
) -> tuple[list[StoredEvent], bool]:
    """A page of events, newest first, after the event with id `starting_after`."""
    q = sa.select(_A).order_by(_A.c.id.desc()).limit(limit + 1)
    if starting_after is not None:
        q = q.where(_A.c.id < starting_after)
    rows = [_event(r._mapping) for r in conn.execute(q)]
    return rows[:limit], len(rows) > limit


def in_chain_order(conn: Connection, *, batch: int = 1000) -> Iterator[StoredEvent]:
    """Every event, oldest first, read in batches (keyset pagination on id)."""
    after: int | None = None
    while True:
        q = sa.select(_A).order_by(_A.c.id).limit(batch)
        if after is not None:
            q = q.where(_A.c.id > after)
        rows = [_event(r._mapping) for r in conn.execute(q)]
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


@dataclass(frozen=True, slots=True)
class ChainBreak:
    event_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    head: str
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(conn: Connection) -> ChainReport:
    """Walk the chain from the genesis value; the first event that does not follow."""
    prev = GENESIS
    good = 0
    for ev in in_chain_order(conn):
        reason = None
        if ev.prev_hash != prev:
            # A row before this one was deleted, inserted, edited or moved.
            reason = "does not follow the event before it"
        elif chain_hash(ev.fields(), ev.prev_hash) != ev.hash:
            reason = "its fields do not match its hash"
        if reason is not None:
            return ChainReport(good, prev, ChainBreak(ev.id, reason))
        good += 1
        prev = ev.hash
    return ChainReport(good, prev, None)

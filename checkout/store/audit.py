"""Appending to the audit log. Rows are never updated or deleted; the staff issue adds
their hash chain and readers. Nothing personal goes in: ids, actions and counts only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import AuditEventRow, utcnow

_A: sa.Table = AuditEventRow.__table__  # type: ignore[attr-defined]


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


def record(conn: Connection, actor: Actor, event: AuditEvent) -> None:
    conn.execute(
        sa.insert(_A),
        {
            "occurred_at": utcnow(),
            "actor_type": actor.type,
            "actor_id": actor.id,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "request_id": actor.request_id,
            "details": event.details or None,
        },
    )

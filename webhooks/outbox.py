"""The outbox: our own order events, written in the transaction that makes the change.

Writing the event with the change (rather than sending it from the request) is what makes
delivery at-least-once: if the change commits, so does the event; if it rolls back, no
integration hears of something that did not happen. The worker fans each event out to
the endpoints subscribed at that moment and delivers it (``webhooks.delivery``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from webhooks.tables import OutboxEventRow

_E: sa.Table = OutboxEventRow.__table__  # type: ignore[attr-defined]
_INSERT = sa.insert(_E)

# API.md's list; an endpoint subscribes to any non-empty subset.
EVENT_TYPES = (
    "order.created",
    "order.paid",
    "order.refunded",
    "order.fulfilled",
    "order.canceled",
)


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(16)}"


def publish(conn: Connection, event_type: str, data: Mapping[str, Any]) -> str:
    """Record an event on ``conn``'s transaction; returns its id (stable across retries).

    ``data`` must not hold personal data: it is stored in clear and sent to every
    subscriber, whatever scopes their key has.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = new_event_id()
    now = datetime.now(UTC)
    body = json.dumps(
        {"id": event_id, "type": event_type, "created": int(now.timestamp()), "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )
    conn.execute(
        _INSERT,
        {"id": event_id, "type": event_type, "body": body, "dispatched": False, "created_at": now},
    )
    return event_id

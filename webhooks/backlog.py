"""What is waiting or stuck, inbound and outbound: for ``/metrics`` and housekeeping.

Counts touch only the rows the status indexes lead to (pending, dead, failed), never the
processed history, so a scrape stays cheap however large the tables grow. Retention
removes history past its use: an inbox row only deduplicates redeliveries (Stripe and
PayPal stop after three days), and a delivered event has nothing left to do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from webhooks.tables import OutboxEventRow, WebhookDeliveryRow, WebhookEventRow

_W: sa.Table = WebhookEventRow.__table__  # type: ignore[attr-defined]
_D: sa.Table = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
_E: sa.Table = OutboxEventRow.__table__  # type: ignore[attr-defined]

KEEP = timedelta(days=30)


def counts(conn: Connection) -> dict[str, int]:
    """``inbox_pending``, ``inbox_dead``, ``deliveries_pending``, ``deliveries_failed``."""
    out = {"inbox_pending": 0, "inbox_dead": 0, "deliveries_pending": 0, "deliveries_failed": 0}
    for status, n in conn.execute(
        sa.select(_W.c.status, sa.func.count())
        .where(_W.c.status.in_(("pending", "dead")))
        .group_by(_W.c.status)
    ):
        out[f"inbox_{status}"] = int(n)
    for status, n in conn.execute(
        sa.select(_D.c.status, sa.func.count())
        .where(_D.c.status.in_(("pending", "failed")))
        .group_by(_D.c.status)
    ):
        out[f"deliveries_{status}"] = int(n)
    return out


def purge_history(conn: Connection, *, keep: timedelta = KEEP, batch: int = 5000) -> int:
    """Delete up to ``batch`` rows of each kind older than ``keep``; how many went.

    Dead inbox events and failed deliveries stay: a person may still replay them.
    """
    cutoff = datetime.now(UTC) - keep
    gone = 0
    old_events = (
        sa.select(_W.c.id)
        .where(_W.c.status == "processed", _W.c.received_at < cutoff)
        .limit(batch)
        .scalar_subquery()
    )
    gone += conn.execute(sa.delete(_W).where(_W.c.id.in_(old_events))).rowcount
    old_deliveries = (
        sa.select(_D.c.id)
        .where(_D.c.status.in_(("delivered", "canceled")), _D.c.created_at < cutoff)
        .limit(batch)
        .scalar_subquery()
    )
    gone += conn.execute(sa.delete(_D).where(_D.c.id.in_(old_deliveries))).rowcount
    # An event goes once nothing refers to it: every delivery of it is gone.
    orphaned = (
        sa.select(_E.c.seq)
        .where(
            _E.c.dispatched == sa.true(),
            _E.c.created_at < cutoff,
            ~sa.exists().where(_D.c.event_id == _E.c.id),
        )
        .limit(batch)
        .scalar_subquery()
    )
    gone += conn.execute(sa.delete(_E).where(_E.c.seq.in_(orphaned))).rowcount
    return gone

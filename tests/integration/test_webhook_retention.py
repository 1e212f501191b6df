"""Housekeeping removes webhook history past its use and keeps what a person may need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from tests.integration.helpers import count
from webhooks import backlog

pytestmark = pytest.mark.anyio


def _seed(ctx: AppContext, age: timedelta, tag: str) -> None:
    at = datetime.now(UTC) - age
    with ctx.db.engine.begin() as conn:
        for status in ("processed", "dead", "pending"):
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_events (provider, event_id, type, payload_enc, status, "
                    "attempts, next_attempt_at, received_at) VALUES ('stripe', :e, 't', :p, "
                    ":s, 0, :t, :t)"
                ),
                {"e": f"evt_{tag}_{status}", "p": b"x", "s": status, "t": at},
            )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_endpoints (id, url, events, secret_enc, status, created_at) "
                "VALUES (:id, 'https://x.test/h', 'order.paid', :s, 'enabled', :t)"
            ),
            {"id": f"whe_{tag}", "s": b"x", "t": at},
        )
        for status in ("delivered", "failed", "pending", "canceled"):
            conn.execute(
                sa.text(
                    "INSERT INTO outbox_events (id, type, body, dispatched, created_at) "
                    "VALUES (:id, 'order.paid', '{}', true, :t)"
                ),
                {"id": f"evt_{tag}_{status}", "t": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, "
                    "next_attempt_at, created_at) VALUES (:ep, :ev, :s, 1, :t, :t)"
                ),
                {"ep": f"whe_{tag}", "ev": f"evt_{tag}_{status}", "s": status, "t": at},
            )


async def test_old_processed_and_delivered_history_goes_the_rest_stays(ctx: AppContext) -> None:
    _seed(ctx, timedelta(days=45), "old")
    _seed(ctx, timedelta(days=2), "new")
    with ctx.uow.write() as conn:
        gone = backlog.purge_history(conn)
    # Old: the processed inbox row, the delivered and canceled deliveries and their events.
    assert gone == 1 + 2 + 2
    with ctx.db.engine.connect() as conn:
        events = set(conn.execute(sa.text("SELECT event_id FROM webhook_events")).scalars())
        outbox = set(conn.execute(sa.text("SELECT id FROM outbox_events")).scalars())
    assert events == {
        "evt_old_dead",
        "evt_old_pending",
        "evt_new_processed",
        "evt_new_dead",
        "evt_new_pending",
    }
    assert outbox == {"evt_old_failed", "evt_old_pending"} | {
        f"evt_new_{s}" for s in ("delivered", "failed", "pending", "canceled")
    }
    assert count(ctx, "webhook_deliveries") == 2 + 4
    with ctx.uow.write() as conn:
        assert backlog.purge_history(conn) == 0

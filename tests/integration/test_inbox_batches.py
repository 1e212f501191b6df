"""One claimed batch: its payments looked up at once (by our id or the provider's
reference), several events about one payment handled in turn, each effect once."""

from __future__ import annotations

import logging

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from tests.conftest import Emulator
from tests.integration.test_webhooks import _deliver, _event, _requires_action

pytestmark = pytest.mark.anyio


async def test_a_batch_of_events_about_two_payments_settles_each_once(
    api: httpx.AsyncClient,
    ctx: AppContext,
    stripe_emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    refs: list[str] = []
    pay_ids: list[str] = []
    for _ in range(2):
        _, _, pay = await _requires_action(api, stripe_emulator)
        stripe_emulator.complete_3ds(pay["next_action"]["url"])
        refs.append(pay["next_action"]["url"].split("/3ds/")[1].split("?")[0])
        pay_ids.append(pay["id"])
    # The first payment's events name only the provider's reference; the second's carry
    # our id too. Stale and fresh ones, interleaved.
    deliveries = [
        _event("evt_a1", "payment_intent.requires_action", refs[0]),
        _event("evt_b1", "payment_intent.succeeded", refs[1], pay_ids[1]),
        _event("evt_a2", "payment_intent.succeeded", refs[0]),
        _event("evt_b2", "payment_intent.requires_action", refs[1], pay_ids[1]),
        _event("evt_a3", "payment_intent.succeeded", refs[0]),
    ]
    for body in deliveries:
        assert (await _deliver(api, ctx, body)).status_code == 200

    with caplog.at_level(logging.WARNING, logger="webhooks.worker"):
        counts = await ctx.inbox_worker.drain_once()

    # The batch lookup worked (its failure would fall back to one lookup per event).
    assert not caplog.records

    assert counts == {"applied": 5, "retried": 0, "dead": 0, "ignored": 0}
    with ctx.db.engine.connect() as conn:
        payments = conn.execute(sa.text("SELECT status, order_id FROM payments")).all()
        created = conn.execute(
            sa.text("SELECT COUNT(*) FROM outbox_events WHERE type = 'order.created'")
        ).scalar_one()
        events = conn.execute(
            sa.text("SELECT status, COUNT(*) FROM webhook_events GROUP BY status")
        ).all()
    assert sorted(status for status, _ in payments) == ["captured", "captured"]
    assert all(order_id for _, order_id in payments)
    assert created == 2
    assert events == [("processed", 5)]

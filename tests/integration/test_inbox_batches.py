"""One claimed batch: its payments looked up at once (by our id or the provider's
reference), several events about one payment handled in turn with one lookup at the
provider, each effect once."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from checkout.services.provider_events import ProviderEvents
from providers.base import PaymentProvider, ProviderPayment
from tests.conftest import Emulator
from tests.integration.test_webhooks import _deliver, _event, _requires_action
from webhooks.worker import InboxWorker

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

    assert counts == {"applied": 5, "retried": 0, "dead": 0, "ignored": 0, "released": 0}
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


class CountingProvider:
    """The real provider, counting lookups."""

    def __init__(self, inner: PaymentProvider) -> None:
        self.inner = inner
        self.fetches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def fetch(self, provider_ref: str) -> ProviderPayment:
        self.fetches += 1
        return await self.inner.fetch(provider_ref)


async def test_events_about_one_payment_waiting_together_cost_one_lookup(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    _, _, pay = await _requires_action(api, stripe_emulator)
    stripe_emulator.complete_3ds(pay["next_action"]["url"])
    ref = pay["next_action"]["url"].split("/3ds/")[1].split("?")[0]
    for n, kind in enumerate(["requires_action", "succeeded", "succeeded"]):
        await _deliver(api, ctx, _event(f"evt_{n}", f"payment_intent.{kind}", ref, pay["id"]))
    stripe = CountingProvider(ctx.providers["stripe"])
    events = ProviderEvents(ctx.uow, ctx.payments, {"stripe": stripe})
    worker = InboxWorker(ctx.inbox, ctx.uow, events.apply, prepare=events.for_batch)

    assert (await worker.drain_once())["applied"] == 3

    assert stripe.fetches == 1
    with ctx.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM payments")).scalar_one() == "captured"

"""Several workers draining one inbox take each event once (SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import anyio
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from providers.base import ProviderEvent
from webhooks.worker import InboxWorker, Outcome

pytestmark = pytest.mark.anyio


async def test_two_workers_apply_each_of_many_shuffled_duplicated_events_once(
    ctx: AppContext,
) -> None:
    ids = [f"evt_{i:04d}" for i in range(400)]
    deliveries = ids + random.sample(ids, 40)  # 10 % duplicates
    random.shuffle(deliveries)
    for event_id in deliveries:
        await ctx.inbox.store(
            ProviderEvent("stripe", event_id, "payment_intent.succeeded", "pi_x", None, 0),
            b'{"id": "%s"}' % event_id.encode(),
        )
    seen: Counter[str] = Counter()

    async def handler(event: ProviderEvent) -> Outcome:
        seen[event.event_id] += 1
        await anyio.sleep(0)  # let the other worker run in between
        return Outcome.APPLIED

    workers = [InboxWorker(ctx.inbox, ctx.uow, handler, batch=25) for _ in range(2)]

    async def drain(worker: InboxWorker) -> None:
        for _ in range(100):
            if sum((await worker.drain_once()).values()) == 0:
                return

    async with anyio.create_task_group() as tg:
        for worker in workers:
            tg.start_soon(drain, worker)
    assert set(seen) == set(ids)
    assert max(seen.values()) == 1
    with ctx.db.engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT COUNT(*) FROM webhook_events WHERE status <> 'processed'")
        ).scalar_one()
    assert left == 0


async def _store_events(ctx: AppContext, prefix: str, count: int) -> list[str]:
    """``count`` events, each about a payment of its own; their ids."""
    ids = [f"{prefix}{i:03d}" for i in range(count)]
    for event_id in ids:
        await ctx.inbox.store(
            ProviderEvent("stripe", event_id, "charge.refunded", f"pi_{event_id}", None, 0), b"{}"
        )
    return ids


async def test_drain_keeps_two_batches_in_flight_on_postgresql_and_one_on_sqlite(
    ctx: AppContext,
) -> None:
    ids = await _store_events(ctx, "evt_lane_", 120)
    seen: Counter[str] = Counter()
    in_flight: set[str] = set()
    most = 0

    async def handler(event: ProviderEvent) -> Outcome:
        nonlocal most
        in_flight.add(event.event_id)
        most = max(most, len(in_flight))
        await anyio.sleep(0.01)  # a provider lookup: the other lane gets its turn
        in_flight.discard(event.event_id)
        seen[event.event_id] += 1
        return Outcome.APPLIED

    # One event at a time within a batch: more than one in flight means two batches.
    worker = InboxWorker(ctx.inbox, ctx.uow, handler, batch=10, concurrency=1, lanes=2)
    counts = await worker.drain(max_batches=100)
    assert counts == {"applied": 120, "retried": 0, "dead": 0, "ignored": 0, "released": 0}
    assert set(seen) == set(ids)
    assert max(seen.values()) == 1
    assert most == (2 if ctx.uow.is_postgres else 1)


async def test_a_batch_that_would_outlive_its_lease_releases_what_it_has_not_started(
    ctx: AppContext,
) -> None:
    ids = await _store_events(ctx, "evt_slow_", 10)
    seen: Counter[str] = Counter()

    async def slow(event: ProviderEvent) -> Outcome:
        await anyio.sleep(0.1)  # a provider answering slowly
        seen[event.event_id] += 1
        return Outcome.APPLIED

    # Each event may take 0.8 s of a 1 s lease: none may start 0.2 s after the claim.
    worker = InboxWorker(
        ctx.inbox,
        ctx.uow,
        slow,
        batch=10,
        concurrency=1,
        lease=timedelta(seconds=1),
        handle_within=timedelta(seconds=0.8),
    )
    first = await worker.drain_once()
    assert 1 <= first["applied"] <= 4
    assert first["applied"] + first["released"] == 10
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT event_id, attempts FROM webhook_events WHERE status = 'pending'")
        ).all()
    # Released, not failed: no attempt counted, and due again at once (not after a lease).
    assert len(rows) == first["released"]
    assert all(attempts == 0 for _, attempts in rows)
    while sum((await worker.drain_once()).values()):
        pass
    assert set(seen) == set(ids)
    assert max(seen.values()) == 1

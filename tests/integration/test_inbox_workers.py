"""Several workers draining one inbox take each event once (SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import random
from collections import Counter

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

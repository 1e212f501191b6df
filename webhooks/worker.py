"""Draining the inbox: each due event handed to the handler the composition root gave.

Claiming moves an event's ``next_attempt_at`` a lease ahead in its own short transaction
(on PostgreSQL under ``FOR UPDATE SKIP LOCKED``), so no transaction stays open while the
handler talks to a provider, two workers never take the same event, and a worker killed
mid-batch only delays its events by the lease. The handler must be idempotent (it applies
the provider's current state through a forward-only state machine), since an event whose
outcome was not recorded is handed out again.

``drain`` keeps ``lanes`` batches in flight on PostgreSQL: while one batch waits on the
provider or on its recording transaction, the next is claimed and handled (``SKIP
LOCKED`` keeps the lanes' batches apart, as it does several workers'). SQLite keeps one
lane: its single writer serialises the phases anyway.

A claimed batch is handled concurrently (a handler mostly waits on the provider and the
database), at most ``concurrency`` events at a time. A batch must be recorded within
its lease, or another worker takes its events while they are still being handled, and
with a provider down every lookup can take its whole retry budget (``handle_within``):
a batch of 250 at 16 at a time would need many minutes. So no event is started later
than ``lease - handle_within`` after the claim; those not started are released (due
again at once, their attempts untouched) for the next batch, this worker's or another's.
Events about the same object (the same payment id or provider reference) are handed
over one after the other, in the order they were claimed: the later ones then find the
earlier ones' work done instead of queueing on the same row lock. Outcomes are recorded
together in one transaction when the batch is done; a crash before that hands the whole
batch out again after the lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from enum import StrEnum
from functools import partial

import sqlalchemy as sa

from providers.base import ProviderEvent
from webhooks.inbox import _W, Inbox, StoredEvent, _now
from webhooks.transactions import Transactions

log = logging.getLogger("webhooks.worker")


class Outcome(StrEnum):
    APPLIED = "applied"
    UNKNOWN_OBJECT = "unknown_object"  # about a payment we do not know (yet): retry later
    IGNORED = "ignored"  # an event type we do not act on


Handler = Callable[[ProviderEvent], Awaitable[Outcome]]
# Optional: called with a claimed batch's events before any is handled, it returns the
# handler for that batch (one that looked up everything the batch is about at once).
Prepare = Callable[[Sequence[ProviderEvent]], Awaitable[Handler]]


class InboxWorker:
    def __init__(
        self,
        inbox: Inbox,
        tx: Transactions,
        handler: Handler,
        *,
        prepare: Prepare | None = None,
        # 250: events about one payment often share a batch, and so a provider lookup;
        # fewer claim and record transactions. (100 drained PostgreSQL ~30% slower.)
        batch: int = 250,
        lease: timedelta = timedelta(seconds=60),
        first_retry: timedelta = timedelta(seconds=5),
        max_attempts: int = 15,
        concurrency: int = 16,
        lanes: int = 2,
        handle_within: timedelta | None = None,
    ) -> None:
        self._inbox = inbox
        self._tx = tx
        self._handler = handler
        self._prepare = prepare
        self._batch = batch
        self._lease = lease
        self._first_retry = first_retry
        self._max_attempts = max_attempts
        self._concurrency = concurrency
        self._lanes = lanes
        # The longest one event's handling may take; None: no deadline (tests).
        self._start_until = None if handle_within is None else lease - handle_within
        if self._start_until is not None and self._start_until <= timedelta(0):
            raise ValueError("the lease must be longer than one event's handling")

    def backoff(self, attempts: int) -> timedelta:
        # 5 s doubling, capped at 6 h: fifteen attempts reach past Stripe's three days.
        delay: timedelta = self._first_retry * 2 ** min(attempts, 20)
        return min(delay, timedelta(hours=6))

    async def drain(self, *, max_batches: int = 100) -> dict[str, int]:
        """Batches until none is due (or ``max_batches`` were claimed), ``lanes`` at a time
        on PostgreSQL; the outcomes counted together."""
        total = {"applied": 0, "retried": 0, "dead": 0, "ignored": 0, "released": 0}
        left = max_batches

        async def lane() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                counts = await self.drain_once()
                for key, value in counts.items():
                    total[key] += value
                if not any(counts.values()):
                    return  # nothing due: the other lanes finish what they hold

        lanes = self._lanes if self._tx.is_postgres else 1
        async with asyncio.TaskGroup() as tasks:
            for _ in range(max(1, lanes)):
                tasks.create_task(lane())
        return total

    async def drain_once(self) -> dict[str, int]:
        def claim() -> list[StoredEvent]:
            with self._tx.write() as conn:
                due = self._inbox.claim_due(conn, self._batch)
                if due:
                    conn.execute(
                        sa.update(_W)
                        .where(_W.c.id.in_([d.id for d in due]))
                        .values(next_attempt_at=_now() + self._lease)
                    )
                return due

        counts = {"applied": 0, "retried": 0, "dead": 0, "ignored": 0, "released": 0}
        due = await self._tx.run(claim)
        if not due:
            return counts
        outcomes = await self._handle_all(due)
        await self._tx.run(partial(self._record, outcomes, counts))
        # One line per batch, not per event: what each worker did, for operators and for
        # the tests that check several workers shared the work.
        log.info("inbox batch", extra=counts)
        return counts

    async def _batch_handler(self, due: list[StoredEvent]) -> Handler:
        if self._prepare is None:
            return self._handler
        try:
            return await self._prepare([stored.event for stored in due])
        except Exception as exc:
            # The batch lookup only saves work; each event can still look itself up.
            log.warning("inbox batch lookup failed", extra={"error_type": type(exc).__name__})
            return self._handler

    async def _handle_all(self, due: list[StoredEvent]) -> list[Handled]:
        handler = await self._batch_handler(due)
        groups: dict[tuple[str, str] | int, list[StoredEvent]] = {}
        for stored in due:
            groups.setdefault(_object_key(stored), []).append(stored)
        slots = asyncio.Semaphore(self._concurrency)
        handled: list[Handled] = []
        # Measured from after the claim committed, so a little inside the lease.
        until = (
            None
            if self._start_until is None
            else time.monotonic() + self._start_until.total_seconds()
        )

        async def in_turn(events: list[StoredEvent]) -> None:
            for n, stored in enumerate(events):
                async with slots:
                    if until is not None and time.monotonic() > until:
                        # Too late to finish within the lease: these go back, in order.
                        handled.extend((later, None, "") for later in events[n:])
                        return
                    handled.append(await self._handle(handler, stored))

        async with asyncio.TaskGroup() as tasks:
            for events in groups.values():
                tasks.create_task(in_turn(events))
        return handled

    @staticmethod
    async def _handle(handler: Handler, stored: StoredEvent) -> Handled:
        try:
            return stored, await handler(stored.event), "unknown object"
        except Exception as exc:
            # A provider outage, a database hiccup: retried with backoff like the rest.
            return stored, Outcome.UNKNOWN_OBJECT, f"handler failed: {type(exc).__name__}"

    def _record(self, outcomes: list[Handled], counts: dict[str, int]) -> None:
        done = [
            stored.id
            for stored, outcome, _ in outcomes
            if outcome is not None and outcome is not Outcome.UNKNOWN_OBJECT
        ]
        released = [stored.id for stored, outcome, _ in outcomes if outcome is None]
        with self._tx.write() as conn:
            Inbox.processed(conn, done)
            Inbox.release(conn, released)
            counts["released"] += len(released)
            for stored, outcome, why in outcomes:
                if outcome is None:
                    continue
                if outcome is Outcome.APPLIED:
                    counts["applied"] += 1
                elif outcome is Outcome.IGNORED:
                    counts["ignored"] += 1
                elif stored.attempts + 1 >= self._max_attempts:
                    Inbox.dead(conn, stored, why)
                    counts["dead"] += 1
                    log.error("webhook event dead", extra={"event_id": stored.event.event_id})
                else:
                    Inbox.retry_later(conn, stored, self.backoff(stored.attempts), why)
                    counts["retried"] += 1


# (event, outcome, why it failed); outcome None: not started (released, not attempted).
Handled = tuple[StoredEvent, Outcome | None, str]


def _object_key(stored: StoredEvent) -> tuple[str, str] | int:
    """What the event is about, as far as the inbox row tells: our payment id, else the
    provider's reference; an event naming neither is a group of its own."""
    event = stored.event
    if event.payment_id:
        return ("payment", event.payment_id)
    if event.provider_ref:
        return (event.provider, event.provider_ref)
    return stored.id

"""Draining the inbox: each due event handed to the handler the composition root gave.

Claiming moves an event's ``next_attempt_at`` a lease ahead in its own short transaction
(on PostgreSQL under ``FOR UPDATE SKIP LOCKED``), so no transaction stays open while the
handler talks to a provider, two workers never take the same event, and a worker killed
mid-batch only delays its events by the lease. The handler must be idempotent (it applies
the provider's current state through a forward-only state machine), since an event whose
outcome was not recorded is handed out again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
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


class InboxWorker:
    def __init__(
        self,
        inbox: Inbox,
        tx: Transactions,
        handler: Handler,
        *,
        batch: int = 100,
        lease: timedelta = timedelta(seconds=60),
        first_retry: timedelta = timedelta(seconds=5),
        max_attempts: int = 15,
    ) -> None:
        self._inbox = inbox
        self._tx = tx
        self._handler = handler
        self._batch = batch
        self._lease = lease
        self._first_retry = first_retry
        self._max_attempts = max_attempts

    def backoff(self, attempts: int) -> timedelta:
        # 5 s doubling, capped at 6 h: fifteen attempts reach past Stripe's three days.
        delay: timedelta = self._first_retry * 2 ** min(attempts, 20)
        return min(delay, timedelta(hours=6))

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

        counts = {"applied": 0, "retried": 0, "dead": 0, "ignored": 0}
        for stored in await self._tx.run(claim):
            try:
                outcome = await self._handler(stored.event)
                why = "unknown object"
            except Exception as exc:
                # A provider outage, a database hiccup: retried with backoff like the rest.
                outcome, why = Outcome.UNKNOWN_OBJECT, f"handler failed: {type(exc).__name__}"
            await self._tx.run(partial(self._record, stored, outcome, why, counts))
        if any(counts.values()):
            # One line per batch, not per event: what each worker did, for operators and
            # for the tests that check several workers shared the work.
            log.info("inbox batch", extra=counts)
        return counts

    def _record(
        self, stored: StoredEvent, outcome: Outcome, why: str, counts: dict[str, int]
    ) -> None:
        with self._tx.write() as conn:
            if outcome in (Outcome.APPLIED, Outcome.IGNORED):
                Inbox.processed(conn, stored.id)
                counts["applied" if outcome is Outcome.APPLIED else "ignored"] += 1
            elif stored.attempts + 1 >= self._max_attempts:
                Inbox.dead(conn, stored, why)
                counts["dead"] += 1
                log.error("webhook event dead", extra={"event_id": stored.event.event_id})
            else:
                Inbox.retry_later(conn, stored, self.backoff(stored.attempts), why)
                counts["retried"] += 1

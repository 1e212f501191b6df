"""Catching up on events whose webhooks never arrived, from the provider's event list.

A webhook endpoint that was down past the provider's retries, or a delivery lost on the
way, leaves an event only the provider still holds. Each pass lists the provider's events
created since a persisted cursor and stores every one in the inbox like a delivery;
events already delivered vanish on the inbox's unique key, and the worker applies the
rest as usual.

The cursor trails the newest event seen by `overlap`: event times are whole seconds, so
more can still appear in the newest second, and a list may show an event some time after
its creation. Work per pass is bounded by `max_pages`; a listing that stops at the cap
resumes after the last event it listed on the next pass, and only once a window is read
to its end does the cursor move on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from providers.base import EventBatch, EventSource, ProviderError, ProviderRejected
from webhooks import cursors
from webhooks.inbox import Inbox
from webhooks.transactions import Transactions

log = logging.getLogger("webhooks.catchup")


@dataclass
class CatchUpResult:
    listed: int = 0
    recovered: int = 0  # newly stored: events no webhook had brought
    failed: int = 0  # providers whose list could not be read this pass


class EventCatchUp:
    """One pass per provider list: claim its cursor, list, store, move the cursor on. A
    provider never read before is read from `first_lookback` ago."""

    def __init__(
        self,
        inbox: Inbox,
        tx: Transactions,
        sources: Sequence[EventSource],
        *,
        overlap: timedelta = timedelta(minutes=5),
        first_lookback: timedelta = timedelta(hours=24),
        max_pages: int = 10,
        lease: timedelta = timedelta(minutes=10),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inbox = inbox
        self._tx = tx
        self._sources = tuple(sources)
        self._overlap = int(overlap.total_seconds())
        self._first_lookback = int(first_lookback.total_seconds())
        self._max_pages = max_pages
        self._lease = lease
        self._clock = clock

    async def run_once(self) -> CatchUpResult:
        result = CatchUpResult()
        for source in self._sources:
            try:
                listed, recovered = await self._catch_up(source)
            except ProviderError as exc:
                result.failed += 1
                log.warning(
                    "event list unavailable",
                    extra={"provider": source.name, "error_type": type(exc).__name__},
                )
                continue
            result.listed += listed
            result.recovered += recovered
        if result.recovered:
            log.info("events recovered from provider lists", extra={"count": result.recovered})
        return result

    async def _catch_up(self, source: EventSource) -> tuple[int, int]:
        start_at = int(self._clock()) - self._first_lookback
        held = await self._tx.run(partial(self._claim, source.name, start_at))
        if held is None:
            return 0, 0  # another worker is reading this list right now
        try:
            batch = await source.events_since(
                held.created_gte, starting_after=held.resume_after, max_pages=self._max_pages
            )
            known = await self._inbox.known(
                source.name, [listed.event.event_id for listed in batch.events]
            )
            recovered = 0
            # Oldest first, so the worker meets them in the order they happened. Storing
            # stays idempotent, so a delivery landing meanwhile is not stored twice.
            for listed in reversed(batch.events):
                if listed.event.event_id not in known:
                    recovered += await self._inbox.store(listed.event, listed.payload)
        except ProviderRejected:
            # The event to resume after is gone (past the provider's retention): read the
            # window again from its start rather than fail on it forever.
            await self._tx.run(partial(self._release, held, forget_resume=True))
            raise
        except Exception:
            await self._tx.run(partial(self._release, held))
            raise
        if not await self._tx.run(partial(self._advance, held, batch)):
            log.warning("event cursor lease lost; the next pass reads again")
        return len(batch.events), recovered

    def _claim(self, provider: str, start_at: int) -> cursors.Cursor | None:
        with self._tx.write() as conn:
            return cursors.claim(conn, provider, start_at=start_at, lease=self._lease)

    def _release(self, held: cursors.Cursor, *, forget_resume: bool = False) -> None:
        with self._tx.write() as conn:
            if forget_resume:
                cursors.save(
                    conn,
                    held,
                    created_gte=held.created_gte,
                    resume_after=None,
                    window_newest=held.window_newest,
                )
            else:
                cursors.release(conn, held)

    def _advance(self, held: cursors.Cursor, batch: EventBatch) -> bool:
        seen = [listed.event.created for listed in batch.events]
        if held.window_newest is not None:
            seen.append(held.window_newest)
        newest = max(seen, default=None)
        with self._tx.write() as conn:
            if not batch.complete:
                return cursors.save(
                    conn,
                    held,
                    created_gte=held.created_gte,
                    resume_after=batch.last_id,
                    window_newest=newest,
                )
            next_gte = held.created_gte if newest is None else newest - self._overlap
            return cursors.save(
                conn,
                held,
                created_gte=max(held.created_gte, next_gte),
                resume_after=None,
                window_newest=None,
            )

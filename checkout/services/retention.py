"""Retention: personal fields of an order (and of the checkout it came from) are erased
a configured number of days after it was fulfilled or canceled, guests' and customers'
alike; amounts, lines and payments stay. Run in batches by the worker's housekeeping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from checkout.services.uow import UnitOfWork
from checkout.store import audit
from checkout.store import erasure as store

log = logging.getLogger("checkout.retention")

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Retention:
    def __init__(
        self, uow: UnitOfWork, *, days: int, clock: Clock = _now, batch: int = 500
    ) -> None:
        self._uow = uow
        self._keep = timedelta(days=days)
        self._clock = clock
        self._batch = batch

    def __repr__(self) -> str:
        return f"Retention(days={self._keep.days})"

    def run_batch(self) -> int:
        """Erase one batch of expired orders; how many (a full batch: call again)."""
        now = self._clock()
        with self._uow.write() as conn:
            expired = store.expired_orders(conn, cutoff=now - self._keep, limit=self._batch)
            store.scrub_orders(conn, expired, now=now)
            for order_id, _ in expired:
                audit.record(
                    conn,
                    audit.Actor("system"),
                    audit.AuditEvent("order.personal_data_expired", "order", order_id),
                )
        if expired:
            log.info("retention erased order contact data", extra={"count": len(expired)})
        return len(expired)

    def run(self, max_batches: int = 20) -> int:
        total = 0
        for _ in range(max_batches):
            done = self.run_batch()
            total += done
            if done < self._batch:
                break
        return total

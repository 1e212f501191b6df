"""The worker loop: periodic housekeeping now; the webhook inbox and reconciliation join
it in later issues. Runs inside ``checkout serve`` and alone as ``checkout worker``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from checkout.services.uow import UnitOfWork
from checkout.store import idempotency

log = logging.getLogger("checkout.worker")


class Worker:
    def __init__(self, uow: UnitOfWork, *, interval: float = 60.0) -> None:
        self._uow = uow
        self._interval = interval

    async def run_once(self) -> dict[str, int]:
        def purge() -> int:
            with self._uow.write() as s:
                return idempotency.purge_expired(s)

        purged = await self._uow.run(purge)
        if purged:
            log.info("purged expired idempotency keys", extra={"count": purged})
        return {"idempotency_keys_purged": purged}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                # One failed pass (the database restarting, say) must not end the loop.
                log.error("worker pass failed", extra={"error_type": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

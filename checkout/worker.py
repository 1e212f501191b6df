"""The worker loop: drains the webhook inbox, delivers the outbox to integrations, sends
queued account emails, finishes erasure steps, and does housekeeping (expired idempotency
keys, sessions, sign-in throttle keys and verification tokens; orders past retention;
reconciliation). Runs inside ``checkout serve`` and
alone as ``checkout worker``; on PostgreSQL any number of them share the work (every
claim is ``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from checkout.context import AppContext
from checkout.services.accounts import AccountService
from checkout.services.erasure import ErasureService
from checkout.services.mail import MailDispatch
from checkout.services.reconciliation import Reconciler
from checkout.services.retention import Retention
from checkout.services.staff import StaffService
from checkout.services.uow import UnitOfWork
from checkout.store import idempotency
from webhooks import backlog
from webhooks.delivery import OutboundDeliveries
from webhooks.worker import InboxWorker

log = logging.getLogger("checkout.worker")


def worker_for(ctx: AppContext, **kw: float) -> Worker:
    """The whole loop as ``checkout serve`` and ``checkout worker`` run it."""
    return Worker(
        ctx.uow,
        ctx.inbox_worker,
        ctx.reconciler,
        ctx.outbound,
        mail=ctx.mail,
        accounts=ctx.accounts,
        staff=ctx.staff,
        erasure=ctx.erasure,
        retention=ctx.retention,
        **kw,
    )


class Worker:
    def __init__(
        self,
        uow: UnitOfWork,
        inbox: InboxWorker | None = None,
        reconciler: Reconciler | None = None,
        outbound: OutboundDeliveries | None = None,
        *,
        mail: MailDispatch | None = None,
        accounts: AccountService | None = None,
        staff: StaffService | None = None,
        erasure: ErasureService | None = None,
        retention: Retention | None = None,
        interval: float = 1.0,
        housekeeping_every: float = 60.0,
    ) -> None:
        self._uow = uow
        self._inbox = inbox
        self._reconciler = reconciler
        self._outbound = outbound
        self._mail = mail
        self._accounts = accounts
        self._staff = staff
        self._erasure = erasure
        self._retention = retention
        self._interval = interval
        self._housekeeping_every = housekeeping_every
        self._last_housekeeping = float("-inf")

    async def run_once(self) -> dict[str, int]:
        report: dict[str, int] = {}
        if self._inbox is not None:
            # Drain what is due now; a full batch means more are waiting.
            for key, value in (await self._inbox.drain(max_batches=100)).items():
                report[f"events_{key}"] = value
        if self._outbound is not None:
            for key, value in (await self._outbound.run_once()).items():
                report[f"deliveries_{key}"] = value
        if self._mail is not None:
            report["emails_sent"] = await self._mail.run_once()
        if self._erasure is not None:
            # Erasure steps outside the main database (keys, provider) left by a crash
            # or a provider outage; each waits out its own backoff.
            report["erasure_steps_done"] = await self._erasure.run_once()
        now = time.monotonic()
        if now - self._last_housekeeping >= self._housekeeping_every:
            self._last_housekeeping = now
            report["idempotency_keys_purged"] = await self._uow.run(self._purge)
            report["webhook_history_purged"] = await self._uow.run(self._purge_history)
            if self._accounts is not None:
                report["account_rows_purged"] = await self._uow.run(self._accounts.purge)
            if self._staff is not None:
                report["staff_sessions_purged"] = await self._uow.run(self._staff.purge)
            if self._retention is not None:
                report["orders_past_retention"] = await self._uow.run(self._retention.run)
            if self._reconciler is not None:
                settled = await self._reconciler.run_once()
                report["payments_reconciled"] = len(settled.changed)
                report["events_recovered"] = settled.events_recovered
        return report

    def _purge(self) -> int:
        with self._uow.write() as conn:
            purged = idempotency.purge_expired(conn)
        if purged:
            log.info("purged expired idempotency keys", extra={"count": purged})
        return purged

    def _purge_history(self) -> int:
        with self._uow.write() as conn:
            return backlog.purge_history(conn)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                # One failed pass (the database restarting, say) must not end the loop.
                log.error("worker pass failed", extra={"error_type": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

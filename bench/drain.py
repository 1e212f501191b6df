"""Worker drain rate: an inbox pre-filled with events about real payments, emptied by
``checkout worker`` processes, timed by the events' own ``processed_at`` stamps.

Each round refunds every payment a little at the provider (the emulator), then stores
``events_per_payment`` distinct ``charge.refunded`` events for each in the inbox, shuffled,
and starts the workers. An event cannot be skipped on its type (a refund can move a
captured or partly refunded payment), so each needs the provider's answer; events about
one payment that land in the same claimed batch share one. One per payment brings news
(the refund: payment, order and an outbound order event written), the others find
nothing new, as a late or repeated delivery does.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bench.errors import BenchError
from bench.procs import Server, Servers
from bench.stripe_events import refunded_event
from checkout.config import load_settings
from checkout.db.engine import make_database
from checkout.services.uow import UnitOfWork
from customers.pii import PiiCipher
from providers.stripe.webhook import parse_event
from webhooks.inbox import Inbox

SECRET_KEY = "sk_test_emulator_dev"  # the emulator's dev key (it refunds at the "dashboard")
REFUND = 10  # minor units refunded per payment per round
DRAIN_TIMEOUT = 600.0


@dataclass(frozen=True)
class DrainResult:
    events: int
    seconds: float  # first to last processed_at
    workers: int
    cpu: float  # the workers' CPU over the drain, as a share of one core
    retried: int
    dead: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class InboxDatabase:
    """The service's database as the bench sees it: payments to talk about, the inbox."""

    def __init__(self, env: Mapping[str, str]) -> None:
        settings = load_settings(env)
        self._db = make_database(str(settings.database_url), pool_size=8)
        self._uow = UnitOfWork(self._db)
        self.inbox = Inbox(self._uow, PiiCipher.from_root(settings.root_secret_bytes()))

    def close(self) -> None:
        self._uow.close()
        self._db.dispose()

    def captured(self, limit: int) -> list[tuple[str, str]]:
        """(payment id, provider reference) of up to ``limit`` captured payments."""
        q = sa.text(
            "SELECT id, provider_ref FROM payments WHERE status IN "
            "('captured', 'partially_refunded') AND provider_ref IS NOT NULL "
            "ORDER BY id LIMIT :n"
        )
        with self._db.engine.connect() as conn:
            return [(str(a), str(b)) for a, b in conn.execute(q, {"n": limit})]

    def scalar(self, query: str, **params: object) -> object:
        with self._db.engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar_one()

    def row(self, query: str, **params: object) -> tuple[Any, ...]:
        with self._db.engine.connect() as conn:
            return tuple(conn.execute(sa.text(query), params).one())

    async def fill(self, bodies: list[bytes]) -> None:
        gate = asyncio.Semaphore(8)

        async def store(body: bytes) -> None:
            async with gate:
                if not await self.inbox.store(parse_event(body), body):
                    raise BenchError("a drain event was stored twice (not distinct)")

        await asyncio.gather(*(store(b) for b in bodies))


async def refund_each(stripe: str, refs: list[str]) -> None:
    """A small refund of each payment made at the provider, behind the service's back."""
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as client:

        async def one(ref: str) -> None:
            async with (
                gate,
                client.post(
                    f"{stripe}/v1/refunds", data={"payment_intent": ref, "amount": str(REFUND)}
                ) as r,
            ):
                if r.status != 200:
                    raise BenchError(f"refund at the emulator: HTTP {r.status}")

        await asyncio.gather(*(one(ref) for ref in refs))


def events_for(payments: list[tuple[str, str]], per_payment: int) -> tuple[str, list[bytes]]:
    """A round's events, shuffled, and the prefix all their ids share."""
    prefix = f"evt_drain_{secrets.token_hex(4)}_"
    bodies = [
        refunded_event(f"{prefix}{i:04d}_{n}", ref, pay_id)
        for i, (pay_id, ref) in enumerate(payments)
        for n in range(per_payment)
    ]
    random.shuffle(bodies)
    return prefix, bodies


def drain(
    db: InboxDatabase,
    servers: Servers,
    argv: list[str],
    env: Mapping[str, str],
    logs: Path,
    *,
    workers: int,
    prefix: str,
) -> DrainResult:
    """Start ``workers`` worker processes on a filled inbox; wait until the round's events
    (ids starting with ``prefix``) are all handled. Only those are counted: the workers'
    reconciliation also files the emulator's own events from its event list, and applies
    them after."""
    mine = "FROM webhook_events WHERE event_id LIKE :mine"
    like = prefix + "%"  # "_" matches any character; the random stamp keeps it ours
    events = int(str(db.scalar(f"SELECT COUNT(*) {mine}", mine=like)))
    procs: list[Server] = [
        servers.start(f"checkout worker {n + 1}", argv, env, logs / f"worker{n + 1}.log")
        for n in range(workers)
    ]
    try:
        for proc in procs:
            proc.wait_ready({"worker": r"(worker loop running)"})
        cpu0 = sum(p.cpu_seconds() for p in procs)
        t0 = time.monotonic()
        deadline = t0 + DRAIN_TIMEOUT
        while db.scalar(f"SELECT COUNT(*) {mine} AND status = 'pending'", mine=like):
            if time.monotonic() > deadline:
                raise BenchError(f"the inbox was not drained in {DRAIN_TIMEOUT:.0f} s")
            if not all(p.alive() for p in procs):
                raise BenchError("a worker died while draining")
            time.sleep(0.05)
        cpu = (sum(p.cpu_seconds() for p in procs) - cpu0) / max(time.monotonic() - t0, 1e-9)
    finally:
        for proc in procs:
            proc.stop()
    first, last, retried, dead = db.row(
        "SELECT MIN(processed_at), MAX(processed_at), COALESCE(SUM(attempts), 0), "
        f"COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) {mine}",
        mine=like,
    )
    return DrainResult(
        events=events,
        seconds=(_stamp(last) - _stamp(first)).total_seconds(),
        workers=workers,
        cpu=cpu,
        retried=int(retried),
        dead=int(dead),
    )


def _stamp(value: object) -> datetime:
    # PostgreSQL hands back a datetime; SQLite keeps the text SQLAlchemy wrote.
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

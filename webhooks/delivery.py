"""Delivering the outbox to integrations: fan-out, signed POSTs, retries, giving up.

Each worker pass (1) fans undispatched events out into one delivery row per subscribed
endpoint, and (2) claims due deliveries and POSTs them. Claiming moves a delivery's
``next_attempt_at`` a lease ahead in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so no transaction is open during the HTTP call and two workers never send
the same delivery at once; a worker that dies mid-send only delays it by the lease, after
which it is sent again. That is at-least-once: receivers deduplicate on the event id,
which is the same on every attempt, as are the body bytes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Connection

from customers.timestamps import as_utc
from webhooks.signing import HEADER, sign
from webhooks.subscriptions import Subscriptions
from webhooks.tables import OutboxEventRow, WebhookDeliveryRow, WebhookEndpointRow
from webhooks.transactions import Transactions

log = logging.getLogger("webhooks.delivery")

_E: sa.Table = OutboxEventRow.__table__  # type: ignore[attr-defined]
_D: sa.Table = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
_T: sa.Table = WebhookEndpointRow.__table__  # type: ignore[attr-defined]

# POSTs ``body`` to ``url`` with ``headers``; the HTTP status, or raises on a network error.
Sender = Callable[[str, bytes, Mapping[str, str]], Awaitable[int]]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """30 s doubling to a 2 h cap, for 72 h: about 45 attempts, far past API.md's 24 h."""

    first_retry: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=2)
    give_up_after: timedelta = timedelta(hours=72)

    def delay(self, failed_attempts: int) -> timedelta:
        """How long to wait after the ``failed_attempts``-th failure (1-based)."""
        exponent = min(max(failed_attempts - 1, 0), 30)
        delay: timedelta = self.first_retry * 2**exponent
        return min(delay, self.max_delay)

    def schedule(self) -> list[timedelta]:
        """Every wait between attempts until giving up (for docs and tests)."""
        waits: list[timedelta] = []
        elapsed = timedelta(0)
        while elapsed < self.give_up_after:
            wait = self.delay(len(waits) + 1)
            waits.append(wait)
            elapsed += wait
        return waits


@dataclass(frozen=True, slots=True)
class _Claimed:
    delivery_id: int
    event_id: str
    endpoint_id: str
    url: str
    secret: str
    body: bytes
    # When this delivery's retry window opened: its fan-out, or a redelivery.
    window_start: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class _Result:
    claimed: _Claimed
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def redeliver(conn: Connection, event_id: str, endpoint_id: str | None = None) -> int:
    """Send an event again (``checkout webhooks redeliver``): after giving up, or to an
    integration that lost what it received. How many deliveries were queued."""
    q = sa.update(_D).where(_D.c.event_id == event_id, _D.c.status != "pending")
    if endpoint_id is not None:
        q = q.where(_D.c.endpoint_id == endpoint_id)
    result = conn.execute(
        # A new retry window, or an old event would be given up after one failure.
        q.values(
            status="pending", attempts=0, next_attempt_at=_now(), created_at=_now(), last_error=None
        )
    )
    return int(result.rowcount)


class HttpSender:
    """One POST per attempt: bounded time, no redirects (a redirect could lead anywhere;
    the endpoint's URL is what was subscribed), proxies and netrc from the environment
    ignored, the receiver's body never read."""

    def __init__(
        self, timeout: float = 10.0, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # Pooled connections belong to one event loop; a new loop gets a new pool.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                trust_env=False,
                transport=self._transport,
                headers={"User-Agent": "headless-checkout-webhooks/1"},
            )
            self._loop = loop
        return self._client

    async def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        async with self._session().stream("POST", url, content=body, headers=headers) as resp:
            return resp.status_code

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class OutboundDeliveries:
    def __init__(
        self,
        tx: Transactions,
        subscriptions: Subscriptions,
        send: Sender,
        *,
        policy: RetryPolicy = RetryPolicy(),
        batch: int = 100,
        concurrency: int = 16,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._tx = tx
        self._subs = subscriptions
        self._send = send
        self._policy = policy
        self._batch = batch
        self._concurrency = concurrency
        self._lease = lease

    async def run_once(self) -> dict[str, int]:
        counts = {"dispatched": 0, "delivered": 0, "retried": 0, "failed": 0, "canceled": 0}
        for _ in range(50):  # bounded: a flood of events is finished over several passes
            n = await self._tx.run(self._dispatch)
            counts["dispatched"] += n
            if n < self._batch:
                break
        gate = asyncio.Semaphore(self._concurrency)

        async def attempt(c: _Claimed) -> _Result:
            async with gate:
                return await self._attempt(c)

        for _ in range(20):
            claimed = await self._tx.run(partial(self._claim, counts))
            if not claimed:
                break
            results = await asyncio.gather(*(attempt(c) for c in claimed))
            await self._tx.run(partial(self._record, results, counts))
            if len(claimed) < self._batch:
                break
        return counts

    # -- fan-out ---------------------------------------------------------------------

    def _dispatch(self) -> int:
        with self._tx.write() as conn:
            q = (
                sa.select(_E.c.id, _E.c.type)
                .where(_E.c.dispatched == sa.false())
                .order_by(_E.c.seq)
                .limit(self._batch)
            )
            if self._tx.is_postgres:
                q = q.with_for_update(skip_locked=True)
            events = conn.execute(q).all()
            if not events:
                return 0
            endpoints = conn.execute(
                sa.select(_T.c.id, _T.c.events).where(_T.c.status == "enabled")
            ).all()
            now = _now()
            rows = [
                {
                    "endpoint_id": ep_id,
                    "event_id": ev_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for ev_id, ev_type in events
                for ep_id, subscribed in endpoints
                if ev_type in subscribed.split(",")
            ]
            if rows:
                conn.execute(sa.insert(_D), rows)
            conn.execute(
                sa.update(_E).where(_E.c.id.in_([e[0] for e in events])).values(dispatched=True)
            )
            return len(events)

    # -- claiming and sending ----------------------------------------------------------

    def _claim(self, counts: dict[str, int]) -> list[_Claimed]:
        with self._tx.write() as conn:
            now = _now()
            q = (
                sa.select(_D.c.id, _D.c.endpoint_id, _D.c.event_id, _D.c.attempts, _D.c.created_at)
                .where(_D.c.status == "pending", _D.c.next_attempt_at <= now)
                .order_by(_D.c.next_attempt_at, _D.c.id)
                .limit(self._batch)
            )
            if self._tx.is_postgres:
                q = q.with_for_update(skip_locked=True)
            due = conn.execute(q).all()
            if not due:
                return []
            conn.execute(
                sa.update(_D)
                .where(_D.c.id.in_([d[0] for d in due]))
                .values(next_attempt_at=now + self._lease)
            )
            return self._load(conn, due, counts)

    def _load(self, conn: Connection, due: Sequence[Any], counts: dict[str, int]) -> list[_Claimed]:
        endpoints = {
            r[0]: r
            for r in conn.execute(
                sa.select(_T.c.id, _T.c.url, _T.c.secret_enc, _T.c.status).where(
                    _T.c.id.in_({d[1] for d in due})
                )
            )
        }
        events = {
            r[0]: r
            for r in conn.execute(
                sa.select(_E.c.id, _E.c.body).where(_E.c.id.in_({d[2] for d in due}))
            )
        }
        secrets: dict[str, str] = {}
        claimed: list[_Claimed] = []
        canceled: list[int] = []
        for delivery_id, endpoint_id, event_id, attempts, opened in due:
            ep = endpoints[endpoint_id]
            if ep[3] != "enabled":
                canceled.append(delivery_id)
                continue
            if endpoint_id not in secrets:
                secrets[endpoint_id] = self._subs.unseal(endpoint_id, ep[2])
            ev = events[event_id]
            claimed.append(
                _Claimed(
                    delivery_id=delivery_id,
                    event_id=event_id,
                    endpoint_id=endpoint_id,
                    url=ep[1],
                    secret=secrets[endpoint_id],
                    body=ev[1].encode(),
                    window_start=as_utc(opened),
                    attempts=attempts,
                )
            )
        if canceled:
            conn.execute(
                sa.update(_D)
                .where(_D.c.id.in_(canceled))
                .values(status="canceled", last_error="endpoint disabled")
            )
            counts["canceled"] += len(canceled)
        return claimed

    async def _attempt(self, c: _Claimed) -> _Result:
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(c.secret, c.body),
            "Checkout-Event-Id": c.event_id,
        }
        try:
            status = await self._send(c.url, c.body, headers)
        except Exception as exc:
            # Refused, reset, timed out, bad TLS: all mean "try again later".
            return _Result(c, None, type(exc).__name__)
        return _Result(c, status, None if 200 <= status < 300 else f"HTTP {status}")

    def _record(self, results: list[_Result], counts: dict[str, int]) -> None:
        now = _now()
        with self._tx.write() as conn:
            for r in results:
                c = r.claimed
                values: dict[str, object] = {"attempts": c.attempts + 1, "last_status": r.status}
                if r.ok:
                    values.update(status="delivered", delivered_at=now, last_error=None)
                    counts["delivered"] += 1
                elif now - c.window_start >= self._policy.give_up_after:
                    values.update(status="failed", last_error=r.error)
                    counts["failed"] += 1
                    log.error(
                        "webhook delivery given up",
                        extra={"endpoint_id": c.endpoint_id, "event_id": c.event_id},
                    )
                else:
                    values.update(
                        next_attempt_at=now + self._policy.delay(c.attempts + 1),
                        last_error=r.error,
                    )
                    counts["retried"] += 1
                    log.warning(
                        "webhook delivery failed; will retry",
                        extra={
                            "endpoint_id": c.endpoint_id,
                            "event_id": c.event_id,
                            "attempt": c.attempts + 1,
                            "reason": r.error,
                        },
                    )
                conn.execute(sa.update(_D).where(_D.c.id == c.delivery_id).values(**values))

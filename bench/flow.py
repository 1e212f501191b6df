"""The full guest checkout from an asyncio client: tokenize at the emulator, create, pay.

Workers loop until a deadline; only flows that *start* inside the measured window (after
the warm-up) are counted, and a flow is complete only if the payment is ``captured`` and
carries an ``order_id``. Every request has a timeout and every loop a count bound.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import uvloop

from bench.wrk import CHECKOUT_BODY

CARD_FORM = {
    "type": "card",
    "card[number]": "4242424242424242",
    "card[exp_month]": "12",
    "card[exp_year]": "2034",
    "card[cvc]": "123",
}
MAX_FLOWS_PER_WORKER = 1_000_000
REQUEST_TIMEOUT = 10.0


class FlowFailed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class FlowResult:
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu_seconds: float = 0.0
    elapsed: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


async def step(
    name: str, client: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> dict[str, object]:
    try:
        async with client.request(method, url, **kwargs) as response:
            status = response.status
            raw = await response.read()
    except TimeoutError as exc:
        raise FlowFailed(f"{name}: timeout") from exc
    except aiohttp.ClientError as exc:
        raise FlowFailed(f"{name}: {type(exc).__name__}") from exc
    if status not in {200, 201}:
        raise FlowFailed(f"{name}: HTTP {status}")
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise FlowFailed(f"{name}: body is not an object")
    return body


async def guest_checkout(client: aiohttp.ClientSession, api: str, stripe: str, pk: str) -> str:
    """One complete guest purchase; returns the order id or raises ``FlowFailed``."""
    pm = await step(
        "tokenize",
        client,
        "POST",
        f"{stripe}/v1/payment_methods",
        data=CARD_FORM,
        headers={"Authorization": f"Bearer {pk}"},
    )
    chk = await step("create", client, "POST", f"{api}/v1/checkouts", json=CHECKOUT_BODY)
    checkout_id, secret = chk.get("id"), chk.get("client_secret")
    if not isinstance(checkout_id, str) or not isinstance(secret, str):
        raise FlowFailed("create: no id or client_secret")
    pay = await step(
        "pay",
        client,
        "POST",
        f"{api}/v1/checkouts/{checkout_id}/payments",
        json={"provider": "stripe", "payment_token": pm.get("id")},
        headers={"X-Checkout-Secret": secret, "Idempotency-Key": f"pay-{checkout_id}"},
    )
    order_id = pay.get("order_id")
    if pay.get("status") != "captured" or not isinstance(order_id, str) or not order_id:
        raise FlowFailed(f"pay: status {pay.get('status')!r}, order_id {order_id!r}")
    return order_id


async def _run(
    api: str, stripe: str, pk: str, *, workers: int, warmup: float, duration: float
) -> FlowResult:
    result = FlowResult(seconds=duration)
    # aiohttp rather than httpx: the client shares two cores with the service and the
    # emulator, and httpx spent about three times the CPU per request.
    connector = aiohttp.TCPConnector(limit=workers * 2)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        start = time.monotonic()
        window_start, window_end = start + warmup, start + warmup + duration

        async def worker() -> None:
            for _ in range(MAX_FLOWS_PER_WORKER):
                began = time.monotonic()
                if began >= window_end:
                    return
                try:
                    await guest_checkout(client, api, stripe, pk)
                except FlowFailed as exc:
                    if began >= window_start:
                        result.errors[exc.kind] += 1
                    continue
                if began >= window_start:
                    result.latencies_ms.append((time.monotonic() - began) * 1000.0)

        cpu_before = _own_cpu()
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(workers))),
            timeout=warmup + duration + 3 * REQUEST_TIMEOUT + 5,
        )
        result.client_cpu_seconds = _own_cpu() - cpu_before
        result.elapsed = time.monotonic() - start
    # Flows that started in the window but ended after it still count: the window is
    # their start time, so the rate is "flows begun and finished per second of window".
    return result


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_flow(
    api: str, stripe: str, pk: str, *, workers: int, warmup: float, duration: float
) -> FlowResult:
    return uvloop.run(_run(api, stripe, pk, workers=workers, warmup=warmup, duration=duration))


async def _purchases(api: str, stripe: str, pk: str, count: int, workers: int) -> int:
    done = 0
    connector = aiohttp.TCPConnector(limit=workers * 2)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal done
            for _ in range(count):  # bounded: each loop makes at most one purchase
                if done >= count:
                    return
                await guest_checkout(client, api, stripe, pk)
                done += 1

        await asyncio.gather(*(worker() for _ in range(workers)))
    return done


def make_purchases(api: str, stripe: str, pk: str, *, count: int, workers: int = 32) -> int:
    """At least ``count`` captured guest purchases (the drain benchmark's payments); a
    failed one raises ``FlowFailed``."""
    return uvloop.run(_purchases(api, stripe, pk, count, workers))

"""An asynchronous shopper against a served instance, and a tally of what it was told.

Every answer is checked as it arrives: a ``503`` must be API.md's error format with the
request id of its ``X-Request-Id`` header; any other ``5xx``, a malformed error, or a
request that raised (timed out, connection reset) is kept as a problem for the test to
show. Latencies are kept so a test can say "nothing hung".
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from checkout.config import DEV_STRIPE_PUBLISHABLE_KEY, DEV_STRIPE_SECRET_KEY

PK = {"Authorization": f"Bearer {DEV_STRIPE_PUBLISHABLE_KEY}"}
SK = {"Authorization": f"Bearer {DEV_STRIPE_SECRET_KEY}"}
VISA = "4242424242424242"
THREE_DS = "4000002760003184"
LINES = [{"sku": "MUG-WHITE", "quantity": 1}]


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    by_route: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    slowest: float = 0.0
    unavailable_latencies: list[float] = field(default_factory=list)

    def record(self, label: str, r: httpx.Response, seconds: float) -> None:
        self.statuses[r.status_code] += 1
        self.by_route[(label, r.status_code)] += 1
        self.slowest = max(self.slowest, seconds)
        if r.status_code == 503:
            self.unavailable_latencies.append(seconds)
        if r.status_code >= 500 and not _is_service_unavailable(r):
            self.problems.append(f"{label}: {r.status_code} {r.text[:200]}")

    def failed(self, label: str, exc: Exception, seconds: float) -> None:
        self.slowest = max(self.slowest, seconds)
        self.problems.append(f"{label}: {type(exc).__name__} after {seconds:.1f}s")

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _is_service_unavailable(r: httpx.Response) -> bool:
    if r.status_code != 503:
        return False
    try:
        err = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (
        err.get("code") == "service_unavailable"
        and bool(err.get("message"))
        and err.get("request_id") == r.headers.get("x-request-id")
        and r.headers.get("retry-after") is not None
    )


class Shopper:
    """One client of the public listener and of the provider's card form."""

    def __init__(self, http: httpx.AsyncClient, api: str, stripe: str, tally: Tally) -> None:
        self.http = http
        self.api = api
        self.stripe = stripe
        self.tally = tally

    async def call(self, label: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
        start = time.monotonic()
        try:
            r = await self.http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.tally.failed(label, exc, time.monotonic() - start)
            return None
        self.tally.record(label, r, time.monotonic() - start)
        return r

    async def tokenize(self, number: str = VISA) -> str:
        """A card turned into a ``pm_…`` at the emulator (no database of ours involved)."""
        r = await self.http.post(
            f"{self.stripe}/v1/payment_methods",
            headers=PK,
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        )
        r.raise_for_status()
        return str(r.json()["id"])

    async def products(self) -> httpx.Response | None:
        return await self.call("products", "GET", f"{self.api}/v1/products")

    async def create_checkout(self, **extra: Any) -> httpx.Response | None:
        body = {"currency": "USD", "lines": LINES, **extra}
        return await self.call("checkout.create", "POST", f"{self.api}/v1/checkouts", json=body)

    async def get_checkout(self, chk: dict[str, Any]) -> httpx.Response | None:
        return await self.call(
            "checkout.get",
            "GET",
            f"{self.api}/v1/checkouts/{chk['id']}",
            headers={"X-Checkout-Secret": chk["client_secret"]},
        )

    async def pay(self, chk: dict[str, Any], token: str, **extra: Any) -> httpx.Response | None:
        return await self.call(
            "payment",
            "POST",
            f"{self.api}/v1/checkouts/{chk['id']}/payments",
            headers={
                "X-Checkout-Secret": chk["client_secret"],
                "Idempotency-Key": f"pay-{chk['id']}",
            },
            json={"provider": "stripe", "payment_token": token, **extra},
        )


async def stripe_events(
    http: httpx.AsyncClient, stripe: str, type_: str | None = None
) -> list[dict[str, Any]]:
    """Every event (of one type) the emulator made, newest first, all pages."""
    events: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 100}
    if type_ is not None:
        params["type"] = type_
    while True:
        page = (await http.get(f"{stripe}/v1/events", headers=SK, params=params)).json()
        events.extend(page["data"])
        if not page["has_more"]:
            return events
        params["starting_after"] = page["data"][-1]["id"]

"""Per-route rate limits: a token bucket per client address and route group, answered
``429 rate_limited`` with ``Retry-After`` before the request body is even read.

Routes are declared by method and path pattern (``*`` stands for one path segment), so a
rule applies as soon as its route exists. The buckets live in this process: with several
API processes behind a load balancer each enforces its own share, so a client may get up
to N times a limit through N processes (set limits per process accordingly). Sign-in also
has the database-backed throttle per account (customers/throttle.py), which holds across
processes; this one is per address and cheap.

The client address is the TCP peer, or the address a trusted proxy put in
``X-Forwarded-For`` (uvicorn's proxy-headers middleware, only for CHECKOUT_TRUSTED_PROXIES).
IPv6 clients are counted per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from checkout.netconfig import RateLimit
from checkout.web.errors import error_response

log = logging.getLogger("checkout.web")


@dataclass(frozen=True)
class LimitedRoute:
    group: str
    method: str
    path: str  # "/v1/checkouts/*/payments": * is one path segment


# What is limited, by group (CHECKOUT_RATE_LIMITS names the groups):
# sign_in: every route that checks or hashes a password (argon2id is costly on purpose);
# checkout_create; payment: every route that calls a provider for a checkout;
# webhook: provider deliveries (verified, but still work per request).
LIMITED_ROUTES: tuple[LimitedRoute, ...] = (
    LimitedRoute("sign_in", "POST", "/v1/sessions"),
    LimitedRoute("sign_in", "POST", "/staff/v1/sessions"),
    LimitedRoute("sign_in", "POST", "/v1/customers"),
    LimitedRoute("checkout_create", "POST", "/v1/checkouts"),
    LimitedRoute("payment", "POST", "/v1/checkouts/*/payments"),
    LimitedRoute("payment", "POST", "/v1/checkouts/*/payments/*/refresh"),
    LimitedRoute("payment", "POST", "/v1/checkouts/*/paypal-orders"),
    LimitedRoute("webhook", "POST", "/webhooks/*"),
)

# Buckets kept per group before idle ones are dropped (a full bucket carries no state).
MAX_CLIENTS = 100_000


class TokenBuckets:
    """One bucket per key: holds up to ``count`` tokens, refilled ``count`` per
    ``seconds``; a request takes one token."""

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(limit.count)
        self.rate = limit.per_second
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds until a token is back."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_CLIENTS:
                self._prune(now)
            self._buckets[key] = [self.capacity - 1.0, now]
            return 0.0
        tokens = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        refill = self.capacity / self.rate
        idle = [k for k, (_, last) in self._buckets.items() if now - last >= refill]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= MAX_CLIENTS:
            # Still full of active clients: forget the oldest half rather than grow.
            for key in list(self._buckets)[: MAX_CLIENTS // 2]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def _compile(routes: Iterable[LimitedRoute]) -> dict[str, list[tuple[str, re.Pattern[str], str]]]:
    """By method: (literal prefix, full pattern, group), checked in order."""
    table: dict[str, list[tuple[str, re.Pattern[str], str]]] = {}
    for route in routes:
        prefix = route.path.split("*", 1)[0]
        pattern = re.compile(
            "/".join("[^/]+" if p == "*" else re.escape(p) for p in route.path.split("/"))
        )
        table.setdefault(route.method, []).append((prefix, pattern, route.group))
    return table


def client_key(scope: Scope) -> str:
    client = scope.get("client")
    host = client[0] if client else ""
    if ":" in host:
        try:
            return str(ipaddress.IPv6Network(f"{host}/64", strict=False).network_address)
        except ValueError:
            return host
    return host or "unknown"


class RateLimiter:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Mapping[str, RateLimit],
        routes: Iterable[LimitedRoute] = LIMITED_ROUTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.buckets = {group: TokenBuckets(limit, clock=clock) for group, limit in limits.items()}
        self._table = _compile(r for r in routes if r.group in self.buckets)

    def group_of(self, method: str, path: str) -> str | None:
        for prefix, pattern, group in self._table.get(method, ()):
            if path.startswith(prefix) and pattern.fullmatch(path):
                return group
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in self._table:
            group = self.group_of(scope["method"], scope["path"])
            if group is not None:
                wait = self.buckets[group].take(client_key(scope))
                if wait > 0:
                    await self._refuse(group, wait, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _refuse(
        self, group: str, wait: float, scope: Scope, receive: Receive, send: Send
    ) -> None:
        # The group only: a client address is personal data and stays out of the log.
        log.warning("request refused: rate limit", extra={"rate_limit_group": group})
        seconds = max(1, math.ceil(wait))
        response = error_response(
            429,
            "rate_limited",
            f"Too many requests; retry in {seconds} s.",
            scope,
            headers={"Retry-After": str(seconds)},
        )
        await response(scope, receive, send)

"""Token buckets and the declarative route table of the rate limiter."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from checkout.netconfig import RateLimit
from checkout.web import rate_limit
from checkout.web.rate_limit import RateLimiter, TokenBuckets, client_key

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(RateLimit(3, 60.0), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(20.0)
    assert buckets.take("b") == 0.0  # another client, its own bucket
    clock.now += 20.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(20.0)


def test_idle_buckets_are_dropped_when_the_table_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit, "MAX_CLIENTS", 4)
    clock = Clock()
    buckets = TokenBuckets(RateLimit(2, 10.0), clock=clock)
    for key in "abcd":
        buckets.take(key)
    clock.now += 10.0
    buckets.take("e")
    assert len(buckets) == 1
    for key in "fghi":
        buckets.take(key)  # all active: the oldest half goes instead
    assert len(buckets) <= 4


def test_ipv6_clients_are_counted_per_64() -> None:
    one = client_key({"client": ("2001:db8:1:2:aaaa::1", 1)})
    same = client_key({"client": ("2001:db8:1:2:bbbb::9", 1)})
    other = client_key({"client": ("2001:db8:1:3::1", 1)})
    assert one == same != other
    assert client_key({"client": ("192.0.2.1", 1)}) == "192.0.2.1"
    assert client_key({}) == "unknown"


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("POST", "/v1/sessions", "sign_in"),
        ("POST", "/staff/v1/sessions", "sign_in"),
        ("POST", "/v1/customers", "sign_in"),
        ("POST", "/v1/checkouts", "checkout_create"),
        ("POST", "/v1/checkouts/chk_1/payments", "payment"),
        ("POST", "/v1/checkouts/chk_1/payments/pay_1/refresh", "payment"),
        ("POST", "/v1/checkouts/chk_1/paypal-orders", "payment"),
        ("POST", "/webhooks/stripe", "webhook"),
        ("POST", "/webhooks/paypal", "webhook"),
        ("GET", "/v1/checkouts", None),
        ("DELETE", "/v1/sessions/current", None),
        ("POST", "/v1/sessions/current", None),
        ("POST", "/v1/checkouts/chk_1", None),
        ("POST", "/v1/checkouts/a/b/payments", None),
        ("POST", "/webhooks/", None),
        ("PATCH", "/v1/checkouts/chk_1", None),
    ],
)
def test_routes_map_to_their_group(method: str, path: str, group: str | None) -> None:
    limiter = RateLimiter(
        Starlette(),
        limits={g: RateLimit(1, 1.0) for g in ("sign_in", "checkout_create", "payment", "webhook")},
    )
    assert limiter.group_of(method, path) == group


async def test_a_refusal_is_429_with_retry_after_in_the_api_format() -> None:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True}, status_code=201)

    clock = Clock()
    app = RateLimiter(
        Starlette(routes=[Route("/v1/sessions", ok, methods=["POST"])]),
        limits={"sign_in": RateLimit(1, 30.0)},
        clock=clock,
    )
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/v1/sessions", json={})).status_code == 201
        r = await http.post("/v1/sessions", json={})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "30"
        assert r.json()["error"]["code"] == "rate_limited"
        assert set(r.json()["error"]) == {"code", "message", "request_id"}
        clock.now += 30
        assert (await http.post("/v1/sessions", json={})).status_code == 201


async def test_groups_that_are_off_are_not_limited() -> None:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({})

    app = RateLimiter(
        Starlette(routes=[Route("/webhooks/stripe", ok, methods=["POST"])]),
        limits={"sign_in": RateLimit(1, 60.0)},
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for _ in range(5):
            assert (await http.post("/webhooks/stripe")).status_code == 200

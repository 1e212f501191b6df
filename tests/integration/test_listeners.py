"""What each listener carries, and the error format of the framework's own answers."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import BaseRoute, Route

from checkout.context import AppContext
from checkout.web.factory import create_private_app, create_public_app
from checkout.web.private import private_routes
from checkout.web.public import public_routes
from tests.integration.helpers import route_table

pytestmark = pytest.mark.anyio


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x_1", path)


def _paths(routes: list[Route]) -> set[str]:
    return {r.path for r in routes}


async def test_private_paths_are_404_on_the_public_listener(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    for path in _paths(private_routes(ctx)):  # type: ignore[arg-type]
        r = await api.get(_concrete(path))
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"


async def test_public_paths_are_404_on_the_private_listener(
    ctx: AppContext, private_api: httpx.AsyncClient
) -> None:
    for route in public_routes(ctx):
        assert isinstance(route, Route)
        for method in route.methods or ():
            r = await private_api.request(method, _concrete(route.path))
            assert r.status_code == 404, (method, route.path)


async def test_no_path_is_on_both_listeners(ctx: AppContext) -> None:
    public = _paths(public_routes(ctx))  # type: ignore[arg-type]
    private = _paths(private_routes(ctx))  # type: ignore[arg-type]
    assert public and private and not (public & private)


async def test_unknown_route_is_404_in_the_api_error_format(api: httpx.AsyncClient) -> None:
    r = await api.get("/nope")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "not_found" and err["request_id"] == r.headers["x-request-id"]


async def test_wrong_method_is_405_in_the_api_error_format(api: httpx.AsyncClient) -> None:
    r = await api.delete("/v1/products")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["x-request-id"].startswith("req_")


async def test_every_response_carries_a_request_id(api: httpx.AsyncClient) -> None:
    ids = {(await api.get("/v1/products")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_a_plain_caller_request_id_is_kept_and_a_strange_one_replaced(
    api: httpx.AsyncClient,
) -> None:
    kept = await api.get("/v1/products", headers={"X-Request-Id": "lb-1234567890"})
    assert kept.headers["x-request-id"] == "lb-1234567890"
    odd = await api.get("/v1/products", headers={"X-Request-Id": "a b<script>"})
    assert odd.headers["x-request-id"].startswith("req_")


async def test_healthz_and_metrics_on_the_private_listener(
    api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    await api.get("/v1/products")
    health = await private_api.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = await private_api.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'checkout_http_requests_total{listener="public",method="GET",route="/v1/products",status="200"}'
        in metrics.text
    )


async def test_an_unexpected_error_is_500_in_the_api_format_without_details(
    ctx: AppContext, api: httpx.AsyncClient
) -> None:
    # Break the catalog read with an error whose text quotes data.
    class Boom(Exception):
        pass

    def explode() -> None:
        raise Boom("SELECT secret FROM somewhere -- jane@example.com")

    async def failing(**_: object) -> object:
        explode()
        return None

    ctx.catalog.list = failing  # type: ignore[method-assign,assignment]
    r = await api.get("/v1/products")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "jane" not in r.text and "SELECT" not in r.text
    assert r.headers["x-request-id"] == r.json()["error"]["request_id"]


async def test_invented_methods_do_not_mint_metric_series(
    api: httpx.AsyncClient, private_api: httpx.AsyncClient
) -> None:
    for method in ("BREW", "PROPFIND", "X-ANY"):
        r = await api.request(method, "/v1/products")
        assert r.status_code == 405
    text = (await private_api.get("/metrics")).text
    assert 'method="OTHER"' in text
    assert "BREW" not in text and "PROPFIND" not in text


def _policies(routes: list[BaseRoute]) -> dict[tuple[str, str], str | None]:
    from checkout.web.policy import policy_of

    found: dict[tuple[str, str], str | None] = {}
    for r in routes:
        assert isinstance(r, Route), r  # a Mount would hide routes from this walk
        for m in r.methods or ():
            if m != "HEAD":
                found[(r.path, m)] = policy_of(r.endpoint)
    return found


_app_routes = route_table


async def test_every_route_of_both_listeners_declares_a_known_policy(ctx: AppContext) -> None:
    """Default deny: a route of either listener without a declared policy fails here."""
    from checkout.web.policy import is_known

    for make in (create_public_app, create_private_app):
        policies = _policies(_app_routes(make(ctx)))
        undeclared = sorted(k for k, p in policies.items() if p is None or not is_known(p))
        assert policies and not undeclared, (make.__name__, undeclared)


async def test_every_private_route_declares_its_policy(ctx: AppContext) -> None:
    policies = _policies(_app_routes(create_private_app(ctx)))
    assert policies[("/healthz", "GET")] == "open"
    assert policies[("/openapi.json", "GET")] == "open"
    assert policies[("/s2s/v1/webhook-endpoints", "POST")] == "scope:webhooks:manage"
    assert policies[("/s2s/v1/orders/{order_id}/fulfillments", "POST")] == "scope:orders:fulfill"
    assert policies[("/s2s/v1/orders", "GET")] == "scope:orders:read"
    assert policies[("/s2s/v1/orders/{order_id}", "GET")] == "scope:orders:read"
    assert policies[("/s2s/v1/customers/{customer_id}", "GET")] == "scope:customers:read"
    assert policies[("/s2s/v1/products/{sku}", "PUT")] == "scope:catalog:write"
    assert {p for (path, _), p in policies.items() if path.startswith("/s2s/")} <= {
        "scope:webhooks:manage",
        "scope:orders:fulfill",
        "scope:orders:read",
        "scope:customers:read",
        "scope:catalog:write",
    }
    assert all(
        p is not None and p.startswith("scope:")
        for (path, _), p in policies.items()
        if path.startswith("/s2s/")
    )


async def test_public_routes_declare_what_each_caller_needs(ctx: AppContext) -> None:
    policies = _policies(_app_routes(create_public_app(ctx)))
    assert policies[("/v1/products", "GET")] == "open"
    assert policies[("/openapi.json", "GET")] == "open"
    assert policies[("/v1/me", "GET")] == "customer"
    assert policies[("/v1/checkouts/{checkout_id}", "GET")] == "checkout_access"
    assert policies[("/webhooks/stripe", "POST")] == "provider_signature"
    assert policies[("/staff/v1/sessions", "POST")] == "open"
    assert policies[("/staff/v1/staff", "GET")] == "staff:staff:manage"
    assert policies[("/staff/v1/staff/{member_id}", "PATCH")] == "staff:staff:manage"
    assert policies[("/staff/v1/audit-events", "GET")] == "staff:audit:read"
    # Every other staff route needs a staff session: none is open or a customer's.
    staff = {k: p for k, p in policies.items() if k[0].startswith("/staff/")}
    assert all(
        p is not None and (p == "staff" or p.startswith("staff:"))
        for k, p in staff.items()
        if k != ("/staff/v1/sessions", "POST")
    ), staff

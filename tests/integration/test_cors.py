"""CORS: the storefront's origin may call /v1/*; nothing else on either listener answers
a browser with CORS headers."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio

SHOP = "http://127.0.0.1:8002"  # the dev default allow-list: the demo storefront


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type, idempotency-key, x-checkout-secret",
    }


def cors_headers(response: httpx.Response) -> set[str]:
    return {name for name in response.headers if name.startswith("access-control-")}


async def test_the_storefront_origin_may_call_the_storefront_api(api: httpx.AsyncClient) -> None:
    allowed = await api.options("/v1/checkouts/chk_x/payments", headers=preflight(SHOP))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "POST" in allowed.headers["access-control-allow-methods"]
    for header in ("Idempotency-Key", "X-Checkout-Secret", "Authorization"):
        assert header.lower() in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers

    products = await api.get("/v1/products", headers={"Origin": SHOP})
    assert products.headers["access-control-allow-origin"] == SHOP
    exposed = products.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "retry-after" in exposed
    assert "origin" in products.headers["vary"].lower()


async def test_errors_reach_the_storefront_readable(api: httpx.AsyncClient) -> None:
    refused = await api.post(
        "/v1/checkouts", json={"note": "4242424242424242"}, headers={"Origin": SHOP}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "card_data_forbidden"
    assert refused.headers["access-control-allow-origin"] == SHOP


async def test_other_origins_get_no_cors_headers(api: httpx.AsyncClient) -> None:
    evil = "http://127.0.0.1:9999"
    r = await api.options("/v1/checkouts", headers=preflight(evil))
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    r = await api.get("/v1/products", headers={"Origin": evil})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("path", ["/webhooks/stripe", "/webhooks/paypal", "/staff/v1/sessions"])
async def test_staff_and_webhook_routes_send_no_cors_headers(
    api: httpx.AsyncClient, path: str
) -> None:
    pre = await api.options(path, headers=preflight(SHOP))
    assert cors_headers(pre) == set()
    assert pre.status_code in (404, 405)
    post = await api.post(path, content=b"{}", headers={"Origin": SHOP})
    assert cors_headers(post) == set()


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/s2s/v1/webhook-endpoints"])
async def test_the_private_listener_sends_no_cors_headers(
    private_api: httpx.AsyncClient, path: str
) -> None:
    pre = await private_api.options(path, headers=preflight(SHOP, "GET"))
    assert cors_headers(pre) == set()
    get = await private_api.get(path, headers={"Origin": SHOP})
    assert cors_headers(get) == set()

"""The demo storefront's server: static files under a strict CSP, and its config."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from checkout.storefront import StorefrontConfig, create_storefront_app

pytestmark = pytest.mark.anyio

EMULATED = StorefrontConfig(
    api_base="http://127.0.0.1:8000",
    publishable_key="pk_test_emulator_dev",
    hosted_fields_url="http://127.0.0.1:8010",
)


@pytest.fixture
async def shop() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_storefront_app(EMULATED))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8002") as client:
        yield client


def policy(response: httpx.Response) -> dict[str, str]:
    parts = [p.strip() for p in response.headers["content-security-policy"].split(";")]
    return {p.split(" ", 1)[0]: p.split(" ", 1)[1] for p in parts if p}


async def test_the_page_runs_only_its_own_scripts_and_frames_only_the_card_provider(
    shop: httpx.AsyncClient,
) -> None:
    page = await shop.get("/")
    assert page.status_code == 200 and "<script" in page.text
    csp = policy(page)
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self' http://127.0.0.1:8000"
    assert csp["frame-src"] == "http://127.0.0.1:8010"
    assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    assert "unsafe" not in page.headers["content-security-policy"]
    # No inline script or style for the policy to have to allow.
    assert "<script>" not in page.text and "<style" not in page.text and " style=" not in page.text


async def test_the_page_learns_where_the_api_and_the_card_fields_are(
    shop: httpx.AsyncClient,
) -> None:
    config = (await shop.get("/config.json")).json()
    assert config == {
        "apiBase": "http://127.0.0.1:8000",
        "currency": "USD",
        "stripe": {
            "publishableKey": "pk_test_emulator_dev",
            "hostedFieldsUrl": "http://127.0.0.1:8010",
        },
    }


async def test_the_sdk_modules_are_served_and_nothing_else(shop: httpx.AsyncClient) -> None:
    sdk = await shop.get("/sdk/checkout.js")
    assert sdk.status_code == 200
    assert sdk.headers["content-type"].startswith("text/javascript")
    assert "export function createClient" in sdk.text
    for name in ("errors.js", "carddata.js", "cardform.js"):
        assert (await shop.get(f"/sdk/{name}")).status_code == 200
    assert (await shop.get("/sdk/..%2Fpackage.json")).status_code == 404
    assert (await shop.get("/sdk/package.json")).status_code == 404


def test_with_a_real_key_the_policy_allows_stripe_js_instead() -> None:
    real = StorefrontConfig(
        api_base="https://api.shop.example",
        publishable_key="pk_live_x",
        hosted_fields_url=None,
    )
    csp = real.content_security_policy()
    assert "script-src 'self' https://js.stripe.com;" in csp
    assert "frame-src https://js.stripe.com https://hooks.stripe.com;" in csp
    assert "connect-src 'self' https://api.shop.example https://api.stripe.com;" in csp

"""The emulator's hosted card form: framed only by the origin it names, with the
publishable key, talking to that origin alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from providers.stripe_emulator import create_app

pytestmark = pytest.mark.anyio

SECRET = "sk_test_emulator_dev"
PUBLISHABLE = "pk_test_emulator_dev"
SHOP = "http://127.0.0.1:8002"


@pytest.fixture
async def emulator() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        secret_key=SECRET, publishable_key=PUBLISHABLE, public_base_url="http://127.0.0.1:8010"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8010") as client:
        yield client


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().split(" ", 1)[1]
        for part in policy.split(";")
        if part.strip()
    }


async def test_the_form_may_be_framed_by_the_named_origin_only(
    emulator: httpx.AsyncClient,
) -> None:
    page = await emulator.get("/elements/card", params={"key": PUBLISHABLE, "origin": SHOP})
    assert page.status_code == 200
    policy = csp(page)
    assert policy["frame-ancestors"] == SHOP
    assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert "unsafe" not in page.headers["content-security-policy"]
    assert f'data-parent-origin="{SHOP}"' in page.text
    assert 'autocomplete="cc-number"' in page.text


@pytest.mark.parametrize(
    "origin",
    ["", "*", "http://127.0.0.1:8002/shop", "javascript:alert(1)", "http://a b", "null"],
)
async def test_anything_but_an_origin_is_refused(emulator: httpx.AsyncClient, origin: str) -> None:
    page = await emulator.get("/elements/card", params={"key": PUBLISHABLE, "origin": origin})
    assert page.status_code == 400
    assert csp(page)["frame-ancestors"] == "'none'"


async def test_the_secret_key_is_refused_and_not_echoed(emulator: httpx.AsyncClient) -> None:
    page = await emulator.get("/elements/card", params={"key": SECRET, "origin": SHOP})
    assert page.status_code == 400
    assert SECRET not in page.text


async def test_the_frame_script_answers_its_parent_origin_only(
    emulator: httpx.AsyncClient,
) -> None:
    script = await emulator.get("/elements/card-frame.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    # Messages out go to the named origin, never "*"; messages in are checked for it.
    assert "postMessage(message, parentOrigin)" in script.text
    assert '"*"' not in script.text
    assert "event.origin !== parentOrigin || event.source !== window.parent" in script.text
    assert (await emulator.get("/elements/card-frame.css")).status_code == 200
    assert (await emulator.get("/elements/other.js")).status_code == 404


async def test_the_form_tokenizes_with_the_publishable_key_from_its_own_origin(
    emulator: httpx.AsyncClient,
) -> None:
    made = await emulator.post(
        "/v1/payment_methods",
        headers={"Authorization": f"Bearer {PUBLISHABLE}", "Origin": "http://127.0.0.1:8010"},
        data={
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
    )
    assert made.status_code == 200
    body = made.json()
    assert body["id"].startswith("pm_") and body["card"]["last4"] == "4242"
    assert "4242424242424242" not in made.text

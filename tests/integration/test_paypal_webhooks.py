"""PayPal webhooks: verified offline, stored once, applied from PayPal's current state."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import paypalrestsdk
import pytest
import sqlalchemy as sa

from checkout.context import AppContext, build_context
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_public_app
from providers.paypal.webhook_signature import PayPalVerifier, sign
from tests.conftest import PAYPAL_CLIENT, Emulator, PayPalEmulator, make_settings
from tests.integration.helpers import checkout_body
from tests.unit.test_paypal_signature import (
    CERT_URL,
    NOW,
    WEBHOOK_ID,
    _key,
    _make_ca,
    _make_leaf,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pki() -> tuple[bytes, bytes, object]:
    ca = _make_ca("Test Root CA")
    key = _key()
    return ca.pem, _make_leaf(ca, key), key


@pytest.fixture
async def manual(
    db_url: str,
    tmp_path: Path,
    stripe_emulator: Emulator,
    paypal_emulator: PayPalEmulator,
    pki: tuple[bytes, bytes, object],
) -> AsyncIterator[AppContext]:
    settings = make_settings(
        db_url,
        tmp_path / "d",
        stripe_emulator.base_url,
        CHECKOUT_CAPTURE_MODE="manual",
        CHECKOUT_PAYPAL_API_BASE=paypal_emulator.base_url,
        CHECKOUT_PAYPAL_CLIENT_ID=PAYPAL_CLIENT[0],
        CHECKOUT_PAYPAL_CLIENT_SECRET=PAYPAL_CLIENT[1],
    )
    ctx = build_context(settings)
    ca_pem, leaf_pem, _ = pki

    async def fetch(url: str) -> bytes:
        assert url == CERT_URL
        return leaf_pem

    ctx.paypal_webhooks = PayPalVerifier(
        webhook_id=WEBHOOK_ID, ca_bundle_pem=ca_pem, fetch=fetch, clock=lambda: NOW
    )
    seed_demo_catalog(ctx.catalog)
    try:
        yield ctx
    finally:
        await ctx.aclose()


def _headers(key: object, body: bytes, transmission_id: str = "tx-1") -> dict[str, str]:
    at = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": at,
        "PAYPAL-TRANSMISSION-SIG": sign(
            key=key,  # type: ignore[arg-type]
            transmission_id=transmission_id,
            transmission_time=at,
            webhook_id=WEBHOOK_ID,
            body=body,
        ),
        "PAYPAL-CERT-URL": CERT_URL,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "Content-Type": "application/json",
    }


async def test_a_capture_made_at_paypal_reaches_our_payment_by_webhook(
    manual: AppContext, paypal_emulator: PayPalEmulator, pki: tuple[bytes, bytes, object]
) -> None:
    transport = httpx.ASGITransport(app=create_public_app(manual))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
        headers = {"X-Checkout-Secret": chk["client_secret"]}
        order = (await api.post(f"/v1/checkouts/{chk['id']}/paypal-orders", headers=headers)).json()
        paypal_emulator.approve(order["paypal_order_id"])
        pay = await api.post(
            f"/v1/checkouts/{chk['id']}/payments",
            headers=headers,
            json={"provider": "paypal", "payment_token": order["paypal_order_id"]},
        )
        assert pay.json()["status"] == "authorized"
        # The merchant captures in PayPal's own dashboard, not through us.
        paypal = paypalrestsdk.Api(
            mode="sandbox",
            client_id=PAYPAL_CLIENT[0],
            client_secret=PAYPAL_CLIENT[1],
            endpoint=paypal_emulator.base_url,
        )
        full = paypal.get(f"v2/checkout/orders/{order['paypal_order_id']}")
        auth = full["purchase_units"][0]["payments"]["authorizations"][0]["id"]
        capture = paypal.post(f"v2/payments/authorizations/{auth}/capture", {})
        body = json.dumps(
            {
                "id": "WH-EVT-CAPTURE-1",
                "event_type": "PAYMENT.CAPTURE.COMPLETED",
                "resource": {
                    "id": capture["id"],
                    "supplementary_data": {"related_ids": {"order_id": order["paypal_order_id"]}},
                },
            }
        ).encode()
        key = pki[2]
        r = await api.post("/webhooks/paypal", content=body, headers=_headers(key, body))
        assert r.status_code == 200, r.text
        forged = body.replace(b"CAPTURE-1", b"CAPTURE-2")
        bad = await api.post("/webhooks/paypal", content=forged, headers=_headers(key, body))
        assert bad.status_code == 400
    assert (await manual.inbox_worker.drain_once())["applied"] == 1
    with manual.db.engine.connect() as conn:
        status, captured = conn.execute(
            sa.text("SELECT status, amount_captured FROM payments")
        ).one()
        events = conn.execute(sa.text("SELECT event_id FROM webhook_events")).scalars().all()
    assert (status, captured) == ("captured", 6200)
    assert events == ["WH-EVT-CAPTURE-1"]


async def test_without_a_verifier_paypal_webhooks_are_refused_and_not_stored(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    assert ctx.paypal_webhooks is None
    r = await api.post("/webhooks/paypal", content=b'{"id": "WH-1", "event_type": "X"}')
    assert r.status_code == 400
    with ctx.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM webhook_events")).scalar_one() == 0

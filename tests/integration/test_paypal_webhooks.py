"""PayPal webhooks: verified offline, stored once, applied from PayPal's current state.

The first tests sign events themselves; the last ones let the PayPal emulator deliver its
own signed events over HTTP to our public app, as `checkout serve` wires it in dev.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import paypalrestsdk
import pytest
import sqlalchemy as sa

from checkout.context import AppContext, build_context
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_public_app
from providers.paypal.webhook_pinned import pinned_fetcher
from providers.paypal.webhook_signature import PayPalVerifier, sign
from providers.paypal_emulator import create_app as create_paypal_emulator
from providers.paypal_emulator.pki import SigningIdentity, generate
from providers.paypal_emulator.webhooks import WebhookDeliverer
from tests.conftest import (
    PAYPAL_CLIENT,
    Emulator,
    PayPalEmulator,
    make_settings,
    serve_in_thread,
)
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


# --- the emulator's own deliveries -----------------------------------------------------------

HOOK_ID = "4JH86294D6297924G"


@pytest.fixture(scope="module")
def identity() -> SigningIdentity:
    return generate()


class _Deferred:
    """An ASGI app served before it exists: our app needs the emulator's address, and the
    emulator needs ours."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@dataclass
class Delivering:
    ctx: AppContext
    paypal_url: str
    deliverer: WebhookDeliverer

    def paypal(self) -> Any:
        return paypalrestsdk.Api(
            mode="sandbox",
            client_id=PAYPAL_CLIENT[0],
            client_secret=PAYPAL_CLIENT[1],
            endpoint=self.paypal_url,
        )

    async def wait_stored(self, n: int) -> list[str]:
        """Event types in our inbox, once `n` are there and the emulator has sent all."""
        deadline = time.monotonic() + 20
        while True:
            with self.ctx.db.engine.connect() as conn:
                kinds = list(conn.execute(sa.text("SELECT type FROM webhook_events")).scalars())
            if len(kinds) >= n and self.deliverer.idle:
                return sorted(kinds)
            assert time.monotonic() < deadline, kinds
            await anyio.sleep(0.05)


@pytest.fixture
async def delivering(
    db_url: str, tmp_path: Path, stripe_emulator: Emulator, identity: SigningIdentity
) -> AsyncIterator[Delivering]:
    ours = _Deferred()
    with (
        serve_in_thread(lambda base: ours) as (our_base, _),
        serve_in_thread(
            lambda base: create_paypal_emulator(
                client_id=PAYPAL_CLIENT[0],
                client_secret=PAYPAL_CLIENT[1],
                public_base_url=base,
                webhook_url=f"{our_base}/webhooks/paypal",
                webhook_id=HOOK_ID,
                signing=identity,
            )
        ) as (paypal_base, paypal_app),
    ):
        settings = make_settings(
            db_url,
            tmp_path / "d",
            stripe_emulator.base_url,
            CHECKOUT_CAPTURE_MODE="manual",
            CHECKOUT_PAYPAL_API_BASE=paypal_base,
            CHECKOUT_PAYPAL_CLIENT_ID=PAYPAL_CLIENT[0],
            CHECKOUT_PAYPAL_CLIENT_SECRET=PAYPAL_CLIENT[1],
        )
        ctx = build_context(settings)
        # What checkout serve builds in dev: the emulator's CA, its certificate pinned.
        ctx.paypal_webhooks = PayPalVerifier(
            webhook_id=HOOK_ID,
            ca_bundle_pem=identity.ca_pem,
            fetch=pinned_fetcher(identity.cert_url, identity.leaf_pem),
        )
        seed_demo_catalog(ctx.catalog)
        ours.app = create_public_app(ctx)
        deliverer: WebhookDeliverer = paypal_app.state.paypal_webhooks
        deliverer.first_delay = 0.05
        try:
            yield Delivering(ctx, paypal_base, deliverer)
        finally:
            await ctx.aclose()


def _payment(ctx: AppContext) -> tuple[str, int, int]:
    with ctx.db.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, amount_captured, amount_refunded FROM payments")
        ).one()
    return str(row[0]), int(row[1]), int(row[2])


def _outbox(ctx: AppContext) -> list[str]:
    with ctx.db.engine.connect() as conn:
        return sorted(conn.execute(sa.text("SELECT type FROM outbox_events")).scalars())


async def test_a_capture_and_a_refund_at_paypal_reach_our_payment_by_the_emulators_webhooks(
    delivering: Delivering, paypal_emulator: PayPalEmulator
) -> None:
    ctx = delivering.ctx
    transport = httpx.ASGITransport(app=create_public_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
        headers = {"X-Checkout-Secret": chk["client_secret"]}
        order = (await api.post(f"/v1/checkouts/{chk['id']}/paypal-orders", headers=headers)).json()
        order_id = order["paypal_order_id"]
        async with httpx.AsyncClient(base_url=delivering.paypal_url) as browser:
            await browser.post(f"/checkoutnow/{order_id}/approve", data={"action": "approve"})
        pay = await api.post(
            f"/v1/checkouts/{chk['id']}/payments",
            headers=headers,
            json={"provider": "paypal", "payment_token": order_id},
        )
        assert pay.json()["status"] == "authorized"
    assert await delivering.wait_stored(2) == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.AUTHORIZATION.CREATED",
    ]
    assert (await ctx.inbox_worker.drain_once())["applied"] == 2
    assert _payment(ctx) == ("authorized", 0, 0)

    # The merchant captures, then refunds part, in PayPal's own dashboard, not through us.
    paypal = delivering.paypal()
    full = paypal.get(f"v2/checkout/orders/{order_id}")
    auth = full["purchase_units"][0]["payments"]["authorizations"][0]["id"]
    capture = paypal.post(f"v2/payments/authorizations/{auth}/capture", {"final_capture": True})
    await delivering.wait_stored(3)
    assert (await ctx.inbox_worker.drain_once())["applied"] == 1
    assert _payment(ctx) == ("captured", 6200, 0)
    paypal.post(
        f"v2/payments/captures/{capture['id']}/refund",
        {"amount": {"currency_code": "USD", "value": "12.00"}},
    )
    assert (await delivering.wait_stored(4))[-1] == "PAYMENT.CAPTURE.REFUNDED"
    # The refund names only its capture; the worker asks PayPal for the order.
    assert (await ctx.inbox_worker.drain_once())["applied"] == 1
    assert _payment(ctx) == ("partially_refunded", 6200, 1200)
    assert _outbox(ctx) == ["order.created", "order.paid", "order.refunded"]


async def test_an_event_delivered_twice_is_stored_and_applied_once(
    delivering: Delivering,
) -> None:
    ctx = delivering.ctx
    transport = httpx.ASGITransport(app=create_public_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
        headers = {"X-Checkout-Secret": chk["client_secret"]}
        order = (await api.post(f"/v1/checkouts/{chk['id']}/paypal-orders", headers=headers)).json()
        order_id = order["paypal_order_id"]
        async with httpx.AsyncClient(base_url=delivering.paypal_url) as browser:
            await browser.post(f"/checkoutnow/{order_id}/approve", data={"action": "approve"})
        await api.post(
            f"/v1/checkouts/{chk['id']}/payments",
            headers=headers,
            json={"provider": "paypal", "payment_token": order_id},
        )
    paypal = delivering.paypal()
    full = paypal.get(f"v2/checkout/orders/{order_id}")
    auth = full["purchase_units"][0]["payments"]["authorizations"][0]["id"]
    capture = paypal.post(f"v2/payments/authorizations/{auth}/capture", {"final_capture": True})
    await delivering.wait_stored(3)
    assert (await ctx.inbox_worker.drain_once())["applied"] == 3
    paypal.post(f"v2/payments/captures/{capture['id']}/refund", {})
    await delivering.wait_stored(4)
    assert (await ctx.inbox_worker.drain_once())["applied"] == 1
    assert _payment(ctx) == ("refunded", 6200, 6200)
    before = _outbox(ctx)
    assert before == ["order.created", "order.paid", "order.refunded"]

    # PayPal delivers the capture and the refund again (a resend, or a lost 200).
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT type, event_id FROM webhook_events"))
        stored = {str(kind): str(event_id) for kind, event_id in rows}
    token = paypal.get_access_token()
    async with httpx.AsyncClient(base_url=delivering.paypal_url) as http:
        for kind in ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.REFUNDED"):
            resent = await http.post(
                f"/v1/notifications/webhooks-events/{stored[kind]}/resend",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert resent.status_code == 202
    assert await delivering.wait_stored(4) == sorted(stored)
    assert (await ctx.inbox_worker.drain_once())["applied"] == 0
    assert _payment(ctx) == ("refunded", 6200, 6200)
    assert _outbox(ctx) == before

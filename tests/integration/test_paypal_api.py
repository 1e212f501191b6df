"""Paying with PayPal through the real app, the paypalrestsdk adapter and the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext, build_context
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_public_app
from tests.conftest import PAYPAL_CLIENT, Emulator, PayPalEmulator, make_settings
from tests.integration.helpers import checkout_body, count

pytestmark = pytest.mark.anyio


async def _checkout(api: httpx.AsyncClient, **overrides: Any) -> tuple[str, dict[str, str]]:
    r = await api.post("/v1/checkouts", json=checkout_body(**overrides))
    assert r.status_code == 201, r.text
    return r.json()["id"], {"X-Checkout-Secret": r.json()["client_secret"]}


async def _order(api: httpx.AsyncClient, cid: str, headers: dict[str, str]) -> dict[str, Any]:
    r = await api.post(
        f"/v1/checkouts/{cid}/paypal-orders",
        headers=headers,
        json={"return_url": "https://shop.example/paypal/return"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _pay(
    api: httpx.AsyncClient, cid: str, headers: dict[str, str], order_id: str
) -> httpx.Response:
    return await api.post(
        f"/v1/checkouts/{cid}/payments",
        headers=headers,
        json={"provider": "paypal", "payment_token": order_id},
    )


async def test_a_buyer_approves_at_paypal_and_the_payment_is_captured(
    api: httpx.AsyncClient, ctx: AppContext, paypal_emulator: PayPalEmulator
) -> None:
    ledger = paypal_emulator.app.state.faults
    captures_before = ledger.count("orders.capture")
    cid, headers = await _checkout(api)
    order = await _order(api, cid, headers)
    assert order["approve_url"].startswith(paypal_emulator.base_url + "/checkoutnow?token=")
    paypal_emulator.approve(order["paypal_order_id"])
    r = await _pay(api, cid, headers, order["paypal_order_id"])
    assert r.status_code == 201, r.text
    pay = r.json()
    assert pay["status"] == "captured" and pay["order_id"].startswith("ord_")
    assert pay["amount"] == {"amount": 6200, "currency": "USD"}
    assert ledger.count("orders.capture") == captures_before + 1


async def test_jpy_reaches_paypal_without_decimals(
    api: httpx.AsyncClient, paypal_emulator: PayPalEmulator
) -> None:
    cid, headers = await _checkout(api, currency="JPY")
    order = await _order(api, cid, headers)
    paypal_emulator.approve(order["paypal_order_id"])
    r = await _pay(api, cid, headers, order["paypal_order_id"])
    assert r.status_code == 201 and r.json()["amount"] == {"amount": 9400, "currency": "JPY"}


async def test_kwd_is_refused_before_any_order_exists(api: httpx.AsyncClient) -> None:
    cid, headers = await _checkout(api, currency="KWD")
    r = await api.post(f"/v1/checkouts/{cid}/paypal-orders", headers=headers)
    assert r.status_code == 422


async def test_creating_the_order_twice_for_one_cart_gives_the_same_order(
    api: httpx.AsyncClient,
) -> None:
    cid, headers = await _checkout(api)
    first = await _order(api, cid, headers)
    second = await _order(api, cid, headers)
    assert first["paypal_order_id"] == second["paypal_order_id"]


async def test_paying_before_the_buyer_approved_is_422_and_the_checkout_stays_open(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    cid, headers = await _checkout(api)
    order = await _order(api, cid, headers)
    r = await _pay(api, cid, headers, order["paypal_order_id"])
    assert r.status_code == 422
    assert "payment_token" in r.json()["error"]["fields"]
    chk = (await api.get(f"/v1/checkouts/{cid}", headers=headers)).json()
    assert chk["status"] == "open" and count(ctx, "orders") == 0


async def test_an_order_of_another_checkout_is_refused(
    api: httpx.AsyncClient, ctx: AppContext, paypal_emulator: PayPalEmulator
) -> None:
    captures_before = paypal_emulator.app.state.faults.count("orders.capture")
    other, other_headers = await _checkout(api)
    foreign = await _order(api, other, other_headers)
    paypal_emulator.approve(foreign["paypal_order_id"])
    cid, headers = await _checkout(api)
    r = await _pay(api, cid, headers, foreign["paypal_order_id"])
    assert r.status_code == 422
    assert "another checkout" in r.json()["error"]["message"]
    assert paypal_emulator.app.state.faults.count("orders.capture") == captures_before
    assert count(ctx, "orders") == 0


async def test_an_order_whose_amount_differs_from_the_checkout_is_refused(
    api: httpx.AsyncClient, ctx: AppContext, paypal_emulator: PayPalEmulator
) -> None:
    cid, headers = await _checkout(api)
    order = await _order(api, cid, headers)
    paypal_emulator.approve(order["paypal_order_id"])
    # The cart changes after the PayPal order was made for the old total.
    patch = await api.patch(
        f"/v1/checkouts/{cid}",
        headers=headers,
        json={"lines": [{"sku": "MUG-WHITE", "quantity": 1}]},
    )
    assert patch.status_code == 200
    r = await _pay(api, cid, headers, order["paypal_order_id"])
    assert r.status_code == 422
    assert "amount" in r.json()["error"]["message"]
    assert count(ctx, "orders") == 0


@pytest.mark.parametrize("token", ["pm_1234", "not an id", ""])
async def test_a_token_of_the_wrong_provider_is_refused(
    api: httpx.AsyncClient, ctx: AppContext, token: str
) -> None:
    cid, headers = await _checkout(api)
    r = await _pay(api, cid, headers, token)
    assert r.status_code == 422
    assert count(ctx, "orders") == 0


async def test_a_stripe_token_sent_as_paypal_and_back_is_refused(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    order = await _order(api, cid, headers)
    r = await api.post(
        f"/v1/checkouts/{cid}/payments",
        headers=headers,
        json={"provider": "stripe", "payment_token": order["paypal_order_id"]},
    )
    assert r.status_code == 422


async def test_manual_capture_authorizes_and_operations_capture_and_refund(
    db_url: str, tmp_path: Path, stripe_emulator: Emulator, paypal_emulator: PayPalEmulator
) -> None:
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
    seed_demo_catalog(ctx.catalog)
    try:
        transport = httpx.ASGITransport(app=create_public_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            cid, headers = await _checkout(api)
            order = await _order(api, cid, headers)
            paypal_emulator.approve(order["paypal_order_id"])
            r = await _pay(api, cid, headers, order["paypal_order_id"])
            assert r.status_code == 201 and r.json()["status"] == "authorized", r.text
        pay_id = r.json()["id"]
        await ctx.operations.capture(pay_id, 5000)
        refund = await ctx.operations.refund(pay_id, 1500, "returned")
        assert refund.status == "succeeded" and refund.provider_ref
        with ctx.db.engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT status, amount_captured, amount_refunded FROM payments")
            ).one()
        assert tuple(row) == ("partially_refunded", 5000, 1500)
    finally:
        await ctx.aclose()


async def test_refresh_of_a_paypal_payment_reads_the_order(
    api: httpx.AsyncClient, paypal_emulator: PayPalEmulator
) -> None:
    cid, headers = await _checkout(api)
    order = await _order(api, cid, headers)
    paypal_emulator.approve(order["paypal_order_id"])
    pay = (await _pay(api, cid, headers, order["paypal_order_id"])).json()
    r = await api.post(f"/v1/checkouts/{cid}/payments/{pay['id']}/refresh", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "captured"


async def test_no_paypal_credential_reaches_the_logs_even_at_debug(
    api: httpx.AsyncClient, paypal_emulator: PayPalEmulator
) -> None:
    import io
    import logging

    from checkout.logs import configure_logging

    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", stream)
    logging.getLogger("paypalrestsdk").setLevel(logging.DEBUG)  # as loud as it gets
    try:
        cid, headers = await _checkout(api)
        order = await _order(api, cid, headers)
        paypal_emulator.approve(order["paypal_order_id"])
        assert (await _pay(api, cid, headers, order["paypal_order_id"])).status_code == 201
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    logs = stream.getvalue()
    tokens = list(paypal_emulator.app.state.paypal.tokens)
    assert tokens
    assert "paypalrestsdk" in logs  # the SDK did log, at DEBUG ...
    assert PAYPAL_CLIENT[1] not in logs  # ... but no secret and no token made it out
    assert all(token not in logs for token in tokens)
    assert "Bearer ***" in logs or "Authorization" not in logs

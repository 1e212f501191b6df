"""Reconciliation alone brings unsettled payments to the provider's state (no webhooks)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext, build_context
from checkout.seed import seed_demo_catalog
from checkout.store import payments as payment_store
from checkout.web.factory import create_public_app
from tests.conftest import Emulator, make_settings
from tests.integration.helpers import checkout_body

pytestmark = pytest.mark.anyio


def _age_everything(ctx: AppContext) -> None:
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE payments SET updated_at = '2000-01-01 00:00:00', "
                "locked_until = '2000-01-01 00:00:00'"
            )
        )


async def test_three_d_secure_completed_but_never_reported_is_settled(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    payments = []
    for card in ("4000002760003184", "4000002760003184", "4000002500003155"):
        chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
        pay = (
            await api.post(
                f"/v1/checkouts/{chk['id']}/payments",
                headers={"X-Checkout-Secret": chk["client_secret"]},
                json={
                    "provider": "stripe",
                    "payment_token": stripe_emulator.tokenize(card),
                    "return_url": "https://shop.example/r",
                },
            )
        ).json()
        payments.append(pay)
    stripe_emulator.complete_3ds(payments[0]["next_action"]["url"])
    stripe_emulator.complete_3ds(payments[1]["next_action"]["url"], outcome="fail")
    # payments[2]: the buyer walked away; it stays requires_action at the provider too.
    fresh = await ctx.reconciler.run_once(timedelta(minutes=10))
    assert fresh.checked == 0  # too recent to second-guess
    _age_everything(ctx)
    report = await ctx.reconciler.run_once(timedelta(minutes=10))
    assert report.checked == 3
    assert report.changed == {
        payments[0]["id"]: "requires_action -> captured",
        payments[1]["id"]: "requires_action -> failed",
    }
    with ctx.db.engine.connect() as conn:
        orders = conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one()
    assert orders == 1
    again = await ctx.reconciler.run_once(timedelta(minutes=10))
    assert again.changed == {}


async def test_a_charge_lost_in_flight_is_resent_under_its_key_and_settled(
    db_url: str, tmp_path: Path, stripe_emulator: Emulator
) -> None:
    down = build_context(make_settings(db_url, tmp_path / "d", "http://127.0.0.1:9"))
    seed_demo_catalog(down.catalog)
    try:
        transport = httpx.ASGITransport(app=create_public_app(down))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
            r = await api.post(
                f"/v1/checkouts/{chk['id']}/payments",
                headers={"X-Checkout-Secret": chk["client_secret"]},
                json={"provider": "stripe", "payment_token": stripe_emulator.tokenize()},
            )
            assert r.status_code == 502
    finally:
        await down.aclose()
    up = build_context(make_settings(db_url, tmp_path / "d", stripe_emulator.base_url))
    try:
        _age_everything(up)
        report = await up.reconciler.run_once()
        assert report.changed == {r.json()["error"]["payment_id"]: "processing -> captured"}
        with up.db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 1
    finally:
        await up.aclose()


async def test_a_provider_amount_that_differs_is_held_for_review_never_paid(
    db_url: str, tmp_path: Path
) -> None:
    from providers.base import ProviderPayment

    ctx = build_context(make_settings(db_url, tmp_path / "d", "http://127.0.0.1:9"))
    seed_demo_catalog(ctx.catalog)
    try:
        transport = httpx.ASGITransport(app=create_public_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
            r = await api.post(
                f"/v1/checkouts/{chk['id']}/payments",
                headers={"X-Checkout-Secret": chk["client_secret"]},
                json={"provider": "stripe", "payment_token": "pm_x"},
            )
            payment_id = r.json()["error"]["payment_id"]
            # The provider says it captured 1.00 less than we asked for.
            wrong = ProviderPayment("pi_wrong", "captured", 6100, "USD", amount_captured=6100)
            settled = await ctx.payments.settle(payment_id, wrong)
            assert settled.order_id is None
            assert settled.failure_message == "amount mismatch: held for review"
            again = await api.get(
                f"/v1/checkouts/{chk['id']}", headers={"X-Checkout-Secret": chk["client_secret"]}
            )
            assert again.json()["status"] == "open"
            # Settled again (a repeated webhook, a later pass): still held, still no order.
            again_settled = await ctx.payments.settle(payment_id, wrong)
            assert again_settled.order_id is None
        with ctx.db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 0
            assert conn.execute(sa.text("SELECT COUNT(*) FROM outbox_events")).scalar_one() == 0
            (held,) = payment_store.held_for_review(conn)
        assert held.id == payment_id
        assert held.review_reason == "provider reported 6100 USD, asked 6200 USD"
    finally:
        await ctx.aclose()

"""Paying a checkout through the real app, the real Stripe adapter and SDK, and the
Stripe emulator over HTTP, on each database backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext, build_context
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_public_app
from tests.conftest import Emulator, make_settings
from tests.integration.helpers import checkout_body, count, counts, sign_up

pytestmark = pytest.mark.anyio

DECLINE = "4000000000000002"
THREE_DS = "4000002760003184"


async def _checkout(api: httpx.AsyncClient, **overrides: Any) -> tuple[str, dict[str, str]]:
    r = await api.post("/v1/checkouts", json=checkout_body(**overrides))
    assert r.status_code == 201, r.text
    body = r.json()
    return body["id"], {"X-Checkout-Secret": body["client_secret"]}


async def _pay(
    api: httpx.AsyncClient, checkout_id: str, headers: dict[str, str], token: str, **extra: Any
) -> httpx.Response:
    return await api.post(
        f"/v1/checkouts/{checkout_id}/payments",
        headers=headers,
        json={"provider": "stripe", "payment_token": token, **extra},
    )


async def test_paying_captures_creates_the_order_and_completes_the_checkout(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    r = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert r.status_code == 201, r.text
    pay = r.json()
    assert pay["id"].startswith("pay_") and pay["status"] == "captured"
    assert pay["amount"] == {"amount": 6200, "currency": "USD"}
    assert pay["order_id"].startswith("ord_")
    chk = (await api.get(f"/v1/checkouts/{cid}", headers=headers)).json()
    assert chk["status"] == "completed" and chk["order_id"] == pay["order_id"]
    with ctx.db.engine.connect() as conn:
        order = conn.execute(
            sa.text("SELECT status, total, currency, email_enc FROM orders WHERE id = :id"),
            {"id": pay["order_id"]},
        ).one()
        lines = conn.execute(
            sa.text(
                "SELECT sku, quantity, unit_amount, total_amount FROM order_lines "
                "WHERE order_id = :id ORDER BY position"
            ),
            {"id": pay["order_id"]},
        ).all()
    assert (order[0], order[1], order[2]) == ("paid", 6200, "USD")
    assert b"jane" not in bytes(order[3])
    assert [tuple(x) for x in lines] == [
        ("TSHIRT-BLK-M", 2, 2500, 5000),
        ("MUG-WHITE", 1, 1200, 1200),
    ]


@pytest.mark.parametrize(("currency", "amount"), [("JPY", 9400), ("KWD", 19100)])
async def test_zero_and_three_decimal_currencies_reach_the_provider_unscaled(
    api: httpx.AsyncClient, stripe_emulator: Emulator, currency: str, amount: int
) -> None:
    cid, headers = await _checkout(api, currency=currency)
    r = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == {"amount": amount, "currency": currency}


async def test_manual_capture_mode_authorizes_and_still_creates_the_order(
    db_url: str, tmp_path: Path, stripe_emulator: Emulator
) -> None:
    settings = make_settings(
        db_url, tmp_path / "d", stripe_emulator.base_url, CHECKOUT_CAPTURE_MODE="manual"
    )
    ctx = build_context(settings)
    seed_demo_catalog(ctx.catalog)
    try:
        transport = httpx.ASGITransport(app=create_public_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            cid, headers = await _checkout(api)
            r = await _pay(api, cid, headers, stripe_emulator.tokenize())
            assert r.status_code == 201
            assert r.json()["status"] == "authorized" and r.json()["order_id"]
        with ctx.db.engine.connect() as conn:
            status = conn.execute(sa.text("SELECT status FROM orders")).scalar_one()
        assert status == "authorized"
    finally:
        await ctx.aclose()


async def test_a_decline_is_402_with_the_code_and_the_buyer_can_retry(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    r = await _pay(api, cid, headers, stripe_emulator.tokenize(DECLINE))
    assert r.status_code == 402
    err = r.json()["error"]
    assert err["code"] == "payment_failed" and err["decline_code"] == "generic_decline"
    chk = (await api.get(f"/v1/checkouts/{cid}", headers=headers)).json()
    assert chk["status"] == "open" and chk["order_id"] is None
    assert count(ctx, "orders") == 0
    retry = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert retry.status_code == 201 and retry.json()["status"] == "captured"


async def test_three_d_secure_requires_action_then_refresh_settles_it(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    r = await _pay(
        api,
        cid,
        headers,
        stripe_emulator.tokenize(THREE_DS),
        return_url="https://shop.example/return",
    )
    assert r.status_code == 201, r.text
    pay = r.json()
    assert pay["status"] == "requires_action" and "order_id" not in pay
    assert pay["next_action"]["type"] == "redirect"
    assert pay["next_action"]["url"].startswith(stripe_emulator.base_url + "/3ds/")
    # A second payment while the first waits for the buyer is refused.
    again = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert again.status_code == 409
    stripe_emulator.complete_3ds(pay["next_action"]["url"])
    refreshed = await api.post(f"/v1/checkouts/{cid}/payments/{pay['id']}/refresh", headers=headers)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["status"] == "captured" and refreshed.json()["order_id"]
    chk = (await api.get(f"/v1/checkouts/{cid}", headers=headers)).json()
    assert chk["status"] == "completed"


async def test_three_d_secure_without_return_url_hands_the_sdk_a_client_secret(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    pay = (await _pay(api, cid, headers, stripe_emulator.tokenize(THREE_DS))).json()
    assert pay["next_action"]["type"] == "provider_sdk"
    assert pay["next_action"]["client_secret"].startswith("pi_")


async def test_failed_three_d_secure_leaves_the_checkout_open(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    pay = (
        await _pay(
            api,
            cid,
            headers,
            stripe_emulator.tokenize(THREE_DS),
            return_url="https://shop.example/r",
        )
    ).json()
    stripe_emulator.complete_3ds(pay["next_action"]["url"], outcome="fail")
    refreshed = await api.post(f"/v1/checkouts/{cid}/payments/{pay['id']}/refresh", headers=headers)
    assert refreshed.json()["status"] == "failed"
    retry = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert retry.status_code == 201 and retry.json()["status"] == "captured"


async def test_paying_a_completed_checkout_is_409_and_charges_nothing(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    assert (await _pay(api, cid, headers, stripe_emulator.tokenize())).status_code == 201
    before = counts(ctx)
    r = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert counts(ctx) == before
    patch = await api.patch(f"/v1/checkouts/{cid}", headers=headers, json={"currency": "EUR"})
    assert patch.status_code == 409


async def test_paying_without_the_secret_is_404(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, _ = await _checkout(api)
    r = await _pay(api, cid, {"X-Checkout-Secret": "guess"}, stripe_emulator.tokenize())
    assert r.status_code == 404
    assert count(ctx, "payments") == 0


async def test_an_unknown_token_is_422_on_payment_token(
    api: httpx.AsyncClient, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    r = await _pay(api, cid, headers, "pm_doesnotexist")
    assert r.status_code == 422
    assert "payment_token" in r.json()["error"]["fields"]
    retry = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert retry.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"provider": "stripe"}, "payment_token"),
        ({"payment_token": "pm_x"}, "provider"),
        ({"provider": "adyen", "payment_token": "pm_x"}, "provider"),
        ({"provider": "stripe", "payment_token": 42}, "payment_token"),
        (
            {"provider": "stripe", "payment_token": "pm_x", "return_url": "javascript:x"},
            "return_url",
        ),
        ({"saved_payment_method": "pm_x"}, "saved_payment_method"),
    ],
)
async def test_bad_payment_requests_are_422(
    api: httpx.AsyncClient, ctx: AppContext, payload: dict[str, Any], field: str
) -> None:
    cid, headers = await _checkout(api)
    r = await api.post(f"/v1/checkouts/{cid}/payments", headers=headers, json=payload)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["fields"]
    assert count(ctx, "payments") == 0


async def test_a_price_change_before_payment_is_409_and_the_checkout_shows_it(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    ctx.catalog.upsert_sync(sku="MUG-WHITE", name="White mug", active=True, prices={"USD": 1500})
    r = await _pay(api, cid, headers, stripe_emulator.tokenize())
    assert r.status_code == 409
    assert count(ctx, "payments") == 0
    chk = (await api.get(f"/v1/checkouts/{cid}", headers=headers)).json()
    assert chk["total"] == {"amount": 6500, "currency": "USD"}
    assert (await _pay(api, cid, headers, stripe_emulator.tokenize())).json()["amount"][
        "amount"
    ] == 6500


async def test_idempotent_replay_returns_the_first_response_byte_for_byte(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    token = stripe_emulator.tokenize()
    h = {**headers, "Idempotency-Key": "pay-once"}
    first = await _pay(api, cid, h, token)
    second = await _pay(api, cid, h, token)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second.headers["idempotent-replayed"] == "true"
    assert count(ctx, "payments") == 1


async def test_idempotent_replay_of_checkout_creation_makes_one_checkout(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    h = {"Idempotency-Key": "create-1"}
    a = await api.post("/v1/checkouts", json=checkout_body(), headers=h)
    b = await api.post("/v1/checkouts", json=checkout_body(), headers=h)
    assert a.status_code == b.status_code == 201 and a.content == b.content
    assert count(ctx, "checkouts") == 1
    with ctx.db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT response_enc FROM idempotency_keys")).scalar_one()
    # The stored response holds the client secret, so it is encrypted at rest.
    assert a.json()["client_secret"].encode() not in bytes(stored)


async def test_same_key_with_a_different_body_is_409_idempotency_conflict(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    h = {"Idempotency-Key": "k1"}
    assert (await api.post("/v1/checkouts", json=checkout_body(), headers=h)).status_code == 201
    r = await api.post("/v1/checkouts", json=checkout_body(currency="EUR"), headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"
    assert count(ctx, "checkouts") == 1


async def test_keys_are_scoped_to_the_caller(api: httpx.AsyncClient, ctx: AppContext) -> None:
    _, customer = await sign_up(api)
    a = await api.post("/v1/checkouts", json=checkout_body(), headers={"Idempotency-Key": "k"})
    b = await api.post(
        "/v1/checkouts", json=checkout_body(), headers={"Idempotency-Key": "k", **customer}
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize("key", [b"", b"x" * 256, "caf\u00e9".encode("latin-1"), b"a\x01b"])
async def test_invalid_idempotency_keys_are_422(api: httpx.AsyncClient, key: bytes) -> None:
    r = await api.post("/v1/checkouts", json=checkout_body(), headers=[(b"Idempotency-Key", key)])
    assert r.status_code == 422


async def test_validation_errors_are_replayed_too(api: httpx.AsyncClient, ctx: AppContext) -> None:
    h = {"Idempotency-Key": "bad-1"}
    a = await api.post("/v1/checkouts", json=checkout_body(currency="XYZ"), headers=h)
    b = await api.post("/v1/checkouts", json=checkout_body(currency="XYZ"), headers=h)
    assert a.status_code == b.status_code == 422
    assert a.json()["error"]["fields"] == b.json()["error"]["fields"]


async def test_concurrent_double_click_charges_once(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    token = stripe_emulator.tokenize()
    results: list[httpx.Response] = []

    async def click(key: str) -> None:
        results.append(await _pay(api, cid, {**headers, "Idempotency-Key": key}, token))

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(click, f"click-{i}")
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1, [r.text for r in results]
    assert all(s == 409 for s in statuses if s != 201)
    assert count(ctx, "orders") == 1
    with ctx.db.engine.connect() as conn:
        active = conn.execute(
            sa.text("SELECT COUNT(*) FROM payments WHERE status NOT IN ('failed','voided')")
        ).scalar_one()
    assert active == 1


async def test_a_checkout_cannot_change_while_its_payment_waits(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    pay = (
        await _pay(
            api, cid, headers, stripe_emulator.tokenize(THREE_DS), return_url="https://s.example/r"
        )
    ).json()
    assert pay["status"] == "requires_action"
    r = await api.patch(
        f"/v1/checkouts/{cid}",
        headers=headers,
        json={"lines": [{"sku": "HOODIE-GRY-L", "quantity": 5}]},
    )
    assert r.status_code == 409
    stripe_emulator.complete_3ds(pay["next_action"]["url"])
    done = await api.post(f"/v1/checkouts/{cid}/payments/{pay['id']}/refresh", headers=headers)
    assert done.json()["status"] == "captured"
    with ctx.db.engine.connect() as conn:
        total = conn.execute(sa.text("SELECT total FROM orders")).scalar_one()
    assert total == pay["amount"]["amount"] == 6200


async def test_an_unreachable_provider_is_502_and_the_payment_stays_processing(
    db_url: str, tmp_path: Path
) -> None:
    # Nothing listens on port 9 (discard) here: every attempt fails to connect.
    settings = make_settings(
        db_url, tmp_path / "d", "http://127.0.0.1:9", CHECKOUT_PROVIDER_TIMEOUT="2"
    )
    ctx = build_context(settings)
    seed_demo_catalog(ctx.catalog)
    try:
        transport = httpx.ASGITransport(app=create_public_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            cid, headers = await _checkout(api)
            r = await _pay(api, cid, headers, "pm_anything")
            assert r.status_code == 502
            err = r.json()["error"]
            assert err["code"] == "provider_unavailable"
            chk = (await api.get(f"/v1/checkouts/{cid}", headers=headers)).json()
            assert chk["status"] == "open"
        with ctx.db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, status FROM payments")).all()
        # Outcome unknown: never "failed", so a retry with the same key can settle it.
        assert [(row[0], row[1]) for row in rows] == [(err["payment_id"], "processing")]
        assert count(ctx, "orders") == 0
    finally:
        await ctx.aclose()


async def test_a_second_pay_takes_over_a_charge_whose_outcome_was_lost(
    db_url: str, tmp_path: Path, stripe_emulator: Emulator
) -> None:
    # First the provider is unreachable: the payment is written ahead and stays processing.
    down = build_context(make_settings(db_url, tmp_path / "d", "http://127.0.0.1:9"))
    seed_demo_catalog(down.catalog)
    try:
        transport = httpx.ASGITransport(app=create_public_app(down))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            cid, headers = await _checkout(api)
            token = stripe_emulator.tokenize()
            first = await _pay(api, cid, headers, token)
            assert first.status_code == 502
            # While the first request's lease runs, a second "Pay" is told to wait.
            assert (await _pay(api, cid, headers, token)).status_code == 409
    finally:
        await down.aclose()
    pay_id = first.json()["error"]["payment_id"]
    up = build_context(make_settings(db_url, tmp_path / "d", stripe_emulator.base_url))
    try:
        with up.db.engine.begin() as conn:  # the lease runs out
            conn.execute(sa.text("UPDATE payments SET locked_until = '2000-01-01 00:00:00'"))
        transport = httpx.ASGITransport(app=create_public_app(up))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            # The buyer tries again, even with a fresh token: the stored charge is re-sent.
            again = await _pay(api, cid, headers, stripe_emulator.tokenize())
            assert again.status_code == 201, again.text
            assert again.json()["id"] == pay_id and again.json()["status"] == "captured"
        with up.db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT COUNT(*) FROM payments")).scalar_one()
            orders = conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one()
        assert (rows, orders) == (1, 1)
    finally:
        await up.aclose()

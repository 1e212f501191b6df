"""Stripe webhooks: verified on raw bytes, stored once, applied by the worker from the
provider's current state, on each backend."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from customers.timestamps import as_utc
from providers.stripe.webhook import sign
from tests.conftest import Emulator
from tests.integration.helpers import checkout_body
from webhooks.tables import WebhookEventRow

pytestmark = pytest.mark.anyio

THREE_DS = "4000002760003184"


def _event(event_id: str, kind: str, pi: str, payment_id: str | None = None) -> bytes:
    obj: dict[str, Any] = {"id": pi, "object": "payment_intent"}
    if payment_id:
        obj["metadata"] = {"payment_id": payment_id}
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


async def _deliver(
    api: httpx.AsyncClient, ctx: AppContext, body: bytes, **header: str
) -> httpx.Response:
    secret = str(ctx.settings.stripe_webhook_secrets[0])
    sig = header.get("signature", sign(body, secret))
    return await api.post(
        "/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": sig, "Content-Type": "application/json"},
    )


def _inbox(ctx: AppContext) -> list[tuple[Any, ...]]:
    with ctx.db.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text("SELECT event_id, status, attempts FROM webhook_events ORDER BY id")
            )
        ]


async def _requires_action(
    api: httpx.AsyncClient, emulator: Emulator
) -> tuple[str, dict[str, str], dict[str, Any]]:
    chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
    headers = {"X-Checkout-Secret": chk["client_secret"]}
    pay = (
        await api.post(
            f"/v1/checkouts/{chk['id']}/payments",
            headers=headers,
            json={
                "provider": "stripe",
                "payment_token": emulator.tokenize(THREE_DS),
                "return_url": "https://shop.example/r",
            },
        )
    ).json()
    assert pay["status"] == "requires_action"
    return chk["id"], headers, pay


async def test_a_verified_event_is_stored_encrypted_and_answered_200(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    body = _event("evt_stored", "payment_intent.created", "pi_x")
    r = await _deliver(api, ctx, body)
    assert r.status_code == 200 and r.json() == {"received": True, "duplicate": False}
    assert _inbox(ctx) == [("evt_stored", "pending", 0)]
    with ctx.db.engine.connect() as conn:
        blob = conn.execute(sa.text("SELECT payload_enc FROM webhook_events")).scalar_one()
    assert b"pi_x" not in bytes(blob)


async def test_fifty_concurrent_deliveries_of_one_event_store_it_once(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    body = _event("evt_many", "payment_intent.created", "pi_y")
    answers: list[int] = []
    duplicate: list[bool] = []

    async def deliver() -> None:
        r = await _deliver(api, ctx, body)
        answers.append(r.status_code)
        duplicate.append(r.json()["duplicate"])

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(deliver)
    assert answers == [200] * 50
    # Deliveries arriving together share one transaction; still only one was the first.
    assert sorted(duplicate) == [False] + [True] * 49
    assert _inbox(ctx) == [("evt_many", "pending", 0)]


async def test_a_stored_event_reads_back_with_its_times_and_is_due(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    # On SQLite the inbox writes through the driver; what it wrote must read back through
    # the table's types exactly as a row SQLAlchemy wrote would.
    before = datetime.now(UTC)
    assert (await _deliver(api, ctx, _event("evt_t", "payment_intent.created", "pi_t"))).json()[
        "duplicate"
    ] is False
    after = datetime.now(UTC)
    table = WebhookEventRow.__table__  # type: ignore[attr-defined]
    with ctx.db.engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.event_id == "evt_t")).one()
        due = ctx.inbox.claim_due(conn, 10)
    for at in (row.received_at, row.next_attempt_at):
        assert isinstance(at, datetime)
        assert before - timedelta(seconds=1) <= as_utc(at) <= after + timedelta(seconds=1)
    assert (row.provider, row.type, row.provider_ref, row.status, row.attempts) == (
        "stripe",
        "payment_intent.created",
        "pi_t",
        "pending",
        0,
    )
    assert [d.event.event_id for d in due] == ["evt_t"]


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "t=1,v1=" + "0" * 64,
        "garbage",
        "x" * 5000,
    ],
)
async def test_forged_or_malformed_deliveries_are_400_and_nothing_is_stored(
    api: httpx.AsyncClient, ctx: AppContext, signature: str
) -> None:
    r = await _deliver(
        api, ctx, _event("evt_bad", "payment_intent.created", "pi_z"), signature=signature
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_webhook"
    assert _inbox(ctx) == []


async def test_a_stale_signature_is_400(api: httpx.AsyncClient, ctx: AppContext) -> None:
    body = _event("evt_old", "payment_intent.created", "pi_z")
    secret = str(ctx.settings.stripe_webhook_secrets[0])
    r = await _deliver(api, ctx, body, signature=sign(body, secret, int(time.time()) - 301))
    assert r.status_code == 400 and _inbox(ctx) == []


async def test_a_card_number_in_a_webhook_body_is_refused_not_stored(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    body = json.dumps(
        {
            "id": "evt_pan",
            "type": "x",
            "data": {"object": {"id": "pi_1", "note": "4242424242424242"}},
        }
    ).encode()
    r = await _deliver(api, ctx, body)
    assert r.status_code == 422 and _inbox(ctx) == []


async def test_a_webhook_settles_three_d_secure_without_a_refresh(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers, pay = await _requires_action(api, stripe_emulator)
    stripe_emulator.complete_3ds(pay["next_action"]["url"])
    pi = pay["next_action"]["url"].split("/3ds/")[1].split("?")[0]
    assert (
        await _deliver(api, ctx, _event("evt_3ds", "payment_intent.succeeded", pi, pay["id"]))
    ).status_code == 200
    counts = await ctx.inbox_worker.drain_once()
    assert counts["applied"] == 1
    chk = (await api.get(f"/v1/checkouts/{cid}", headers=headers)).json()
    assert chk["status"] == "completed" and chk["order_id"]
    # The same event again: one more row? No. Applied again? Changes nothing.
    assert (
        await _deliver(api, ctx, _event("evt_3ds", "payment_intent.succeeded", pi, pay["id"]))
    ).json()["duplicate"] is True
    assert _inbox(ctx) == [("evt_3ds", "processed", 0)]


async def test_an_older_event_after_a_newer_one_leaves_the_newer_state(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    _, _, pay = await _requires_action(api, stripe_emulator)
    stripe_emulator.complete_3ds(pay["next_action"]["url"])
    pi = pay["next_action"]["url"].split("/3ds/")[1].split("?")[0]
    # Delivered in the wrong order: success first, then a stale "requires action".
    await _deliver(api, ctx, _event("evt_a", "payment_intent.succeeded", pi, pay["id"]))
    await _deliver(api, ctx, _event("evt_b", "payment_intent.requires_action", pi, pay["id"]))
    await ctx.inbox_worker.drain_once()
    with ctx.db.engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM payments")).scalar_one()
        orders = conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one()
    assert (status, orders) == ("captured", 1)


async def test_an_event_about_an_unknown_payment_is_retried_then_dead(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    await _deliver(api, ctx, _event("evt_unknown", "payment_intent.succeeded", "pi_nobody"))
    counts = await ctx.inbox_worker.drain_once()
    assert counts["retried"] == 1
    assert _inbox(ctx) == [("evt_unknown", "pending", 1)]
    # Not due yet: nothing is taken.
    assert sum((await ctx.inbox_worker.drain_once()).values()) == 0
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE webhook_events SET attempts = 14, next_attempt_at = '2000-01-01 00:00:00'"
            )
        )
    assert (await ctx.inbox_worker.drain_once())["dead"] == 1
    with ctx.db.engine.connect() as conn:
        reason = conn.execute(sa.text("SELECT last_error FROM webhook_events")).scalar_one()
    assert reason == "unknown object"


async def test_events_of_other_types_are_recorded_and_left_alone(
    api: httpx.AsyncClient, ctx: AppContext
) -> None:
    body = json.dumps(
        {
            "id": "evt_cust",
            "type": "customer.created",
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    ).encode()
    await _deliver(api, ctx, body)
    assert (await ctx.inbox_worker.drain_once())["ignored"] == 1
    assert _inbox(ctx) == [("evt_cust", "processed", 0)]

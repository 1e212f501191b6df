"""Order events to integrations: subscribed on the private listener, written to the outbox
with each change, delivered signed, retried until the endpoint recovers, on each backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from checkout.access.scopes import Scope
from checkout.context import AppContext
from checkout.web.factory import create_private_app
from tests.conftest import Emulator
from tests.integration.helpers import count, pay_checkout
from tests.webhook_receiver import Receiver, receiver, signature_ok
from webhooks.delivery import HttpSender, OutboundDeliveries, RetryPolicy, redeliver
from webhooks.subscriptions import EndpointRefused, Subscriptions

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(
    first_retry=timedelta(milliseconds=20),
    max_delay=timedelta(milliseconds=100),
    give_up_after=timedelta(hours=1),
)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as rec:
        yield rec


def _deliverer(ctx: AppContext, policy: RetryPolicy = FAST, **kw: Any) -> OutboundDeliveries:
    subs = Subscriptions(ctx.cipher, require_https=False)
    return OutboundDeliveries(ctx.uow, subs, HttpSender(timeout=5), policy=policy, **kw)


def _key(ctx: AppContext, *scopes: Scope) -> dict[str, str]:
    _, secret = ctx.api_keys.create(frozenset(scopes))
    return {"Authorization": f"Bearer {secret}"}


async def _subscribe(ctx: AppContext, url: str, events: list[str]) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=create_private_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://private.test") as s2s:
        r = await s2s.post(
            "/s2s/v1/webhook-endpoints",
            headers=_key(ctx, Scope.WEBHOOKS_MANAGE),
            json={"url": url, "events": events},
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _drain(d: OutboundDeliveries, rec: Receiver, n: int, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(rec.accepted()) < n:
        assert loop.time() < deadline, f"only {len(rec.accepted())} of {n}: {rec.received}"
        await d.run_once()
        await asyncio.sleep(0.02)


# -- the private API ------------------------------------------------------------------


async def test_subscribing_needs_a_live_key_with_the_webhooks_scope(
    ctx: AppContext, private_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["order.paid"]}
    path = "/s2s/v1/webhook-endpoints"
    r = await private_api.post(path, json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await private_api.post(path, json=body, headers={"Authorization": "Bearer sk_nope"})
    assert r.status_code == 401
    r = await private_api.post(path, json=body, headers=_key(ctx, Scope.ORDERS_READ))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    key, secret = ctx.api_keys.create(frozenset({Scope.WEBHOOKS_MANAGE}))
    auth = {"Authorization": f"Bearer {secret}"}
    r = await private_api.post(path, json=body, headers=auth)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"].startswith("whe_") and created["secret"].startswith("whsec_")
    assert created["events"] == ["order.paid"] and created["status"] == "enabled"
    (used,) = [k for k in ctx.api_keys.list() if k.id == key.id]
    assert used.last_used_at is not None

    # The secret is shown once: neither the list nor the database holds it in clear.
    listed = (await private_api.get(path, headers=auth)).json()["data"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    with ctx.db.engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT secret_enc FROM webhook_endpoints")).scalar_one()
    assert created["secret"].encode() not in bytes(raw)

    # Revoked: refused on the next request. And the route does not exist publicly.
    assert ctx.api_keys.revoke(key.id)
    assert (await private_api.get(path, headers=auth)).status_code == 401
    assert (await api.post(path, json=body, headers=auth)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["order.paid"]}, "url"),
        ({"url": "https://user:pw@example.com/x", "events": ["order.paid"]}, "url"),
        ({"url": "not a url", "events": ["order.paid"]}, "url"),
        ({"url": "https://example.com/" + "a" * 2100, "events": ["order.paid"]}, "url"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x", "events": ["order.exploded"]}, "events"),
        ({"url": "https://example.com/x"}, "events"),
        ({"url": 7, "events": ["order.paid"]}, "url"),
    ],
)
async def test_a_bad_subscription_is_a_validation_error_naming_the_field(
    ctx: AppContext, private_api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await private_api.post(
        "/s2s/v1/webhook-endpoints", json=body, headers=_key(ctx, Scope.WEBHOOKS_MANAGE)
    )
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["fields"]
    assert count(ctx, "webhook_endpoints") == 0


async def test_production_accepts_only_https_endpoints(ctx: AppContext) -> None:
    subs = Subscriptions(ctx.cipher, require_https=True)
    with ctx.uow.write() as conn:
        with pytest.raises(EndpointRefused, match="https"):
            subs.create(conn, "http://erp.example.com/hooks", ["order.paid"])
        # Loopback stays allowed (a sidecar on the same host).
        subs.create(conn, "http://127.0.0.1:9000/hooks", ["order.paid"])
        subs.create(conn, "https://erp.example.com/hooks", ["order.paid"])


# -- what is sent, and when ---------------------------------------------------------------


async def test_a_paid_checkout_sends_created_then_paid_signed_and_without_personal_data(
    ctx: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    sub = await _subscribe(ctx, hook.url, ["order.created", "order.paid"])
    pay = await pay_checkout(ctx, stripe_emulator)
    d = _deliverer(ctx)
    await _drain(d, hook, 2)
    created, paid = sorted(hook.accepted(), key=lambda e: e["type"])
    assert [created["type"], paid["type"]] == ["order.created", "order.paid"]
    for event in (created, paid):
        assert event["id"].startswith("evt_") and isinstance(event["created"], int)
        assert event["data"]["order"]["id"] == pay["order_id"]
        assert event["data"]["order"]["total"] == {"amount": 6200, "currency": "USD"}
        assert event["data"]["payment"]["id"] == pay["id"]
    assert paid["data"]["order"]["status"] == "paid"
    assert [ln["sku"] for ln in created["data"]["order"]["lines"]] == ["TSHIRT-BLK-M", "MUG-WHITE"]
    for r in hook.received:
        assert r.headers["content-type"] == "application/json"
        assert r.headers["checkout-event-id"] == r.event["id"]
        assert signature_ok(sub["secret"], r.body, r.headers["checkout-signature"])
        assert not signature_ok("whsec_other", r.body, r.headers["checkout-signature"])
        # Integrations read personal data through a scoped key, not from events.
        assert b"jane" not in r.body.lower() and b"Main St" not in r.body
    # Delivered is final: another pass sends nothing more.
    await d.run_once()
    assert len(hook.received) == 2


async def test_capture_refunds_and_void_each_send_their_event(
    manual: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    await _subscribe(manual, hook.url, ["order.paid", "order.refunded", "order.canceled"])
    pay = await pay_checkout(manual, stripe_emulator)
    assert pay["status"] == "authorized"
    await manual.operations.capture(pay["id"])
    await manual.operations.refund(pay["id"], 1000)
    await manual.operations.refund(pay["id"], 500)
    voided = await pay_checkout(manual, stripe_emulator)
    await manual.operations.void(voided["id"])
    await _drain(_deliverer(manual), hook, 4)
    # Deliveries run concurrently, so arrival order is not promised (as with Stripe):
    # receivers order by the state carried in each event.
    events = sorted(
        hook.accepted(),
        key=lambda e: (e["type"], e["data"]["payment"]["amount_refunded"]["amount"]),
    )
    assert [e["type"] for e in events] == [
        "order.canceled",
        "order.paid",
        "order.refunded",
        "order.refunded",
    ]
    canceled, paid, first, second = events
    assert paid["data"]["order"]["id"] == pay["order_id"]
    assert paid["data"]["payment"]["amount_captured"]["amount"] == 6200
    assert [e["data"]["refund"]["amount"]["amount"] for e in (first, second)] == [1000, 500]
    assert second["data"]["order"]["status"] == "partially_refunded"
    assert second["data"]["payment"]["amount_refunded"]["amount"] == 1500
    assert canceled["data"]["order"]["id"] == voided["order_id"]
    assert canceled["data"]["order"]["status"] == "canceled"
    # Subscribed to neither: no order.created went out, though both were recorded.
    assert count(manual, "outbox_events") == 6


async def test_an_endpoint_gets_only_what_it_subscribed_to_and_nothing_after_disabling(
    ctx: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    sub = await _subscribe(ctx, hook.url, ["order.paid"])
    await pay_checkout(ctx, stripe_emulator)
    d = _deliverer(ctx)
    await _drain(d, hook, 1)
    assert [e["type"] for e in hook.accepted()] == ["order.paid"]
    await ctx.webhook_endpoints.disable(sub["id"])
    await pay_checkout(ctx, stripe_emulator)
    await d.run_once()
    await d.run_once()
    assert len(hook.received) == 1


# -- faults ---------------------------------------------------------------------------


async def test_an_endpoint_that_fails_for_a_while_gets_each_event_once_it_recovers(
    ctx: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    await _subscribe(ctx, hook.url, ["order.created", "order.paid"])
    for _ in range(3):
        await pay_checkout(ctx, stripe_emulator)
    hook.failing = 9  # the first nine attempts are refused with 503
    d = _deliverer(ctx)
    await _drain(d, hook, 6)
    events = hook.accepted()
    assert len(events) == 6 and len({e["id"] for e in events}) == 6
    assert sum(r.answered == 503 for r in hook.received) == 9
    # A retried event carried the same id and the same bytes as its failed attempts.
    by_id: dict[str, set[bytes]] = {}
    for r in hook.received:
        by_id.setdefault(r.event["id"], set()).add(r.body)
    assert all(len(bodies) == 1 for bodies in by_id.values())
    rows = _deliveries(ctx)
    assert {row.status for row in rows} == {"delivered"}
    assert sum(row.attempts for row in rows) == 6 + 9


async def test_an_endpoint_that_never_answers_is_given_up_after_the_window(
    ctx: AppContext, stripe_emulator: Emulator
) -> None:
    await _subscribe(ctx, "http://127.0.0.1:9/closed", ["order.paid"])
    await pay_checkout(ctx, stripe_emulator)
    gone = RetryPolicy(
        first_retry=timedelta(milliseconds=10),
        max_delay=timedelta(milliseconds=10),
        give_up_after=timedelta(milliseconds=300),
    )
    d = _deliverer(ctx, gone)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await d.run_once())["failed"] == 0:
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    (row,) = _deliveries(ctx)
    assert row.status == "failed" and row.attempts >= 2
    assert row.last_error == "ConnectError"
    assert (await d.run_once())["retried"] == 0


async def test_a_deliverer_that_dies_mid_send_leaves_the_event_to_be_sent_again(
    ctx: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    await _subscribe(ctx, hook.url, ["order.paid"])
    await pay_checkout(ctx, stripe_emulator)
    started = asyncio.Event()

    async def hang(url: str, body: bytes, headers: Any) -> int:
        started.set()
        await asyncio.sleep(3600)
        return 200

    subs = Subscriptions(ctx.cipher, require_https=False)
    lease = timedelta(milliseconds=300)
    dying = OutboundDeliveries(ctx.uow, subs, hang, policy=FAST, lease=lease)
    task = asyncio.create_task(dying.run_once())
    await started.wait()
    task.cancel()  # the process is gone; its claim stays until the lease runs out
    with pytest.raises(asyncio.CancelledError):
        await task
    d = _deliverer(ctx, lease=lease)
    assert (await d.run_once())["delivered"] == 0  # still leased
    await asyncio.sleep(0.4)
    await _drain(d, hook, 1)
    assert len(hook.received) == 1


async def test_two_deliverers_at_once_send_each_event_once(
    ctx: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    await _subscribe(ctx, hook.url, ["order.created", "order.paid"])
    for _ in range(5):
        await pay_checkout(ctx, stripe_emulator)
    a, b = _deliverer(ctx, batch=3), _deliverer(ctx, batch=3)
    for _ in range(10):
        await asyncio.gather(a.run_once(), b.run_once())
    events = hook.accepted()
    assert len(events) == 10 and len({e["id"] for e in events}) == 10
    assert len(hook.received) == 10


def _deliveries(ctx: AppContext) -> list[Any]:
    with ctx.db.engine.connect() as conn:
        return list(
            conn.execute(sa.text("SELECT status, attempts, last_error FROM webhook_deliveries"))
        )


async def test_changes_made_at_the_provider_move_the_order_and_send_events(
    manual: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    """A capture and a refund done in the provider's dashboard reach us by webhook or
    reconciliation (both end in ``settle``); the order follows and integrations hear."""
    await _subscribe(manual, hook.url, ["order.paid", "order.refunded"])
    pay = await pay_checkout(manual, stripe_emulator)
    with manual.db.engine.connect() as conn:
        ref = conn.execute(
            sa.text("SELECT provider_ref FROM payments WHERE id = :id"), {"id": pay["id"]}
        ).scalar_one()
    stripe = manual.providers["stripe"]
    await stripe.capture(ref, None, f"dashboard-capture-{ref}")
    await manual.payments.settle(pay["id"], await stripe.fetch(ref))
    await stripe.refund(ref, 6200, f"dashboard-refund-{ref}")
    fetched = await stripe.fetch(ref)
    after = await manual.payments.settle(pay["id"], fetched)
    # Applying the same provider state again changes nothing and sends nothing more.
    await manual.payments.settle(pay["id"], await stripe.fetch(ref))
    assert after.status == "refunded"
    with manual.db.engine.connect() as conn:
        order_status = conn.execute(
            sa.text("SELECT status FROM orders WHERE id = :id"), {"id": pay["order_id"]}
        ).scalar_one()
    assert order_status == "refunded"
    await _drain(_deliverer(manual), hook, 2)
    assert sorted(e["type"] for e in hook.accepted()) == ["order.paid", "order.refunded"]
    assert count(manual, "outbox_events") == 3  # and order.created, which nobody wanted


# -- fulfillments (a warehouse with an orders:fulfill key) ---------------------------------


async def test_a_warehouse_ships_an_order_in_two_parcels_and_integrations_hear_each(
    ctx: AppContext,
    stripe_emulator: Emulator,
    hook: Receiver,
    private_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
) -> None:
    await _subscribe(ctx, hook.url, ["order.fulfilled"])
    pay = await pay_checkout(ctx, stripe_emulator)
    path = f"/s2s/v1/orders/{pay['order_id']}/fulfillments"
    body = {"carrier": "DHL", "tracking_number": "JD014600006281230704"}
    # The scope is orders:fulfill; managing webhooks does not grant it.
    denied = await private_api.post(path, json=body, headers=_key(ctx, Scope.WEBHOOKS_MANAGE))
    assert denied.status_code == 403
    assert (
        await api.post(path, json=body, headers=_key(ctx, Scope.ORDERS_FULFILL))
    ).status_code == 404

    key, secret = ctx.api_keys.create(frozenset({Scope.ORDERS_FULFILL}))
    auth = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "parcel-1"}
    first = await private_api.post(path, json=body, headers=auth)
    assert first.status_code == 201, first.text
    replay = await private_api.post(path, json=body, headers=auth)
    assert replay.content == first.content  # a retried request records no second parcel
    shipped = first.json()
    assert shipped["id"].startswith("ful_") and shipped["carrier"] == "DHL"
    second = await private_api.post(
        path,
        json={"carrier": "UPS", "tracking_number": "1Z999AA10123456784"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert second.status_code == 201
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor FROM fulfillments")).scalars().all()
        fulfilled_at = conn.execute(
            sa.text("SELECT fulfilled_at FROM orders WHERE id = :id"), {"id": pay["order_id"]}
        ).scalar_one()
    assert rows == [key.id, key.id] and fulfilled_at is not None

    await _drain(_deliverer(ctx), hook, 2)
    events = hook.accepted()
    assert {e["data"]["fulfillment"]["carrier"] for e in events} == {"DHL", "UPS"}
    assert all(e["type"] == "order.fulfilled" for e in events)
    assert all(e["data"]["order"]["fulfilled"] is not None for e in events)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"carrier": "DHL"}, 422),
        ({"carrier": "DHL\n", "tracking_number": "\x01\x02"}, 422),
        ({"carrier": "  ", "tracking_number": "X1"}, 422),
        ({"carrier": "D" * 65, "tracking_number": "X1"}, 422),
        ({"carrier": "DHL", "tracking_number": "X1", "address": "elsewhere"}, 422),
    ],
)
async def test_a_bad_fulfillment_is_refused_and_records_nothing(
    ctx: AppContext,
    stripe_emulator: Emulator,
    private_api: httpx.AsyncClient,
    body: dict[str, Any],
    status: int,
) -> None:
    pay = await pay_checkout(ctx, stripe_emulator)
    r = await private_api.post(
        f"/s2s/v1/orders/{pay['order_id']}/fulfillments",
        json=body,
        headers=_key(ctx, Scope.ORDERS_FULFILL),
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert count(ctx, "fulfillments") == 0


async def test_unknown_canceled_and_refunded_orders_cannot_be_fulfilled(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    transport = httpx.ASGITransport(app=create_private_app(manual))
    body = {"carrier": "DHL", "tracking_number": "X1"}
    async with httpx.AsyncClient(transport=transport, base_url="http://p") as s2s:
        auth = _key(manual, Scope.ORDERS_FULFILL)
        missing = await s2s.post("/s2s/v1/orders/ord_nope/fulfillments", json=body, headers=auth)
        assert missing.status_code == 404
        voided = await pay_checkout(manual, stripe_emulator)
        await manual.operations.void(voided["id"])
        refunded = await pay_checkout(manual, stripe_emulator)
        await manual.operations.capture(refunded["id"])
        await manual.operations.refund(refunded["id"], 6200)
        for pay in (voided, refunded):
            r = await s2s.post(
                f"/s2s/v1/orders/{pay['order_id']}/fulfillments", json=body, headers=auth
            )
            assert r.status_code == 409, r.text
        # An authorized order may ship (merchants who capture on shipment).
        held = await pay_checkout(manual, stripe_emulator)
        ok = await s2s.post(
            f"/s2s/v1/orders/{held['order_id']}/fulfillments", json=body, headers=auth
        )
        assert ok.status_code == 201
    assert count(manual, "fulfillments") == 1


async def test_metrics_show_what_waits(
    ctx: AppContext, stripe_emulator: Emulator, private_api: httpx.AsyncClient
) -> None:
    await _subscribe(ctx, "http://127.0.0.1:9/closed", ["order.created", "order.paid"])
    await pay_checkout(ctx, stripe_emulator)
    assert (await _deliverer(ctx).run_once())["retried"] == 2
    text = (await private_api.get("/metrics")).text
    assert 'checkout_backlog{queue="deliveries_pending"} 2.0' in text
    assert 'checkout_backlog{queue="deliveries_failed"} 0.0' in text
    assert 'checkout_backlog{queue="inbox_dead"} 0.0' in text
    assert 'checkout_backlog{queue="payments_held_for_review"} 0.0' in text


async def test_a_given_up_event_is_sent_again_on_request(
    ctx: AppContext, stripe_emulator: Emulator, hook: Receiver
) -> None:
    await _subscribe(ctx, hook.url, ["order.paid"])
    await pay_checkout(ctx, stripe_emulator)
    hook.failing = 1000
    short = RetryPolicy(
        first_retry=timedelta(milliseconds=10),
        max_delay=timedelta(milliseconds=50),
        give_up_after=timedelta(seconds=1),
    )
    d = _deliverer(ctx, short)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await d.run_once())["failed"] == 0:
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    (event_id,) = {r.event["id"] for r in hook.received}
    hook.failing = 0
    with ctx.uow.write() as conn:
        assert redeliver(conn, "evt_unknown") == 0
        assert redeliver(conn, event_id) == 1
    # A fresh window: with the same short policy it is not given up at the first try.
    hook.failing = 1
    await _drain(_deliverer(ctx, short), hook, 1)
    assert [e["id"] for e in hook.accepted()] == [event_id]


async def test_a_capture_and_refund_made_before_we_hear_of_either_land_in_one_step(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    pay = await pay_checkout(manual, stripe_emulator)
    assert pay["status"] == "authorized"
    with manual.db.engine.connect() as conn:
        ref = conn.execute(
            sa.text("SELECT provider_ref FROM payments WHERE id = :id"), {"id": pay["id"]}
        ).scalar_one()
    stripe = manual.providers["stripe"]
    await stripe.capture(ref, None, f"both-capture-{ref}")
    await stripe.refund(ref, 2000, f"both-refund-{ref}")
    after = await manual.payments.settle(pay["id"], await stripe.fetch(ref))
    assert after.status == "partially_refunded"
    assert (after.amount_captured, after.amount_refunded) == (6200, 2000)
    with manual.db.engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM orders WHERE id = :id"), {"id": pay["order_id"]}
        ).scalar_one()
        types = conn.execute(sa.text("SELECT type FROM outbox_events ORDER BY seq")).scalars()
        assert list(types) == ["order.created", "order.paid", "order.refunded"]
    assert status == "partially_refunded"

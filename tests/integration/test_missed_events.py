"""Events whose webhooks never arrived: reconciliation reads Stripe's event list into the
inbox and the worker applies them, on each backend. The emulator's endpoint is "down"
(every delivery dropped), so the event list is the only way news reaches us."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa

from checkout.config import DEV_STRIPE_PUBLISHABLE_KEY, DEV_STRIPE_SECRET_KEY
from checkout.context import AppContext, build_context
from checkout.seed import seed_demo_catalog
from checkout.web.factory import create_public_app
from providers.base import ProviderEvent
from providers.retry import NO_RETRY
from providers.stripe import StripeProvider
from providers.stripe.wire import PAYMENT_EVENT_TYPES
from providers.stripe_emulator import EmulatorState
from providers.stripe_emulator import create_app as create_stripe_emulator
from providers.stripe_emulator.events import Event
from tests.conftest import Emulator, make_settings, serve_in_thread
from tests.integration.helpers import checkout_body, count
from webhooks import cursors
from webhooks.catchup import EventCatchUp

pytestmark = pytest.mark.anyio

VISA, DECLINE, THREE_DS = "4242424242424242", "4000000000000002", "4000002760003184"
SECRET_HEADER = {"Authorization": f"Bearer {DEV_STRIPE_SECRET_KEY}"}
T0 = 1_800_000_000


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh account whose webhook endpoint is down: every delivery is dropped."""

    def make(base: str) -> Any:
        app = create_stripe_emulator(
            secret_key=DEV_STRIPE_SECRET_KEY,
            publishable_key=DEV_STRIPE_PUBLISHABLE_KEY,
            public_base_url=base,
            webhook_url="http://127.0.0.1:9/webhooks/stripe",
            webhook_secret="whsec_never_used",
        )
        app.state.deliveries.set(mode="drop")
        return app

    with serve_in_thread(make) as (base, app):
        yield Emulator(base, app)


@dataclass
class Shop:
    ctx: AppContext
    api: httpx.AsyncClient


@pytest.fixture
async def shops(
    db_url: str, tmp_path: Path, emulator: Emulator
) -> AsyncIterator[tuple[Shop, Shop]]:
    """Two service processes on one database: capturing at once, and authorizing only."""
    made: list[Shop] = []
    clients: list[httpx.AsyncClient] = []
    try:
        for mode in ("automatic", "manual"):
            ctx = build_context(
                make_settings(
                    db_url, tmp_path / "data", emulator.base_url, CHECKOUT_CAPTURE_MODE=mode
                )
            )
            transport = httpx.ASGITransport(app=create_public_app(ctx))
            client = httpx.AsyncClient(transport=transport, base_url="http://public.test")
            clients.append(client)
            made.append(Shop(ctx, client))
        seed_demo_catalog(made[0].ctx.catalog)
        yield made[0], made[1]
    finally:
        for client in clients:
            await client.aclose()
        for shop in made:
            await shop.ctx.aclose()


async def _pay(shop: Shop, emulator: Emulator, card: str, **extra: Any) -> dict[str, Any]:
    chk = (await shop.api.post("/v1/checkouts", json=checkout_body())).json()
    r = await shop.api.post(
        f"/v1/checkouts/{chk['id']}/payments",
        headers={"X-Checkout-Secret": chk["client_secret"]},
        json={"provider": "stripe", "payment_token": emulator.tokenize(card), **extra},
    )
    body: dict[str, Any] = r.json()
    return body["error"] if r.status_code == 402 else body


def _payments(ctx: AppContext) -> dict[str, dict[str, Any]]:
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, provider_ref, status, amount_captured, amount_refunded, order_id "
                "FROM payments"
            )
        ).mappings()
        return {row["id"]: dict(row) for row in rows}


def _at_emulator(emulator: Emulator, path: str, **form: str) -> None:
    """What the merchant does in Stripe's dashboard, behind our back."""
    r = httpx.post(f"{emulator.base_url}{path}", headers=SECRET_HEADER, data=form)
    assert r.status_code == 200, r.text


async def _drain(ctx: AppContext) -> None:
    while sum((await ctx.inbox_worker.drain_once()).values()):
        pass


def _payment_events(emulator: Emulator) -> int:
    r = httpx.get(f"{emulator.base_url}/v1/events?limit=100", headers=SECRET_HEADER)
    return sum(e["type"] in PAYMENT_EVENT_TYPES for e in r.json()["data"])


async def test_with_the_endpoint_down_reconciliation_alone_brings_every_payment_to_stripes_state(
    shops: tuple[Shop, Shop], emulator: Emulator
) -> None:
    shop, manual = shops
    ctx = shop.ctx
    succeeded = await _pay(shop, emulator, VISA)
    declined = await _pay(shop, emulator, DECLINE)
    three_ds = await _pay(shop, emulator, THREE_DS, return_url="https://shop.example/r")
    refunded = await _pay(shop, emulator, VISA)
    authorized = await _pay(manual, emulator, VISA)
    assert (succeeded["status"], declined["code"], three_ds["status"]) == (
        "captured",
        "payment_failed",
        "requires_action",
    )
    assert (refunded["status"], authorized["status"]) == ("captured", "authorized")
    before = _payments(ctx)

    # At the provider, behind our back: the buyer passes 3-D Secure, the merchant captures
    # the authorization and refunds part of a captured payment from the dashboard.
    emulator.complete_3ds(three_ds["next_action"]["url"])
    _at_emulator(
        emulator, f"/v1/payment_intents/{before[authorized['id']]['provider_ref']}/capture"
    )
    _at_emulator(
        emulator,
        "/v1/refunds",
        payment_intent=before[refunded["id"]]["provider_ref"],
        amount="1000",
    )
    faults = emulator.app.state.faults
    assert faults.count("webhooks.dropped") > 0 and faults.count("webhooks.delivered") == 0
    # Nothing here knows yet; refunded and authorized even look settled.
    assert [before[p["id"]]["status"] for p in (three_ds, refunded, authorized)] == [
        "requires_action",
        "captured",
        "authorized",
    ]

    report = await ctx.reconciler.run_once()
    # Too recent for the unsettled-payment check: the event list did it all.
    assert report.checked == 0 and report.failed == 0
    assert report.events_recovered == _payment_events(emulator) == 8
    await _drain(ctx)

    after = _payments(ctx)
    stripe = ctx.providers["stripe"]
    for payment in after.values():
        truth = await stripe.fetch(payment["provider_ref"])
        assert (
            payment["status"],
            payment["amount_captured"],
            payment["amount_refunded"],
        ) == (truth.status, truth.amount_captured, truth.amount_refunded), payment["id"]
    assert {pid: p["status"] for pid, p in after.items()} == {
        succeeded["id"]: "captured",
        declined["payment_id"]: "failed",
        three_ds["id"]: "captured",
        refunded["id"]: "partially_refunded",
        authorized["id"]: "captured",
    }
    assert after[refunded["id"]]["amount_refunded"] == 1000
    # One order per secured payment; the one 3-D Secure completed was created just now.
    assert after[three_ds["id"]]["order_id"] is not None
    assert count(ctx, "orders") == 4
    inbox = count(ctx, "webhook_events")

    again = await ctx.reconciler.run_once()
    assert again.events_recovered == 0 and count(ctx, "webhook_events") == inbox


def _add_events(emulator: Emulator, n: int, created: int) -> None:
    state: EmulatorState = emulator.app.state.emulator
    with state.lock:
        for i in range(n):
            event_id = f"evt_{created}_{i:04d}"
            body = {
                "id": event_id,
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": created,
                "data": {"object": {"id": f"pi_{i}", "object": "payment_intent"}},
            }
            state.events.add(
                Event(event_id, "payment_intent.succeeded", created, json.dumps(body).encode())
            )


@pytest.fixture
async def stripe_source(emulator: Emulator) -> AsyncIterator[StripeProvider]:
    source = StripeProvider(
        secret_key=DEV_STRIPE_SECRET_KEY, api_base=emulator.base_url, retry=NO_RETRY
    )
    try:
        yield source
    finally:
        await source.aclose()


def _cursor(ctx: AppContext) -> dict[str, Any]:
    with ctx.db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT created_gte, resume_after, window_newest, locked_until FROM event_cursors"
            )
        ).mappings()
        return dict(row.one())


def _catch_up(ctx: AppContext, source: StripeProvider, **options: Any) -> EventCatchUp:
    return EventCatchUp(ctx.inbox, ctx.uow, [source], clock=lambda: T0 + 3600, **options)


async def test_the_cursor_trails_the_newest_event_by_the_overlap(
    shops: tuple[Shop, Shop], emulator: Emulator, stripe_source: StripeProvider
) -> None:
    ctx = shops[0].ctx
    _add_events(emulator, 3, T0)
    _add_events(emulator, 2, T0 + 600)
    first = await _catch_up(ctx, stripe_source).run_once()
    assert (first.listed, first.recovered, first.failed) == (5, 5, 0)
    assert _cursor(ctx) == {
        "created_gte": T0 + 600 - 300,
        "resume_after": None,
        "window_newest": None,
        "locked_until": None,
    }
    # An event listed late, inside the overlap, is still found; older ones are not listed.
    _add_events(emulator, 1, T0 + 400)
    second = await _catch_up(ctx, stripe_source).run_once()
    assert (second.listed, second.recovered) == (3, 1)
    assert count(ctx, "webhook_events") == 6


async def test_a_pass_stops_at_its_page_cap_and_the_next_resumes_where_it_stopped(
    shops: tuple[Shop, Shop], emulator: Emulator, stripe_source: StripeProvider
) -> None:
    ctx = shops[0].ctx
    _add_events(emulator, 150, T0)
    _add_events(emulator, 30, T0 + 10)
    catch_up = _catch_up(ctx, stripe_source, max_pages=1)
    first = await catch_up.run_once()
    assert first.recovered == 100
    held = _cursor(ctx)
    assert held["created_gte"] == T0 + 3600 - 24 * 3600  # the first look-back
    assert held["resume_after"] is not None and held["window_newest"] == T0 + 10
    # Meanwhile newer events arrive; the window is finished first, then they are read.
    _add_events(emulator, 5, T0 + 20)
    second = await catch_up.run_once()
    assert second.recovered == 80
    assert _cursor(ctx)["created_gte"] == T0 + 10 - 300
    third = await catch_up.run_once()
    assert third.recovered == 5
    assert count(ctx, "webhook_events") == 185


async def test_a_pass_is_skipped_while_another_worker_holds_the_cursor(
    shops: tuple[Shop, Shop], emulator: Emulator, stripe_source: StripeProvider
) -> None:
    ctx = shops[0].ctx
    _add_events(emulator, 3, T0)
    with ctx.db.engine.begin() as conn:
        held = cursors.claim(conn, "stripe", start_at=T0 - 3600, lease=timedelta(hours=1))
    assert held is not None
    skipped = await _catch_up(ctx, stripe_source).run_once()
    assert (skipped.listed, skipped.recovered) == (0, 0)
    with ctx.db.engine.begin() as conn:  # the holder died; its lease ran out
        conn.execute(sa.text("UPDATE event_cursors SET locked_until = '2000-01-01 00:00:00'"))
    taken = await _catch_up(ctx, stripe_source).run_once()
    assert taken.recovered == 3
    with ctx.db.engine.begin() as conn:
        # The dead holder cannot move the cursor under its successor.
        assert not cursors.save(conn, held, created_gte=0, resume_after=None, window_newest=None)
    assert _cursor(ctx)["created_gte"] == T0 - 300


async def test_concurrent_passes_store_each_event_once(
    shops: tuple[Shop, Shop], emulator: Emulator, stripe_source: StripeProvider
) -> None:
    ctx = shops[0].ctx
    _add_events(emulator, 40, T0)
    results = []

    async def one() -> None:
        results.append(await _catch_up(ctx, stripe_source).run_once())

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(one)
    assert sum(r.recovered for r in results) == 40
    assert count(ctx, "webhook_events") == 40


async def test_a_resume_point_the_provider_no_longer_has_restarts_the_window(
    shops: tuple[Shop, Shop], emulator: Emulator, stripe_source: StripeProvider
) -> None:
    ctx = shops[0].ctx
    _add_events(emulator, 3, T0)
    catch_up = _catch_up(ctx, stripe_source)
    await catch_up.run_once()
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE event_cursors SET resume_after = 'evt_expired'"))
    failed = await catch_up.run_once()
    assert (failed.failed, failed.recovered) == (1, 0)
    assert _cursor(ctx)["resume_after"] is None and _cursor(ctx)["locked_until"] is None
    _add_events(emulator, 2, T0 + 1)
    assert (await catch_up.run_once()).recovered == 2


async def test_an_unreachable_provider_fails_the_pass_and_lets_the_cursor_go(
    shops: tuple[Shop, Shop],
) -> None:
    ctx = shops[0].ctx
    down = StripeProvider(
        secret_key=DEV_STRIPE_SECRET_KEY, api_base="http://127.0.0.1:9", retry=NO_RETRY
    )
    try:
        result = await _catch_up(ctx, down).run_once()
    finally:
        await down.aclose()
    assert (result.failed, result.recovered) == (1, 0)
    assert _cursor(ctx)["locked_until"] is None


async def test_known_finds_kept_events_among_many_ids(shops: tuple[Shop, Shop]) -> None:
    ctx = shops[0].ctx
    kept = [f"evt_kept_{i}" for i in range(3)]
    for event_id in kept:
        event = ProviderEvent("stripe", event_id, "payment_intent.succeeded", "pi_1", None, T0)
        assert await ctx.inbox.store(event, b"{}")
    asked = [f"evt_other_{i}" for i in range(1200)]
    asked[100:100] = kept[:1]
    asked[700:700] = kept[1:]
    assert await ctx.inbox.known("stripe", asked) == set(kept)
    assert await ctx.inbox.known("paypal", asked) == set()
    assert await ctx.inbox.known("stripe", []) == set()

"""Two ``checkout worker`` processes on PostgreSQL drain 5,000 webhook deliveries (10 %
duplicates, shuffled): every payment ends in the state the provider holds, each effect once.

The payments are made for real (our API, the Stripe emulator), then moved on at the
provider behind our back (3-D Secure completed, captured, voided, refunded from the
"dashboard", charge answers lost), so most events carry news our database does not have.
The events are the emulator's own, read back from its event list (``GET /v1/events``, as
an integration catching up would); they are then duplicated, shuffled, signed and
delivered to the real endpoint, and two worker processes drain the inbox side by side.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
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
from providers.stripe.webhook import sign
from tests.conftest import make_settings
from tests.e2e.served import CHECKOUT, free_port, stop_process
from tests.integration.helpers import checkout_body

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

DELIVERIES = 5_000
DUPLICATE_SHARE = 0.10
CARD_OK, CARD_DECLINED, CARD_3DS = "4242424242424242", "4000000000000002", "4000002760003184"
HOOK_SECRET = "whsec_test_two_workers"
REFUND = 100  # minor units per refund made at the provider
SECURED = {"authorized", "captured", "partially_refunded", "refunded"}
SECRET_KEY = {"Authorization": f"Bearer {DEV_STRIPE_SECRET_KEY}"}
MONEY_MOVES = ("payment_intents.confirm", "payment_intents.capture", "refunds.create")


@dataclass
class Shop:
    """Our API (automatic and manual capture) and the provider's dashboard."""

    auto: httpx.AsyncClient
    manual: httpx.AsyncClient
    stripe: httpx.AsyncClient
    ctx: AppContext
    expected: dict[str, tuple[str, int]] = field(default_factory=dict)  # pay id: (status, refunded)

    async def pay(
        self, card: str, *, manual: bool = False, three_ds: bool = False
    ) -> tuple[httpx.Response, int]:
        api = self.manual if manual else self.auto
        chk = (await api.post("/v1/checkouts", json=checkout_body())).json()
        pm = await self.stripe.post(
            "/v1/payment_methods",
            headers={"Authorization": f"Bearer {DEV_STRIPE_PUBLISHABLE_KEY}"},
            data={
                "type": "card",
                "card[number]": card,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        )
        body: dict[str, Any] = {"provider": "stripe", "payment_token": pm.json()["id"]}
        if three_ds:
            body["return_url"] = "https://shop.example/back"
        r = await api.post(
            f"/v1/checkouts/{chk['id']}/payments",
            headers={"X-Checkout-Secret": chk["client_secret"]},
            json=body,
        )
        return r, int(chk["total"]["amount"])

    def provider_ref(self, payment_id: str) -> str:
        with self.ctx.db.engine.connect() as conn:
            ref = conn.execute(
                sa.text("SELECT provider_ref FROM payments WHERE id = :id"), {"id": payment_id}
            ).scalar_one()
        assert ref is not None
        return str(ref)

    async def dashboard(self, path: str, **form: str | int) -> None:
        r = await self.stripe.post(
            path,
            headers=SECRET_KEY,
            data={k: str(v) for k, v in form.items()},
        )
        assert r.status_code == 200, r.text

    async def control(self, method: str, **kwargs: Any) -> None:
        """The emulator's fault rules (``/_emulator/faults``)."""
        r = await self.stripe.request(method, "/_emulator/faults", headers=SECRET_KEY, **kwargs)
        assert r.is_success, r.text

    async def three_ds(self, pay: dict[str, Any], outcome: str) -> None:
        url = httpx.URL(pay["next_action"]["url"])
        r = await self.stripe.post(
            f"{url.path}/complete", data={"outcome": outcome, "token": url.params["token"]}
        )
        assert r.status_code in (200, 303), r.text


# Each scenario makes one payment, moves it on, and says where it must end: (status,
# amount refunded). Events the emulator sends for each are in the comment.
Scenario = Callable[[Shop], Awaitable[None]]


async def captured(shop: Shop) -> None:  # succeeded
    r, _ = await shop.pay(CARD_OK)
    shop.expected[r.json()["id"]] = ("captured", 0)


async def declined(shop: Shop) -> None:  # payment_failed
    r, _ = await shop.pay(CARD_DECLINED)
    assert r.status_code == 402
    shop.expected[r.json()["error"]["payment_id"]] = ("failed", 0)


async def three_ds_passed(shop: Shop) -> None:  # requires_action, succeeded
    r, _ = await shop.pay(CARD_3DS, three_ds=True)
    await shop.three_ds(r.json(), "succeed")  # we are not told: only the webhook says so
    shop.expected[r.json()["id"]] = ("captured", 0)


async def three_ds_failed(shop: Shop) -> None:  # requires_action, payment_failed
    r, _ = await shop.pay(CARD_3DS, three_ds=True)
    await shop.three_ds(r.json(), "fail")
    shop.expected[r.json()["id"]] = ("failed", 0)


async def authorized(shop: Shop) -> None:  # amount_capturable_updated
    r, _ = await shop.pay(CARD_OK, manual=True)
    shop.expected[r.json()["id"]] = ("authorized", 0)


async def captured_at_provider(shop: Shop) -> None:  # amount_capturable_updated, succeeded
    r, _ = await shop.pay(CARD_OK, manual=True)
    pay_id = r.json()["id"]
    await shop.dashboard(f"/v1/payment_intents/{shop.provider_ref(pay_id)}/capture")
    shop.expected[pay_id] = ("captured", 0)


async def voided_at_provider(shop: Shop) -> None:  # amount_capturable_updated, canceled
    r, _ = await shop.pay(CARD_OK, manual=True)
    pay_id = r.json()["id"]
    await shop.dashboard(f"/v1/payment_intents/{shop.provider_ref(pay_id)}/cancel")
    shop.expected[pay_id] = ("voided", 0)


async def refunded_in_part_at_provider(shop: Shop) -> None:  # succeeded, 5 x charge.refunded
    r, _ = await shop.pay(CARD_OK)
    pay_id = r.json()["id"]
    for _ in range(5):
        await shop.dashboard("/v1/refunds", payment_intent=shop.provider_ref(pay_id), amount=REFUND)
    shop.expected[pay_id] = ("partially_refunded", 5 * REFUND)


async def refunded_at_provider(shop: Shop) -> None:  # succeeded, 5 x charge.refunded
    r, total = await shop.pay(CARD_OK)
    pay_id = r.json()["id"]
    ref = shop.provider_ref(pay_id)
    for amount in [REFUND] * 4 + [total - 4 * REFUND]:
        await shop.dashboard("/v1/refunds", payment_intent=ref, amount=amount)
    shop.expected[pay_id] = ("refunded", total)


async def refunded_by_us_then_at_provider(shop: Shop) -> None:  # succeeded, 2 x charge.refunded
    r, _ = await shop.pay(CARD_OK)
    pay_id = r.json()["id"]
    await shop.ctx.operations.refund(pay_id, REFUND, "requested_by_customer")
    await shop.dashboard("/v1/refunds", payment_intent=shop.provider_ref(pay_id), amount=REFUND)
    shop.expected[pay_id] = ("partially_refunded", 2 * REFUND)


async def answer_lost(shop: Shop) -> None:  # succeeded; our payment stays processing
    r, _ = await shop.pay(CARD_OK)
    assert r.status_code == 502, r.text
    shop.expected[r.json()["error"]["payment_id"]] = ("captured", 0)


# (scenario, payments, events each): with the lost answers, 4,545 distinct events, topped
# up with 455 duplicates (10 %) to 5,000 deliveries.
PLAN: list[tuple[Scenario, int, int]] = [
    (captured, 205, 1),
    (declined, 80, 1),
    (three_ds_passed, 160, 2),
    (three_ds_failed, 60, 2),
    (authorized, 80, 1),
    (captured_at_provider, 120, 2),
    (voided_at_provider, 60, 2),
    (refunded_in_part_at_provider, 250, 6),
    (refunded_at_provider, 250, 6),
    (refunded_by_us_then_at_provider, 120, 3),
]
LOST_ANSWERS = 20


@pytest.fixture
def emulator() -> Iterator[str]:
    """The Stripe emulator in a process of its own: making 1,400 payments keeps it busy,
    and here it gets the other core."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "providers.stripe_emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None and "ready on" in proc.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


async def _make_payments(shop: Shop) -> None:
    limiter = anyio.CapacityLimiter(8)

    async def one(scenario: Scenario) -> None:
        async with limiter:
            await scenario(shop)

    async with anyio.create_task_group() as tg:
        for scenario, payments, _ in PLAN:
            for _ in range(payments):
                tg.start_soon(one, scenario)
    # Every attempt of these charges succeeds at the provider and every answer is lost:
    # alone, so that no other request takes the dropped answers.
    await shop.control(
        "POST",
        json={
            "fault": "drop_after_success",
            "method": "POST",
            "path_prefix": "/v1/payment_intents",
            "times": 3 * LOST_ANSWERS,
        },
    )
    async with anyio.create_task_group() as tg:
        for _ in range(LOST_ANSWERS):
            tg.start_soon(answer_lost, shop)
    await shop.control("DELETE")


async def _deliver(api: httpx.AsyncClient, deliveries: list[bytes]) -> Counter[str]:
    answers: Counter[str] = Counter()
    limiter = anyio.CapacityLimiter(8)

    async def one(body: bytes) -> None:
        async with limiter:
            # Signed as each delivery attempt is, with the time it is sent.
            r = await api.post(
                "/webhooks/stripe",
                content=body,
                headers={
                    "Stripe-Signature": sign(body, HOOK_SECRET),
                    "Content-Type": "application/json",
                },
            )
        assert r.status_code == 200, r.text
        answers["duplicate" if r.json()["duplicate"] else "stored"] += 1

    async with anyio.create_task_group() as tg:
        for body in deliveries:
            tg.start_soon(one, body)
    return answers


async def _money_moved(emu: str) -> dict[str, int]:
    """How often the emulator really moved money, by operation (its ledger)."""
    async with httpx.AsyncClient(base_url=emu) as stripe:
        calls: dict[str, int] = (await stripe.get("/_emulator/calls", headers=SECRET_KEY)).json()[
            "calls"
        ]
    return {op: calls.get(op, 0) for op in MONEY_MOVES}


async def _event_list(stripe: httpx.AsyncClient) -> list[bytes]:
    """Every event of the account, oldest first, as JSON bodies (Stripe's events API)."""
    bodies: list[bytes] = []
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 100}
        if after is not None:
            params["starting_after"] = after
        page = await stripe.get(
            "/v1/events",
            params=params,
            headers=SECRET_KEY,
        )
        assert page.status_code == 200, page.text
        data = page.json()["data"]
        bodies += [json.dumps(event, separators=(",", ":")).encode() for event in data]
        if not page.json()["has_more"]:
            return bodies[::-1]
        after = data[-1]["id"]


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the worker
        return subprocess.Popen([CHECKOUT, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _handled_by(log: Path) -> int:
    """Events a worker reports having finished (its per-batch log lines)."""
    total = 0
    for line in log.read_text().splitlines():
        if line.startswith("{") and json.loads(line).get("msg") == "inbox batch":
            record = json.loads(line)
            total += int(record["applied"]) + int(record["ignored"])
    return total


async def test_two_worker_processes_drain_5000_shuffled_duplicated_events_to_the_providers_state(
    db_url: str, tmp_path: Path, emulator: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("worker processes share an inbox on PostgreSQL (SQLite: one process)")
    emu = emulator
    data = tmp_path / "data"
    # 1,400 checkouts and payments from one address in a minute or two: a whole shop's
    # traffic, which the per-address rate limits exist to refuse.
    settings = make_settings(
        db_url,
        data,
        emu,
        CHECKOUT_STRIPE_WEBHOOK_SECRETS=HOOK_SECRET,
        CHECKOUT_RATE_LIMITS="off",
    )
    manual_settings = make_settings(
        db_url,
        data,
        emu,
        CHECKOUT_STRIPE_WEBHOOK_SECRETS=HOOK_SECRET,
        CHECKOUT_CAPTURE_MODE="manual",
        CHECKOUT_RATE_LIMITS="off",
    )
    ctx, manual_ctx = build_context(settings), build_context(manual_settings)
    seed_demo_catalog(ctx.catalog)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_public_app(ctx)), base_url="http://a"
            ) as auto,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_public_app(manual_ctx)),
                base_url="http://m",
            ) as manual,
            httpx.AsyncClient(base_url=emu) as stripe,
        ):
            shop = Shop(auto, manual, stripe, ctx)
            t0 = time.monotonic()
            await _make_payments(shop)
            made_in = time.monotonic() - t0
            events = await _event_list(stripe)
            # PLAN's counts are the emulator's events per scenario: retune them if it
            # announces more.
            assert len(events) == sum(n * each for _, n, each in PLAN) + LOST_ANSWERS
            rng = random.Random(4)
            deliveries = events + rng.sample(events, DELIVERIES - len(events))
            assert len(deliveries) - len(events) >= DUPLICATE_SHARE * 0.9 * DELIVERIES
            rng.shuffle(deliveries)
            t0 = time.monotonic()
            answers = await _deliver(auto, deliveries)
            delivered_in = time.monotonic() - t0
        assert answers == {"stored": len(events), "duplicate": DELIVERIES - len(events)}

        ledger_before = await _money_moved(emu)
        operations_before = _rows(ctx, "SELECT id, status FROM payment_operations")

        env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
        env.update(
            CHECKOUT_DATA_DIR=str(data),
            DATABASE_URL=db_url,
            CHECKOUT_STRIPE_API_BASE=emu,
            CHECKOUT_STRIPE_SECRET_KEY=DEV_STRIPE_SECRET_KEY,
            CHECKOUT_STRIPE_WEBHOOK_SECRETS=HOOK_SECRET,
        )
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        started = time.monotonic()
        workers = [_start_worker(env, log) for log in logs]
        deadline = started + 120
        while _rows(ctx, "SELECT COUNT(*) FROM webhook_events WHERE status = 'pending'") != [(0,)]:
            assert all(w.poll() is None for w in workers), "a worker died"
            assert time.monotonic() < deadline, "the inbox was not drained in time"
            await anyio.sleep(0.1)
        drained_in = time.monotonic() - started
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) == 0

        # Every event processed once, none dead, both workers took part.
        assert _rows(ctx, "SELECT status, COUNT(*) FROM webhook_events GROUP BY status") == [
            ("processed", len(events))
        ]
        handled = [_handled_by(log) for log in logs]
        assert sum(handled) == len(events) and min(handled) > 0, handled

        # Every payment is where the provider says it is, and where its scenario put it.
        assert len(shop.expected) == sum(n for _, n, _ in PLAN) + LOST_ANSWERS
        rows = _rows(
            ctx,
            "SELECT id, status, provider_ref, amount_captured, amount_refunded, order_id, "
            "amount FROM payments",
        )
        assert len(rows) == len(shop.expected)
        stripe_api = ctx.providers["stripe"]
        for pay_id, status, ref, captured_amt, refunded_amt, order_id, amount in rows:
            held = await stripe_api.fetch(ref)
            assert (status, captured_amt, refunded_amt) == (
                held.status,
                held.amount_captured,
                held.amount_refunded,
            ), pay_id
            assert (status, refunded_amt) == shop.expected[pay_id], pay_id
            assert refunded_amt <= captured_amt <= amount
            # Money was secured at some point exactly when an order exists.
            assert (order_id is not None) == (status in SECURED or status == "voided"), pay_id

        # Each effect once: one order (and its lines) per paid checkout, no operation
        # added or repeated, no money moved at the provider by draining.
        assert _rows(ctx, "SELECT COUNT(*), COUNT(DISTINCT checkout_id) FROM orders") == [
            (sum(1 for r in rows if r[5] is not None),) * 2
        ]
        assert _rows(
            ctx,
            "SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id",
        ) == [(2 * sum(1 for r in rows if r[5] is not None),)]
        assert _rows(
            ctx,
            "SELECT COUNT(*) FROM checkouts c JOIN orders o ON o.id = c.order_id "
            "WHERE c.status = 'completed'",
        ) == [(sum(1 for r in rows if r[5] is not None),)]
        assert _rows(ctx, "SELECT id, status FROM payment_operations") == operations_before
        assert _order_events(ctx) == {
            order_id: _events_owed(status, captured_amt, refunded_amt)
            for _, status, _, captured_amt, refunded_amt, order_id, _ in rows
            if order_id is not None
        }
        assert await _money_moved(emu) == ledger_before
        print(
            f"\n{len(shop.expected)} payments made in {made_in:.1f} s, {DELIVERIES} deliveries "
            f"in {delivered_in:.1f} s, {len(events)} events drained by two workers in "
            f"{drained_in:.1f} s"
        )
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        await ctx.aclose()
        await manual_ctx.aclose()


def _rows(ctx: AppContext, query: str) -> list[tuple[Any, ...]]:
    with ctx.db.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.text(query)))


def _order_events(ctx: AppContext) -> dict[str, tuple[int, int, int, int]]:
    """Per order, what integrations were told: (created, paid, canceled) events and the
    refunded amount summed over its refund events."""
    told: dict[str, list[int]] = {}
    for event_type, body in _rows(ctx, "SELECT type, body FROM outbox_events"):
        data = json.loads(body)["data"]
        counts = told.setdefault(data["order"]["id"], [0, 0, 0, 0])
        if event_type == "order.refunded":
            counts[3] += data["refund"]["amount"]["amount"]
        else:
            counts[("order.created", "order.paid", "order.canceled").index(event_type)] += 1
    return {order_id: (c[0], c[1], c[2], c[3]) for order_id, c in told.items()}


def _events_owed(status: str, captured: int, refunded: int) -> tuple[int, int, int, int]:
    return (1, int(captured > 0), int(status == "voided"), refunded)

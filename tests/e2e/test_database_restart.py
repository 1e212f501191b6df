"""The database restarts under live traffic (issue 8, item 5), on a PostgreSQL of the
test's own (``private_pg``): a clean restart, a crash-like one, and an outage of seconds.

While it is away the API answers ``503 service_unavailable`` at once, never ``500`` and
never hanging; it recovers by itself; and nothing is half-written: every checkout
answered ``201`` exists, every payment answered ``201`` has its order, and once the
provider's webhook retries and ``checkout reconcile`` have run, the charges captured at
the provider and our captured payments, orders and ``order.paid`` events match one to one.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from providers.stripe.webhook import sign
from tests.e2e.private_pg import PrivatePostgres
from tests.e2e.served import CHECKOUT, Served, serve_env, serving
from tests.e2e.traffic import SK, THREE_DS, VISA, Shopper, Tally, stripe_events

pytestmark = pytest.mark.e2e

SHOPPERS = 6
# Generous for a loaded 2-core machine; a hanging request would wait for the client's
# 20 s timeout, and a connect to a silent database for the kernel's minutes.
ANSWER_WITHIN = 5.0
RECOVER_WITHIN = 10.0


@pytest.fixture
def pg_served(private_pg: PrivatePostgres, tmp_path: Path) -> Iterator[Served]:
    with serving(private_pg.url, tmp_path, migrate=True) as instance:
        yield instance


class Shop:
    """What the shoppers were told, to compare with what the database holds."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.created: dict[str, dict[str, Any]] = {}
        self.paid: dict[str, dict[str, Any]] = {}
        self.unpaid: dict[str, tuple[dict[str, Any], str]] = {}


async def _shop(shopper: Shopper, shop: Shop, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await shopper.products()
        r = await shopper.create_checkout()
        if r is None or r.status_code != 201:
            await asyncio.sleep(0.05)
            continue
        chk = r.json()
        shop.created[chk["id"]] = chk
        await shopper.get_checkout(chk)
        token = await shopper.tokenize()
        paid = await shopper.pay(chk, token)
        if paid is not None and paid.status_code == 201:
            shop.paid[chk["id"]] = paid.json()
        else:
            shop.unpaid[chk["id"]] = (chk, token)


async def _until_recovered(shopper: Shopper, shop: Shop) -> float:
    """Seconds until a checkout can be created again."""
    start = time.monotonic()
    while time.monotonic() - start < RECOVER_WITHIN:
        r = await shopper.create_checkout()
        if r is not None and r.status_code == 201:
            shop.created[r.json()["id"]] = r.json()
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError("the API did not recover by itself")


async def _traffic_through_faults(
    served: Served, pg: PrivatePostgres, faults: list[tuple[str, Callable[[], None]]]
) -> tuple[Shop, dict[str, float]]:
    shop = Shop()
    stop = asyncio.Event()
    recovered: dict[str, float] = {}
    # Idle connections are dropped before the server's 5 s keep-alive closes them.
    limits = httpx.Limits(max_connections=SHOPPERS * 2, keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=20, limits=limits) as http:
        shoppers = [Shopper(http, served.api, served.stripe, shop.tally) for _ in range(SHOPPERS)]
        tasks = [asyncio.create_task(_shop(s, shop, stop)) for s in shoppers]
        try:
            for name, fault in faults:
                await asyncio.sleep(2)
                await asyncio.to_thread(fault)
                recovered[name] = await _until_recovered(shoppers[0], shop)
            await asyncio.sleep(2)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        # A buyer whose payment got no answer pays again with the same key.
        for chk, token in list(shop.unpaid.values()):
            r = await shoppers[0].pay(chk, token)
            if r is not None and r.status_code == 201:
                shop.paid[chk["id"]] = r.json()
    return shop, recovered


def _rows(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def _settle(served: Served, pg: PrivatePostgres, tmp_path: Path, engine: sa.Engine) -> None:
    """Let the provider's retries and the worker finish; reconcile what is left."""
    # Requests cut off by the outage hold leases on their payments and keys, and a worker
    # batch whose outcomes could not be recorded holds its events' lease (the provider's
    # retry budget plus a minute); time passes beyond them (simulated, as in
    # test_crash.py) so reconciliation and the worker may take them over.
    with engine.begin() as conn:
        for table in ("payments", "idempotency_keys"):
            conn.execute(sa.text(f"UPDATE {table} SET locked_until = '2000-01-01 00:00:00'"))
        conn.execute(
            sa.text(
                "UPDATE webhook_events SET next_attempt_at = '2000-01-01 00:00:00+00' "
                "WHERE status = 'pending'"
            )
        )
    env = serve_env(pg.url, tmp_path / "data", served.ports)
    deadline = time.monotonic() + 60
    while True:
        r = subprocess.run(
            [CHECKOUT, "reconcile", "--older-than", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        unsettled = _rows(
            engine,
            "SELECT id FROM payments WHERE status IN ('processing', 'requires_action')",
        )
        pending = _rows(engine, "SELECT id FROM webhook_events WHERE status <> 'processed'")
        if not unsettled and not pending:
            return
        assert time.monotonic() < deadline, f"unsettled {unsettled}, inbox {pending}"
        time.sleep(1)


def _assert_nothing_half_written(shop: Shop, served: Served, engine: sa.Engine) -> None:
    checkouts = {r[0] for r in _rows(engine, "SELECT id FROM checkouts")}
    assert set(shop.created) <= checkouts, "a checkout answered 201 was not stored"

    payments = {
        r[0]: (r[1], r[2], r[3])
        for r in _rows(engine, "SELECT id, status, order_id, provider_ref FROM payments")
    }
    orders = {r[0]: r[1] for r in _rows(engine, "SELECT id, checkout_id FROM orders")}
    for chk_id, pay in shop.paid.items():
        status, order_id, _ = payments[pay["id"]]
        assert pay["status"] == "captured" and status == "captured"
        assert pay["order_id"] == order_id and orders[order_id] == chk_id

    # The provider's side: every charge it captured is one captured payment of ours with
    # its order, and each order was announced once.
    succeeded = asyncio.run(_events(served.stripe, "payment_intent.succeeded"))
    captured_refs = {e["data"]["object"]["id"] for e in succeeded}
    ours = {ref: (status, order_id) for status, order_id, ref in payments.values() if ref}
    assert captured_refs <= set(ours), "a charge captured at the provider has no payment"
    captured = {ref for ref, (status, _) in ours.items() if status == "captured"}
    assert captured == captured_refs
    assert all(ours[ref][1] in orders for ref in captured)
    assert len(orders) == len(captured)
    assert {s for s, _, _ in payments.values()} <= {"captured", "failed"}
    paid_events = [
        json.loads(r[0])["data"]["order"]["id"]
        for r in _rows(engine, "SELECT body FROM outbox_events WHERE type = 'order.paid'")
    ]
    assert sorted(paid_events) == sorted(orders)


async def _events(stripe: str, type_: str | None) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        return await stripe_events(http, stripe, type_)


def test_database_restarts_mid_traffic_answer_503_fast_and_recover_with_nothing_half_written(
    pg_served: Served, private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    pg = private_pg
    faults: list[tuple[str, Callable[[], None]]] = [
        ("fast restart", lambda: pg.restart("fast")),
        ("crash restart", lambda: pg.restart("immediate")),
        ("3 s outage", lambda: pg.outage(3.0)),
    ]
    shop, recovered = asyncio.run(_traffic_through_faults(pg_served, pg, faults))
    tally = shop.tally
    print(
        f"\nstatuses {dict(tally.statuses)}; slowest answer {tally.slowest:.2f}s; "
        f"503s answered within {max(tally.unavailable_latencies, default=0):.2f}s; "
        f"recovered after {recovered}; {len(shop.created)} checkouts, {len(shop.paid)} paid"
    )
    assert tally.problems == []
    assert tally.statuses[503] > 0, "the outage was never seen"
    assert tally.slowest < ANSWER_WITHIN
    assert set(recovered) == {name for name, _ in faults}
    assert len(shop.paid) > 0

    engine = sa.create_engine(pg.url, pool_pre_ping=True)
    try:
        _settle(pg_served, pg, tmp_path, engine)
        _assert_nothing_half_written(shop, pg_served, engine)
    finally:
        engine.dispose()
    assert "unhandled error" not in pg_served.log.read_text()


def _eventually(check: Callable[[], bool], timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not settled in time"
        time.sleep(0.2)


def test_webhooks_during_an_outage_are_refused_then_applied_once_from_the_providers_retries(
    pg_served: Served, private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    served, pg = pg_served, private_pg
    secret = (tmp_path / "data" / "dev-stripe-webhook-secret").read_text().strip()
    engine = sa.create_engine(pg.url, pool_pre_ping=True)
    http = httpx.Client(timeout=20)

    def delivered() -> int:
        calls = http.get(f"{served.stripe}/_emulator/calls", headers=SK).json()["calls"]
        return int(calls.get("webhooks.delivered", 0))

    def inbox() -> list[tuple[Any, ...]]:
        return _rows(engine, "SELECT event_id, status FROM webhook_events")

    try:
        shop = Shop()

        async def buy() -> tuple[dict[str, Any], dict[str, Any]]:
            async with httpx.AsyncClient(timeout=20) as client:
                s = Shopper(client, served.api, served.stripe, shop.tally)
                paid = refunded = None
                for card, extra in ((VISA, {}), (THREE_DS, {"return_url": "https://s.test/r"})):
                    r = await s.create_checkout()
                    assert r is not None and r.status_code == 201
                    p = await s.pay(r.json(), await s.tokenize(card), **extra)
                    assert p is not None and p.status_code == 201, p
                    if card == VISA:
                        refunded = p.json()
                    else:
                        paid = p.json()
                assert paid is not None and refunded is not None
                return refunded, paid

        refunded, three_ds = asyncio.run(buy())
        assert three_ds["status"] == "requires_action"
        before = {r[0] for r in inbox()}
        _eventually(lambda: len(inbox()) == delivered() and delivered() > 0)

        ref = _rows(engine, f"SELECT provider_ref FROM payments WHERE id = '{refunded['id']}'")
        pg.stop("fast")
        try:
            # Behind our back, at the provider: a refund, and the buyer passing 3-D Secure.
            r = http.post(
                f"{served.stripe}/v1/refunds",
                headers=SK,
                data={"payment_intent": ref[0][0], "amount": 1000},
            )
            assert r.status_code == 200, r.text
            url = httpx.URL(three_ds["next_action"]["url"])
            r = http.post(
                f"{served.stripe}{url.path}/complete",
                data={"outcome": "succeed", "token": url.params["token"]},
            )
            assert r.status_code in (200, 303)
            # The same events, signed and sent by hand: refused, nothing stored, quickly.
            made = asyncio.run(_events(served.stripe, None))
            fresh = [e for e in made if e["id"] not in before]
            assert {e["type"] for e in fresh} >= {"charge.refunded", "payment_intent.succeeded"}
            for event in fresh:
                body = json.dumps(event).encode()
                start = time.monotonic()
                answer = http.post(
                    f"{served.api}/webhooks/stripe",
                    content=body,
                    headers={"Stripe-Signature": sign(body, secret)},
                )
                assert time.monotonic() - start < ANSWER_WITHIN
                assert answer.status_code == 503, answer.text
                err = answer.json()["error"]
                assert err["code"] == "service_unavailable"
                assert err["request_id"] == answer.headers["x-request-id"]
            time.sleep(2)  # the emulator's own deliveries meet the outage and back off
            delivered_while_down = delivered()
        finally:
            pg.start()
        assert delivered_while_down == len(before), "a delivery was acknowledged while down"

        # The provider retries; each event is stored once and applied once.
        def applied() -> bool:
            rows = inbox()
            return len(rows) == len(made) and all(status == "processed" for _, status in rows)

        _eventually(applied)
        _eventually(lambda: delivered() >= len(made))
        assert sorted(r[0] for r in inbox()) == sorted(e["id"] for e in made)
        pay = {
            r[0]: r[1:]
            for r in _rows(engine, "SELECT id, status, amount_refunded, order_id FROM payments")
        }
        assert pay[refunded["id"]][:2] == ("partially_refunded", 1000)
        assert pay[three_ds["id"]][0] == "captured" and pay[three_ds["id"]][2] is not None
        outbox = [
            (r[0], json.loads(r[1])["data"]["order"]["id"])
            for r in _rows(engine, "SELECT type, body FROM outbox_events")
        ]
        assert outbox.count(("order.refunded", pay[refunded["id"]][2])) == 1
        assert outbox.count(("order.paid", pay[three_ds["id"]][2])) == 1
        assert len(_rows(engine, "SELECT id FROM orders")) == 2
        assert delivered() == len(made)  # each acknowledged once, after its refusals
        log = served.log.read_text()
        assert "unhandled error" not in log
        refused = [
            line
            for line in log.splitlines()
            if '"route":"/webhooks/stripe"' in line and '"status":503' in line
        ]
        # Ours by hand, and the emulator's own first attempts.
        assert len(refused) > len(fresh)
    finally:
        http.close()
        engine.dispose()

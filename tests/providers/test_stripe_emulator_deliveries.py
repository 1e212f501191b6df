"""The Stripe emulator's webhook deliveries told to misbehave: dropped (the endpoint is
down), duplicated, held back and released in another order; each body signed as Stripe
signs it and identical to the event `GET /v1/events` lists."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.stripe.webhook import verify_signature
from providers.stripe_emulator import create_app
from tests.conftest import serve_in_thread
from tests.providers.test_stripe_emulator import PUBLISHABLE, SECRET, Emulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning"
)
HOOK_SECRET = "whsec_deliveries_test"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@dataclass
class Receiver:
    """A webhook endpoint that keeps what it is sent, in order of arrival."""

    bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        verify_signature(body, request.headers.get("stripe-signature"), [HOOK_SECRET])
        with self.lock:
            self.bodies.append(body)
        return Response(status_code=200)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for body in self.bodies]

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count:
            assert time.monotonic() < deadline, f"only {len(self.events())} of {count} arrived"
            time.sleep(0.02)
        return self.events()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    kept = Receiver()
    app = Starlette(routes=[Route("/hook", kept.endpoint, methods=["POST"])])
    with serve_in_thread(lambda _: app) as (base, _):
        yield kept, f"{base}/hook"


@pytest.fixture
def emulator(receiver: tuple[Receiver, str]) -> Iterator[Emulator]:
    with serve_in_thread(
        lambda base: create_app(
            secret_key=SECRET,
            publishable_key=PUBLISHABLE,
            public_base_url=base,
            webhook_url=receiver[1],
            webhook_secret=HOOK_SECRET,
        ),
        log_level="warning",
    ) as (base_url, app):
        yield Emulator(base_url, app)


def _control(emulator: Emulator, method: str, path: str, **body: object) -> httpx.Response:
    return httpx.request(
        method, f"{emulator.base_url}/_emulator/{path}", headers=AUTH, json=body or None
    )


def _pay(emulator: Emulator, *, refund: int | None = None) -> str:
    """A manual-capture payment, captured (and refunded): three or four events."""
    pm = emulator.card("4242424242424242")

    async def scenario(client: stripe.StripeClient) -> str:
        intent = await client.v1.payment_intents.create_async(
            params={
                "amount": 5000,
                "currency": "usd",
                "payment_method": pm,
                "confirm": True,
                "capture_method": "manual",
            }
        )
        await client.v1.payment_intents.capture_async(intent.id)
        if refund is not None:
            await client.v1.refunds.create_async(
                params={"payment_intent": intent.id, "amount": refund}
            )
        return intent.id

    return emulator.call(scenario)


def _listed(emulator: Emulator) -> list[dict[str, Any]]:
    r = httpx.get(f"{emulator.base_url}/v1/events?limit=100", headers=AUTH)
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def test_deliveries_arrive_signed_and_equal_to_the_listed_events(
    emulator: Emulator, receiver: tuple[Receiver, str]
) -> None:
    _pay(emulator, refund=1000)
    delivered = receiver[0].wait_for(3)
    assert sorted(e["id"] for e in delivered) == sorted(e["id"] for e in _listed(emulator))
    by_id = {e["id"]: e for e in _listed(emulator)}
    assert all(by_id[e["id"]] == e for e in delivered)
    assert emulator.app.state.faults.count("webhooks.delivered") == 3


def test_drop_sends_nothing_yet_every_event_stays_listed(
    emulator: Emulator, receiver: tuple[Receiver, str]
) -> None:
    assert _control(emulator, "PUT", "deliveries", mode="drop").json()["mode"] == "drop"
    dropped = _pay(emulator)
    assert _control(emulator, "PUT", "deliveries", mode="deliver").status_code == 200
    kept = _pay(emulator)
    # The second payment's two events arrive; nothing of the first ever does.
    arrived = receiver[0].wait_for(2)
    time.sleep(0.2)
    assert {e["data"]["object"]["id"] for e in receiver[0].events()} == {kept}
    assert len(arrived) == 2
    listed = {e["data"]["object"]["id"] for e in _listed(emulator)}
    assert listed == {dropped, kept} and len(_listed(emulator)) == 4
    assert emulator.app.state.faults.count("webhooks.dropped") == 2


def test_copies_deliver_every_event_that_many_times(
    emulator: Emulator, receiver: tuple[Receiver, str]
) -> None:
    assert _control(emulator, "PUT", "deliveries", copies=3).json()["copies"] == 3
    _pay(emulator)
    delivered = receiver[0].wait_for(6)
    time.sleep(0.2)
    assert len(receiver[0].events()) == 6
    ids = [e["id"] for e in delivered]
    assert len(set(ids)) == 2 and all(ids.count(i) == 3 for i in ids)


def test_held_events_are_released_in_reverse_order(
    emulator: Emulator, receiver: tuple[Receiver, str]
) -> None:
    _control(emulator, "PUT", "deliveries", mode="hold", order="reverse")
    _pay(emulator, refund=1000)
    assert _control(emulator, "GET", "deliveries").json() == {
        "mode": "hold",
        "copies": 1,
        "order": "reverse",
        "held": 3,
    }
    assert receiver[0].events() == []
    assert _control(emulator, "POST", "deliveries/release").json() == {"released": 3}
    delivered = receiver[0].wait_for(3)
    # Newest first: exactly the order the event list gives.
    assert [e["id"] for e in delivered] == [e["id"] for e in _listed(emulator)]
    assert [e["type"] for e in delivered] == [
        "charge.refunded",
        "payment_intent.succeeded",
        "payment_intent.amount_capturable_updated",
    ]


def test_shuffled_release_sends_each_held_event(
    emulator: Emulator, receiver: tuple[Receiver, str]
) -> None:
    _control(emulator, "PUT", "deliveries", mode="hold", order="shuffle", copies=2)
    _pay(emulator, refund=1000)
    assert _control(emulator, "POST", "deliveries/release").json() == {"released": 3}
    delivered = receiver[0].wait_for(6)
    assert sorted(e["id"] for e in delivered) == sorted(2 * [e["id"] for e in _listed(emulator)])
    assert _control(emulator, "POST", "deliveries/release").json() == {"released": 0}


@pytest.mark.parametrize(
    "body",
    [
        b'{"mode": "sideways"}',
        b'{"order": "alphabetical"}',
        b'{"copies": 0}',
        b'{"copies": 11}',
        b'{"copies": true}',
        b'{"colour": "red"}',
        b"[]",
        b"not json",
    ],
)
def test_malformed_delivery_settings_are_refused(emulator: Emulator, body: bytes) -> None:
    r = httpx.put(f"{emulator.base_url}/_emulator/deliveries", headers=AUTH, content=body)
    assert r.status_code == 400
    assert _control(emulator, "GET", "deliveries").json()["mode"] == "deliver"


def test_delivery_control_needs_the_secret_key(emulator: Emulator) -> None:
    for method, path in (
        ("GET", "deliveries"),
        ("PUT", "deliveries"),
        ("POST", "deliveries/release"),
    ):
        r = httpx.request(
            method,
            f"{emulator.base_url}/_emulator/{path}",
            headers={"Authorization": f"Bearer {PUBLISHABLE}"},
        )
        assert r.status_code == 401

"""`GET /v1/events` on the Stripe emulator, through the official SDK: every event kept,
newest first, paged both ways, filtered by time and type, refused in Stripe's shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
import stripe

from providers.stripe_emulator import create_app
from tests.conftest import serve_in_thread
from tests.providers.test_stripe_emulator import PUBLISHABLE, SECRET, Emulator, card_params

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning"
)
VISA = "4242424242424242"
DECLINED = "4000000000000002"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # A fresh account per test, with no webhook URL: events are kept all the same.
    with serve_in_thread(
        lambda base: create_app(
            secret_key=SECRET, publishable_key=PUBLISHABLE, public_base_url=base
        ),
        log_level="warning",
    ) as (base_url, app):
        yield Emulator(base_url, app)


async def _pay(client: stripe.StripeClient, number: str, capture: str = "automatic") -> str:
    # A fresh PaymentMethod each time: one that belongs to no Customer pays only once.
    pm = await client.v1.payment_methods.create_async(params=card_params(number))
    intent = await client.v1.payment_intents.create_async(
        params={
            "amount": 5000,
            "currency": "usd",
            "payment_method": pm.id,
            "confirm": True,
            "capture_method": capture,
            "metadata": {"payment_id": "pay_1"},
        }
    )
    return intent.id


async def _ids(client: stripe.StripeClient, **params: Any) -> list[str]:
    page = await client.v1.events.list_async(params=cast(Any, params))
    return [event.id for event in page.data]


def test_every_event_is_kept_and_listed_newest_first_as_it_was_then(emulator: Emulator) -> None:
    pm = VISA

    async def scenario(client: stripe.StripeClient) -> None:
        pi = await _pay(client, pm, capture="manual")
        await client.v1.payment_intents.capture_async(pi)
        await client.v1.refunds.create_async(params={"payment_intent": pi, "amount": 1000})
        page = await client.v1.events.list_async()
        shape = page.to_dict()
        assert (shape["object"], shape["url"], shape["has_more"]) == ("list", "/v1/events", False)
        assert [e.type for e in page.data] == [
            "charge.refunded",
            "payment_intent.succeeded",
            "payment_intent.amount_capturable_updated",
        ]
        refunded, succeeded, authorized = page.data
        charge = refunded.data.object
        assert (charge["object"], charge["payment_intent"], charge["amount_refunded"]) == (
            "charge",
            pi,
            1000,
        )
        assert charge["metadata"]["payment_id"] == "pay_1"
        # Each event holds the object as it was when the event happened.
        assert authorized.data.object["status"] == "requires_capture"
        assert succeeded.data.object["status"] == "succeeded"
        assert authorized.created <= succeeded.created <= refunded.created
        again = await client.v1.events.retrieve_async(refunded.id)
        assert again.to_dict() == refunded.to_dict()
        with pytest.raises(stripe.InvalidRequestError) as missing:
            await client.v1.events.retrieve_async("evt_missing")
        assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")

    emulator.call(scenario)


def test_pages_walk_to_older_events_after_a_cursor_and_to_newer_before_one(
    emulator: Emulator,
) -> None:
    pm = VISA

    async def scenario(client: stripe.StripeClient) -> None:
        for _ in range(25):
            await _pay(client, pm)
        everything = await _ids(client, limit=100)
        assert len(everything) == 25 and len(set(everything)) == 25
        assert await _ids(client) == everything[:10]  # default limit 10

        first = await client.v1.events.list_async(params={"limit": 10})
        second = await client.v1.events.list_async(
            params={"limit": 10, "starting_after": first.data[-1].id}
        )
        third = await client.v1.events.list_async(
            params={"limit": 10, "starting_after": second.data[-1].id}
        )
        assert [e.id for e in second.data] == everything[10:20] and second.has_more
        assert [e.id for e in third.data] == everything[20:] and not third.has_more
        assert [e.id async for e in first.auto_paging_iter()] == everything

        # ending_before: the page just newer than the cursor, still newest first...
        oldest = everything[-1]
        back = await client.v1.events.list_async(params={"limit": 10, "ending_before": oldest})
        assert [e.id for e in back.data] == everything[-11:-1] and back.has_more
        # ...which the SDK pages towards the newest, in the order they happened.
        forward = [e.id async for e in back.auto_paging_iter()]
        assert forward == everything[-2::-1]

    emulator.call(scenario)


def test_created_filters_select_by_creation_time(emulator: Emulator) -> None:
    pm = VISA
    base = 1_800_000_000
    now = [float(base)]
    emulator.state.clock = lambda: now[0]

    async def scenario(client: stripe.StripeClient) -> None:
        by_time: dict[int, str] = {}
        for offset in range(4):
            now[0] = base + offset
            await _pay(client, pm)
            by_time[base + offset] = (await _ids(client, limit=1))[0]

        def at(*offsets: int) -> list[str]:
            return [by_time[base + o] for o in offsets]

        assert await _ids(client, created={"gte": base + 1, "lt": base + 3}) == at(2, 1)
        assert await _ids(client, created={"gt": base + 1}) == at(3, 2)
        assert await _ids(client, created={"lte": base}) == at(0)
        assert await _ids(client, created=base + 2) == at(2)
        assert await _ids(client, created={"gt": base + 3}) == []
        paged = await client.v1.events.list_async(params={"created": {"gte": base + 1}, "limit": 2})
        assert [e.id async for e in paged.auto_paging_iter()] == at(3, 2, 1)

    emulator.call(scenario)


def test_type_takes_a_wildcard_and_types_a_list_of_names(emulator: Emulator) -> None:
    visa, declined = VISA, DECLINED

    async def scenario(client: stripe.StripeClient) -> None:
        pi = await _pay(client, visa)
        await client.v1.refunds.create_async(params={"payment_intent": pi})
        with pytest.raises(stripe.CardError):
            await _pay(client, declined)

        async def types(**params: Any) -> list[str]:
            page = await client.v1.events.list_async(params=cast(Any, params))
            return [e.type for e in page.data]

        assert await types(type="charge.*") == ["charge.refunded"]
        assert await types(type="payment_intent.*") == [
            "payment_intent.payment_failed",
            "payment_intent.succeeded",
        ]
        assert await types(type="payment_intent.succeeded") == ["payment_intent.succeeded"]
        assert await types(type="*.refunded") == ["charge.refunded"]
        assert await types(types=["charge.refunded", "payment_intent.payment_failed"]) == [
            "payment_intent.payment_failed",
            "charge.refunded",
        ]
        assert await types(types=["customer.created"]) == []

    emulator.call(scenario)


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 101}, "limit", "less than or equal to 100"),
        ({"starting_after": "evt_a", "ending_before": "evt_b"}, None, "Received both"),
        ({"type": "charge.refunded", "types": ["charge.refunded"]}, None, "type, types"),
        ({"types": [f"t{i}" for i in range(21)]}, "types", "between 1 and 20"),
        ({"created": {"after": 1}}, "created[after]", "unknown parameter"),
        ({"created": {"gte": "soon"}}, "created[gte]", "Invalid integer"),
        ({"colour": "red"}, "colour", "unknown parameter"),
    ],
)
def test_bad_parameters_are_invalid_requests_naming_the_parameter(
    emulator: Emulator, params: dict[str, Any], param: str | None, words: str
) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.events.list_async(params=cast(Any, params))
        assert refused.value.http_status == 400
        assert refused.value.param == param
        assert words in str(refused.value.user_message)

    emulator.call(scenario)


def test_a_cursor_naming_no_event_is_resource_missing(emulator: Emulator) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        for cursor in ("starting_after", "ending_before"):
            with pytest.raises(stripe.InvalidRequestError) as missing:
                await client.v1.events.list_async(params=cast(Any, {cursor: "evt_gone"}))
            assert (missing.value.http_status, missing.value.code, missing.value.param) == (
                404,
                "resource_missing",
                cursor,
            )

    emulator.call(scenario)


def test_errors_have_stripes_shape_and_the_list_needs_the_secret_key(emulator: Emulator) -> None:
    r = httpx.get(
        f"{emulator.base_url}/v1/events?limit=0", headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert r.status_code == 400 and r.headers["request-id"].startswith("req_")
    error = r.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "limit",
        "parameter_invalid_integer",
    )
    publishable = httpx.get(
        f"{emulator.base_url}/v1/events", headers={"Authorization": f"Bearer {PUBLISHABLE}"}
    )
    assert publishable.status_code == 401

"""`StripeProvider.events_since`: the SDK's event list, paged and capped, turned into
provider-neutral events with the bytes the inbox keeps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from providers.base import ProviderUnavailable
from providers.retry import NO_RETRY
from providers.stripe import StripeProvider
from providers.stripe.webhook import parse_event
from providers.stripe_emulator import EmulatorState, create_app
from providers.stripe_emulator.events import Event
from tests.conftest import serve_in_thread
from tests.providers.test_stripe_emulator import PUBLISHABLE, SECRET, Emulator

pytestmark = pytest.mark.anyio
T0 = 1_800_000_000


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with serve_in_thread(
        lambda base: create_app(
            secret_key=SECRET, publishable_key=PUBLISHABLE, public_base_url=base
        ),
        log_level="warning",
    ) as (base_url, app):
        yield Emulator(base_url, app)


@pytest.fixture
async def stripe_provider(emulator: Emulator) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider(
        secret_key=SECRET, api_base=emulator.base_url, timeout=5, retry=NO_RETRY
    )
    try:
        yield provider
    finally:
        await provider.aclose()


def _add(state: EmulatorState, n: int, kind: str, created: int, **extra: Any) -> str:
    event_id = f"evt_{n:05d}"
    body: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": {
            "object": {
                "id": f"pi_{n}",
                "object": "payment_intent",
                "metadata": {"payment_id": f"pay_{n}"},
            }
        },
    }
    body.update(extra)
    with state.lock:
        state.events.add(Event(event_id, kind, created, json.dumps(body).encode()))
    return event_id


async def test_payment_events_since_a_time_newest_first_as_neutral_events(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    state = emulator.state
    _add(state, 1, "payment_intent.succeeded", T0 - 1)  # before the window
    _add(state, 2, "payment_intent.succeeded", T0)
    _add(state, 3, "customer.created", T0 + 1)  # not about payments
    charge = {
        "data": {"object": {"id": "ch_4", "object": "charge", "payment_intent": "pi_4"}},
    }
    _add(state, 4, "charge.refunded", T0 + 2, **charge)
    batch = await stripe_provider.events_since(T0)
    assert batch.complete and batch.last_id == "evt_00002"
    assert [(e.event.event_id, e.event.type, e.event.provider_ref) for e in batch.events] == [
        ("evt_00004", "charge.refunded", "pi_4"),
        ("evt_00002", "payment_intent.succeeded", "pi_2"),
    ]
    second = batch.events[1]
    assert (second.event.provider, second.event.payment_id, second.event.created) == (
        "stripe",
        "pay_2",
        T0,
    )
    # The bytes parse to the same event a delivery of it would.
    assert parse_event(second.payload) == second.event


async def test_the_page_cap_stops_the_listing_and_the_last_id_resumes_it(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    ids = [_add(emulator.state, n, "payment_intent.succeeded", T0 + n) for n in range(130)]
    first = await stripe_provider.events_since(T0, max_pages=1)
    assert not first.complete and len(first.events) == 100
    assert [e.event.event_id for e in first.events] == ids[:29:-1]
    assert first.last_id == ids[30]
    rest = await stripe_provider.events_since(T0, starting_after=first.last_id, max_pages=1)
    assert rest.complete and [e.event.event_id for e in rest.events] == ids[29::-1]
    whole = await stripe_provider.events_since(T0, max_pages=2)
    assert whole.complete and len(whole.events) == 130


async def test_an_unreadable_event_is_skipped_but_still_moves_the_cursor(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    _add(emulator.state, 1, "payment_intent.succeeded", T0, data=None)
    _add(emulator.state, 2, "payment_intent.succeeded", T0 + 1)
    batch = await stripe_provider.events_since(T0)
    assert [e.event.event_id for e in batch.events] == ["evt_00002"]
    assert batch.last_id == "evt_00001" and batch.complete


async def test_an_empty_list_is_complete_with_no_cursor(
    stripe_provider: StripeProvider,
) -> None:
    batch = await stripe_provider.events_since(T0)
    assert (batch.events, batch.last_id, batch.complete) == ((), None, True)


async def test_an_unreachable_provider_is_unavailable() -> None:
    provider = StripeProvider(
        secret_key=SECRET, api_base="http://127.0.0.1:9", timeout=2, retry=NO_RETRY
    )
    try:
        with pytest.raises(ProviderUnavailable):
            await provider.events_since(T0)
    finally:
        await provider.aclose()

"""Money moves once, whatever the clicks, races and provider faults (issue 3's list).

The Stripe emulator's ledger counts operations it really performed (never replays), so
"one charge" is asserted at the provider, not just in our tables.
"""

from __future__ import annotations

import anyio
import httpx
import pytest
import sqlalchemy as sa

from checkout.context import AppContext
from checkout.web.factory import create_public_app
from providers.emulator_faults import Fault
from tests.conftest import Emulator
from tests.integration.helpers import checkout_body, count

pytestmark = pytest.mark.anyio

CHARGES = "payment_intents.confirm"


@pytest.fixture(autouse=True)
def no_faults_left(stripe_emulator: Emulator) -> None:
    stripe_emulator.app.state.faults.clear()


def _ledger(emulator: Emulator, op: str = CHARGES) -> int:
    return int(emulator.app.state.faults.count(op))


async def _checkout(api: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    r = await api.post("/v1/checkouts", json=checkout_body())
    assert r.status_code == 201
    return r.json()["id"], {"X-Checkout-Secret": r.json()["client_secret"]}


async def _pay(
    api: httpx.AsyncClient, cid: str, headers: dict[str, str], token: str
) -> httpx.Response:
    return await api.post(
        f"/v1/checkouts/{cid}/payments",
        headers=headers,
        json={"provider": "stripe", "payment_token": token},
    )


async def test_twenty_concurrent_pays_with_same_and_different_keys_charge_once(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    token = stripe_emulator.tokenize()
    before = _ledger(stripe_emulator)
    responses: list[httpx.Response] = []

    async def click(key: str) -> None:
        responses.append(await _pay(api, cid, {**headers, "Idempotency-Key": key}, token))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(click, "same-key" if i % 2 else f"key-{i}")
    created = [r for r in responses if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in created}) == 1
    assert _ledger(stripe_emulator) - before == 1
    assert count(ctx, "orders") == 1


async def test_a_lost_response_is_retried_under_the_same_key_and_charges_once(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    token = stripe_emulator.tokenize()
    before = _ledger(stripe_emulator)
    stripe_emulator.app.state.faults.add(
        Fault.DROP_AFTER_SUCCESS, method="POST", path_prefix="/v1/payment_intents", times=1
    )
    r = await _pay(api, cid, headers, token)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "captured"
    assert _ledger(stripe_emulator) - before == 1
    assert count(ctx, "orders") == 1


@pytest.mark.parametrize("fault", [Fault.ERROR_500, Fault.ERROR_503, Fault.RATE_LIMIT])
async def test_transient_provider_errors_are_retried_to_success(
    api: httpx.AsyncClient, stripe_emulator: Emulator, fault: Fault
) -> None:
    cid, headers = await _checkout(api)
    token = stripe_emulator.tokenize()
    stripe_emulator.app.state.faults.add(
        fault, method="POST", path_prefix="/v1/payment_intents", times=2
    )
    r = await _pay(api, cid, headers, token)
    assert r.status_code == 201 and r.json()["status"] == "captured"


async def test_an_outcome_still_unknown_leaves_processing_and_a_later_pay_settles_it(
    api: httpx.AsyncClient, ctx: AppContext, stripe_emulator: Emulator
) -> None:
    cid, headers = await _checkout(api)
    token = stripe_emulator.tokenize()
    before = _ledger(stripe_emulator)
    # Every attempt succeeds at the provider and every answer is lost.
    stripe_emulator.app.state.faults.add(
        Fault.DROP_AFTER_SUCCESS, method="POST", path_prefix="/v1/payment_intents", times=3
    )
    r = await _pay(api, cid, headers, token)
    assert r.status_code == 502 and r.json()["error"]["code"] == "provider_unavailable"
    with ctx.db.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT status FROM payments")).scalar_one() == "processing"
        # Time passes: the request that sent the charge is presumed gone.
        conn.execute(sa.text("UPDATE payments SET locked_until = '2000-01-01 00:00:00'"))
    again = await _pay(api, cid, headers, token)
    assert again.status_code == 201 and again.json()["id"] == r.json()["error"]["payment_id"]
    assert again.json()["status"] == "captured"
    assert _ledger(stripe_emulator) - before == 1
    assert count(ctx, "orders") == 1


async def test_refresh_racing_a_capture_captures_once(
    manual: AppContext, stripe_emulator: Emulator
) -> None:
    transport = httpx.ASGITransport(app=create_public_app(manual))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        cid, headers = await _checkout(api)
        pay = (await _pay(api, cid, headers, stripe_emulator.tokenize())).json()
        assert pay["status"] == "authorized"
        before = _ledger(stripe_emulator, "payment_intents.capture")
        # Slow the capture down so the refresh lands while it is in flight.
        stripe_emulator.app.state.faults.add(
            Fault.DELAY, method="POST", path_prefix="/v1/payment_intents/", times=1, delay_ms=300
        )
        refreshed: list[httpx.Response] = []

        async def refresh_often() -> None:
            for _ in range(5):
                refreshed.append(
                    await api.post(
                        f"/v1/checkouts/{cid}/payments/{pay['id']}/refresh", headers=headers
                    )
                )
                await anyio.sleep(0.1)

        async with anyio.create_task_group() as tg:
            tg.start_soon(manual.operations.capture, pay["id"])
            tg.start_soon(refresh_often)
    assert all(r.status_code == 200 for r in refreshed)
    assert _ledger(stripe_emulator, "payment_intents.capture") - before == 1
    with manual.db.engine.connect() as conn:
        status, captured = conn.execute(
            sa.text("SELECT status, amount_captured FROM payments")
        ).one()
        ops = conn.execute(sa.text("SELECT status FROM payment_operations")).scalars().all()
    assert (status, captured) == ("captured", 6200)
    assert ops == ["succeeded"]

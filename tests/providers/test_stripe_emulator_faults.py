"""Injected faults in the Stripe emulator, as the official SDK (over aiohttp) sees them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import httpx
import pytest
import stripe
from starlette.applications import Starlette

from providers.emulator_faults import Fault, FaultInjector, Rule, parse_fault_header
from providers.stripe_emulator import EmulatorState, create_app
from tests.conftest import serve_in_thread

SECRET = "sk_test_emulator_secret_0123456789"
PUBLISHABLE = "pk_test_emulator_publishable_0123456789"
T = TypeVar("T")
Scenario = Callable[[stripe.StripeClient], Awaitable[T]]


@dataclass
class Emulator:
    base_url: str
    app: Starlette

    @property
    def faults(self) -> FaultInjector:
        faults: FaultInjector = self.app.state.faults
        return faults

    @property
    def state(self) -> EmulatorState:
        state: EmulatorState = self.app.state.emulator
        return state

    def call(self, scenario: Scenario[T], *, timeout: float = 5) -> T:
        """Run `scenario` with an SDK client that never retries, so each fault shows."""

        async def main() -> T:
            http_client = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=timeout))
            client = stripe.StripeClient(
                SECRET,
                base_addresses={"api": self.base_url},
                http_client=http_client,
                max_network_retries=0,
            )
            try:
                return await scenario(client)
            finally:
                await http_client.close_async()  # type: ignore[no-untyped-call]  # unannotated in the SDK

        return asyncio.run(main())

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=5)


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    # "auto" is httptools here, as `python -m providers.stripe_emulator` uses;
    # tests of connection drops also run on h11 via indirect parametrization.
    http = getattr(request, "param", "auto")
    # Drops make uvicorn log "Exception in ASGI application" on purpose: keep it quiet.
    with serve_in_thread(
        lambda base: create_app(
            secret_key=SECRET, publishable_key=PUBLISHABLE, public_base_url=base
        ),
        log_level="critical",
        http=http,
    ) as (base_url, app):
        yield Emulator(base_url, app)


async def _tokenize(client: stripe.StripeClient, number: str = "4242424242424242") -> str:
    pm = await client.v1.payment_methods.create_async(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return pm.id


async def _create_intent(client: stripe.StripeClient, key: str | None = None) -> str:
    options: stripe.RequestOptions = {"idempotency_key": key} if key else {}
    intent = await client.v1.payment_intents.create_async(
        params={"amount": 1000, "currency": "usd"}, options=options
    )
    return intent.id


# --- each fault through the SDK --------------------------------------------------------


@pytest.mark.parametrize(("fault", "status"), [(Fault.ERROR_500, 500), (Fault.ERROR_503, 503)])
def test_server_errors_raise_api_error_and_do_nothing(
    emulator: Emulator, fault: Fault, status: int
) -> None:
    emulator.faults.add(fault, method="POST", path_prefix="/v1/payment_intents")

    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.APIError) as raised:
            await _create_intent(client)
        assert raised.value.http_status == status
        assert raised.value.request_id is not None  # Stripe's errors carry one; ours too
        assert raised.value.error is not None and raised.value.error.type == "api_error"

    emulator.call(scenario)
    assert emulator.state.payment_intents == {}
    assert emulator.faults.calls() == {}


def test_rate_limit_raises_rate_limit_error_with_retry_after(emulator: Emulator) -> None:
    emulator.faults.add(Fault.RATE_LIMIT)

    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.RateLimitError) as raised:
            await _create_intent(client)
        assert raised.value.http_status == 429
        assert raised.value.headers is not None and raised.value.headers["retry-after"] == "0"
        assert raised.value.error is not None and raised.value.error.code == "rate_limit"

    emulator.call(scenario)
    assert emulator.faults.count("payment_intents.create") == 0


@pytest.mark.parametrize("emulator", ["httptools", "h11"], indirect=True)
def test_drop_before_raises_connection_error_and_nothing_happens(emulator: Emulator) -> None:
    emulator.faults.add(Fault.DROP_BEFORE, path_prefix="/v1/payment_intents")

    async def scenario(client: stripe.StripeClient) -> str:
        with pytest.raises(stripe.APIConnectionError):
            await _create_intent(client, key="order-1")
        # Nothing was stored under the key, so the retry really creates the intent.
        return await _create_intent(client, key="order-1")

    intent_id = emulator.call(scenario)
    assert list(emulator.state.payment_intents) == [intent_id]
    assert emulator.faults.count("payment_intents.create") == 1


@pytest.mark.parametrize("emulator", ["httptools", "h11"], indirect=True)
def test_drop_after_success_then_retry_with_same_key_replays_the_charge(
    emulator: Emulator,
) -> None:
    emulator.faults.add(Fault.DROP_AFTER_SUCCESS, method="POST", path_prefix="/v1/payment_intents")

    async def scenario(client: stripe.StripeClient) -> None:
        pm_id = await _tokenize(client)
        params: stripe.params.PaymentIntentCreateParams = {
            "amount": 2500,
            "currency": "eur",
            "payment_method": pm_id,
            "confirm": True,
        }
        options: stripe.RequestOptions = {"idempotency_key": "order-7-charge"}
        with pytest.raises(stripe.APIConnectionError):
            await client.v1.payment_intents.create_async(params=params, options=options)
        # The charge happened although the client never heard of it.
        [charged] = emulator.state.payment_intents.values()
        assert charged.status == "succeeded"

        retried = await client.v1.payment_intents.create_async(params=params, options=options)
        assert retried.id == charged.id
        assert retried.status == "succeeded"
        assert retried.last_response is not None
        assert retried.last_response.headers["idempotent-replayed"] == "true"

    emulator.call(scenario)
    assert emulator.faults.count("payment_intents.create") == 1
    assert emulator.faults.count("payment_intents.confirm") == 1
    assert len(emulator.state.charges) == 1


def test_drop_after_success_then_retry_with_a_new_key_charges_twice(emulator: Emulator) -> None:
    """Why the adapters must reuse the key: the ledger sees the double charge."""
    emulator.faults.add(Fault.DROP_AFTER_SUCCESS, path_prefix="/v1/payment_intents")

    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.APIConnectionError):
            await _create_intent(client, key="attempt-1")
        await _create_intent(client, key="attempt-2")

    emulator.call(scenario)
    assert emulator.faults.count("payment_intents.create") == 2


def test_timeout_raises_connection_error_and_the_operation_still_runs(
    emulator: Emulator,
) -> None:
    emulator.faults.add(Fault.TIMEOUT, path_prefix="/v1/payment_intents", delay_ms=3000)

    async def scenario(client: stripe.StripeClient) -> float:
        started = time.monotonic()
        with pytest.raises(stripe.APIConnectionError):
            await _create_intent(client)
        return time.monotonic() - started

    elapsed = emulator.call(scenario, timeout=1)
    assert 0.9 < elapsed < 2.5
    assert emulator.faults.count("payment_intents.create") == 0
    # As at a real provider, the request had arrived: it completes after the client gave up.
    deadline = time.monotonic() + 5
    while emulator.faults.count("payment_intents.create") == 0:
        assert time.monotonic() < deadline, "the timed-out request never ran"
        time.sleep(0.05)
    assert len(emulator.state.payment_intents) == 1


def test_delay_answers_normally_after_the_delay(emulator: Emulator) -> None:
    emulator.faults.add(Fault.DELAY, delay_ms=300)

    async def scenario(client: stripe.StripeClient) -> float:
        started = time.monotonic()
        await _create_intent(client)
        return time.monotonic() - started

    assert emulator.call(scenario) >= 0.3
    assert emulator.faults.count("payment_intents.create") == 1


# --- rule matching ---------------------------------------------------------------------


def test_times_two_applies_twice_then_stops(emulator: Emulator) -> None:
    emulator.faults.add(Fault.ERROR_503, times=2)

    async def scenario(client: stripe.StripeClient) -> None:
        for _ in range(2):
            with pytest.raises(stripe.APIError):
                await _create_intent(client)
        await _create_intent(client)

    emulator.call(scenario)
    assert emulator.faults.count("payment_intents.create") == 1


def test_rules_apply_only_to_their_method_and_path_prefix(emulator: Emulator) -> None:
    emulator.faults.add(Fault.ERROR_500, method="GET", path_prefix="/v1/payment_intents")
    emulator.faults.add(Fault.RATE_LIMIT, method="POST", path_prefix="/v1/refunds")

    async def scenario(client: stripe.StripeClient) -> None:
        intent_id = await _create_intent(client)  # POST: not the GET rule's
        await _tokenize(client)  # another path: neither rule's
        with pytest.raises(stripe.APIError):
            await client.v1.payment_intents.retrieve_async(intent_id)
        await client.v1.payment_intents.retrieve_async(intent_id)  # used up
        with pytest.raises(stripe.RateLimitError):
            await client.v1.refunds.create_async(params={"payment_intent": intent_id})

    emulator.call(scenario)


def test_first_matching_rule_wins_and_others_wait() -> None:
    injector = FaultInjector()
    injector.add(Fault.DROP_BEFORE, path_prefix="/v1/refunds")
    injector.add(Fault.ERROR_500, method="post", times=2)
    injector.add(Fault.DELAY, delay_ms=5)
    assert injector.take("POST", "/v1/payment_intents") == Rule(Fault.ERROR_500, "POST", times=2)
    assert injector.take("GET", "/v1/payment_intents/pi_1") == Rule(Fault.DELAY, delay_ms=5)
    assert injector.take("POST", "/v1/refunds") == Rule(Fault.DROP_BEFORE, None, "/v1/refunds")
    assert injector.take("POST", "/v1/refunds") == Rule(Fault.ERROR_500, "POST", times=1)
    assert injector.take("POST", "/v1/refunds") is None
    injector.add(Fault.TIMEOUT)
    injector.clear()
    assert injector.take("POST", "/v1/refunds") is None


@pytest.mark.parametrize(
    ("times", "delay_ms"), [(0, 0), (1, -1), (1, 10**9), (True, 0), (1, False)]
)
def test_add_refuses_out_of_range_numbers(times: int, delay_ms: int) -> None:
    with pytest.raises(ValueError):
        FaultInjector().add(Fault.DELAY, times=times, delay_ms=delay_ms)


# --- the ledger ------------------------------------------------------------------------


def test_ledger_counts_real_operations_and_never_replays(emulator: Emulator) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        pm_id = await _tokenize(client)
        params: stripe.params.PaymentIntentCreateParams = {
            "amount": 4000,
            "currency": "usd",
            "payment_method": pm_id,
            "capture_method": "manual",
            "confirm": True,
        }
        for _ in range(2):
            options: stripe.RequestOptions = {"idempotency_key": "held"}
            held = await client.v1.payment_intents.create_async(params=params, options=options)
        for _ in range(2):
            options = {"idempotency_key": "capture-held"}
            await client.v1.payment_intents.capture_async(held.id, options=options)
        await client.v1.refunds.create_async(params={"payment_intent": held.id, "amount": 100})
        # The first method has paid and belongs to no Customer, so it cannot pay again.
        other = await client.v1.payment_intents.create_async(
            params={**params, "payment_method": await _tokenize(client), "confirm": False}
        )
        await client.v1.payment_intents.cancel_async(other.id)
        # A confirm that stops for 3-D Secure has moved no money yet.
        challenged = await client.v1.payment_intents.create_async(
            params={**params, "payment_method": await _tokenize(client, "4000002760003184")}
        )
        assert challenged.status == "requires_action"

    emulator.call(scenario)
    assert emulator.faults.calls() == {
        "payment_methods.create": 3,
        "payment_intents.create": 3,
        "payment_intents.confirm": 1,
        "payment_intents.capture": 1,
        "payment_intents.cancel": 1,
        "refunds.create": 1,
    }


# --- control endpoints -----------------------------------------------------------------


def test_control_endpoints_require_the_secret_key(emulator: Emulator) -> None:
    rule = {"fault": "error_500"}
    with emulator.control() as http:
        for headers in ({}, {"Authorization": f"Bearer {PUBLISHABLE}"}, {"Authorization": "x"}):
            assert http.post("/_emulator/faults", json=rule, headers=headers).status_code == 401
            assert http.delete("/_emulator/faults", headers=headers).status_code == 401
            assert http.get("/_emulator/calls", headers=headers).status_code == 401
    assert emulator.faults.take("POST", "/v1/payment_intents") is None


def test_faults_and_calls_over_http(emulator: Emulator) -> None:
    auth = {"Authorization": f"Bearer {SECRET}"}
    with emulator.control() as http:
        created = http.post(
            "/_emulator/faults",
            json={"fault": "error_503", "method": "post", "path_prefix": "/v1/", "times": 3},
            headers=auth,
        )
        assert created.status_code == 201
        assert created.json() == {
            "fault": "error_503",
            "method": "POST",
            "path_prefix": "/v1/",
            "times": 3,
            "delay_ms": 0,
        }
        # Control routes are never faulted, even by a rule matching every path.
        http.post("/_emulator/faults", json={"fault": "drop_before"}, headers=auth)
        assert http.get("/_emulator/calls", headers=auth).json() == {"calls": {}}

        emulator.call(_expect_api_error)
        assert http.delete("/_emulator/faults", headers=auth).status_code == 204
        emulator.call(_create_intent)
        answer = http.get("/_emulator/calls", headers=auth)
        assert answer.json() == {"calls": {"payment_intents.create": 1}}


async def _expect_api_error(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.APIError):
        await _create_intent(client)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"fault": "explode"}',
        b'{"fault": "delay", "times": 0}',
        b'{"fault": "delay", "delay_ms": "10"}',
        b'{"fault": "delay", "path": "/v1"}',
        b'{"fault": "delay", "method": 1}',
    ],
)
def test_malformed_fault_rules_are_refused(emulator: Emulator, body: bytes) -> None:
    with emulator.control() as http:
        answer = http.post(
            "/_emulator/faults", content=body, headers={"Authorization": f"Bearer {SECRET}"}
        )
    assert answer.status_code == 400
    assert emulator.faults.take("POST", "/v1/payment_intents") is None


# --- the per-request header ------------------------------------------------------------


def test_fault_header_applies_to_its_request_only(emulator: Emulator) -> None:
    emulator.faults.add(Fault.ERROR_500)

    async def scenario(client: stripe.StripeClient) -> None:
        options: stripe.RequestOptions = {"headers": {"Emulator-Fault": "rate_limit"}}
        with pytest.raises(stripe.RateLimitError):
            await client.v1.payment_intents.create_async(
                params={"amount": 1000, "currency": "usd"}, options=options
            )
        # The header took the place of the queued rule, which is still waiting.
        with pytest.raises(stripe.APIError) as raised:
            await _create_intent(client)
        assert raised.value.http_status == 500
        options = {"headers": {"Emulator-Fault": "drop_after_success"}}
        with pytest.raises(stripe.APIConnectionError):
            await client.v1.payment_intents.create_async(
                params={"amount": 1000, "currency": "usd"}, options=options
            )

    emulator.call(scenario)
    assert emulator.faults.count("payment_intents.create") == 1


def test_fault_header_from_curl(emulator: Emulator) -> None:
    auth = {"Authorization": f"Bearer {SECRET}"}
    form = {"amount": "1000", "currency": "usd"}
    with emulator.control() as http:
        started = time.monotonic()
        slow = http.post(
            "/v1/payment_intents",
            data=form,
            headers={**auth, "Emulator-Fault": "delay; delay_ms=250"},
        )
        assert slow.status_code == 200 and time.monotonic() - started >= 0.25
        unavailable = http.post(
            "/v1/payment_intents", data=form, headers={**auth, "Emulator-Fault": "error_503"}
        )
        assert unavailable.status_code == 503
        assert unavailable.json()["error"]["type"] == "api_error"
        bogus = http.post(
            "/v1/payment_intents", data=form, headers={**auth, "Emulator-Fault": "explode"}
        )
        assert bogus.status_code == 400 and "drop_before" in bogus.text
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/v1/payment_intents", headers={**auth, "Emulator-Fault": "drop_before"})
    assert emulator.faults.count("payment_intents.create") == 1


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("timeout", Rule(Fault.TIMEOUT)),
        ("Delay ; delay_ms=40", Rule(Fault.DELAY, delay_ms=40)),
        ("drop_after_success;", Rule(Fault.DROP_AFTER_SUCCESS)),
    ],
)
def test_fault_header_parsing(value: str, rule: Rule) -> None:
    assert parse_fault_header(value) == rule


@pytest.mark.parametrize("value", ["", "boom", "delay; delay_ms=-1", "delay; times=2"])
def test_fault_header_parsing_refuses_nonsense(value: str) -> None:
    with pytest.raises(ValueError):
        parse_fault_header(value)


def test_timeout_without_delay_waits_thirty_seconds() -> None:
    assert parse_fault_header("timeout").delay_seconds == 30

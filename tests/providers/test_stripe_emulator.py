"""The Stripe emulator, driven over real HTTP by the official `stripe` SDK."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe
from starlette.applications import Starlette

from providers.stripe_emulator import EmulatorState, create_app
from tests.conftest import serve_in_thread

SECRET = "sk_test_emulator_secret_0123456789"
PUBLISHABLE = "pk_test_emulator_publishable_0123456789"
SHOP = "https://shop.example/return?order=ord_1"
T = TypeVar("T")

# stripe.HTTPXClient hands httpx the encoded form as `data=<str>`, which httpx deprecates
# in favour of `content=`. That is the SDK's business, not the emulator's: silence exactly it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning"
)


@dataclasses.dataclass
class Emulator:
    base_url: str
    app: Starlette

    @property
    def state(self) -> EmulatorState:
        state: EmulatorState = self.app.state.emulator
        return state

    def call(self, scenario: Callable[[stripe.StripeClient], Awaitable[T]], key: str = SECRET) -> T:
        async def main() -> T:
            http_client = stripe.HTTPXClient(timeout=5)
            client = stripe.StripeClient(
                key, base_addresses={"api": self.base_url}, http_client=http_client
            )
            try:
                return await scenario(client)
            finally:
                await http_client.close_async()  # type: ignore[no-untyped-call]  # unannotated in the SDK

        return asyncio.run(main())

    def card(self, number: str, **extra: str) -> str:
        """Tokenize as a browser would: with the publishable key. Returns the pm id."""

        async def tokenize(client: stripe.StripeClient) -> str:
            pm = await client.v1.payment_methods.create_async(params=card_params(number, **extra))
            return pm.id

        return self.call(tokenize, key=PUBLISHABLE)


def card_params(number: str, **extra: str) -> stripe.params.PaymentMethodCreateParams:
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    card.update(extra)
    return {"type": "card", "card": card}  # type: ignore[typeddict-item]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with serve_in_thread(
        lambda base: create_app(
            secret_key=SECRET, publishable_key=PUBLISHABLE, public_base_url=base
        ),
        log_level="warning",
    ) as (base_url, app):
        yield Emulator(base_url, app)


def test_tokenized_card_is_charged_with_automatic_capture(emulator: Emulator) -> None:
    pm_id = emulator.card("4242424242424242")

    async def scenario(client: stripe.StripeClient) -> None:
        pm = await client.v1.payment_methods.retrieve_async(pm_id)
        assert pm.card is not None
        assert (pm.card.brand, pm.card.last4, pm.card.exp_year) == ("visa", "4242", 2034)
        intent = await client.v1.payment_intents.create_async(
            params={
                "amount": 2599,
                "currency": "EUR",
                "payment_method": pm_id,
                "confirm": True,
                "capture_method": "automatic",
                "metadata": {"order": "ord_1"},
            }
        )
        assert intent.id.startswith("pi_")
        assert intent.status == "succeeded"
        assert (intent.amount, intent.amount_received, intent.currency) == (2599, 2599, "eur")
        assert intent.client_secret is not None
        assert intent.client_secret.startswith(f"{intent.id}_secret_")
        assert intent.latest_charge is not None and str(intent.latest_charge).startswith("ch_")
        assert intent.livemode is False
        assert intent.metadata.to_dict() == {"order": "ord_1"}
        assert intent.payment_method == pm_id

    emulator.call(scenario)


def test_manual_capture_can_capture_part_of_the_authorization(emulator: Emulator) -> None:
    pm_id = emulator.card("5555555555554444")

    async def scenario(client: stripe.StripeClient) -> None:
        intent = await client.v1.payment_intents.create_async(
            params={
                "amount": 5000,
                "currency": "usd",
                "payment_method": pm_id,
                "capture_method": "manual",
            }
        )
        assert intent.status == "requires_confirmation"
        intent = await client.v1.payment_intents.confirm_async(intent.id)
        assert (intent.status, intent.amount_capturable, intent.amount_received) == (
            "requires_capture",
            5000,
            0,
        )
        intent = await client.v1.payment_intents.capture_async(
            intent.id, params={"amount_to_capture": 3000}
        )
        assert (intent.status, intent.amount_capturable, intent.amount_received) == (
            "succeeded",
            0,
            3000,
        )

    emulator.call(scenario)


@pytest.mark.parametrize(
    ("number", "code", "decline_code"),
    [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000000069", "expired_card", "expired_card"),
        ("4000000000000127", "incorrect_cvc", "incorrect_cvc"),
    ],
)
def test_decline_raises_card_error_and_leaves_intent_awaiting_a_method(
    emulator: Emulator, number: str, code: str, decline_code: str
) -> None:
    pm_id = emulator.card(number)

    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.CardError) as raised:
            await client.v1.payment_intents.create_async(
                params={"amount": 1000, "currency": "usd", "payment_method": pm_id, "confirm": True}
            )
        error = raised.value
        assert error.http_status == 402
        assert error.code == code
        assert error.error is not None and error.error.decline_code == decline_code
        assert error.user_message
        intent_in_error = error.error.payment_intent
        assert intent_in_error is not None
        intent = await client.v1.payment_intents.retrieve_async(intent_in_error.id)
        assert intent.status == "requires_payment_method"
        assert intent.payment_method is None
        assert intent.last_payment_error is not None
        assert intent.last_payment_error.decline_code == decline_code

    emulator.call(scenario)


def test_generic_decline_says_your_card_was_declined(emulator: Emulator) -> None:
    pm_id = emulator.card("4000000000000002")

    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.CardError, match=r"Your card was declined\."):
            await client.v1.payment_intents.create_async(
                params={"amount": 1000, "currency": "usd", "payment_method": pm_id, "confirm": True}
            )

    emulator.call(scenario)


def test_3ds_card_requires_action_and_completing_the_challenge_succeeds(
    emulator: Emulator,
) -> None:
    pm_id = emulator.card("4000002760003184")

    async def create(client: stripe.StripeClient) -> stripe.PaymentIntent:
        return await client.v1.payment_intents.create_async(
            params={
                "amount": 1234,
                "currency": "gbp",
                "payment_method": pm_id,
                "confirm": True,
                "return_url": SHOP,
            }
        )

    intent = emulator.call(create)
    assert intent.status == "requires_action"
    assert intent.next_action is not None and intent.next_action.type == "redirect_to_url"
    redirect = intent.next_action.redirect_to_url
    assert redirect is not None and redirect.url is not None
    assert redirect.url.startswith(f"{emulator.base_url}/3ds/{intent.id}?token=")
    assert redirect.return_url == SHOP

    with httpx.Client() as browser:
        page = browser.get(redirect.url)
        assert page.status_code == 200
        assert "Complete" in page.text and "Fail" in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "form-action 'self' https://shop.example" in csp
        token = parse_qs(urlsplit(redirect.url).query)["token"][0]
        done = browser.post(
            f"{emulator.base_url}/3ds/{intent.id}/complete",
            data={"outcome": "succeed", "token": token},
        )
    assert done.status_code == 303
    location = urlsplit(done.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "shop.example", "/return")
    query = parse_qs(location.query)
    assert query["order"] == ["ord_1"]
    assert query["payment_intent"] == [intent.id]
    assert query["redirect_status"] == ["succeeded"]

    async def retrieve(client: stripe.StripeClient) -> stripe.PaymentIntent:
        return await client.v1.payment_intents.retrieve_async(intent.id)

    settled = emulator.call(retrieve)
    assert settled.status == "succeeded"
    assert settled.amount_received == 1234
    assert settled.next_action is None


def test_failed_3ds_challenge_returns_intent_to_requires_payment_method(
    emulator: Emulator,
) -> None:
    pm_id = emulator.card("4000002500003155")

    async def create(client: stripe.StripeClient) -> stripe.PaymentIntent:
        return await client.v1.payment_intents.create_async(
            params={"amount": 700, "currency": "usd", "payment_method": pm_id, "confirm": True}
        )

    intent = emulator.call(create)
    assert intent.next_action is not None and intent.next_action.type == "use_stripe_sdk"
    url = intent.next_action["use_stripe_sdk"]["stripe_js"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    with httpx.Client() as browser:
        wrong = browser.post(
            f"{emulator.base_url}/3ds/{intent.id}/complete",
            data={"outcome": "succeed", "token": "not-the-token"},
        )
        assert wrong.status_code == 404
        done = browser.post(
            f"{emulator.base_url}/3ds/{intent.id}/complete",
            data={"outcome": "fail", "token": token},
        )
    assert done.status_code == 200

    async def retrieve(client: stripe.StripeClient) -> stripe.PaymentIntent:
        return await client.v1.payment_intents.retrieve_async(intent.id)

    failed = emulator.call(retrieve)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"


def test_refunds_never_exceed_the_amount_received(emulator: Emulator) -> None:
    pm_id = emulator.card("378282246310005")

    async def scenario(client: stripe.StripeClient) -> None:
        intent = await client.v1.payment_intents.create_async(
            params={
                "amount": 5000,
                "currency": "usd",
                "payment_method": pm_id,
                "confirm": True,
                "capture_method": "manual",
            }
        )
        with pytest.raises(stripe.InvalidRequestError) as not_captured:
            await client.v1.refunds.create_async(params={"payment_intent": intent.id})
        assert not_captured.value.code == "charge_not_refundable"
        await client.v1.payment_intents.capture_async(intent.id, params={"amount_to_capture": 3000})

        first = await client.v1.refunds.create_async(
            params={"payment_intent": intent.id, "amount": 2000}
        )
        assert (first.amount, first.status, first.payment_intent) == (2000, "succeeded", intent.id)
        with pytest.raises(stripe.InvalidRequestError) as too_much:
            await client.v1.refunds.create_async(
                params={"payment_intent": intent.id, "amount": 1001}
            )
        assert too_much.value.code == "amount_too_large"
        rest = await client.v1.refunds.create_async(params={"payment_intent": intent.id})
        assert rest.amount == 1000
        assert (await client.v1.refunds.retrieve_async(rest.id)).amount == 1000
        with pytest.raises(stripe.InvalidRequestError) as exhausted:
            await client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 1})
        assert exhausted.value.code == "charge_already_refunded"

    emulator.call(scenario)


def test_same_idempotency_key_and_params_replays_the_first_answer(emulator: Emulator) -> None:
    pm_id = emulator.card("4242424242424242")
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": 1500,
        "currency": "usd",
        "payment_method": pm_id,
        "confirm": True,
    }

    async def scenario(client: stripe.StripeClient) -> None:
        options: stripe.RequestOptions = {"idempotency_key": "order-42-attempt-1"}
        first = await client.v1.payment_intents.create_async(params=params, options=options)
        again = await client.v1.payment_intents.create_async(params=params, options=options)
        assert again.id == first.id
        assert again.last_response is not None and first.last_response is not None
        assert again.last_response.headers["idempotent-replayed"] == "true"
        assert again.last_response.body == first.last_response.body

    emulator.call(scenario)
    assert len(emulator.state.payment_intents) == 1
    assert len(emulator.state.charges) == 1


def test_same_idempotency_key_with_other_params_raises_idempotency_error(
    emulator: Emulator,
) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        options: stripe.RequestOptions = {"idempotency_key": "reused-key"}
        await client.v1.payment_intents.create_async(
            params={"amount": 1000, "currency": "usd"}, options=options
        )
        with pytest.raises(stripe.IdempotencyError):
            await client.v1.payment_intents.create_async(
                params={"amount": 2000, "currency": "usd"}, options=options
            )

    emulator.call(scenario)


def test_idempotency_keys_expire_after_24_hours(emulator: Emulator) -> None:
    state = emulator.state
    started = time.time()
    state.clock = lambda: started

    async def create(client: stripe.StripeClient, amount: int) -> str:
        options: stripe.RequestOptions = {"idempotency_key": "daily-key"}
        intent = await client.v1.payment_intents.create_async(
            params={"amount": amount, "currency": "usd"}, options=options
        )
        return intent.id

    first = emulator.call(lambda client: create(client, 1000))
    state.clock = lambda: started + 24 * 60 * 60
    second = emulator.call(lambda client: create(client, 2000))
    assert second != first


def test_declines_are_replayed_under_their_idempotency_key(emulator: Emulator) -> None:
    pm_id = emulator.card("4000000000000002")

    async def scenario(client: stripe.StripeClient) -> None:
        options: stripe.RequestOptions = {"idempotency_key": "decline-once"}
        for _ in range(2):
            with pytest.raises(stripe.CardError):
                await client.v1.payment_intents.create_async(
                    params={
                        "amount": 900,
                        "currency": "usd",
                        "payment_method": pm_id,
                        "confirm": True,
                    },
                    options=options,
                )

    emulator.call(scenario)
    assert len(emulator.state.payment_intents) == 1


def test_wrong_or_publishable_key_raises_authentication_error(emulator: Emulator) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.AuthenticationError) as raised:
            await client.v1.payment_intents.create_async(params={"amount": 1000, "currency": "usd"})
        assert raised.value.http_status == 401
        assert "sk_test_wrong" not in str(raised.value)

    emulator.call(scenario, key="sk_test_wrong_key_000000000000")
    emulator.call(scenario, key=PUBLISHABLE)
    assert emulator.state.payment_intents == {}


def test_three_decimal_currency_amount_must_end_in_zero(emulator: Emulator) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            await client.v1.payment_intents.create_async(params={"amount": 1005, "currency": "kwd"})
        assert raised.value.param == "amount"
        accepted = await client.v1.payment_intents.create_async(
            params={"amount": 1010, "currency": "KWD"}
        )
        assert (accepted.amount, accepted.currency) == (1010, "kwd")
        with pytest.raises(stripe.InvalidRequestError) as unknown:
            await client.v1.payment_intents.create_async(params={"amount": 100, "currency": "xyz"})
        assert unknown.value.param == "currency"

    emulator.call(scenario)


def test_unknown_ids_and_missing_params_are_invalid_requests(emulator: Emulator) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as missing_object:
            await client.v1.payment_intents.retrieve_async("pi_doesnotexist")
        assert missing_object.value.http_status == 404
        assert missing_object.value.code == "resource_missing"
        with pytest.raises(stripe.InvalidRequestError) as missing_param:
            await client.v1.payment_intents.create_async(params={"currency": "usd"})  # type: ignore[typeddict-item]
        assert (missing_param.value.code, missing_param.value.param) == (
            "parameter_missing",
            "amount",
        )
        with pytest.raises(stripe.InvalidRequestError) as unknown_refund:
            await client.v1.refunds.retrieve_async("re_doesnotexist")
        assert unknown_refund.value.code == "resource_missing"

    emulator.call(scenario)

    with httpx.Client(base_url=emulator.base_url) as http:
        nowhere = http.get("/v1/charges", headers={"Authorization": f"Bearer {SECRET}"})
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["type"] == "invalid_request_error"
    assert "request-id" in nowhere.headers


@pytest.mark.parametrize(
    ("card", "code", "param"),
    [
        ({"number": "4242424242424241"}, "incorrect_number", "card[number]"),
        ({"number": "42424242"}, "invalid_number", "card[number]"),
        ({"exp_year": "2001"}, "invalid_expiry_year", "card[exp_year]"),
        ({"exp_month": "13"}, "invalid_expiry_month", "card[exp_month]"),
        ({"cvc": "12"}, "invalid_cvc", "card[cvc]"),
    ],
)
def test_invalid_card_details_are_refused_at_tokenization(
    emulator: Emulator, card: dict[str, str], code: str, param: str
) -> None:
    number = card.pop("number", "4242424242424242")

    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.CardError) as raised:
            await client.v1.payment_methods.create_async(params=card_params(number, **card))
        assert (raised.value.code, raised.value.param) == (code, param)

    emulator.call(scenario, key=PUBLISHABLE)
    assert emulator.state.payment_methods == {}


def test_cancel_releases_an_uncaptured_authorization(emulator: Emulator) -> None:
    pm_id = emulator.card("4242424242424242")

    async def scenario(client: stripe.StripeClient) -> None:
        intent = await client.v1.payment_intents.create_async(
            params={
                "amount": 800,
                "currency": "jpy",
                "payment_method": pm_id,
                "confirm": True,
                "capture_method": "manual",
            }
        )
        canceled = await client.v1.payment_intents.cancel_async(
            intent.id, params={"cancellation_reason": "abandoned"}
        )
        assert (canceled.status, canceled.amount_capturable) == ("canceled", 0)
        with pytest.raises(stripe.InvalidRequestError) as raised:
            await client.v1.payment_intents.capture_async(intent.id)
        assert raised.value.code == "payment_intent_unexpected_state"

    emulator.call(scenario)


def test_only_tokenization_answers_cors_preflight(emulator: Emulator) -> None:
    preflight = {
        "Origin": "http://127.0.0.1:8002",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with httpx.Client(base_url=emulator.base_url) as browser:
        allowed = browser.options("/v1/payment_methods", headers=preflight)
        refused = browser.options("/v1/payment_intents", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "*"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in refused.headers


def test_card_numbers_are_kept_nowhere_in_the_state(emulator: Emulator) -> None:
    numbers = ["4242424242424242", "4000000000000002", "4000002760003184", "378282246310005"]
    for number in numbers:
        pm_id = emulator.card(number)

        async def pay(client: stripe.StripeClient, pm_id: str = pm_id) -> None:
            with contextlib.suppress(stripe.CardError):
                await client.v1.payment_intents.create_async(
                    params={
                        "amount": 100,
                        "currency": "usd",
                        "payment_method": pm_id,
                        "confirm": True,
                    },
                    options={"idempotency_key": f"pay-{pm_id}"},
                )

        emulator.call(pay)

    async def tokenize_with_key(client: stripe.StripeClient) -> None:
        await client.v1.payment_methods.create_async(
            params=card_params("5555555555554444", cvc="987"),
            options={"idempotency_key": "tokenize-once"},
        )

    emulator.call(tokenize_with_key, key=PUBLISHABLE)
    numbers.append("5555555555554444")

    state = emulator.state
    assert "tokenize-once" in state.idempotency
    dumps = [repr(state), str(state)]
    for records in (
        state.payment_methods,
        state.payment_intents,
        state.charges,
        state.refunds,
        state.idempotency,
    ):
        for record in records.values():
            dumps += [repr(record), str(record), repr(dataclasses.asdict(record))]
    text = "\n".join(dumps)
    for number in numbers:
        assert number not in text
        assert number[:12] not in text  # not even a prefix beyond the BIN
    assert "987" not in "".join(repr(r) for r in state.payment_methods.values())


def test_latest_charge_expands_to_the_charge_with_its_refunds(emulator: Emulator) -> None:
    pm_id = emulator.card("4242424242424242")

    async def scenario(client: stripe.StripeClient) -> None:
        intent = await client.v1.payment_intents.create_async(
            params={
                "amount": 5000,
                "currency": "usd",
                "payment_method": pm_id,
                "confirm": True,
                "capture_method": "manual",
            }
        )
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.payment_intents.capture_async(
                intent.id, params={"expand": ["customer"]}
            )
        assert refused.value.param == "expand"
        # Refused before running: the authorization is still there to capture.
        await client.v1.payment_intents.capture_async(intent.id, params={"amount_to_capture": 4000})
        await client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 1500})
        plain = await client.v1.payment_intents.retrieve_async(intent.id)
        assert isinstance(plain.latest_charge, str)
        expanded = await client.v1.payment_intents.retrieve_async(
            intent.id, params={"expand": ["latest_charge"]}
        )
        charge = expanded.to_dict()["latest_charge"]
        assert (charge["id"], charge["amount_captured"], charge["amount_refunded"]) == (
            plain.latest_charge,
            4000,
            1500,
        )
        assert (charge["captured"], charge["refunded"]) == (True, False)

    emulator.call(scenario)

"""Customers and saved PaymentMethods in the Stripe emulator, through the official SDK:
attach, list, detach, delete, and Stripe's rules for reusing a PaymentMethod."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from providers.stripe_emulator import create_app
from tests.conftest import serve_in_thread
from tests.providers.test_stripe_emulator import PUBLISHABLE, SECRET, Emulator

VISA = "4242424242424242"
DECLINED = "4000000000000002"
ALWAYS_3DS = "4000002760003184"
UNLESS_SET_UP_3DS = "4000002500003155"

pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning"
)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with serve_in_thread(
        lambda base: create_app(
            secret_key=SECRET, publishable_key=PUBLISHABLE, public_base_url=base
        ),
        log_level="warning",
    ) as (base_url, app):
        yield Emulator(base_url, app)


def _customer(emulator: Emulator) -> str:
    async def create(client: stripe.StripeClient) -> str:
        customer = await client.v1.customers.create_async(
            params={"metadata": {"reference": "cus_ours"}}
        )
        return customer.id

    return emulator.call(create)


def _pay_params(pm: str, **extra: object) -> stripe.params.PaymentIntentCreateParams:
    params = {"amount": 1500, "currency": "eur", "payment_method": pm, "confirm": True}
    params.update(extra)
    return params  # type: ignore[return-value]


def _complete_challenge(emulator: Emulator, intent: stripe.PaymentIntent) -> None:
    assert intent.next_action is not None
    url = intent.next_action["use_stripe_sdk"]["stripe_js"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    with httpx.Client() as browser:
        done = browser.post(
            f"{emulator.base_url}/3ds/{intent.id}/complete",
            data={"outcome": "succeed", "token": token},
        )
    assert done.status_code == 200


def test_attached_methods_are_listed_newest_first_and_detached_ones_leave(
    emulator: Emulator,
) -> None:
    customer = _customer(emulator)
    first, second = emulator.card(VISA), emulator.card("5555555555554444", exp_month="7")

    async def scenario(client: stripe.StripeClient) -> None:
        fetched = await client.v1.customers.retrieve_async(customer)
        assert fetched.metadata is not None
        assert fetched.metadata.to_dict() == {"reference": "cus_ours"}
        assert fetched.email is None and fetched.name is None
        attached = await client.v1.payment_methods.attach_async(
            first, params={"customer": customer}
        )
        assert attached.customer == customer
        await client.v1.payment_methods.attach_async(second, params={"customer": customer})
        # Stripe refuses a second attach even to the same Customer.
        with pytest.raises(stripe.InvalidRequestError, match="already been attached"):
            await client.v1.payment_methods.attach_async(first, params={"customer": customer})

        listed = await client.v1.payment_methods.list_async(
            params={"customer": customer, "type": "card"}
        )
        assert [pm.id for pm in listed.data] == [second, first]
        assert listed.data[0].card is not None
        assert (listed.data[0].card.brand, listed.data[0].card.last4) == ("mastercard", "4444")
        assert listed.data[0].card.exp_month == 7
        nested = await client.v1.customers.payment_methods.list_async(customer)
        assert [pm.id for pm in nested.data] == [second, first]
        page = await client.v1.payment_methods.list_async(params={"customer": customer, "limit": 1})
        assert [pm.id for pm in page.data] == [second] and page.has_more
        assert [pm.id async for pm in page.auto_paging_iter()] == [second, first]
        newer = await client.v1.payment_methods.list_async(
            params={"customer": customer, "limit": 1, "ending_before": first}
        )
        assert [pm.id for pm in newer.data] == [second] and not newer.has_more

        detached = await client.v1.payment_methods.detach_async(second)
        assert detached.customer is None
        listed = await client.v1.payment_methods.list_async(params={"customer": customer})
        assert [pm.id for pm in listed.data] == [first]

        with pytest.raises(stripe.InvalidRequestError, match="not attached to a customer"):
            await client.v1.payment_methods.detach_async(second)
        with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
            await client.v1.payment_methods.attach_async(second, params={"customer": customer})
        with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
            await client.v1.payment_intents.create_async(
                params=_pay_params(second, customer=customer)
            )

    emulator.call(scenario)
    assert emulator.app.state.faults.count("payment_methods.attach") == 2
    assert emulator.app.state.faults.count("payment_methods.detach") == 1


def test_a_saved_method_pays_again_for_its_customer_only(emulator: Emulator) -> None:
    owner, other = _customer(emulator), _customer(emulator)
    pm = emulator.card(VISA)

    async def scenario(client: stripe.StripeClient) -> None:
        await client.v1.payment_methods.attach_async(pm, params={"customer": owner})
        for _ in range(2):
            intent = await client.v1.payment_intents.create_async(
                params=_pay_params(pm, customer=owner, off_session=True)
            )
            assert (intent.status, intent.customer) == ("succeeded", owner)

        with pytest.raises(stripe.InvalidRequestError, match="already been attached") as exc:
            await client.v1.payment_methods.attach_async(pm, params={"customer": other})
        assert exc.value.param == "payment_method"
        with pytest.raises(stripe.InvalidRequestError, match="does not have a payment method"):
            await client.v1.payment_intents.create_async(params=_pay_params(pm, customer=other))
        with pytest.raises(stripe.InvalidRequestError, match="belongs to a Customer"):
            await client.v1.payment_intents.create_async(params=_pay_params(pm))
        with pytest.raises(stripe.InvalidRequestError, match="No such customer") as missing:
            await client.v1.payment_intents.create_async(
                params=_pay_params(pm, customer="cus_nobody")
            )
        assert missing.value.http_status == 404

    emulator.call(scenario)


def test_a_method_of_nobody_pays_once_then_is_refused(emulator: Emulator) -> None:
    pm, declined = emulator.card(VISA), emulator.card(DECLINED)

    async def scenario(client: stripe.StripeClient) -> None:
        first = await client.v1.payment_intents.create_async(params=_pay_params(pm))
        assert first.status == "succeeded"
        with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
            await client.v1.payment_intents.create_async(params=_pay_params(pm))
        with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
            await client.v1.payment_methods.attach_async(
                pm, params={"customer": await _new_customer(client)}
            )
        # A decline moves no money and spends nothing: the same card may be tried again.
        for _ in range(2):
            with pytest.raises(stripe.CardError):
                await client.v1.payment_intents.create_async(params=_pay_params(declined))

    emulator.call(scenario)


async def _new_customer(client: stripe.StripeClient) -> str:
    return (await client.v1.customers.create_async()).id


def test_setup_future_usage_saves_the_method_once_the_payment_succeeds(
    emulator: Emulator,
) -> None:
    customer = _customer(emulator)
    pm = emulator.card(VISA)

    async def scenario(client: stripe.StripeClient) -> None:
        intent = await client.v1.payment_intents.create_async(
            params=_pay_params(
                pm, customer=customer, setup_future_usage="off_session", capture_method="manual"
            )
        )
        assert intent.status == "requires_capture"
        assert intent.setup_future_usage == "off_session"
        saved = await client.v1.payment_methods.retrieve_async(pm)
        assert saved.customer == customer
        again = await client.v1.payment_intents.create_async(
            params=_pay_params(pm, customer=customer, off_session=True)
        )
        assert again.status == "succeeded"

    emulator.call(scenario)


def test_off_session_3ds_card_is_declined_authentication_required(emulator: Emulator) -> None:
    customer = _customer(emulator)
    pm = emulator.card(ALWAYS_3DS)

    async def scenario(client: stripe.StripeClient) -> None:
        await client.v1.payment_methods.attach_async(pm, params={"customer": customer})
        with pytest.raises(stripe.CardError) as declined:
            await client.v1.payment_intents.create_async(
                params=_pay_params(pm, customer=customer, off_session=True)
            )
        assert declined.value.code == "authentication_required"
        error = declined.value.error
        assert error is not None and error.decline_code == "authentication_required"
        assert error.payment_intent is not None
        assert error.payment_intent.status == "requires_payment_method"
        # On session, with the customer there, the same saved card gets its challenge.
        on_session = await client.v1.payment_intents.create_async(
            params=_pay_params(pm, customer=customer)
        )
        assert on_session.status == "requires_action"
        with pytest.raises(stripe.InvalidRequestError, match="off_session"):
            await client.v1.payment_intents.create_async(
                params=_pay_params(pm, customer=customer, off_session=True, confirm=False)
            )

    emulator.call(scenario)


def test_an_unless_set_up_card_passes_off_session_only_after_set_up(emulator: Emulator) -> None:
    customer = _customer(emulator)
    attached_only, set_up = emulator.card(UNLESS_SET_UP_3DS), emulator.card(UNLESS_SET_UP_3DS)

    async def attach_and_try(client: stripe.StripeClient) -> stripe.PaymentIntent:
        await client.v1.payment_methods.attach_async(attached_only, params={"customer": customer})
        with pytest.raises(stripe.CardError, match="requires authentication"):
            await client.v1.payment_intents.create_async(
                params=_pay_params(attached_only, customer=customer, off_session=True)
            )
        return await client.v1.payment_intents.create_async(
            params=_pay_params(set_up, customer=customer, setup_future_usage="off_session")
        )

    challenged = emulator.call(attach_and_try)
    assert challenged.status == "requires_action"
    _complete_challenge(emulator, challenged)

    async def later(client: stripe.StripeClient) -> None:
        assert (await client.v1.payment_methods.retrieve_async(set_up)).customer == customer
        intent = await client.v1.payment_intents.create_async(
            params=_pay_params(set_up, customer=customer, off_session=True)
        )
        assert intent.status == "succeeded"

    emulator.call(later)


def test_deleting_a_customer_detaches_every_method_for_good(emulator: Emulator) -> None:
    customer = _customer(emulator)
    pms = [emulator.card(VISA), emulator.card(VISA)]

    async def scenario(client: stripe.StripeClient) -> None:
        for pm in pms:
            await client.v1.payment_methods.attach_async(pm, params={"customer": customer})
        deleted = await client.v1.customers.delete_async(customer)
        assert (deleted.id, deleted.deleted) == (customer, True)
        stub = await client.v1.customers.retrieve_async(customer)
        assert stub.to_dict() == {"id": customer, "object": "customer", "deleted": True}
        for pm in pms:
            assert (await client.v1.payment_methods.retrieve_async(pm)).customer is None
            with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
                await client.v1.payment_intents.create_async(params=_pay_params(pm))
        with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
            await client.v1.payment_methods.list_async(params={"customer": customer})
        with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
            await client.v1.customers.delete_async(customer)

    emulator.call(scenario)


def test_attach_retried_under_its_key_is_replayed_not_repeated(emulator: Emulator) -> None:
    customer = _customer(emulator)
    pm = emulator.card(VISA)

    async def scenario(client: stripe.StripeClient) -> None:
        options: stripe.RequestOptions = {"idempotency_key": f"attach:{customer}:{pm}"}
        for _ in range(3):
            attached = await client.v1.payment_methods.attach_async(
                pm, params={"customer": customer}, options=options
            )
            assert attached.customer == customer
        with pytest.raises(stripe.IdempotencyError):
            await client.v1.payment_methods.attach_async(
                pm, params={"customer": await _new_customer(client)}, options=options
            )

    emulator.call(scenario)
    assert emulator.app.state.faults.count("payment_methods.attach") == 1


def test_customers_take_no_personal_data(emulator: Emulator) -> None:
    async def scenario(client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: email"):
            await client.v1.customers.create_async(params={"email": "jane@example.com"})

    emulator.call(scenario)
    assert emulator.state.customers == {}

"""Saved payment methods through the adapters: `StripeProvider` as `SavedMethods` against the
Stripe emulator over the real SDK, and `PayPalProvider` saying plainly it has none."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from providers.base import (
    ChargeRequest,
    ProviderDeclined,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnsupported,
    SavedMethod,
    SavedMethods,
)
from providers.emulator_faults import Fault, FaultInjector
from providers.paypal import PayPalProvider
from providers.retry import NO_RETRY, RetryPolicy
from providers.stripe import StripeProvider
from providers.stripe_emulator import create_app
from tests.conftest import serve_in_thread
from tests.providers.test_stripe_emulator import PUBLISHABLE, SECRET, Emulator

pytestmark = pytest.mark.anyio

VISA = "4242424242424242"
DECLINED = "4000000000000002"
ALWAYS_3DS = "4000002760003184"
SHOP = "https://shop.example/return"
FAST_RETRY = RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.02)


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
        secret_key=SECRET, api_base=emulator.base_url, timeout=5, retry=FAST_RETRY
    )
    try:
        yield provider
    finally:
        await provider.aclose()


async def _card(emulator: Emulator, number: str, **extra: str) -> str:
    """Tokenize as a browser would, with the publishable key; returns the pm id."""
    card = {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123", **extra}
    form = {"type": "card", **{f"card[{k}]": v for k, v in card.items()}}
    async with httpx.AsyncClient() as browser:
        answer = await browser.post(
            f"{emulator.base_url}/v1/payment_methods",
            data=form,
            headers={"Authorization": f"Bearer {PUBLISHABLE}"},
        )
    answer.raise_for_status()
    return str(answer.json()["id"])


def _faults(emulator: Emulator) -> FaultInjector:
    faults: FaultInjector = emulator.app.state.faults
    return faults


def _charge(token: str, customer: str | None, n: int = 1, **extra: object) -> ChargeRequest:
    return ChargeRequest(
        payment_id=f"pay_{n}",
        amount=2500,
        currency="EUR",
        token=token,
        capture=True,
        idempotency_key=f"pay_{n}:charge",
        customer=customer,
        **extra,  # type: ignore[arg-type]
    )


def test_stripe_provider_is_a_saved_methods() -> None:
    # Checked by mypy: the adapter satisfies the protocol the accounts code will take.
    provider: SavedMethods = StripeProvider(secret_key=SECRET, api_base="http://127.0.0.1:9")
    assert provider.name == "stripe"


async def test_save_list_and_detach_carry_only_brand_last4_and_expiry(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    customer = await stripe_provider.ensure_customer("cus_ours1")
    assert customer.startswith("cus_")
    assert await stripe_provider.ensure_customer("cus_ours1") == customer  # same key: replay
    with emulator.state.lock:
        kept = emulator.state.customers[customer]
        assert kept.metadata == {"reference": "cus_ours1"} and kept.description is None

    visa = await _card(emulator, VISA, exp_month="9", exp_year="2031")
    mastercard = await _card(emulator, "5555555555554444")
    saved = await stripe_provider.save(customer, visa)
    assert saved == SavedMethod(visa, "visa", "4242", 9, 2031)
    assert "fingerprint" not in repr(saved) and not hasattr(saved, "fingerprint")
    await stripe_provider.save(customer, mastercard)
    assert await stripe_provider.save(customer, visa) == saved  # saving twice is harmless

    listed = await stripe_provider.list_saved(customer)
    assert [m.token for m in listed] == [mastercard, visa]
    assert listed[0] == SavedMethod(mastercard, "mastercard", "4444", 12, 2034)

    await stripe_provider.detach(mastercard)
    await stripe_provider.detach(mastercard)  # already detached: done, not an error
    assert [m.token for m in await stripe_provider.list_saved(customer)] == [visa]
    with pytest.raises(ProviderRejected, match="may not be used again"):
        await stripe_provider.save(customer, mastercard)


async def test_a_saved_card_is_charged_off_session_again_and_again(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    customer = await stripe_provider.ensure_customer("cus_ours2")
    token = await _card(emulator, VISA)
    await stripe_provider.save(customer, token)
    for n in (1, 2):
        payment = await stripe_provider.charge(_charge(token, customer, n, off_session=True))
        assert (payment.status, payment.amount_captured) == ("captured", 2500)
        assert payment.saved_method is not None and payment.saved_method.last4 == "4242"
    assert _faults(emulator).count("payment_intents.confirm") == 2


async def test_a_saved_card_that_declines_is_a_decline(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    customer = await stripe_provider.ensure_customer("cus_ours3")
    token = await _card(emulator, DECLINED)
    await stripe_provider.save(customer, token)
    with pytest.raises(ProviderDeclined) as declined:
        await stripe_provider.charge(_charge(token, customer, off_session=True))
    assert declined.value.decline_code == "generic_decline"
    assert declined.value.provider_ref is not None


async def test_3ds_card_off_session_is_declined_and_on_session_asks_for_the_challenge(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    customer = await stripe_provider.ensure_customer("cus_ours4")
    token = await _card(emulator, ALWAYS_3DS)
    await stripe_provider.save(customer, token)
    with pytest.raises(ProviderDeclined) as declined:
        await stripe_provider.charge(_charge(token, customer, 1, off_session=True))
    assert declined.value.decline_code == "authentication_required"
    assert declined.value.provider_ref is not None
    failed = await stripe_provider.fetch(declined.value.provider_ref)
    assert failed.status == "failed" and failed.decline_code == "authentication_required"

    # The customer is back at checkout: the same saved card, on session, gets 3-D Secure.
    payment = await stripe_provider.charge(_charge(token, customer, 2, return_url=SHOP))
    assert payment.status == "requires_action"
    assert payment.next_action is not None and payment.next_action.type == "redirect"
    assert payment.next_action.url is not None
    assert payment.next_action.url.startswith(f"{emulator.base_url}/3ds/")


async def test_detached_or_deleted_customers_cards_are_refused(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    customer = await stripe_provider.ensure_customer("cus_ours5")
    detached, kept = await _card(emulator, VISA), await _card(emulator, VISA)
    await stripe_provider.save(customer, detached)
    await stripe_provider.save(customer, kept)
    await stripe_provider.detach(detached)
    with pytest.raises(ProviderRejected, match="may not be used again") as refused:
        await stripe_provider.charge(_charge(detached, customer, 1))
    assert refused.value.param == "payment_method"

    await stripe_provider.delete_customer(customer)
    await stripe_provider.delete_customer(customer)  # erasure run twice: still fine
    with emulator.state.lock:
        assert emulator.state.payment_methods[kept].customer is None
    with pytest.raises(ProviderRejected, match="No such customer"):
        await stripe_provider.charge(_charge(kept, customer, 2))
    with pytest.raises(ProviderRejected, match="may not be used again"):
        await stripe_provider.charge(_charge(kept, None, 3))
    with pytest.raises(ProviderRejected, match="No such customer"):
        await stripe_provider.list_saved(customer)


async def test_another_customers_card_is_refused(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    owner = await stripe_provider.ensure_customer("cus_owner")
    other = await stripe_provider.ensure_customer("cus_other")
    token = await _card(emulator, VISA)
    await stripe_provider.save(owner, token)
    with pytest.raises(ProviderRejected, match="already been attached"):
        await stripe_provider.save(other, token)
    with pytest.raises(ProviderRejected, match="does not have a payment method"):
        await stripe_provider.charge(_charge(token, other))
    with pytest.raises(ProviderRejected, match="belongs to a Customer"):
        await stripe_provider.charge(_charge(token, None))


async def test_saving_while_paying_keeps_the_card_once_the_money_is_secured(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    customer = await stripe_provider.ensure_customer("cus_ours6")
    token = await _card(emulator, VISA)
    payment = await stripe_provider.charge(_charge(token, customer, 1, save_method=True))
    assert payment.status == "captured"
    assert payment.saved_method == SavedMethod(token, "visa", "4242", 12, 2034)
    assert [m.token for m in await stripe_provider.list_saved(customer)] == [token]

    challenged = await _card(emulator, ALWAYS_3DS)
    pending = await stripe_provider.charge(
        _charge(challenged, customer, 2, save_method=True, return_url=SHOP)
    )
    assert pending.status == "requires_action" and pending.saved_method is None
    assert pending.next_action is not None and pending.next_action.url is not None
    token_3ds = parse_qs(urlsplit(pending.next_action.url).query)["token"][0]
    async with httpx.AsyncClient() as browser:
        done = await browser.post(
            f"{emulator.base_url}/3ds/{pending.provider_ref}/complete",
            data={"outcome": "succeed", "token": token_3ds},
        )
    assert done.status_code == 303
    settled = await stripe_provider.fetch(pending.provider_ref)
    assert settled.status == "captured"
    assert settled.saved_method is not None and settled.saved_method.token == challenged

    with pytest.raises(ProviderRejected, match="needs a customer"):
        await stripe_provider.charge(
            _charge(await _card(emulator, VISA), None, 3, save_method=True)
        )


async def test_retries_after_lost_answers_save_and_charge_once(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    faults = _faults(emulator)
    faults.add(Fault.DROP_AFTER_SUCCESS, method="POST", path_prefix="/v1/customers")
    customer = await stripe_provider.ensure_customer("cus_ours7")
    token = await _card(emulator, VISA)
    faults.add(Fault.DROP_AFTER_SUCCESS, method="POST", path_prefix="/v1/payment_methods/")
    assert (await stripe_provider.save(customer, token)).token == token
    faults.add(Fault.DROP_AFTER_SUCCESS, method="POST", path_prefix="/v1/payment_intents")
    payment = await stripe_provider.charge(_charge(token, customer, off_session=True))
    assert payment.status == "captured"
    assert faults.count("customers.create") == 1
    assert faults.count("payment_methods.attach") == 1
    assert faults.count("payment_intents.confirm") == 1
    with emulator.state.lock:
        assert len(emulator.state.customers) == 1


async def test_stripe_errors_are_the_providers_error_types(
    emulator: Emulator, stripe_provider: StripeProvider
) -> None:
    with pytest.raises(ProviderRejected, match="No such customer"):
        await stripe_provider.save("cus_nobody", await _card(emulator, VISA))
    with pytest.raises(ProviderRejected, match="No such PaymentMethod"):
        await stripe_provider.detach("pm_nothing")
    with pytest.raises(ProviderRejected):
        await stripe_provider.delete_customer("cus_nobody")
    offline = StripeProvider(
        secret_key=SECRET, api_base="http://127.0.0.1:9", timeout=1, retry=NO_RETRY
    )
    try:
        with pytest.raises(ProviderUnavailable):
            await offline.list_saved("cus_x")
    finally:
        await offline.aclose()


async def test_paypal_says_it_offers_no_saved_methods() -> None:
    provider: SavedMethods = PayPalProvider(
        client_id="id", client_secret="secret", api_base="http://127.0.0.1:9"
    )
    calls = [
        provider.ensure_customer("cus_ours"),
        provider.save("C1", "T1"),
        provider.list_saved("C1"),
        provider.detach("T1"),
        provider.delete_customer("C1"),
    ]
    for call in calls:
        with pytest.raises(ProviderUnsupported) as unsupported:
            await call
        assert unsupported.value.feature == "saved_methods"
        assert isinstance(unsupported.value, ProviderRejected)
    assert isinstance(provider, PayPalProvider)
    with pytest.raises(ProviderUnsupported):
        await provider.charge(_charge("5O190127TN364715T", "C1"))

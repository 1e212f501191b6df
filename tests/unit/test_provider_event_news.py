"""When a provider's state is news to a payment (the webhook worker writes only then), and
the batch lookup's finding rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from checkout.domain.money import Money
from checkout.domain.payment import Payment, PaymentStatus
from checkout.services.provider_events import Known, is_news
from providers.base import ProviderEvent, ProviderPayment

S = PaymentStatus


def _payment(**changes: Any) -> Payment:
    base = Payment(
        id="pay_1",
        checkout_id="chk_1",
        order_id="ord_1",
        provider="stripe",
        provider_ref="pi_1",
        status=S.CAPTURED,
        amount=Money(6200, "USD"),
        amount_captured=6200,
        amount_refunded=0,
        capture_method="automatic",
        idempotency_key="pay_1",
    )
    return replace(base, **changes)


def _held(status: str = "captured", **changes: Any) -> ProviderPayment:
    fields: dict[str, Any] = {
        "provider_ref": "pi_1",
        "status": status,
        "amount": 6200,
        "currency": "USD",
        "amount_captured": 6200,
        "amount_refunded": 0,
    }
    fields.update(changes)
    return ProviderPayment(**fields)


def test_the_state_we_already_hold_is_no_news() -> None:
    assert not is_news(_payment(), _held())


def test_an_older_state_is_no_news() -> None:
    refunded = _payment(status=S.PARTIALLY_REFUNDED, amount_refunded=300)
    assert not is_news(refunded, _held("captured"))
    assert not is_news(refunded, _held("partially_refunded", amount_refunded=100))


@pytest.mark.parametrize(
    ("payment", "held"),
    [
        (_payment(status=S.AUTHORIZED, amount_captured=0), _held("captured")),
        (_payment(), _held("partially_refunded", amount_refunded=100)),
        # A second partial refund moves the amount, not the status.
        (
            _payment(status=S.PARTIALLY_REFUNDED, amount_refunded=100),
            _held("partially_refunded", amount_refunded=200),
        ),
        (_payment(status=S.PROCESSING, provider_ref=None, order_id=None), _held("captured")),
        # Secured but without its order (held back earlier): settling decides again.
        (_payment(order_id=None), _held("captured")),
        # Details of these statuses come from the provider each time.
        (_payment(status=S.REQUIRES_ACTION, amount_captured=0), _held("requires_action")),
        (_payment(status=S.FAILED, amount_captured=0), _held("failed", amount_captured=0)),
    ],
)
def test_anything_settling_would_change_is_news(payment: Payment, held: ProviderPayment) -> None:
    assert is_news(payment, held)


def _event(payment_id: str | None, ref: str | None, provider: str = "stripe") -> ProviderEvent:
    return ProviderEvent(provider, "evt_1", "charge.refunded", ref, payment_id, 0)


def test_the_batch_lookup_finds_by_our_id_then_by_reference() -> None:
    known = Known([_payment(), _payment(id="pay_2", provider_ref="pi_2")])
    assert known.find(_event("pay_2", "pi_1")) == _payment(id="pay_2", provider_ref="pi_2")
    assert known.find(_event(None, "pi_1")) == _payment()
    assert known.find(_event("pay_9", None)) is None
    # Our id claimed by an event of another provider does not match; its reference might.
    assert known.find(_event("pay_1", "pi_1", provider="paypal")) is None


def test_a_settled_payment_replaces_the_one_read_for_the_batch() -> None:
    known = Known([_payment()])
    settled = _payment(status=S.PARTIALLY_REFUNDED, amount_refunded=100)
    known.keep(settled)
    assert known.find(_event("pay_1", None)) == settled
    assert known.find(_event(None, "pi_1")) == settled

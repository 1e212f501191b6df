from __future__ import annotations

from typing import Any

import pytest

from providers.base import ProviderRejected
from providers.stripe.wire import payment_from_intent, to_stripe_amount


def _pi(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "pi_1",
        "amount": 5000,
        "currency": "usd",
        "status": "succeeded",
        "amount_received": 5000,
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("status", "neutral"),
    [
        ("succeeded", "captured"),
        ("requires_capture", "authorized"),
        ("requires_action", "requires_action"),
        ("canceled", "voided"),
        ("requires_payment_method", "failed"),
        ("processing", "processing"),
    ],
)
def test_intent_statuses_map_to_neutral_ones(status: str, neutral: str) -> None:
    assert payment_from_intent(_pi(status=status)).status == neutral


def test_currency_comes_back_upper_case_in_minor_units() -> None:
    p = payment_from_intent(_pi(amount=3800, currency="jpy", amount_received=3800))
    assert (p.amount, p.currency) == (3800, "JPY")


def test_refunds_on_the_charge_show_as_refund_states() -> None:
    partial = _pi(latest_charge={"amount_refunded": 1000})
    full = _pi(latest_charge={"amount_refunded": 5000})
    assert payment_from_intent(partial).status == "partially_refunded"
    assert payment_from_intent(full).status == "refunded"


def test_redirect_next_action_is_passed_on() -> None:
    p = payment_from_intent(
        _pi(
            status="requires_action",
            next_action={"type": "redirect_to_url", "redirect_to_url": {"url": "https://x/3ds"}},
        )
    )
    assert p.next_action is not None and p.next_action.url == "https://x/3ds"


def test_three_decimal_amounts_must_end_in_zero() -> None:
    assert to_stripe_amount(15400, "KWD") == (15400, "kwd")
    with pytest.raises(ProviderRejected):
        to_stripe_amount(15401, "KWD")


def test_zero_decimal_amounts_pass_unchanged() -> None:
    assert to_stripe_amount(3800, "JPY") == (3800, "jpy")


def test_the_retry_policy_bounds_a_call_by_attempts_and_backoff() -> None:
    from providers.retry import RetryPolicy

    policy = RetryPolicy(attempts=3, first_delay=0.2, max_delay=2.0)
    assert policy.worst_case(10.0) == pytest.approx(30.0 + 0.2 + 0.4)
    assert all(0.1 <= policy.delay(1) <= 0.2 for _ in range(50))
    assert all(policy.delay(9) <= 2.0 for _ in range(50))

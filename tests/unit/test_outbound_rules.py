"""Pure rules behind outbound events: which events a payment change emits, the retry
schedule, the signature scheme, and API-key scopes."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from checkout.access.scopes import Scope, UnknownScope, format_scopes, parse_scopes
from checkout.domain.money import Money
from checkout.domain.orders import events_between
from checkout.domain.payment import Payment, PaymentStatus
from webhooks.delivery import RetryPolicy
from webhooks.signing import sign, verify

S = PaymentStatus
PROCESSING = Payment(
    id="pay_1",
    checkout_id="chk_1",
    order_id=None,
    provider="stripe",
    provider_ref="pi_1",
    status=S.PROCESSING,
    amount=Money(5000, "EUR"),
    amount_captured=0,
    amount_refunded=0,
    capture_method="automatic",
    idempotency_key="pay_1",
)
CAPTURED = replace(PROCESSING, order_id="ord_1", status=S.CAPTURED, amount_captured=5000)
AUTHORIZED = replace(PROCESSING, order_id="ord_1", status=S.AUTHORIZED)


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        (PROCESSING, CAPTURED, ["order.created", "order.paid"]),
        (None, CAPTURED, ["order.created", "order.paid"]),
        (PROCESSING, AUTHORIZED, ["order.created"]),
        (AUTHORIZED, CAPTURED, ["order.paid"]),
        (AUTHORIZED, replace(AUTHORIZED, status=S.VOIDED), ["order.canceled"]),
        (
            CAPTURED,
            replace(CAPTURED, status=S.PARTIALLY_REFUNDED, amount_refunded=1000),
            ["order.refunded"],
        ),
        (
            replace(CAPTURED, status=S.PARTIALLY_REFUNDED, amount_refunded=1000),
            replace(CAPTURED, status=S.PARTIALLY_REFUNDED, amount_refunded=3000),
            ["order.refunded"],
        ),
        # A late first webhook finds the payment already refunded: everything, once.
        (
            PROCESSING,
            replace(CAPTURED, status=S.REFUNDED, amount_refunded=5000),
            ["order.created", "order.paid", "order.refunded"],
        ),
        # Replays and failures emit nothing.
        (CAPTURED, CAPTURED, []),
        (PROCESSING, replace(PROCESSING, status=S.FAILED), []),
        (PROCESSING, PROCESSING, []),
    ],
)
def test_events_follow_the_payment_change(
    before: Payment | None, after: Payment, events: list[str]
) -> None:
    assert events_between(before, after) == events


def test_retries_back_off_exponentially_for_more_than_a_day() -> None:
    policy = RetryPolicy()
    waits = policy.schedule()
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert all(a <= b for a, b in itertools.pairwise(waits))
    assert max(waits) == timedelta(hours=2)
    total = sum(waits, timedelta(0))
    assert total >= timedelta(hours=72) > timedelta(hours=24)
    # Past the first day there are still attempts left.
    elapsed, after_a_day = timedelta(0), 0
    for w in waits:
        elapsed += w
        after_a_day += elapsed > timedelta(hours=24)
    assert after_a_day >= 10


def test_the_signature_is_hmac_sha256_of_t_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    header = sign("whsec_x", body, timestamp=1_700_000_000)
    t, v1 = header.split(",")
    assert t == "t=1700000000"
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert v1 == f"v1={expected}"


def test_verify_accepts_fresh_matching_signatures_only() -> None:
    body = b'{"id":"evt_1"}'
    now = time.time()
    good = sign("whsec_x", body)
    assert verify("whsec_x", body, good)
    assert verify("whsec_x", body, "v1=00," + good)  # any matching v1
    assert not verify("whsec_y", body, good)
    assert not verify("whsec_x", body + b" ", good)
    assert not verify("whsec_x", body, sign("whsec_x", body, int(now) - 301), now=now)
    assert not verify("whsec_x", body, sign("whsec_x", body, int(now) + 301), now=now)
    for garbage in ("", "t=,v1=", "v1=abc", "t=1", "x" * 100_000, "t=99999999999999999999,v1=a"):
        assert not verify("whsec_x", body, garbage)


def test_scopes_parse_strictly() -> None:
    assert parse_scopes("orders:read, webhooks:manage") == {
        Scope.ORDERS_READ,
        Scope.WEBHOOKS_MANAGE,
    }
    assert format_scopes(frozenset({Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ})) == (
        "orders:read,webhooks:manage"
    )
    for bad in ("", " , ", "orders:write", "admin"):
        with pytest.raises(UnknownScope):
            parse_scopes(bad)

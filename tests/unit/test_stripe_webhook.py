from __future__ import annotations

import json
import time

import pytest
import stripe

from providers.base import WebhookRejected
from providers.stripe.webhook import parse_event, sign, verify_signature

SECRET = "whsec_test_secret"
BODY = json.dumps(
    {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "created": 1,
        "data": {
            "object": {
                "id": "pi_1",
                "object": "payment_intent",
                "metadata": {"payment_id": "pay_1"},
            }
        },
    }
).encode()


def test_a_header_made_by_the_stripe_sdk_verifies() -> None:
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET)
    verify_signature(BODY, header, [SECRET])


def test_any_configured_secret_may_match_during_rotation() -> None:
    verify_signature(BODY, sign(BODY, "whsec_new"), ["whsec_old", "whsec_new"])


def test_any_v1_in_the_header_may_match() -> None:
    t = int(time.time())
    good = sign(BODY, SECRET, t).split("v1=")[1]
    verify_signature(BODY, f"t={t},v1={'0' * 64},v1={good}", [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=abc,v1=00",
        "v1=" + "0" * 64,
        "t=1",
        "t=" + "9" * 40 + ",v1=00",
        "x" * 65536,
        "t=1,\x00v1=\xff",
    ],
)
def test_garbage_headers_are_refused(header: str | None) -> None:
    with pytest.raises(WebhookRejected):
        verify_signature(BODY, header, [SECRET])


def test_one_changed_body_byte_is_refused() -> None:
    header = sign(BODY, SECRET)
    tampered = BODY.replace(b"pi_1", b"pi_2")
    with pytest.raises(WebhookRejected):
        verify_signature(tampered, header, [SECRET])


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookRejected):
        verify_signature(BODY, sign(BODY, "whsec_other"), [SECRET])


def test_only_a_v0_signature_is_refused() -> None:
    t = int(time.time())
    v1 = sign(BODY, SECRET, t).split("v1=")[1]
    with pytest.raises(WebhookRejected, match="no v1"):
        verify_signature(BODY, f"t={t},v0={v1}", [SECRET])


@pytest.mark.parametrize("offset", [-301, 600])
def test_timestamps_outside_five_minutes_either_way_are_refused(offset: int) -> None:
    now = time.time()
    header = sign(BODY, SECRET, int(now) + offset)
    with pytest.raises(WebhookRejected, match="tolerance"):
        verify_signature(BODY, header, [SECRET], now=lambda: now)


def test_parse_takes_the_payment_intent_and_our_payment_id() -> None:
    event = parse_event(BODY)
    assert (event.event_id, event.type, event.provider_ref, event.payment_id) == (
        "evt_1",
        "payment_intent.succeeded",
        "pi_1",
        "pay_1",
    )


def test_a_charge_event_points_at_its_payment_intent() -> None:
    body = json.dumps(
        {
            "id": "evt_2",
            "type": "charge.refunded",
            "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_9"}},
        }
    ).encode()
    assert parse_event(body).provider_ref == "pi_9"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"id": "x", "type": "t", "data": {}}',
        b'{"id": "nope", "type": "t", "data": {"object": {}}}',
        b"[" * 100_000 + b"]" * 100_000,  # deeper than any parser nests: refused, not a 500
        b"\xff\xfe",
    ],
)
def test_a_verified_body_that_is_no_event_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        parse_event(body)


def test_what_the_fast_parser_refuses_but_json_reads_is_still_an_event() -> None:
    # orjson stops at 64-bit integers; Python's json does not, and a verified delivery
    # must not be turned away over which of the two read it.
    body = (
        b'{"id": "evt_big", "type": "charge.succeeded", "created": 1, "data": {"object": '
        b'{"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "n": ' + b"9" * 30 + b"}}}"
    )
    event = parse_event(body)
    assert (event.event_id, event.provider_ref) == ("evt_big", "pi_1")

"""Property-based tests (hypothesis) of the card-data guard and both webhook verifiers:
what must hold for every input, not only for the examples the other tests pick."""

from __future__ import annotations

import asyncio
import json
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checkout.cardguard.detect import contains_card_data, find_pans, luhn_valid, mask_pans
from checkout.cardguard.scan import body_has_card_data, headers_have_card_data
from providers.base import WebhookRejected
from providers.paypal.webhook_signature import SignatureError
from providers.stripe.webhook import sign, verify_signature
from tests.unit.test_paypal_signature import (
    BODY,
    CERT_URL,
    PKI,
    FakeFetcher,
    _headers,
    _verifier,
    pki,  # noqa: F401  (the module's certificates, as a fixture here too)
)

# A prefix from a card network's IIN ranges and a length the network issues. (13-digit
# Visa numbers are left out: one that is also a valid EAN-13 barcode is exempt by design,
# see checkout/cardguard/detect.py; the example tests cover that exemption.)
NETWORKS = [("4", 16), ("4", 19), ("51", 16), ("2221", 16), ("34", 15), ("37", 15),
            ("6011", 16), ("65", 16), ("3528", 16), ("36", 14), ("62", 17)]  # fmt: skip
# Text around a card that can never make digits of its own or glue onto the number.
SAFE_TEXT = st.text(alphabet=string.ascii_letters + " .,:;!?()/'\"", max_size=40)
EXAMPLES = settings(max_examples=300, deadline=None)


def _with_check_digit(partial: str) -> str:
    for d in "0123456789":
        if luhn_valid(partial + d):
            return partial + d
    raise AssertionError("no Luhn digit")  # pragma: no cover


@st.composite
def pans(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from(NETWORKS))
    body = draw(st.text(alphabet=string.digits, min_size=length - len(prefix) - 1,
                        max_size=length - len(prefix) - 1))  # fmt: skip
    return _with_check_digit(prefix + body)


@st.composite
def written(draw: st.DrawFn, pan: str) -> str:
    """The number as a person or a form might write it: whole, or in groups joined by
    one space or one dash."""
    style = draw(st.sampled_from(["", " ", "-"]))
    if not style:
        return pan
    cuts = sorted(draw(st.sets(st.integers(1, len(pan) - 1), max_size=5)))
    groups = [pan[a:b] for a, b in zip([0, *cuts], [*cuts, len(pan)], strict=True)]
    return style.join(groups)


@EXAMPLES
@given(data=st.data(), before=SAFE_TEXT, after=SAFE_TEXT)
def test_every_card_number_standing_alone_is_found_and_masked(
    data: st.DataObject, before: str, after: str
) -> None:
    pan = data.draw(pans())
    shown = data.draw(written(pan))
    # Letters touching the number make it part of a longer token (an id): keep a gap.
    text = f"{before} {shown} {after}"
    assert contains_card_data(text)
    assert len(find_pans(text)) == 1
    masked = mask_pans(text)
    # Every digit hidden but the last four, the text around left as it was.
    assert "".join(c for c in masked if c.isdigit() or c == "*") == "*" * (len(pan) - 4) + pan[-4:]
    assert masked.startswith(before) and masked.endswith(after)
    assert not contains_card_data(masked)
    # In a request body (JSON string or number) and in a header value alike.
    assert body_has_card_data(json.dumps({"note": text}).encode(), "application/json")
    assert headers_have_card_data([(b"x-note", text.encode())])


@EXAMPLES
@given(data=st.data(), position=st.integers(0, 18), delta=st.integers(1, 9))
def test_one_mistyped_digit_is_not_a_card(data: st.DataObject, position: int, delta: int) -> None:
    """Luhn catches every single-digit change, so a mistyped number is not refused."""
    pan = data.draw(pans())
    i = position % len(pan)
    typo = pan[:i] + str((int(pan[i]) + delta) % 10) + pan[i + 1 :]
    assert not luhn_valid(typo)
    assert not contains_card_data(f"order {typo} please")


@EXAMPLES
@given(text=st.text(alphabet=st.characters(exclude_categories=["Nd"]), max_size=300))
def test_text_without_digits_is_never_card_data(text: str) -> None:
    assert not contains_card_data(text)
    assert mask_pans(text) == text


@EXAMPLES
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "text/plain", ""]))  # fmt: skip
def test_any_body_is_scanned_without_raising(body: bytes, content_type: str) -> None:
    assert body_has_card_data(body, content_type) in (True, False)


@EXAMPLES
@given(
    name=st.sampled_from(["card_number", "cardNumber", "CVV", "cvc", "pan", "track2", "Cvv2"]),
    depth=st.integers(0, 6),
    value=st.text(max_size=10),
)
def test_a_card_field_name_is_found_at_any_depth(name: str, depth: int, value: str) -> None:
    doc: object = {name: value}
    for _ in range(depth):
        doc = {"wrap": [doc]}
    assert body_has_card_data(json.dumps(doc).encode(), "application/json")


# --- Stripe ------------------------------------------------------------------------------

SECRETS = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=8, max_size=40)


@EXAMPLES
@given(payload=st.binary(max_size=3000), secret=SECRETS, skew=st.integers(-300, 300))
def test_stripe_signed_bodies_verify_and_any_changed_byte_does_not(
    payload: bytes, secret: str, skew: int
) -> None:
    now = 1_800_000_000
    header = sign(payload, secret, timestamp=now + skew)
    verify_signature(payload, header, [secret], now=lambda: now)
    verify_signature(payload, header, ["whsec_other", secret], now=lambda: now)  # rotation
    with pytest.raises(WebhookRejected):
        verify_signature(payload + b" ", header, [secret], now=lambda: now)
    if payload:
        flipped = bytes([payload[0] ^ 0x01]) + payload[1:]
        with pytest.raises(WebhookRejected):
            verify_signature(flipped, header, [secret], now=lambda: now)
    with pytest.raises(WebhookRejected):
        verify_signature(payload, header, [secret + "x"], now=lambda: now)


@EXAMPLES
@given(payload=st.binary(max_size=200), header=st.text(max_size=5000))
def test_stripe_any_header_is_refused_cleanly(payload: bytes, header: str) -> None:
    """Garbage in the header is a rejection (400), never another exception (500)."""
    with pytest.raises(WebhookRejected):
        verify_signature(payload, header, ["whsec_test"])


@EXAMPLES
@given(payload=st.binary(max_size=200), secret=SECRETS,
       outside=st.one_of(st.integers(301, 10**6), st.integers(-(10**6), -301)))  # fmt: skip
def test_stripe_outside_the_tolerance_is_refused(payload: bytes, secret: str, outside: int) -> None:
    now = 1_800_000_000
    header = sign(payload, secret, timestamp=now + outside)
    with pytest.raises(WebhookRejected):
        verify_signature(payload, header, [secret], now=lambda: now)


# --- PayPal ------------------------------------------------------------------------------

PAYPAL = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PAYPAL
@given(body=st.binary(min_size=1, max_size=2000), index=st.integers(0, 1999),
       bit=st.integers(0, 7))  # fmt: skip
def test_paypal_signed_bodies_verify_and_any_flipped_bit_does_not(
    pki: PKI,  # noqa: F811
    body: bytes,
    index: int,
    bit: int,
) -> None:
    fetcher = FakeFetcher({CERT_URL: pki.leaf_pem})
    verifier = _verifier(pki, fetcher)
    headers = _headers(pki, body=body)
    asyncio.run(verifier.verify(headers, body))
    i = index % len(body)
    changed = body[:i] + bytes([body[i] ^ (1 << bit)]) + body[i + 1 :]
    with pytest.raises(SignatureError):
        asyncio.run(verifier.verify(headers, changed))


@PAYPAL
@given(
    field=st.sampled_from(["PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-TIME",
                           "PAYPAL-TRANSMISSION-SIG", "PAYPAL-CERT-URL", "PAYPAL-AUTH-ALGO"]),
    value=st.text(max_size=300),
)  # fmt: skip
def test_paypal_any_garbled_header_is_refused_cleanly_and_fetches_only_paypal(
    pki: PKI,  # noqa: F811
    field: str,
    value: str,
) -> None:
    from providers.paypal.webhook_signature import allowed_cert_url

    fetcher = FakeFetcher({CERT_URL: pki.leaf_pem})
    verifier = _verifier(pki, fetcher)
    headers = _headers(pki)
    assume(headers.get(field) != value)
    headers[field] = value
    with pytest.raises(SignatureError):
        asyncio.run(verifier.verify(headers, BODY))
    assert all(allowed_cert_url(url) for url in fetcher.urls)

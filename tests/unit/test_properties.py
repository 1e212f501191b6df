"""Property-based tests (hypothesis) of the card-data guard and both webhook verifiers:
what must hold for every input, not only for the examples the other tests pick."""

from __future__ import annotations

import asyncio
import json
import string
import urllib.parse

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checkout.cardguard import detect, scan
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


# Text rich in what the pre-checks look at: digits, separators, case, card-name pieces.
DENSE_TEXT = st.lists(
    st.sampled_from(["4", "2", "0", "9", " ", "-", "--", "_", ".", "[", "]", "a", "N", "\u0664",
                     "\u212a", "CV", "pAn", "Track", "num", "card", ":", ",", '"', "{", "}"]),
    max_size=80,
).map("".join)  # fmt: skip


@st.composite
def digit_runs(draw: st.DrawFn) -> str:
    """13 to 19 digits, each pair joined by nothing, a space or a dash."""
    out = []
    for _ in range(draw(st.integers(13, 19))):
        out += [draw(st.sampled_from(string.digits)), draw(st.sampled_from(["", "", " ", "-"]))]
    return "".join(out[:-1])


@st.composite
def disguised_names(draw: st.DrawFn) -> str:
    """A card field name with case changed and separators or brackets between letters."""
    name = draw(st.sampled_from(sorted(detect._CARD_FIELD_NAMES)))
    noise = st.sampled_from(["", "", "_", "-", " ", ".", "[", "]", "]["])
    return "".join(draw(noise) + (c.upper() if draw(st.booleans()) else c) for c in name)


@EXAMPLES
@given(text=st.one_of(DENSE_TEXT, st.tuples(DENSE_TEXT, digit_runs(), DENSE_TEXT).map("".join)))
def test_the_digit_pre_check_never_hides_a_candidate(text: str) -> None:
    # may_hold_pan may say yes too often, never no for text the exact pattern matches.
    if detect._CANDIDATE.search(text) is not None:
        assert detect.may_hold_pan(text)


@EXAMPLES
@given(
    keys=st.lists(st.one_of(DENSE_TEXT, disguised_names()), min_size=1, max_size=4),
    value=DENSE_TEXT,
)
def test_the_field_name_pre_check_never_hides_a_card_field(keys: list[str], value: str) -> None:
    # Whenever a key is a card field name, the cheap check on the whole body says "maybe".
    body = json.dumps(dict.fromkeys(keys, value), ensure_ascii=False).encode()
    if any(detect.is_card_field_name(key) for key in keys):
        assert scan._may_name_card_field(body)


def _headers_one_by_one(headers: list[tuple[bytes, bytes]]) -> bool:
    """The header check without its shared pre-check: every name and value on its own."""
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1")
        bare = name[2:] if name.lower().startswith("x-") else name
        value = raw_value.decode("latin-1")
        if detect.is_card_field_name(bare) or contains_card_data(value):
            return True
        if "%" in value and contains_card_data(urllib.parse.unquote(value, errors="replace")):
            return True
    return False


@EXAMPLES
@given(
    headers=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["host", "x-trace", "cookie"]), disguised_names()),
            st.one_of(DENSE_TEXT, st.tuples(DENSE_TEXT, digit_runs(), DENSE_TEXT).map("".join)),
        ).map(lambda pair: (pair[0].encode(), pair[1].encode())),
        max_size=6,
    )
)
def test_headers_are_judged_as_each_one_alone_would_be(headers: list[tuple[bytes, bytes]]) -> None:
    assert headers_have_card_data(headers) == _headers_one_by_one(headers)


def test_every_card_field_name_carries_a_marker_the_pre_check_looks_for() -> None:
    for name in detect._CARD_FIELD_NAMES:
        assert any(marker.decode() in name for marker in scan._FIELD_MARKERS), name


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

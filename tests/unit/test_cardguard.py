"""What the card-data guard takes for card data, and what it leaves alone."""

from __future__ import annotations

import uuid

import pytest

from checkout.cardguard import (
    contains_card_data,
    find_pans,
    is_card_field_name,
    luhn_valid,
    mask_pans,
)
from checkout.cardguard.detect import card_network

STRIPE_TEST_CARDS = [
    "4242424242424242",  # Visa
    "4000002760003184",  # Visa, 3-D Secure required
    "5555555555554444",  # Mastercard 51-55
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # Amex, 15 digits
    "6011111111111117",  # Discover
    "3566002020360505",  # JCB
]


def with_check_digit(prefix: str) -> str:
    """``prefix`` plus the digit that makes it pass Luhn."""
    return next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))


def spaced(pan: str, group: int = 4, sep: str = " ") -> str:
    return sep.join(pan[i : i + group] for i in range(0, len(pan), group))


# --- Luhn --------------------------------------------------------------------------


@pytest.mark.parametrize("pan", STRIPE_TEST_CARDS)
def test_stripe_test_cards_pass_luhn(pan: str) -> None:
    assert luhn_valid(pan)


def test_changing_the_last_digit_fails_luhn() -> None:
    assert not luhn_valid("4242424242424241")


def test_empty_or_non_digit_strings_fail_luhn() -> None:
    assert not luhn_valid("")
    assert not luhn_valid("4242 4242 4242 4242")
    assert not luhn_valid("42424242424242x2")


# --- finding card numbers ----------------------------------------------------------


@pytest.mark.parametrize("pan", STRIPE_TEST_CARDS)
def test_stripe_test_card_standing_alone_is_found(pan: str) -> None:
    text = f"my card is {pan}, thanks"
    [(start, end)] = find_pans(text)
    assert text[start:end] == pan


@pytest.mark.parametrize("pan", STRIPE_TEST_CARDS)
def test_card_with_spaces_is_found(pan: str) -> None:
    written = spaced(pan)
    assert find_pans(written) == [(0, len(written))]


@pytest.mark.parametrize("pan", STRIPE_TEST_CARDS)
def test_card_with_dashes_is_found(pan: str) -> None:
    written = spaced(pan, sep="-")
    assert find_pans(written) == [(0, len(written))]


def test_visa_with_spaces_is_found() -> None:
    assert find_pans("4242 4242 4242 4242") == [(0, 19)]


def test_amex_in_its_4_6_5_grouping_is_found() -> None:
    assert find_pans("3782 822463 10005") == [(0, 17)]


def test_mixed_single_separators_are_found() -> None:
    assert find_pans("4242-4242 4242-4242") == [(0, 19)]


@pytest.mark.parametrize(
    ("prefix", "network"),
    [
        ("4", "visa"),
        ("51", "mastercard"),
        ("55", "mastercard"),
        ("2221", "mastercard"),
        ("2720", "mastercard"),
        ("34", "amex"),
        ("37", "amex"),
        ("6011", "discover"),
        ("644", "discover"),
        ("649", "discover"),
        ("65", "discover"),
        ("622126", "discover"),
        ("622925", "discover"),
        ("300", "diners"),
        ("305", "diners"),
        ("36", "diners"),
        ("38", "diners"),
        ("39", "diners"),
        ("3528", "jcb"),
        ("3589", "jcb"),
        ("62", "unionpay"),
        ("81", "unionpay"),
        ("50", "maestro"),
        ("56", "maestro"),
        ("69", "maestro"),
        ("2200", "mir"),
        ("2204", "mir"),
        ("60", "rupay"),
        ("508", "rupay"),  # inside Maestro's 50: the more specific range names it
        ("652", "rupay"),  # inside Discover's 65
        ("653", "rupay"),
    ],
)
def test_every_listed_network_range_is_found(prefix: str, network: str) -> None:
    pan = with_check_digit(prefix.ljust(15, "0"))
    assert card_network(pan) == network
    assert find_pans(pan) == [(0, 16)]


@pytest.mark.parametrize("prefix", ["1", "2205", "2220", "2721", "306", "31", "33", "7", "80", "9"])
def test_luhn_valid_number_outside_every_network_is_not_found(prefix: str) -> None:
    pan = with_check_digit(prefix.ljust(15, "0"))
    assert card_network(pan) is None
    assert find_pans(pan) == []


@pytest.mark.parametrize("length", [13, 19])
def test_lengths_13_and_19_are_found(length: int) -> None:
    # Not "4000…": 13 digits of that happen to carry a valid EAN-13 check digit too, and
    # are then taken for a barcode (see the barcode tests below).
    pan = with_check_digit("42".ljust(length - 1, "2"))
    assert find_pans(pan) == [(0, length)]


@pytest.mark.parametrize("length", [12, 20])
def test_lengths_outside_13_to_19_are_not_found(length: int) -> None:
    assert find_pans(with_check_digit("4".ljust(length - 1, "0"))) == []


def test_luhn_failing_number_is_not_found() -> None:
    assert find_pans("4242424242424241") == []


def test_millisecond_timestamp_is_not_found() -> None:
    # 13 digits and Luhn-valid, but a leading 1 is no network we accept (UATP is left out).
    timestamp = with_check_digit("176384139300")
    assert luhn_valid(timestamp)
    assert find_pans(f'{{"created_ms": {timestamp}}}') == []
    assert find_pans("1763841393000") == []


def test_card_followed_by_cvv_in_the_same_run_is_found() -> None:
    assert find_pans("4242 4242 4242 4242 123") == [(0, 19)]


def test_card_followed_by_expiry_is_found() -> None:
    [(start, end)] = find_pans("pay with 4242424242424242 12/29")
    assert (start, end) == (9, 25)


def test_card_after_an_unrelated_number_in_the_same_run_is_found() -> None:
    text = "1234567890123456789012345 4242424242424242"
    assert find_pans(text) == [(26, 42)]


def test_two_cards_are_found_separately() -> None:
    text = "378282246310005 or 4242424242424242"
    assert find_pans(text) == [(0, 15), (19, 35)]


def test_double_separator_splits_a_card() -> None:
    assert find_pans("4242  4242  4242  4242") == []
    assert find_pans("4242--4242--4242--4242") == []


def test_full_width_digits_are_found() -> None:
    # U+FF10 FULLWIDTH DIGIT ZERO onwards, as a Japanese IME types them.
    full_width = "4242424242424242".translate({ord("0") + d: 0xFF10 + d for d in range(10)})
    assert not full_width.isascii()
    assert find_pans(full_width) == [(0, 16)]


# --- tokens that merely contain card-like digits -----------------------------------


def test_25_digit_id_is_not_found() -> None:
    assert find_pans("4242424242424242424242424") == []


@pytest.mark.parametrize(
    "text",
    [
        "abc4242424242424242",
        "4242424242424242xyz",
        "chk_4242424242424242",
        "pm_4242424242424242",
        "4242424242424242_old",
        "ord_4242 4242 4242 4242",
    ],
)
def test_card_digits_inside_a_longer_token_are_not_found(text: str) -> None:
    assert find_pans(text) == []


def test_token_does_not_hide_a_card_standing_next_to_it() -> None:
    assert find_pans("abc4242424242424242 4000002760003184") == [(20, 36)]


def test_random_uuids_are_not_found() -> None:
    text = " ".join(str(uuid.uuid4()) for _ in range(200))
    assert find_pans(text) == []


def test_all_digit_uuid_is_not_found() -> None:
    # Its first three groups read "4242424242424242" together.
    assert find_pans("42424242-4242-4242-4242-424242424242") == []


def test_decimal_numbers_are_not_found() -> None:
    assert find_pans("0.4242424242424242") == []
    assert find_pans("4242424242424242.5") == []
    assert find_pans('{"lat": 51.4242424242424242}') == []


def test_full_stop_after_a_card_does_not_hide_it() -> None:
    assert find_pans("Card: 4242424242424242.") == [(6, 22)]


def test_international_phone_number_is_not_found() -> None:
    phone = with_check_digit("491612345678")  # 13 digits from 49: Visa range, Luhn-valid
    assert find_pans(phone) == [(0, 13)]
    assert find_pans(f"+{phone}") == []
    assert find_pans(f"+{phone[:2]} {phone[2:6]} {phone[6:]}") == []


def test_plus_sign_does_not_hide_a_16_digit_card() -> None:
    assert find_pans("+4242424242424242") == [(1, 17)]


# --- time ----------------------------------------------------------------------------


def test_64k_of_digits_and_separators_is_scanned_whole() -> None:
    # Single 4s: some 13-19 digit windows pass Luhn, so the run is one card-like finding.
    fours = "4 " * 32768
    assert find_pans(fours) == [(0, len(fours) - 1)]
    fives = "5-" * 32768  # no window of single 5s passes Luhn
    assert find_pans(fives) == []
    assert find_pans("4" * 65536) == []
    mixed = "4242 4242--4242  " * 3855
    assert find_pans(mixed) == []


# --- masking ----------------------------------------------------------------------------


def test_masking_keeps_the_last_four_digits_and_separators() -> None:
    assert mask_pans("card 4242 4242 4242 4242 declined") == "card **** **** **** 4242 declined"
    assert mask_pans("4242-4242-4242-4242") == "****-****-****-4242"
    assert mask_pans("378282246310005") == "***********0005"


def test_masking_covers_every_card_in_the_text() -> None:
    masked = mask_pans("a=4242424242424242&b=5555555555554444")
    assert masked == "a=************4242&b=************4444"


def test_masking_leaves_other_numbers_alone() -> None:
    text = "order chk_4242424242424242 at 1763841393000 for 4242 cents"
    assert mask_pans(text) == text


def test_masking_card_with_trailing_cvv_hides_the_card() -> None:
    assert mask_pans("4242 4242 4242 4242 123") == "**** **** **** 4242 123"


# --- convenience -------------------------------------------------------------------


def test_contains_card_data_answers_yes_and_no() -> None:
    assert contains_card_data("pan: 4242424242424242")
    assert not contains_card_data("sku 4242, qty 2, ts 1763841393000")


# --- field names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "card_number",
        "cardnumber",
        "card-number",
        "CardNumber",
        "cardNumber",
        "CARD NUMBER",
        "card.number",
        "pan",
        "PAN",
        "cvv",
        "cvc",
        "cvv2",
        "CVC2",
        "track1",
        "track2",
        "track_data",
        "card[number]",
        "card[cvc]",
        "payment_method_data[card][number]",
        "source[cvv]",
    ],
)
def test_card_field_name_is_recognised(name: str) -> None:
    assert is_card_field_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "span",
        "pane",
        "company",
        "panel",
        "number",
        "card",
        "card_last4",
        "card_brand",
        "phone_number",
        "card[exp_month]",
        "tracking_number",
        "",
    ],
)
def test_innocent_field_name_is_not_recognised(name: str) -> None:
    assert not is_card_field_name(name)


def test_a_13_digit_barcode_in_the_visa_range_is_not_a_card() -> None:
    # 4039621723216 passes Luhn, starts like a Visa, and is a valid EAN-13 barcode.
    assert luhn_valid("4039621723216")
    assert find_pans('{"sku": "4039621723216"}') == []


def test_a_13_digit_visa_without_a_barcode_check_digit_is_still_found() -> None:
    assert find_pans("4222222222222") == [(0, 13)]


def test_a_16_digit_card_is_never_exempted_as_a_barcode() -> None:
    assert find_pans("4242424242424242") == [(0, 16)]


def test_a_card_field_name_is_found_when_the_fast_json_parser_gives_up() -> None:
    from checkout.cardguard.scan import body_has_card_data

    # A 30-digit integer is valid JSON that orjson refuses; the full parse still runs.
    body = b'{"big": 123456789012345678901234567890, "cvv": "x"}'
    assert body_has_card_data(body, "application/json")


def test_escaped_and_plain_bodies_are_judged_alike() -> None:
    from checkout.cardguard.scan import body_has_card_data

    assert body_has_card_data(b'{"note": "\\u0034242424242424242"}', "application/json")
    assert body_has_card_data(b'{"card_number": "x"}', "application/json")
    assert not body_has_card_data(b'{"note": "hello", "n": 42}', "application/json")
    assert not body_has_card_data(b'{"note": "caf\\u00e9"}', "application/json")

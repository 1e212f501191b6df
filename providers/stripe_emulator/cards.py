"""Card tokenization: validation, brand, and what each of Stripe's test cards does.

This is the only module that ever sees a card number or CVC. They arrive as
arguments, are checked, and leave only as brand, last four digits and a keyed
hash; nothing here keeps a reference to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from providers.stripe_emulator.errors import CardFailure
from providers.stripe_emulator.forms import Form

OutcomeKind = Literal["succeed", "decline", "authenticate"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What confirming a payment with this card does."""

    kind: OutcomeKind
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    # Stripe's "authenticate unless set up" cards: a challenge on session, none off
    # session once a payment with `setup_future_usage` has set the card up.
    unless_set_up: bool = False


SUCCEED = Outcome("succeed")
AUTHENTICATE = Outcome("authenticate")
AUTHENTICATE_UNLESS_SET_UP = Outcome("authenticate", unless_set_up=True)


def _decline(code: str, decline_code: str, message: str) -> Outcome:
    return Outcome("decline", code, decline_code, message)


GENERIC_DECLINE = _decline("card_declined", "generic_decline", "Your card was declined.")
LIVE_CARD_IN_TEST_MODE = _decline(
    "card_declined",
    "test_mode_live_card",
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
)
# What an off-session payment gets from a card whose issuer wants 3-D Secure.
AUTHENTICATION_REQUIRED = _decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)


@dataclass(frozen=True, slots=True)
class _TestCard:
    outcome: Outcome
    funding: str = "credit"
    country: str = "US"


# https://stripe.com/docs/testing — public test numbers, not customer data.
_TEST_CARDS: dict[str, _TestCard] = {
    "4242424242424242": _TestCard(SUCCEED),
    "4000056655665556": _TestCard(SUCCEED, funding="debit"),
    "5555555555554444": _TestCard(SUCCEED),
    "2223003122003222": _TestCard(SUCCEED),
    "5200828282828210": _TestCard(SUCCEED, funding="debit"),
    "5105105105105100": _TestCard(SUCCEED, funding="prepaid"),
    "378282246310005": _TestCard(SUCCEED),
    "371449635398431": _TestCard(SUCCEED),
    "6011111111111117": _TestCard(SUCCEED),
    "3056930009020004": _TestCard(SUCCEED),
    "3566002020360505": _TestCard(SUCCEED),
    "6200000000000005": _TestCard(SUCCEED),
    "4000000000000002": _TestCard(GENERIC_DECLINE),
    "4000000000009995": _TestCard(
        _decline("card_declined", "insufficient_funds", "Your card has insufficient funds."),
        funding="debit",
    ),
    "4000000000000069": _TestCard(
        _decline("expired_card", "expired_card", "Your card has expired.")
    ),
    "4000000000000127": _TestCard(
        _decline("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
    ),
    "4000002760003184": _TestCard(AUTHENTICATE, country="DE"),
    "4000002500003155": _TestCard(AUTHENTICATE_UNLESS_SET_UP, country="IE"),
}


@dataclass(frozen=True, slots=True)
class Card:
    """A tokenized card: everything the emulator keeps about it."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    country: str
    fingerprint: str
    cvc_supplied: bool
    outcome: Outcome


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    two, four = int(number[:2]), int(number[:4])
    if number.startswith("4"):
        return "visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if number.startswith(("6011", "65")) or 644 <= int(number[:3]) <= 649:
        return "discover"
    if two in (36, 38, 39) or 300 <= int(number[:3]) <= 305:
        return "diners"
    if 3528 <= four <= 3589:
        return "jcb"
    if two == 62:
        return "unionpay"
    return "unknown"


def _card_error(message: str, code: str, param: str) -> CardFailure:
    # Invalid card details are not executed payments: a retry with the same key re-validates.
    return CardFailure(message, code=code, param=param, replayable=False)


def tokenize(form: Form, *, today: date, fingerprint: Callable[[str], str]) -> Card:
    """Validate `card[...]` params in Stripe's order and keep only what may be kept."""
    number = form.required_string("number")
    exp_month_raw = form.required_string("exp_month")
    exp_year_raw = form.required_string("exp_year")
    cvc = form.string("cvc")

    if not re.fullmatch(r"[0-9]{12,19}", number):
        raise _card_error("Your card number is invalid.", "invalid_number", form.param("number"))
    if not luhn_valid(number):
        raise _card_error(
            "Your card number is incorrect.", "incorrect_number", form.param("number")
        )

    exp_month = int(exp_month_raw) if re.fullmatch(r"[0-9]{1,2}", exp_month_raw) else 0
    if not 1 <= exp_month <= 12:
        raise _card_error(
            "Your card's expiration month is invalid.",
            "invalid_expiry_month",
            form.param("exp_month"),
        )
    if not re.fullmatch(r"[0-9]{2}|[0-9]{4}", exp_year_raw):
        raise _card_error(
            "Your card's expiration year is invalid.",
            "invalid_expiry_year",
            form.param("exp_year"),
        )
    exp_year = int(exp_year_raw)
    if exp_year < 100:  # Stripe reads two-digit years as 20xx
        exp_year += 2000
    if exp_year < today.year or exp_year > today.year + 50:
        raise _card_error(
            "Your card's expiration year is invalid.",
            "invalid_expiry_year",
            form.param("exp_year"),
        )
    if exp_year == today.year and exp_month < today.month:
        raise _card_error(
            "Your card's expiration month is invalid.",
            "invalid_expiry_month",
            form.param("exp_month"),
        )
    if cvc is not None and not re.fullmatch(r"[0-9]{3,4}", cvc):
        raise _card_error("Your card's security code is invalid.", "invalid_cvc", form.param("cvc"))

    known = _TEST_CARDS.get(number)
    return Card(
        brand=brand_of(number),
        last4=number[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        funding=known.funding if known else "credit",
        country=known.country if known else "US",
        fingerprint=fingerprint(number),
        cvc_supplied=cvc is not None,
        # Stripe's test mode refuses real cards at charge time, not at tokenization.
        outcome=known.outcome if known else LIVE_CARD_IN_TEST_MODE,
    )

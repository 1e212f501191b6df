"""PayPal's currencies and its string amounts, held as integers of minor units.

PayPal sends and accepts `{"currency_code": "USD", "value": "12.50"}`; the
value is a decimal string whose number of decimals depends on the currency.
Nothing here ever goes through a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from providers.paypal_emulator.errors import invalid_request, unprocessable
from providers.paypal_emulator.jsonbody import missing

# https://developer.paypal.com/api/rest/reference/currency-codes/ (REST API currencies).
# HUF, JPY and TWD do not support decimals; every other one has two.
_TWO_DECIMALS = (
    "AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD ILS MXN MYR NOK NZD PHP PLN SEK SGD THB USD"
)
DECIMALS: dict[str, int] = {
    **{code: 2 for code in _TWO_DECIMALS.split()},
    **{code: 0 for code in ("HUF", "JPY", "TWD")},
}

# PayPal's schema pattern for `value`: an optional sign, digits, optional fraction.
_VALUE = re.compile(r"(-?)([0-9]*)(?:\.([0-9]+))?")
_MAX_VALUE_LENGTH = 32


@dataclass(frozen=True, slots=True)
class Money:
    currency: str
    minor: int

    def wire(self) -> dict[str, str]:
        return {"currency_code": self.currency, "value": format_value(self.minor, self.currency)}

    def with_minor(self, minor: int) -> Money:
        return Money(self.currency, minor)


def format_value(minor: int, currency: str) -> str:
    """`1250, "USD"` → `"12.50"`; `1250, "JPY"` → `"1250"`."""
    digits = DECIMALS[currency]
    if digits == 0:
        return str(minor)
    whole, fraction = divmod(minor, 10**digits)
    return f"{whole}.{fraction:0{digits}d}"


def parse_money(raw: object, pointer: str) -> Money:
    """Parse an amount object found at JSON pointer `pointer` of the request body."""
    if not isinstance(raw, dict):
        raise invalid_request(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
            field=pointer,
        )
    currency = raw.get("currency_code")
    value = raw.get("value")
    if currency is None:
        raise missing(f"{pointer}/currency_code")
    if value is None:
        raise missing(f"{pointer}/value")
    if not isinstance(currency, str) or len(currency) != 3:
        raise invalid_request(
            "INVALID_STRING_LENGTH",
            "The value of a field is either too short or too long.",
            field=f"{pointer}/currency_code",
            value=str(currency),
        )
    if currency not in DECIMALS:
        raise unprocessable(
            "CURRENCY_NOT_SUPPORTED",
            "Currency code is not currently supported. Please refer "
            "https://developer.paypal.com/docs/integration/direct/rest/currency-codes/ for "
            "list of supported currency codes.",
            field=f"{pointer}/currency_code",
            value=currency,
        )
    return Money(currency, _parse_value(value, currency, f"{pointer}/value"))


def _parse_value(value: object, currency: str, pointer: str) -> int:
    match = _VALUE.fullmatch(value) if isinstance(value, str) else None
    if (
        not isinstance(value, str)
        or match is None
        or len(value) > _MAX_VALUE_LENGTH
        or not (match.group(2) or match.group(3))
    ):
        raise invalid_request(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
            field=pointer,
            value=str(value),
        )
    sign, whole, fraction = match.group(1), match.group(2) or "0", match.group(3) or ""
    digits = DECIMALS[currency]
    if digits == 0 and fraction:
        raise unprocessable(
            "DECIMALS_NOT_SUPPORTED",
            "Currency does not support decimals.",
            field=pointer,
            value=value,
        )
    if len(fraction) > digits:
        raise unprocessable(
            "DECIMAL_PRECISION",
            "If the currency supports decimals, only two decimal place precision is supported.",
            field=pointer,
            value=value,
        )
    # "12.5" in USD is "12" and "50", so 1250: padding digits, never arithmetic on a float.
    minor = int(whole + fraction.ljust(digits, "0"))
    if sign or minor == 0:
        raise unprocessable(
            "CANNOT_BE_ZERO_OR_NEGATIVE",
            "Must be greater than zero. If the currency supports decimals, only two decimal "
            "place precision is supported.",
            field=pointer,
            value=value,
        )
    return minor

"""Money as integer minor units plus an ISO 4217 code, end to end.

Floats never appear: amounts are ``int`` in the currency's minor unit (cents for USD,
yen for JPY which has none, fils for KWD which has three). Conversion to a provider's
wire format happens only inside that provider's adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# ISO 4217 currencies whose minor unit is not 2. Everything else in ``CURRENCIES`` is 2.
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])
_TWO_DECIMAL = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CNY",
        "COP",
        "CRC",
        "CVE",
        "CZK",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GIP",
        "GMD",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "JMD",
        "KES",
        "KGS",
        "KHR",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SBD",
        "SCR",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "STN",
        "SZL",
        "THB",
        "TJS",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "USD",
        "UYU",
        "UZS",
        "WST",
        "XCD",
        "YER",
        "ZAR",
        "ZMW",
    ]
)
CURRENCIES = _ZERO_DECIMAL | _THREE_DECIMAL | _TWO_DECIMAL

# No single amount may exceed this many minor units; keeps every total inside a signed
# 64-bit column with room for a 100-line checkout of 999 units each.
MAX_AMOUNT = 10**15


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def is_currency(code: str) -> bool:
    return code in CURRENCIES


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency``'s minor unit."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    if currency in _TWO_DECIMAL:
        return 2
    raise MoneyError(f"unknown currency {currency!r}")


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True dollars is never meant.
        if type(self.amount) is not int:
            raise MoneyError("amount must be an integer of minor units")
        if not is_currency(self.currency):
            raise MoneyError(f"unknown currency {self.currency!r}")
        if abs(self.amount) > MAX_AMOUNT:
            raise MoneyError("amount out of range")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise MoneyError("money is multiplied by whole numbers only")
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def format(self) -> str:
        """Human text such as ``12.50 USD``, ``1500 JPY``, ``1.250 KWD`` (never via float)."""
        exp = exponent(self.currency)
        sign = "-" if self.amount < 0 else ""
        units, minor = divmod(abs(self.amount), 10**exp)
        return (
            f"{sign}{units}.{minor:0{exp}d} {self.currency}"
            if exp
            else (f"{sign}{units} {self.currency}")
        )

    def to_json(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}

"""How much the ``support`` role may give back in one refund (API.md: "refunds up to a
configured limit per refund"); ``manager`` and up are not limited.

Configured as ``CHECKOUT_SUPPORT_REFUND_LIMIT``: comma-separated ``CUR:amount`` pairs,
amounts in the currency's minor units (``USD:10000,EUR:10000,JPY:15000``). A currency
that is not listed has a limit of 0: support cannot refund in it at all (default deny).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from checkout.domain.money import Money, is_currency

# 100.00 in the three currencies most shops start with; anything else needs a manager.
DEFAULT_SUPPORT_REFUND_LIMIT = "USD:10000,EUR:10000,GBP:10000"


class InvalidRefundLimits(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RefundLimits:
    per_currency: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def limit(self, currency: str) -> int:
        return self.per_currency.get(currency, 0)

    def allows(self, refund: Money) -> bool:
        return refund.amount <= self.limit(refund.currency)

    def __str__(self) -> str:
        return ",".join(f"{c}:{a}" for c, a in sorted(self.per_currency.items()))


def parse_refund_limits(text: str) -> RefundLimits:
    limits: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        currency, sep, amount = part.partition(":")
        currency, amount = currency.strip(), amount.strip()
        if not sep or not is_currency(currency):
            raise InvalidRefundLimits(f"{part!r} is not CUR:amount with an ISO 4217 code")
        if not amount.isascii() or not amount.isdigit():
            raise InvalidRefundLimits(f"{part!r}: the amount is whole minor units")
        if currency in limits:
            raise InvalidRefundLimits(f"{currency} is listed twice")
        limits[currency] = int(amount)
    return RefundLimits(MappingProxyType(limits))

"""Products and their prices, as the pricing rules see them."""

from __future__ import annotations

from dataclasses import dataclass, field

from checkout.domain.money import Money


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    sku: str
    name: str
    active: bool
    # One price per currency the product is sold in, in that currency's minor units.
    prices: dict[str, int] = field(default_factory=dict)

    def price_in(self, currency: str) -> Money | None:
        amount = self.prices.get(currency)
        return None if amount is None else Money(amount, currency)

"""Pricing a cart from the catalog. The client never supplies a price.

``price_cart`` takes what the buyer asked for (sku, quantity) and the catalog's view of
those skus, and either returns fully priced lines and totals or raises ``InvalidCart``
naming every offending field by its JSON path, so one round trip shows all problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from checkout.domain.catalog import Product
from checkout.domain.errors import InvalidCart
from checkout.domain.money import Money

MAX_LINES = 100
MAX_QUANTITY = 999


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    product_id: str
    name: str
    quantity: int
    unit_price: Money

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class PricedCart:
    currency: str
    lines: tuple[PricedLine, ...]
    subtotal: Money
    shipping: Money

    @property
    def total(self) -> Money:
        return self.subtotal + self.shipping


def price_cart(
    currency: str,
    requested: Sequence[LineRequest],
    catalog: Mapping[str, Product],
    shipping: Money | None = None,
) -> PricedCart:
    problems: dict[str, str] = {}
    if not requested:
        problems["lines"] = "at least one line is required"
    if len(requested) > MAX_LINES:
        problems["lines"] = f"at most {MAX_LINES} lines"
    seen: dict[str, int] = {}
    lines: list[PricedLine] = []
    for i, req in enumerate(requested[:MAX_LINES]):
        path = f"lines[{i}]"
        if not 1 <= req.quantity <= MAX_QUANTITY:
            problems[f"{path}.quantity"] = f"must be between 1 and {MAX_QUANTITY}"
        if req.sku in seen:
            problems[f"{path}.sku"] = f"duplicates lines[{seen[req.sku]}]; raise its quantity"
            continue
        seen[req.sku] = i
        product = catalog.get(req.sku)
        if product is None or not product.active:
            problems[f"{path}.sku"] = "unknown sku"
            continue
        unit = product.price_in(currency)
        if unit is None:
            problems[f"{path}.sku"] = f"not sold in {currency}"
            continue
        lines.append(PricedLine(req.sku, product.id, product.name, req.quantity, unit))
    if any(why.startswith("not sold in") for why in problems.values()):
        problems["currency"] = f"{currency} is not sold for every line"
    if problems:
        raise InvalidCart(problems)
    subtotal = Money.zero(currency)
    for line in lines:
        subtotal = subtotal + line.total
    return PricedCart(currency, tuple(lines), subtotal, shipping or Money.zero(currency))

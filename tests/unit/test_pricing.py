from __future__ import annotations

import pytest

from checkout.domain.catalog import Product
from checkout.domain.errors import InvalidCart
from checkout.domain.money import Money
from checkout.domain.pricing import LineRequest, price_cart

CATALOG = {
    "TEE": Product("prod_1", "TEE", "Tee", True, {"USD": 2500, "JPY": 3800, "KWD": 7700}),
    "MUG": Product("prod_2", "MUG", "Mug", True, {"USD": 1200}),
    "OLD": Product("prod_3", "OLD", "Old", False, {"USD": 100}),
}


def test_prices_come_from_the_catalog() -> None:
    cart = price_cart("USD", [LineRequest("TEE", 2), LineRequest("MUG", 1)], CATALOG)
    assert [ln.unit_price for ln in cart.lines] == [Money(2500, "USD"), Money(1200, "USD")]
    assert cart.subtotal == Money(6200, "USD")
    assert cart.total == Money(6200, "USD")


@pytest.mark.parametrize(("currency", "total"), [("JPY", 7600), ("KWD", 15400)])
def test_zero_and_three_decimal_currencies_total_in_their_minor_units(
    currency: str, total: int
) -> None:
    cart = price_cart(currency, [LineRequest("TEE", 2)], CATALOG)
    assert cart.total == Money(total, currency)


def test_unknown_and_inactive_skus_are_named_by_path() -> None:
    with pytest.raises(InvalidCart) as err:
        price_cart("USD", [LineRequest("NOPE", 1), LineRequest("OLD", 1)], CATALOG)
    assert err.value.fields == {"lines[0].sku": "unknown sku", "lines[1].sku": "unknown sku"}


@pytest.mark.parametrize("quantity", [0, -1, 1000])
def test_quantity_outside_1_to_999_is_refused(quantity: int) -> None:
    with pytest.raises(InvalidCart) as err:
        price_cart("USD", [LineRequest("TEE", quantity)], CATALOG)
    assert "lines[0].quantity" in err.value.fields


def test_quantity_999_is_accepted() -> None:
    assert price_cart("USD", [LineRequest("TEE", 999)], CATALOG).total == Money(2497500, "USD")


def test_more_than_100_lines_is_refused() -> None:
    lines = [LineRequest(f"S{i}", 1) for i in range(101)]
    with pytest.raises(InvalidCart) as err:
        price_cart("USD", lines, CATALOG)
    assert err.value.fields["lines"] == "at most 100 lines"


def test_empty_cart_is_refused() -> None:
    with pytest.raises(InvalidCart) as err:
        price_cart("USD", [], CATALOG)
    assert "lines" in err.value.fields


def test_currency_not_sold_names_line_and_currency() -> None:
    with pytest.raises(InvalidCart) as err:
        price_cart("JPY", [LineRequest("MUG", 1)], CATALOG)
    assert err.value.fields["lines[0].sku"] == "not sold in JPY"
    assert "currency" in err.value.fields


def test_duplicate_skus_are_refused() -> None:
    with pytest.raises(InvalidCart) as err:
        price_cart("USD", [LineRequest("TEE", 1), LineRequest("TEE", 2)], CATALOG)
    assert "lines[1].sku" in err.value.fields

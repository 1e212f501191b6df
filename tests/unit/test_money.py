from __future__ import annotations

import pytest

from checkout.domain.money import Money, MoneyError, exponent


@pytest.mark.parametrize(
    ("currency", "digits"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)]
)
def test_exponent_follows_iso_4217(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


def test_unknown_currency_is_not_money() -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(100, "XXY")


@pytest.mark.parametrize("amount", [1.5, 2.0, True, "100"])
def test_amount_must_be_an_integer_of_minor_units(amount: object) -> None:
    with pytest.raises(MoneyError):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_adding_different_currencies_is_refused() -> None:
    with pytest.raises(MoneyError, match="cannot combine"):
        _ = Money(100, "USD") + Money(100, "EUR")


def test_multiplying_by_a_fraction_is_refused() -> None:
    with pytest.raises(MoneyError):
        _ = Money(100, "USD") * 1.5  # type: ignore[operator]


def test_arithmetic_stays_in_minor_units() -> None:
    assert Money(2500, "USD") * 3 + Money(1, "USD") == Money(7501, "USD")
    assert Money(7501, "USD") - Money(1, "USD") == Money(7500, "USD")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1250, "USD"), "12.50 USD"),
        (Money(1500, "JPY"), "1500 JPY"),
        (Money(1250, "KWD"), "1.250 KWD"),
        (Money(-5, "EUR"), "-0.05 EUR"),
    ],
)
def test_format_uses_the_currency_exponent(money: Money, text: str) -> None:
    assert money.format() == text


def test_amounts_beyond_the_bound_are_refused() -> None:
    with pytest.raises(MoneyError, match="out of range"):
        Money(10**16, "USD")


def test_json_shape_is_amount_and_currency() -> None:
    assert Money(3800, "JPY").to_json() == {"amount": 3800, "currency": "JPY"}

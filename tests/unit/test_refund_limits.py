"""Support's per-refund limit: parsed from configuration, per currency, default deny."""

from __future__ import annotations

import pytest

from checkout.access.refund_limits import (
    DEFAULT_SUPPORT_REFUND_LIMIT,
    InvalidRefundLimits,
    parse_refund_limits,
)
from checkout.config import ConfigError, load_settings
from checkout.domain.money import Money


def test_a_refund_up_to_the_limit_of_its_currency_is_allowed() -> None:
    limits = parse_refund_limits(" USD:1000 , JPY:1500,KWD:2500")
    assert limits.allows(Money(1000, "USD")) and not limits.allows(Money(1001, "USD"))
    assert limits.allows(Money(1500, "JPY")) and limits.allows(Money(2500, "KWD"))
    assert str(limits) == "JPY:1500,KWD:2500,USD:1000"


def test_a_currency_that_is_not_listed_has_no_allowance() -> None:
    limits = parse_refund_limits("USD:1000")
    assert limits.limit("EUR") == 0 and not limits.allows(Money(1, "EUR"))
    assert parse_refund_limits("").limit("USD") == 0


@pytest.mark.parametrize("text", ["USD", "usd:10", "XXX:10", "USD:1.50", "USD:-5", "USD:1,USD:2"])
def test_malformed_limits_are_refused(text: str) -> None:
    with pytest.raises(InvalidRefundLimits):
        parse_refund_limits(text)


def test_settings_default_and_refuse_a_bad_value(tmp_path: object) -> None:
    default = load_settings({"CHECKOUT_DATA_DIR": str(tmp_path)})
    assert str(default.support_refund_limits) == str(
        parse_refund_limits(DEFAULT_SUPPORT_REFUND_LIMIT)
    )
    with pytest.raises(ConfigError, match="CHECKOUT_SUPPORT_REFUND_LIMIT"):
        load_settings({"CHECKOUT_DATA_DIR": str(tmp_path), "CHECKOUT_SUPPORT_REFUND_LIMIT": "10"})

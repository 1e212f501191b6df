"""PayPal's wire format: decimal-string amounts and Orders v2 statuses.

Amounts leave and enter as integer minor units; the decimal string PayPal wants is made
here from the currency's exponent, with integer arithmetic only.
"""

from __future__ import annotations

from typing import Any

from providers.base import ProviderPayment, ProviderRejected, ProviderStatus

# PayPal's currencies (developer docs, "Currency codes") and their decimals.
_ZERO_DECIMAL = frozenset({"HUF", "JPY", "TWD"})
SUPPORTED = frozenset(
    {
        "AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR",
        "MXN", "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD",
    }
)  # fmt: skip


def _exponent(currency: str) -> int:
    if currency not in SUPPORTED:
        raise ProviderRejected(f"PayPal does not take {currency}.", param="currency")
    return 0 if currency in _ZERO_DECIMAL else 2


def to_paypal_amount(amount: int, currency: str) -> dict[str, str]:
    if amount <= 0:
        raise ProviderRejected("amount must be positive", param="amount")
    exp = _exponent(currency)
    units, minor = divmod(amount, 10**exp)
    value = f"{units}.{minor:0{exp}d}" if exp else str(units)
    return {"currency_code": currency, "value": value}


def from_paypal_amount(money: Any) -> tuple[int, str]:
    currency = str(money["currency_code"]).upper()
    exp = _exponent(currency)
    units, _, fraction = str(money["value"]).partition(".")
    if len(fraction) > exp or not units.isdigit() or (fraction and not fraction.isdigit()):
        raise ProviderRejected("PayPal sent an amount we cannot read.", param="amount")
    return int(units) * 10**exp + int(fraction.ljust(exp, "0") or 0), currency


def purchase_unit(order: Any) -> Any:
    units = order.get("purchase_units") or []
    if len(units) != 1:
        raise ProviderRejected("Expected an order with one purchase unit.", param="payment_token")
    return units[0]


def _sum(items: Any) -> int:
    return sum(
        from_paypal_amount(i["amount"])[0]
        for i in items or []
        if i.get("status") in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED", "PENDING")
    )


def payment_from_order(order: Any) -> ProviderPayment:
    """The neutral view of an order; its id is our provider reference."""
    unit = purchase_unit(order)
    amount, currency = from_paypal_amount(unit["amount"])
    payments = unit.get("payments") or {}
    captures = payments.get("captures") or []
    auths = payments.get("authorizations") or []
    refunds = payments.get("refunds") or []
    captured = _sum(captures)
    refunded = _sum(refunds) or sum(
        from_paypal_amount(c["amount"])[0] for c in captures if c.get("status") == "REFUNDED"
    )
    status: ProviderStatus
    if captured:
        if refunded >= captured:
            status = "refunded"
        elif refunded:
            status = "partially_refunded"
        else:
            status = "captured"
    elif auths and auths[0].get("status") == "VOIDED":
        status = "voided"
    elif auths and auths[0].get("status") in ("CREATED", "PENDING"):
        status = "authorized"
    elif order.get("status") in ("CREATED", "PAYER_ACTION_REQUIRED", "APPROVED"):
        status = "requires_action" if order.get("status") != "APPROVED" else "processing"
    elif any(c.get("status") == "DECLINED" for c in captures) or order.get("status") == "VOIDED":
        status = "failed"
    else:
        status = "processing"
    return ProviderPayment(
        provider_ref=str(order["id"]),
        status=status,
        amount=amount,
        currency=currency,
        amount_captured=captured,
        amount_refunded=refunded,
    )


def first_id(order: Any, kind: str) -> str:
    """The id of the order's first authorization or capture."""
    items = (purchase_unit(order).get("payments") or {}).get(kind) or []
    if not items:
        raise ProviderRejected(f"The PayPal order has no {kind}.", param="payment")
    return str(items[0]["id"])


def approve_url(order: Any) -> str:
    for link in order.get("links") or []:
        if link.get("rel") in ("approve", "payer-action"):
            return str(link["href"])
    raise ProviderRejected("PayPal returned an order without an approval link.")

"""Stripe's wire format: amounts, currencies and PaymentIntent statuses.

Kept apart from the calls (adapter.py) so the mapping can be read and tested alone.
"""

from __future__ import annotations

from typing import Any, Literal

from providers.base import (
    NextAction,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderStatus,
    SavedMethod,
)

# Stripe takes three-decimal currencies in their minor unit but requires the last digit
# to be 0, since card networks settle them to two decimals (Stripe docs, "Currencies").
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


# The events that can move a payment; `GET /v1/events` takes at most 20 names.
PAYMENT_EVENT_TYPES = (
    "payment_intent.amount_capturable_updated",
    "payment_intent.canceled",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.succeeded",
    "charge.captured",
    "charge.refunded",
)
EVENT_PAGE_SIZE = 100  # Stripe's largest page


def to_stripe_amount(amount: int, currency: str) -> tuple[int, str]:
    if amount <= 0:
        raise ProviderRejected("amount must be positive", param="amount")
    if currency in _THREE_DECIMAL and amount % 10:
        raise ProviderRejected(
            f"Stripe charges {currency} in steps of 10 minor units", param="amount"
        )
    return amount, currency.lower()


def _status(pi: Any) -> ProviderStatus:
    status = pi["status"]
    if status == "succeeded":
        received = int(pi.get("amount_received") or 0)
        refunded = _refunded(pi)
        if refunded and refunded >= received:
            return "refunded"
        return "partially_refunded" if refunded else "captured"
    if status == "requires_capture":
        return "authorized"
    if status == "requires_action":
        return "requires_action"
    if status == "canceled":
        return "voided"
    if status == "requires_payment_method":
        # Confirmed and refused (a decline or failed authentication) or never confirmed.
        return "failed"
    return "processing"


def _refunded(pi: Any) -> int:
    charge = pi.get("latest_charge")
    if isinstance(charge, dict):
        return int(charge.get("amount_refunded") or 0)
    return int(pi.get("amount_refunded") or 0)


def _next_action(pi: Any) -> NextAction | None:
    action = pi.get("next_action")
    if not action:
        return None
    if action.get("type") == "redirect_to_url":
        return NextAction("redirect", url=action["redirect_to_url"]["url"])
    return NextAction("provider_sdk", client_secret=pi.get("client_secret"))


def payment_from_intent(pi: Any) -> ProviderPayment:
    status = _status(pi)
    error = pi.get("last_payment_error") or {}
    captured = int(pi.get("amount_received") or 0)
    return ProviderPayment(
        provider_ref=pi["id"],
        status=status,
        amount=int(pi["amount"]),
        currency=str(pi["currency"]).upper(),
        amount_captured=captured,
        amount_refunded=_refunded(pi),
        next_action=_next_action(pi) if status == "requires_action" else None,
        decline_code=(error.get("decline_code") or error.get("code")) if error else None,
        failure_message=error.get("message") if error else None,
        saved_method=_saved_by_intent(pi),
    )


def saved_method(pm: Any) -> SavedMethod:
    """Brand, last4 and expiry of a card PaymentMethod, and nothing else of it: Stripe also
    sends a fingerprint, the cardholder's name and billing address, none of which we keep."""
    card = pm.get("card") or {}
    if pm.get("type") != "card" or not card:
        raise ProviderRejected("Only cards can be saved.", param="payment_token")
    return SavedMethod(
        token=str(pm["id"]),
        brand=str(card.get("brand") or "unknown"),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
    )


def _saved_by_intent(pi: Any) -> SavedMethod | None:
    # Only with the method expanded, and only once it belongs to the intent's customer.
    pm = pi.get("payment_method")
    customer = pi.get("customer")
    if not isinstance(pm, dict) or customer is None or pm.get("customer") != customer:
        return None
    return saved_method(pm)


def refund_from_stripe(refund: Any) -> ProviderRefund:
    status = refund.get("status")
    neutral: Literal["pending", "succeeded", "failed"] = (
        "succeeded"
        if status == "succeeded"
        else "failed"
        if status in ("failed", "canceled")
        else "pending"
    )
    return ProviderRefund(
        provider_ref=refund["id"],
        status=neutral,
        amount=int(refund["amount"]),
        currency=str(refund["currency"]).upper(),
    )

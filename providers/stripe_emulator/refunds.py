"""Refunds against a PaymentIntent's captured amount; the total never exceeds it."""

from __future__ import annotations

from providers.stripe_emulator.errors import InvalidRequest, resource_missing
from providers.stripe_emulator.intents import get_intent
from providers.stripe_emulator.money import check_amount
from providers.stripe_emulator.state import EmulatorState, Refund

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def get_refund(state: EmulatorState, refund_id: str) -> Refund:
    refund = state.refunds.get(refund_id)
    if refund is None:
        raise resource_missing("refund", refund_id, "refund")
    return refund


def create(
    state: EmulatorState,
    *,
    payment_intent: str,
    amount: int | None,
    reason: str | None,
    metadata: dict[str, str],
) -> Refund:
    if reason is not None and reason not in REASONS:
        raise InvalidRequest("Invalid reason: must be one of " + ", ".join(REASONS), param="reason")
    intent = get_intent(state, payment_intent, "payment_intent")
    if intent.amount_received == 0 or intent.latest_charge is None:
        raise InvalidRequest(
            f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
            code="charge_not_refundable",
            param="payment_intent",
            replayable=True,
        )
    charge = state.charges[intent.latest_charge]
    remaining = intent.amount_received - charge.amount_refunded
    if remaining <= 0:
        raise InvalidRequest(
            f"Charge {charge.id} has already been refunded.",
            code="charge_already_refunded",
            replayable=True,
        )
    refund_amount = remaining if amount is None else amount
    check_amount(refund_amount, intent.currency)
    if refund_amount > remaining:
        raise InvalidRequest(
            f"Refund amount ({refund_amount}) is greater than unrefunded amount on charge "
            f"({remaining})",
            code="amount_too_large",
            param="amount",
            replayable=True,
        )
    refund = Refund(
        id=state.new_id("re"),
        amount=refund_amount,
        currency=intent.currency,
        payment_intent=intent.id,
        charge=charge.id,
        created=state.now(),
        reason=reason,
        metadata=metadata,
    )
    charge.amount_refunded += refund_amount
    state.refunds[refund.id] = refund
    state.record("refunds.create")
    state.emit("charge.refunded", intent)
    return refund

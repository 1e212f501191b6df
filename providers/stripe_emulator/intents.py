"""PaymentIntent state machine, as Stripe runs it for cards.

    requires_payment_method ─(attach pm)─► requires_confirmation ─(confirm)─┐
          ▲                                                                 │
          ├──── decline / failed 3-D Secure ◄──────────────────────────────┤
          │                                    requires_action ◄─(3DS card)┤
          │                                          │ authenticated       │
          │                                          ▼                     │
          │                  requires_capture ◄─(manual)── authorize ◄─────┘
          │                        │ capture            │ (automatic)
          │                        ▼                    ▼
          └──► canceled        succeeded ◄──────────────┘

With a `customer`, the intent may pay with that Customer's saved PaymentMethods;
`setup_future_usage` attaches the one it pays with once money is secured, and
`off_session` turns a 3-D Secure challenge (nobody there to answer it) into a 402
`authentication_required`. Reuse rules are in `customers`.

Functions here run with `state.lock` held, mutate records and raise domain
errors; rendering to JSON and HTTP happens in `api`.
"""

from __future__ import annotations

import secrets

from providers.stripe_emulator import customers
from providers.stripe_emulator.cards import AUTHENTICATION_REQUIRED, Outcome
from providers.stripe_emulator.errors import InvalidRequest, resource_missing, unexpected_state
from providers.stripe_emulator.money import check_amount
from providers.stripe_emulator.state import (
    CaptureMethod,
    Charge,
    EmulatorState,
    FutureUsage,
    PaymentError,
    PaymentIntent,
    PaymentMethod,
)

CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
AUTHENTICATION_FAILURE_MESSAGE = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this "
    "PaymentIntent again."
)


class PaymentDeclined(Exception):
    """The card was declined while confirming; the intent already records it."""

    def __init__(self, intent: PaymentIntent, payment_method: PaymentMethod) -> None:
        super().__init__(intent.id)
        self.intent = intent
        self.payment_method = payment_method


def get_intent(state: EmulatorState, intent_id: str, param: str = "intent") -> PaymentIntent:
    intent = state.payment_intents.get(intent_id)
    if intent is None:
        raise resource_missing("payment_intent", intent_id, param)
    return intent


def get_payment_method(state: EmulatorState, pm_id: str, param: str) -> PaymentMethod:
    pm = state.payment_methods.get(pm_id)
    if pm is None:
        raise resource_missing("PaymentMethod", pm_id, param)
    return pm


def create(
    state: EmulatorState,
    *,
    amount: int,
    currency: str,
    capture_method: CaptureMethod,
    payment_method: str | None,
    return_url: str | None,
    description: str | None,
    metadata: dict[str, str],
    customer: str | None = None,
    setup_future_usage: FutureUsage | None = None,
    off_session: bool = False,
) -> PaymentIntent:
    check_amount(amount, currency)
    if customer is not None:
        customers.get_customer(state, customer)
    if payment_method is not None:
        pm = get_payment_method(state, payment_method, "payment_method")
        customers.check_usable(state, pm, customer)
    intent_id = state.new_id("pi")
    intent = PaymentIntent(
        id=intent_id,
        client_secret=f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
        amount=amount,
        currency=currency,
        capture_method=capture_method,
        created=state.now(),
        status="requires_confirmation" if payment_method else "requires_payment_method",
        description=description,
        metadata=metadata,
        payment_method=payment_method,
        customer=customer,
        setup_future_usage=setup_future_usage,
        off_session=off_session,
        return_url=return_url,
    )
    state.payment_intents[intent.id] = intent
    state.record("payment_intents.create")
    return intent


def confirm(
    state: EmulatorState,
    intent: PaymentIntent,
    *,
    payment_method: str | None,
    return_url: str | None,
    off_session: bool | None = None,
) -> None:
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of "
            f"{intent.status}. Only a PaymentIntent with one of the following statuses may "
            "be confirmed: requires_payment_method, requires_confirmation."
        )
    if payment_method is not None:
        customers.check_usable(
            state, get_payment_method(state, payment_method, "payment_method"), intent.customer
        )
        intent.payment_method = payment_method
    if intent.payment_method is None:
        raise InvalidRequest(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "You can either update the PaymentIntent with a payment method and then confirm "
            "it again, or confirm it again directly with a payment method.",
            code="payment_intent_unexpected_state",
        )
    if return_url is not None:
        intent.return_url = return_url
    if off_session is not None:
        intent.off_session = off_session
    pm = get_payment_method(state, intent.payment_method, "payment_method")
    # Checked again: the method may have been spent or detached since the intent was made.
    customers.check_usable(state, pm, intent.customer)
    outcome = _outcome(intent, pm)
    if outcome.kind == "succeed":
        _authorize(state, intent, pm)
    elif outcome.kind == "authenticate":
        intent.status = "requires_action"
        intent.last_payment_error = None
        intent.challenge_token = secrets.token_urlsafe(32)
        state.emit("payment_intent.requires_action", intent)
    else:
        charge = _new_charge(state, intent, pm, status="failed", failure_code=outcome.code)
        _fail(
            intent,
            PaymentError(
                type="card_error",
                code=outcome.code or "card_declined",
                decline_code=outcome.decline_code,
                message=outcome.message or "Your card was declined.",
                payment_method=pm.id,
                charge=charge.id,
            ),
        )
        state.emit("payment_intent.payment_failed", intent)
        raise PaymentDeclined(intent, pm)


def _outcome(intent: PaymentIntent, pm: PaymentMethod) -> Outcome:
    outcome = pm.card.outcome
    if outcome.kind != "authenticate" or not intent.off_session:
        return outcome
    if outcome.unless_set_up and pm.set_up:
        return Outcome("succeed")
    # Off session nobody can answer a challenge: Stripe declines and the merchant has to
    # bring the customer back on session.
    return AUTHENTICATION_REQUIRED


def finish_authentication(state: EmulatorState, intent: PaymentIntent, *, passed: bool) -> None:
    """Apply the cardholder's answer on the 3-D Secure page; only from requires_action."""
    if intent.status != "requires_action" or intent.payment_method is None:
        return
    pm = get_payment_method(state, intent.payment_method, "payment_method")
    if passed:
        _authorize(state, intent, pm)
    else:
        _fail(
            intent,
            PaymentError(
                type="invalid_request_error",
                code="payment_intent_authentication_failure",
                message=AUTHENTICATION_FAILURE_MESSAGE,
                payment_method=pm.id,
            ),
        )
        state.emit("payment_intent.payment_failed", intent)


def capture(state: EmulatorState, intent: PaymentIntent, amount_to_capture: int | None) -> None:
    if intent.status != "requires_capture":
        raise unexpected_state(
            f"This PaymentIntent could not be captured because it has a status of "
            f"{intent.status}. Only a PaymentIntent with one of the following statuses may "
            "be captured: requires_capture."
        )
    amount = intent.amount_capturable if amount_to_capture is None else amount_to_capture
    check_amount(amount, intent.currency, "amount_to_capture")
    if amount > intent.amount_capturable:
        raise InvalidRequest(
            f"The amount_to_capture ({amount}) is greater than the amount capturable "
            f"({intent.amount_capturable}).",
            code="amount_too_large",
            param="amount_to_capture",
            replayable=True,
        )
    if intent.latest_charge is not None:
        charge = state.charges[intent.latest_charge]
        charge.captured = True
        charge.amount_captured = amount
    # A partial capture releases the rest of the authorization, as Stripe does.
    intent.amount_received = amount
    intent.amount_capturable = 0
    intent.status = "succeeded"
    state.record("payment_intents.capture")
    state.emit("payment_intent.succeeded", intent)


def cancel(state: EmulatorState, intent: PaymentIntent, reason: str | None) -> None:
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise InvalidRequest(
            "Invalid cancellation_reason: must be one of " + ", ".join(CANCELLATION_REASONS),
            param="cancellation_reason",
        )
    if intent.status not in CANCELABLE:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of "
            f"{intent.status}. Only a PaymentIntent with one of the following statuses may "
            "be canceled: " + ", ".join(CANCELABLE) + "."
        )
    intent.status = "canceled"
    intent.canceled_at = state.now()
    intent.cancellation_reason = reason
    intent.amount_capturable = 0
    intent.challenge_token = None
    state.record("payment_intents.cancel")
    state.emit("payment_intent.canceled", intent)


def _authorize(state: EmulatorState, intent: PaymentIntent, pm: PaymentMethod) -> None:
    # The ledger's "confirm" counts money moving (or being held), so it is recorded
    # here, whether reached from a confirm call or a completed 3-D Secure challenge;
    # a decline or a confirm that stops at requires_action is not counted.
    state.record("payment_intents.confirm")
    _after_use(state, intent, pm)
    charge = _new_charge(state, intent, pm, status="succeeded")
    intent.last_payment_error = None
    if intent.capture_method == "manual":
        intent.status = "requires_capture"
        intent.amount_capturable = intent.amount
    else:
        charge.captured = True
        charge.amount_captured = intent.amount
        intent.status = "succeeded"
        intent.amount_received = intent.amount
    state.emit(
        "payment_intent.amount_capturable_updated"
        if intent.status == "requires_capture"
        else "payment_intent.succeeded",
        intent,
    )


def _after_use(state: EmulatorState, intent: PaymentIntent, pm: PaymentMethod) -> None:
    """What paying does to the method: saved for the intent's Customer when asked, else a
    method that belongs to nobody is spent."""
    if intent.setup_future_usage is not None and intent.customer is not None:
        try:
            customers.attach(state, pm, customers.get_customer(state, intent.customer))
        except InvalidRequest:
            # The Customer was deleted while the cardholder was in the 3-D Secure page:
            # the payment stands, the method is not saved for anyone.
            pm.spent = pm.customer is None
            return
        pm.set_up = True
    elif pm.customer is None:
        pm.spent = True


def _fail(intent: PaymentIntent, error: PaymentError) -> None:
    # Stripe detaches the failed method: the intent wants a new one, the error names the old.
    intent.status = "requires_payment_method"
    intent.last_payment_error = error
    intent.payment_method = None


def _new_charge(
    state: EmulatorState,
    intent: PaymentIntent,
    pm: PaymentMethod,
    *,
    status: str,
    failure_code: str | None = None,
) -> Charge:
    charge = Charge(
        id=state.new_id("ch"),
        payment_intent=intent.id,
        payment_method=pm.id,
        amount=intent.amount,
        currency=intent.currency,
        created=state.now(),
        status="failed" if status == "failed" else "succeeded",
        failure_code=failure_code,
    )
    state.charges[charge.id] = charge
    intent.latest_charge = charge.id
    return charge

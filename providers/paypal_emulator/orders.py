"""Orders v2: create, buyer approval, and completing an order by capture or authorization.

An order moves CREATED → APPROVED (the buyer, on the approval page) →
COMPLETED (one capture or one authorization, as its intent says). Refusals are
PayPal's 422 issues, with its wording.
"""

from __future__ import annotations

from providers.paypal_emulator.errors import not_found, unprocessable
from providers.paypal_emulator.state import (
    AUTHORIZATION_LIFETIME_SECONDS,
    Authorization,
    Capture,
    Intent,
    Order,
    Payer,
    PayPalState,
    PurchaseUnit,
)

_NOT_APPROVED = (
    "Payer has not yet approved the Order for payment. Please redirect the payer to the "
    "'rel':'approve' url returned as part of the HATEOAS links within the Create Order call "
    "or provide a valid payment_source in the request."
)


def get_order(state: PayPalState, order_id: str) -> Order:
    order = state.orders.get(order_id)
    if order is None:
        raise not_found("order_id", order_id)
    return order


def create(
    state: PayPalState,
    *,
    intent: Intent,
    unit: PurchaseUnit,
    return_url: str | None,
    cancel_url: str | None,
) -> Order:
    now = state.clock()
    order = Order(
        id=state.new_id(),
        intent=intent,
        status="CREATED",
        unit=unit,
        return_url=return_url,
        cancel_url=cancel_url,
        create_time=now,
        update_time=now,
    )
    state.orders[order.id] = order
    return order


def approve(state: PayPalState, order: Order) -> None:
    """The buyer approves. Approving twice (double click, back button) changes nothing."""
    if order.status != "CREATED":
        return
    # Always the same sandbox buyer persona, with a fresh payer id per approval.
    order.payer = Payer(
        payer_id=state.new_id(13),
        email_address="sb-buyer@personal.example.com",
        given_name="John",
        surname="Doe",
        country_code="US",
    )
    order.status = "APPROVED"
    order.update_time = state.clock()
    state.emit("CHECKOUT.ORDER.APPROVED", order)


def capture(state: PayPalState, order: Order) -> Capture:
    _check_completable(order, "CAPTURE")
    now = state.clock()
    record = Capture(
        id=state.new_id(),
        order_id=order.id,
        authorization_id=None,
        amount=order.unit.amount,
        final_capture=True,
        status="COMPLETED",
        create_time=now,
        update_time=now,
        invoice_id=order.unit.invoice_id,
        custom_id=order.unit.custom_id,
    )
    state.captures[record.id] = record
    order.capture_ids.append(record.id)
    order.status = "COMPLETED"
    order.update_time = now
    state.emit("PAYMENT.CAPTURE.COMPLETED", record)
    return record


def authorize(state: PayPalState, order: Order) -> Authorization:
    _check_completable(order, "AUTHORIZE")
    now = state.clock()
    record = Authorization(
        id=state.new_id(),
        order_id=order.id,
        amount=order.unit.amount,
        status="CREATED",
        create_time=now,
        update_time=now,
        expires_at=now + AUTHORIZATION_LIFETIME_SECONDS,
    )
    state.authorizations[record.id] = record
    order.authorization_ids.append(record.id)
    order.status = "COMPLETED"
    order.update_time = now
    state.emit("PAYMENT.AUTHORIZATION.CREATED", record)
    return record


def _check_completable(order: Order, action: Intent) -> None:
    if order.intent != action:
        endpoint = "capture" if order.intent == "CAPTURE" else "authorize"
        raise unprocessable(
            "ACTION_DOES_NOT_MATCH_INTENT",
            f"Order was created with an intent to '{order.intent}'. Please use "
            f"v2/checkout/orders/order_id/{endpoint} to complete the transaction or "
            f"alternately Create an order with an intent of '{action}'.",
        )
    if order.status == "COMPLETED":
        if action == "CAPTURE":
            raise unprocessable(
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            )
        raise unprocessable(
            "ORDER_ALREADY_AUTHORIZED",
            "Order already authorized.If 'intent=AUTHORIZE' only one authorization per order "
            "is allowed.",
        )
    if order.status != "APPROVED":
        raise unprocessable("ORDER_NOT_APPROVED", _NOT_APPROVED)

"""Payments v2: capturing and voiding authorizations, refunding captures.

Amounts are integers of minor units throughout. The sums are the invariants:
captured never exceeds authorized, refunded never exceeds captured.
"""

from __future__ import annotations

from providers.paypal_emulator.errors import not_found, unprocessable
from providers.paypal_emulator.money import Money
from providers.paypal_emulator.state import (
    Authorization,
    AuthorizationStatus,
    Capture,
    PayPalState,
    Refund,
)


def get_authorization(state: PayPalState, authorization_id: str) -> Authorization:
    record = state.authorizations.get(authorization_id)
    if record is None:
        raise not_found("authorization_id", authorization_id)
    return record


def get_capture(state: PayPalState, capture_id: str) -> Capture:
    record = state.captures.get(capture_id)
    if record is None:
        raise not_found("capture_id", capture_id)
    return record


def get_refund(state: PayPalState, refund_id: str) -> Refund:
    record = state.refunds.get(refund_id)
    if record is None:
        raise not_found("refund_id", refund_id)
    return record


def authorization_status(record: Authorization, now: float) -> AuthorizationStatus:
    """Expiry is a matter of time passing, so it is computed rather than stored."""
    if record.status in ("CREATED", "PARTIALLY_CAPTURED") and now >= record.expires_at:
        return "EXPIRED"
    return record.status


def capture_authorization(
    state: PayPalState,
    record: Authorization,
    *,
    amount: Money | None,
    final_capture: bool,
    invoice_id: str | None,
    custom_id: str | None,
) -> Capture:
    now = state.clock()
    status = authorization_status(record, now)
    if status == "VOIDED":
        raise unprocessable(
            "AUTHORIZATION_VOIDED", "A voided authorization cannot be captured or reauthorized."
        )
    if status == "EXPIRED":
        raise unprocessable("AUTHORIZATION_EXPIRED", "An expired authorization cannot be captured.")
    if status == "CAPTURED":
        raise unprocessable(
            "AUTHORIZATION_ALREADY_CAPTURED",
            "Authorization has been previously captured and hence cannot be captured again.",
        )
    remaining = record.amount.minor - record.captured
    # No amount: whatever is still authorized (the whole amount, on a first capture).
    money = amount or record.amount.with_minor(remaining)
    if money.currency != record.amount.currency:
        raise unprocessable(
            "CURRENCY_MISMATCH",
            "Currency of capture must be the same as currency of authorization.",
            field="/amount/currency_code",
            value=money.currency,
        )
    if money.minor > remaining:
        # PayPal lets some merchants over-capture by up to 115%; the emulator never does.
        raise unprocessable(
            "MAX_CAPTURE_AMOUNT_EXCEEDED",
            "Capture amount exceeds allowable limit. Please contact customer support or your "
            "account manager to request the change to your overcapture limit.",
        )
    capture = Capture(
        id=state.new_id(),
        order_id=record.order_id,
        authorization_id=record.id,
        amount=money,
        final_capture=final_capture,
        status="COMPLETED",
        create_time=now,
        update_time=now,
        invoice_id=invoice_id,
        custom_id=custom_id,
    )
    state.captures[capture.id] = capture
    record.captured += money.minor
    record.capture_ids.append(capture.id)
    # A final capture releases what is left of the authorization.
    full = final_capture or record.captured == record.amount.minor
    record.status = "CAPTURED" if full else "PARTIALLY_CAPTURED"
    record.update_time = now
    order = state.orders.get(record.order_id)
    if order is not None:
        order.capture_ids.append(capture.id)
        order.update_time = now
    state.emit("PAYMENT.CAPTURE.COMPLETED", capture)
    return capture


def void(state: PayPalState, record: Authorization) -> None:
    status = authorization_status(record, state.clock())
    if status == "VOIDED":
        raise unprocessable(
            "PREVIOUSLY_VOIDED",
            "Authorization has been previously voided and hence cannot be voided again.",
        )
    if record.captured > 0:
        # PayPal's docs allow voiding the rest after a non-final partial capture; the
        # emulator refuses any void once money moved, which is the stricter reading.
        raise unprocessable(
            "PREVIOUSLY_CAPTURED",
            "Authorization has been previously captured and hence cannot be voided.",
        )
    if status == "EXPIRED":
        raise unprocessable("AUTHORIZATION_EXPIRED", "An expired authorization cannot be voided.")
    record.status = "VOIDED"
    record.update_time = state.clock()
    state.emit("PAYMENT.AUTHORIZATION.VOIDED", record)


def refund(
    state: PayPalState,
    capture: Capture,
    *,
    amount: Money | None,
    invoice_id: str | None,
    note_to_payer: str | None,
) -> Refund:
    remaining = capture.amount.minor - capture.refunded
    if remaining <= 0:
        raise unprocessable(
            "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded."
        )
    money = amount or capture.amount.with_minor(remaining)
    if money.currency != capture.amount.currency:
        raise unprocessable(
            "CURRENCY_MISMATCH",
            "Currency of refund must be the same as currency of capture.",
            field="/amount/currency_code",
            value=money.currency,
        )
    if money.minor > remaining:
        raise unprocessable(
            "REFUND_AMOUNT_EXCEEDED",
            "The refund amount must be less than or equal to the capture amount that has not "
            "yet been refunded.",
        )
    now = state.clock()
    record = Refund(
        id=state.new_id(),
        capture_id=capture.id,
        amount=money,
        create_time=now,
        invoice_id=invoice_id,
        note_to_payer=note_to_payer,
    )
    state.refunds[record.id] = record
    capture.refunded += money.minor
    capture.refund_ids.append(record.id)
    capture.status = (
        "REFUNDED" if capture.refunded == capture.amount.minor else "PARTIALLY_REFUNDED"
    )
    capture.update_time = now
    state.emit("PAYMENT.CAPTURE.REFUNDED", record)
    return record

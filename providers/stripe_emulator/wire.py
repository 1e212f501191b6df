"""Stripe's JSON object shapes for the emulator's records.

Field names and nesting follow the API reference so that the SDK's typed
objects (`PaymentIntent.next_action.redirect_to_url.url`, ...) resolve; fields
the emulator has no notion of are present with Stripe's empty values.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from providers.stripe_emulator.errors import DOC_BASE, CardFailure
from providers.stripe_emulator.forms import JsonObject
from providers.stripe_emulator.state import (
    Charge,
    Customer,
    EmulatorState,
    PaymentError,
    PaymentIntent,
    PaymentMethod,
    Refund,
)


def dump(body: JsonObject) -> bytes:
    # Stripe pretty-prints its answers; keeping that makes captured traffic readable.
    return json.dumps(body, indent=2).encode()


def payment_method(pm: PaymentMethod) -> JsonObject:
    card = pm.card
    return {
        "id": pm.id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked" if card.cvc_supplied else None,
            },
            "country": card.country,
            "display_brand": card.brand,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "fingerprint": card.fingerprint,
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": pm.created,
        "customer": pm.customer,
        "livemode": False,
        "metadata": dict(pm.metadata),
        "type": "card",
    }


def customer(record: Customer) -> JsonObject:
    if record.deleted:
        # What Stripe answers for a deleted Customer, on DELETE and on every GET after.
        return {"id": record.id, "object": "customer", "deleted": True}
    # The emulator never takes an email, name, phone or address: Stripe's empty values.
    return {
        "id": record.id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": record.created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": record.description,
        "discount": None,
        "email": None,
        "invoice_prefix": record.id[4:12].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": dict(record.metadata),
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def listing(url: str, data: list[JsonObject], has_more: bool) -> JsonObject:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def payment_intent(state: EmulatorState, intent: PaymentIntent, public_base_url: str) -> JsonObject:
    pm = state.payment_methods.get(intent.payment_method or "")
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_capturable": intent.amount_capturable,
        "amount_details": {"tip": {}},
        "amount_received": intent.amount_received,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": intent.canceled_at,
        "cancellation_reason": intent.cancellation_reason,
        "capture_method": intent.capture_method,
        "client_secret": intent.client_secret,
        "confirmation_method": "automatic",
        "created": intent.created,
        "currency": intent.currency,
        "customer": intent.customer,
        "description": intent.description,
        "last_payment_error": _payment_error(state, intent.last_payment_error),
        "latest_charge": intent.latest_charge,
        "livemode": False,
        "metadata": dict(intent.metadata),
        "next_action": _next_action(intent, public_base_url),
        "on_behalf_of": None,
        "payment_method": pm.id if pm else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": intent.setup_future_usage,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": intent.status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(record: Refund) -> JsonObject:
    return {
        "id": record.id,
        "object": "refund",
        "amount": record.amount,
        "balance_transaction": None,
        "charge": record.charge,
        "created": record.created,
        "currency": record.currency,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": dict(record.metadata),
        "payment_intent": record.payment_intent,
        "reason": record.reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": record.status,
        "transfer_reversal": None,
    }


def charge(record: Charge, intent: PaymentIntent) -> JsonObject:
    refunded = record.amount_refunded
    return {
        "id": record.id,
        "object": "charge",
        "amount": record.amount,
        "amount_captured": record.amount_captured,
        "amount_refunded": refunded,
        "captured": record.captured,
        "created": record.created,
        "currency": record.currency,
        "failure_code": record.failure_code,
        "livemode": False,
        # Stripe copies the intent's metadata onto its charges.
        "metadata": dict(intent.metadata),
        "paid": record.status == "succeeded",
        "payment_intent": record.payment_intent,
        "payment_method": record.payment_method,
        "refunded": refunded > 0 and refunded >= record.amount_captured,
        "status": record.status,
    }


def event(
    state: EmulatorState,
    intent: PaymentIntent,
    public_base_url: str,
    *,
    event_id: str,
    event_type: str,
    created: int,
    pending_webhooks: int,
) -> JsonObject:
    """An event with a snapshot of the object it is about, taken now (lock held)."""
    record = state.charges.get(intent.latest_charge or "")
    obj = (
        charge(record, intent)
        if event_type.startswith("charge.") and record is not None
        else payment_intent(state, intent, public_base_url)
    )
    return {
        "id": event_id,
        "object": "event",
        # One rendering of every object, so no API version to name.
        "api_version": None,
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        # As at creation: the emulator does not rewrite events as deliveries finish.
        "pending_webhooks": pending_webhooks,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def challenge_url(intent: PaymentIntent, public_base_url: str) -> str:
    query = urlencode({"token": intent.challenge_token or ""})
    return f"{public_base_url.rstrip('/')}/3ds/{quote(intent.id, safe='')}?{query}"


def decline(
    state: EmulatorState, intent: PaymentIntent, pm: PaymentMethod, public_base_url: str
) -> CardFailure:
    """The 402 answer for a declined confirmation, carrying the intent as Stripe does."""
    error = intent.last_payment_error
    assert error is not None  # set by intents.confirm before it raises
    extra: JsonObject = {
        "charge": error.charge,
        "payment_intent": payment_intent(state, intent, public_base_url),
        "payment_method": payment_method(pm),
        "request_log_url": None,
    }
    if error.decline_code is not None:
        extra["decline_code"] = error.decline_code
    return CardFailure(error.message, code=error.code, extra=extra)


def _payment_error(state: EmulatorState, error: PaymentError | None) -> JsonObject | None:
    if error is None:
        return None
    pm = state.payment_methods.get(error.payment_method)
    body: JsonObject = {
        "type": error.type,
        "code": error.code,
        "doc_url": DOC_BASE + error.code.replace("_", "-"),
        "message": error.message,
        "payment_method": payment_method(pm) if pm else None,
    }
    if error.decline_code is not None:
        body["decline_code"] = error.decline_code
    if error.charge is not None:
        body["charge"] = error.charge
    return body


def _next_action(intent: PaymentIntent, public_base_url: str) -> JsonObject | None:
    if intent.status != "requires_action":
        return None
    url = challenge_url(intent, public_base_url)
    if intent.return_url is not None:
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {"url": url, "return_url": intent.return_url},
        }
    # Without a return_url Stripe hands the challenge to Stripe.js; `stripe_js` is the
    # page that Stripe.js would open in a frame.
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url},
    }

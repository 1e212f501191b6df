"""PayPal's JSON shapes for the emulator's records (Orders v2 and Payments v2).

Field names and nesting follow PayPal's API reference. `links` are HATEOAS
links on the emulator's own origin (real PayPal splits API and buyer pages
across `api-m.` and `www.` hosts; here both are `public_base_url`).
"""

from __future__ import annotations

from providers.paypal_emulator.errors import JsonObject
from providers.paypal_emulator.payments import authorization_status
from providers.paypal_emulator.state import (
    Authorization,
    Capture,
    Order,
    PayPalState,
    Refund,
    iso,
)

MERCHANT_EMAIL = "sb-merchant@business.example.com"
_SELLER_PROTECTION: JsonObject = {
    "status": "ELIGIBLE",
    "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
}


def link(base: str, path: str, rel: str, method: str = "GET") -> JsonObject:
    return {"href": base + path, "rel": rel, "method": method}


def minimal(resource: JsonObject) -> JsonObject:
    """PayPal's `Prefer: return=minimal` answer: id, status and links."""
    return {key: resource[key] for key in ("id", "status", "links")}


def order(state: PayPalState, record: Order, base: str) -> JsonObject:
    unit = record.unit
    purchase_unit: JsonObject = {
        "reference_id": unit.reference_id,
        "amount": unit.amount.wire(),
        "payee": {"email_address": MERCHANT_EMAIL, "merchant_id": state.merchant_id},
    }
    for key, value in (
        ("description", unit.description),
        ("custom_id", unit.custom_id),
        ("invoice_id", unit.invoice_id),
    ):
        if value is not None:
            purchase_unit[key] = value
    payments = _payments(state, record, base)
    if payments:
        purchase_unit["payments"] = payments
    body: JsonObject = {"id": record.id, "intent": record.intent, "status": record.status}
    if record.payer is not None:
        body["payment_source"] = _payment_source(record)
    body["purchase_units"] = [purchase_unit]
    if record.payer is not None:
        body["payer"] = _payer(record)
    body["create_time"] = iso(record.create_time)
    body["update_time"] = iso(record.update_time)
    body["links"] = _order_links(record, base)
    return body


def order_after_payment(state: PayPalState, record: Order, base: str) -> JsonObject:
    """A capture's or authorization's minimal answer: PayPal still includes the payments."""
    full = order(state, record, base)
    units = [
        {"reference_id": unit["reference_id"], "payments": unit.get("payments", {})}
        for unit in full["purchase_units"]
    ]
    body: JsonObject = {"id": full["id"], "status": full["status"]}
    if "payment_source" in full:
        body["payment_source"] = full["payment_source"]
    body["purchase_units"] = units
    if "payer" in full:
        body["payer"] = full["payer"]
    body["links"] = full["links"]
    return body


def capture(record: Capture, base: str) -> JsonObject:
    body: JsonObject = {
        "id": record.id,
        "status": record.status,
        "amount": record.amount.wire(),
        "final_capture": record.final_capture,
        "seller_protection": _SELLER_PROTECTION,
    }
    if record.invoice_id is not None:
        body["invoice_id"] = record.invoice_id
    if record.custom_id is not None:
        body["custom_id"] = record.custom_id
    related = {"order_id": record.order_id}
    if record.authorization_id is not None:
        related["authorization_id"] = record.authorization_id
    body["supplementary_data"] = {"related_ids": related}
    body["create_time"] = iso(record.create_time)
    body["update_time"] = iso(record.update_time)
    path = f"/v2/payments/captures/{record.id}"
    up = (
        f"/v2/payments/authorizations/{record.authorization_id}"
        if record.authorization_id is not None
        else f"/v2/checkout/orders/{record.order_id}"
    )
    links = [link(base, path, "self")]
    if record.status != "REFUNDED":
        links.append(link(base, f"{path}/refund", "refund", "POST"))
    links.append(link(base, up, "up"))
    body["links"] = links
    return body


def authorization(state: PayPalState, record: Authorization, base: str) -> JsonObject:
    status = authorization_status(record, state.clock())
    path = f"/v2/payments/authorizations/{record.id}"
    links = [link(base, path, "self")]
    if status in ("CREATED", "PARTIALLY_CAPTURED"):
        links.append(link(base, f"{path}/capture", "capture", "POST"))
        if status == "CREATED":
            links.append(link(base, f"{path}/void", "void", "POST"))
            links.append(link(base, f"{path}/reauthorize", "reauthorize", "POST"))
    links.append(link(base, f"/v2/checkout/orders/{record.order_id}", "up"))
    order_record = state.orders.get(record.order_id)
    body: JsonObject = {
        "id": record.id,
        "status": status,
        "amount": record.amount.wire(),
    }
    if order_record is not None:
        if order_record.unit.invoice_id is not None:
            body["invoice_id"] = order_record.unit.invoice_id
        if order_record.unit.custom_id is not None:
            body["custom_id"] = order_record.unit.custom_id
    body["seller_protection"] = _SELLER_PROTECTION
    body["supplementary_data"] = {"related_ids": {"order_id": record.order_id}}
    body["expiration_time"] = iso(record.expires_at)
    body["create_time"] = iso(record.create_time)
    body["update_time"] = iso(record.update_time)
    body["links"] = links
    return body


def refund(state: PayPalState, record: Refund, base: str) -> JsonObject:
    parent = state.captures[record.capture_id]
    body: JsonObject = {"id": record.id, "amount": record.amount.wire()}
    if record.invoice_id is not None:
        body["invoice_id"] = record.invoice_id
    if record.note_to_payer is not None:
        body["note_to_payer"] = record.note_to_payer
    body["status"] = record.status
    body["seller_payable_breakdown"] = {
        "gross_amount": record.amount.wire(),
        "total_refunded_amount": parent.amount.with_minor(parent.refunded).wire(),
    }
    body["create_time"] = iso(record.create_time)
    body["update_time"] = iso(record.create_time)
    body["links"] = [
        link(base, f"/v2/payments/refunds/{record.id}", "self"),
        link(base, f"/v2/payments/captures/{record.capture_id}", "up"),
    ]
    return body


def approve_url(record: Order, base: str) -> str:
    return f"{base}/checkoutnow?token={record.id}"


def _order_links(record: Order, base: str) -> list[JsonObject]:
    path = f"/v2/checkout/orders/{record.id}"
    links = [link(base, path, "self")]
    if record.status == "CREATED":
        links.append({"href": approve_url(record, base), "rel": "approve", "method": "GET"})
    if record.status in ("CREATED", "APPROVED"):
        links.append(link(base, path, "update", "PATCH"))
        action = "capture" if record.intent == "CAPTURE" else "authorize"
        links.append(link(base, f"{path}/{action}", action, "POST"))
    return links


def _payments(state: PayPalState, record: Order, base: str) -> JsonObject:
    payments: JsonObject = {}
    if record.authorization_ids:
        payments["authorizations"] = [
            authorization(state, state.authorizations[i], base) for i in record.authorization_ids
        ]
    if record.capture_ids:
        payments["captures"] = [capture(state.captures[i], base) for i in record.capture_ids]
    refund_ids = [r for i in record.capture_ids for r in state.captures[i].refund_ids]
    if refund_ids:
        payments["refunds"] = [refund(state, state.refunds[i], base) for i in refund_ids]
    return payments


def _payer(record: Order) -> JsonObject:
    payer = record.payer
    assert payer is not None
    return {
        "name": {"given_name": payer.given_name, "surname": payer.surname},
        "email_address": payer.email_address,
        "payer_id": payer.payer_id,
        "address": {"country_code": payer.country_code},
    }


def _payment_source(record: Order) -> JsonObject:
    payer = record.payer
    assert payer is not None
    return {
        "paypal": {
            "email_address": payer.email_address,
            "account_id": payer.payer_id,
            "account_status": "VERIFIED",
            "name": {"given_name": payer.given_name, "surname": payer.surname},
            "address": {"country_code": payer.country_code},
        }
    }

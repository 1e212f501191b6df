"""The REST endpoints: parse PayPal's JSON bodies, call the domain, render PayPal's shapes."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from providers.paypal_emulator import orders, payments, wire
from providers.paypal_emulator.errors import JsonObject, invalid_request
from providers.paypal_emulator.jsonbody import boolean, child, missing, string
from providers.paypal_emulator.money import Money, parse_money
from providers.paypal_emulator.pipeline import Answer, Call, run
from providers.paypal_emulator.state import Intent, PurchaseUnit

_INTENTS: tuple[Intent, ...] = ("CAPTURE", "AUTHORIZE")


# --- orders ----------------------------------------------------------------------------


def _create_order(call: Call) -> Answer:
    body = call.body
    intent = body.get("intent")
    if intent is None:
        raise missing("/intent")
    if intent not in _INTENTS:
        raise invalid_request(
            "INVALID_PARAMETER_VALUE",
            "The value of a field is invalid.",
            field="/intent",
            value=str(intent),
        )
    unit = _purchase_unit(body)
    return_url, cancel_url = _redirect_urls(body)
    record = orders.create(
        call.state,
        intent="CAPTURE" if intent == "CAPTURE" else "AUTHORIZE",
        unit=unit,
        return_url=return_url,
        cancel_url=cancel_url,
    )
    full = wire.order(call.state, record, call.settings.public_base_url)
    return Answer(201, full if call.representation else wire.minimal(full))


def _get_order(call: Call) -> Answer:
    record = orders.get_order(call.state, call.path["id"])
    return Answer(200, wire.order(call.state, record, call.settings.public_base_url))


def _capture_order(call: Call) -> Answer:
    record = orders.get_order(call.state, call.path["id"])
    orders.capture(call.state, record)
    return _completed_order(call, record.id)


def _authorize_order(call: Call) -> Answer:
    record = orders.get_order(call.state, call.path["id"])
    orders.authorize(call.state, record)
    return _completed_order(call, record.id)


def _completed_order(call: Call, order_id: str) -> Answer:
    record = call.state.orders[order_id]
    base = call.settings.public_base_url
    if call.representation:
        return Answer(201, wire.order(call.state, record, base))
    return Answer(201, wire.order_after_payment(call.state, record, base))


# --- authorizations, captures, refunds -------------------------------------------------


def _get_authorization(call: Call) -> Answer:
    record = payments.get_authorization(call.state, call.path["id"])
    return Answer(200, wire.authorization(call.state, record, call.settings.public_base_url))


def _capture_authorization(call: Call) -> Answer:
    body = call.body
    record = payments.get_authorization(call.state, call.path["id"])
    capture = payments.capture_authorization(
        call.state,
        record,
        amount=_optional_money(body),
        # PayPal's default for a capture of an authorization is *not* final.
        final_capture=boolean(body, "final_capture", "") or False,
        invoice_id=string(body, "invoice_id", ""),
        custom_id=string(body, "custom_id", ""),
    )
    full = wire.capture(capture, call.settings.public_base_url)
    return Answer(201, full if call.representation else wire.minimal(full))


def _void_authorization(call: Call) -> Answer:
    record = payments.get_authorization(call.state, call.path["id"])
    payments.void(call.state, record)
    if call.representation:
        return Answer(200, wire.authorization(call.state, record, call.settings.public_base_url))
    return Answer(204, None)


def _get_capture(call: Call) -> Answer:
    record = payments.get_capture(call.state, call.path["id"])
    return Answer(200, wire.capture(record, call.settings.public_base_url))


def _refund_capture(call: Call) -> Answer:
    body = call.body
    capture = payments.get_capture(call.state, call.path["id"])
    record = payments.refund(
        call.state,
        capture,
        amount=_optional_money(body),
        invoice_id=string(body, "invoice_id", ""),
        note_to_payer=string(body, "note_to_payer", "", max_length=255),
    )
    full = wire.refund(call.state, record, call.settings.public_base_url)
    return Answer(201, full if call.representation else wire.minimal(full))


def _get_refund(call: Call) -> Answer:
    record = payments.get_refund(call.state, call.path["id"])
    return Answer(200, wire.refund(call.state, record, call.settings.public_base_url))


# --- body helpers ----------------------------------------------------------------------


def _purchase_unit(body: JsonObject) -> PurchaseUnit:
    units = body.get("purchase_units")
    if units is None:
        raise missing("/purchase_units")
    if not isinstance(units, list) or not units:
        raise invalid_request(
            "INVALID_ARRAY_MIN_ITEMS",
            "The number of items in an array parameter is too small.",
            field="/purchase_units",
        )
    if len(units) > 1:
        # PayPal allows up to 10 units; the adapters send one, and supporting several
        # would multiply every payment path. Refused loudly rather than half-done.
        raise invalid_request(
            "INVALID_ARRAY_MAX_ITEMS",
            "The emulator supports exactly one purchase unit per order.",
            field="/purchase_units",
        )
    raw = units[0]
    pointer = "/purchase_units/0"
    if not isinstance(raw, dict):
        raise missing(f"{pointer}/amount")
    if raw.get("amount") is None:
        raise missing(f"{pointer}/amount")
    return PurchaseUnit(
        reference_id=string(raw, "reference_id", pointer, max_length=256) or "default",
        amount=parse_money(raw["amount"], f"{pointer}/amount"),
        custom_id=string(raw, "custom_id", pointer),
        invoice_id=string(raw, "invoice_id", pointer),
        description=string(raw, "description", pointer),
    )


def _redirect_urls(body: JsonObject) -> tuple[str | None, str | None]:
    """From `payment_source.paypal.experience_context`, else the older `application_context`."""
    pointer = "/payment_source/paypal/experience_context"
    source = child(body, "payment_source", "")
    paypal = child(source, "paypal", "/payment_source") if source else None
    context = child(paypal, "experience_context", "/payment_source/paypal") if paypal else None
    if context is None:
        pointer = "/application_context"
        context = child(body, "application_context", "")
    if context is None:
        return None, None
    return _url(context, "return_url", pointer), _url(context, "cancel_url", pointer)


def _url(context: JsonObject, key: str, pointer: str) -> str | None:
    raw = string(context, key, pointer, max_length=4000)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_request(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
            field=f"{pointer}/{key}",
            value=raw,
        )
    return raw


def _optional_money(body: JsonObject) -> Money | None:
    raw = body.get("amount")
    return None if raw is None else parse_money(raw, "/amount")


# --- Starlette endpoints ---------------------------------------------------------------


async def create_order(request: Request) -> Response:
    return await run(request, _create_order, ledger_name="orders.create")


async def get_order(request: Request) -> Response:
    return await run(request, _get_order)


async def capture_order(request: Request) -> Response:
    return await run(request, _capture_order, ledger_name="orders.capture")


async def authorize_order(request: Request) -> Response:
    return await run(request, _authorize_order, ledger_name="orders.authorize")


async def get_authorization(request: Request) -> Response:
    return await run(request, _get_authorization)


async def capture_authorization(request: Request) -> Response:
    return await run(request, _capture_authorization, ledger_name="authorizations.capture")


async def void_authorization(request: Request) -> Response:
    return await run(request, _void_authorization, ledger_name="authorizations.void")


async def get_capture(request: Request) -> Response:
    return await run(request, _get_capture)


async def refund_capture(request: Request) -> Response:
    return await run(request, _refund_capture, ledger_name="captures.refund")


async def get_refund(request: Request) -> Response:
    return await run(request, _get_refund)

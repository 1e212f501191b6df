"""The `/v1` endpoints: parse params, call the domain, render Stripe's objects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import get_args
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from providers.stripe_emulator import cards, event_list, intents, refunds, wire
from providers.stripe_emulator.errors import InvalidRequest, parameter_missing
from providers.stripe_emulator.forms import Form, JsonObject
from providers.stripe_emulator.money import normalize_currency
from providers.stripe_emulator.pipeline import Call, run
from providers.stripe_emulator.state import (
    CaptureMethod,
    FutureUsage,
    PaymentIntent,
    PaymentMethod,
)

_CAPTURE_METHODS: tuple[CaptureMethod, ...] = get_args(CaptureMethod)
_FUTURE_USAGES: tuple[FutureUsage, ...] = get_args(FutureUsage)
_CARD_FIELDS = ("number", "exp_month", "exp_year", "cvc")
# What a PaymentIntent answer can expand in place of an id (the adapter reads refunds
# from the expanded charge, and a saved card's brand and last4 from the method).
_INTENT_EXPANSIONS = frozenset({"latest_charge", "payment_method"})


# --- payment methods -------------------------------------------------------------------


def _create_payment_method(call: Call) -> JsonObject:
    form = Form(call.params, ("type", "card", "metadata", "expand"))
    kind = form.required_string("type")
    if kind != "card":
        raise InvalidRequest(
            f"Invalid type: {kind}. This emulator only supports card.", param="type"
        )
    card_form = form.nested("card", _CARD_FIELDS)
    if card_form is None:
        raise parameter_missing("card")
    card = cards.tokenize(card_form, today=_today(call), fingerprint=call.state.card_fingerprint)
    pm = PaymentMethod(
        id=call.state.new_id("pm"),
        created=call.state.now(),
        card=card,
        metadata=form.metadata(),
    )
    call.state.payment_methods[pm.id] = pm
    call.state.record("payment_methods.create")
    return wire.payment_method(pm)


def _retrieve_payment_method(call: Call) -> JsonObject:
    Form(call.params, ("expand",))
    pm_id = call.path["id"]
    return wire.payment_method(intents.get_payment_method(call.state, pm_id, "payment_method"))


# --- payment intents -------------------------------------------------------------------


def _create_intent(call: Call) -> JsonObject:
    form = Form(
        call.params,
        (
            "amount",
            "currency",
            "payment_method",
            "payment_method_types",
            "confirm",
            "capture_method",
            "return_url",
            "metadata",
            "description",
            "customer",
            "setup_future_usage",
            "off_session",
            "expand",
        ),
    )
    expand = _expansions(form)
    amount = form.integer("amount", minimum=1)
    if amount is None:
        raise parameter_missing("amount")
    currency = normalize_currency(form.required_string("currency"))
    _check_payment_method_types(form)
    payment_method = form.string("payment_method") or None
    confirm = form.boolean("confirm") or False
    if confirm and payment_method is None:
        # Refused before anything is created, so a corrected retry starts clean.
        raise parameter_missing("payment_method")
    off_session = _off_session(form)
    if off_session is not None and not confirm:
        raise InvalidRequest(
            "You can only pass `off_session` when `confirm` is true.", param="off_session"
        )
    intent = intents.create(
        call.state,
        amount=amount,
        currency=currency,
        capture_method=_capture_method(form),
        payment_method=payment_method,
        return_url=_return_url(form),
        description=form.string("description") or None,
        metadata=form.metadata(),
        customer=form.string("customer") or None,
        setup_future_usage=_future_usage(form),
        off_session=bool(off_session),
    )
    if confirm:
        intents.confirm(call.state, intent, payment_method=None, return_url=None)
    return _render_intent(call, intent, expand)


def _retrieve_intent(call: Call) -> JsonObject:
    form = Form(call.params, ("expand", "client_secret"))
    expand = _expansions(form)
    intent = intents.get_intent(call.state, call.path["id"])
    return _render_intent(call, intent, expand)


def _confirm_intent(call: Call) -> JsonObject:
    form = Form(call.params, ("payment_method", "return_url", "off_session", "expand"))
    expand = _expansions(form)
    intent = intents.get_intent(call.state, call.path["id"])
    intents.confirm(
        call.state,
        intent,
        payment_method=form.string("payment_method") or None,
        return_url=_return_url(form),
        off_session=_off_session(form),
    )
    return _render_intent(call, intent, expand)


def _capture_intent(call: Call) -> JsonObject:
    form = Form(call.params, ("amount_to_capture", "metadata", "expand"))
    expand = _expansions(form)
    amount_to_capture = form.integer("amount_to_capture", minimum=1)
    metadata = form.metadata()
    intent = intents.get_intent(call.state, call.path["id"])
    intents.capture(call.state, intent, amount_to_capture)
    intent.metadata.update(metadata)
    return _render_intent(call, intent, expand)


def _cancel_intent(call: Call) -> JsonObject:
    form = Form(call.params, ("cancellation_reason", "expand"))
    expand = _expansions(form)
    intent = intents.get_intent(call.state, call.path["id"])
    intents.cancel(call.state, intent, form.string("cancellation_reason") or None)
    return _render_intent(call, intent, expand)


def _expansions(form: Form) -> frozenset[str]:
    """The fields to expand, checked before anything runs: refusing one after a capture
    had happened would store an error for a request that moved money."""
    wanted = frozenset(form.array("expand") or ())
    unknown = sorted(wanted - _INTENT_EXPANSIONS)
    if unknown:
        raise InvalidRequest(f"This property cannot be expanded ({unknown[0]}).", param="expand")
    return wanted


def _render_intent(call: Call, intent: PaymentIntent, expand: frozenset[str]) -> JsonObject:
    body = wire.payment_intent(call.state, intent, call.settings.public_base_url)
    if "latest_charge" in expand:
        record = call.state.charges.get(intent.latest_charge or "")
        body["latest_charge"] = wire.charge(record, intent) if record is not None else None
    if "payment_method" in expand:
        pm = call.state.payment_methods.get(intent.payment_method or "")
        body["payment_method"] = wire.payment_method(pm) if pm is not None else None
    return body


# --- refunds ---------------------------------------------------------------------------


def _create_refund(call: Call) -> JsonObject:
    form = Form(call.params, ("payment_intent", "amount", "reason", "metadata", "expand"))
    refund = refunds.create(
        call.state,
        payment_intent=form.required_string("payment_intent"),
        amount=form.integer("amount", minimum=1),
        reason=form.string("reason") or None,
        metadata=form.metadata(),
    )
    return wire.refund(refund)


def _retrieve_refund(call: Call) -> JsonObject:
    Form(call.params, ("expand",))
    return wire.refund(refunds.get_refund(call.state, call.path["id"]))


# --- parameter helpers -----------------------------------------------------------------


def _today(call: Call) -> date:
    return datetime.fromtimestamp(call.state.clock(), tz=UTC).date()


def _capture_method(form: Form) -> CaptureMethod:
    raw = form.string("capture_method")
    if raw is None:
        # Stripe's default for API versions since 2024; behaves like automatic for cards.
        return "automatic_async"
    for method in _CAPTURE_METHODS:
        if raw == method:
            return method
    raise InvalidRequest(
        "Invalid capture_method: must be one of " + ", ".join(_CAPTURE_METHODS),
        param="capture_method",
    )


def _future_usage(form: Form) -> FutureUsage | None:
    raw = form.string("setup_future_usage")
    if raw is None or raw == "":
        return None
    for usage in _FUTURE_USAGES:
        if raw == usage:
            return usage
    raise InvalidRequest(
        "Invalid setup_future_usage: must be one of " + ", ".join(_FUTURE_USAGES),
        param="setup_future_usage",
    )


def _off_session(form: Form) -> bool | None:
    """Stripe takes a boolean, or `one_off` / `recurring` (both mean true)."""
    raw = form.string("off_session")
    if raw in ("one_off", "recurring"):
        return True
    return form.boolean("off_session")


def _check_payment_method_types(form: Form) -> None:
    for value in form.array("payment_method_types") or []:
        if value != "card":
            raise InvalidRequest(
                f"The payment method type provided: {value} is invalid. This emulator only "
                "supports card.",
                param="payment_method_types",
            )


def _return_url(form: Form) -> str | None:
    raw = form.string("return_url")
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(f"Not a valid URL: {raw}", code="url_invalid", param="return_url")
    return raw


# --- Starlette endpoints ---------------------------------------------------------------


async def create_payment_method(request: Request) -> Response:
    # Browsers post card details here with the publishable key, as Stripe.js does.
    return await run(request, _create_payment_method, method="POST", publishable_ok=True)


async def retrieve_payment_method(request: Request) -> Response:
    return await run(request, _retrieve_payment_method, method="GET")


async def create_payment_intent(request: Request) -> Response:
    return await run(request, _create_intent, method="POST")


async def retrieve_payment_intent(request: Request) -> Response:
    return await run(request, _retrieve_intent, method="GET")


async def confirm_payment_intent(request: Request) -> Response:
    return await run(request, _confirm_intent, method="POST")


async def capture_payment_intent(request: Request) -> Response:
    return await run(request, _capture_intent, method="POST")


async def cancel_payment_intent(request: Request) -> Response:
    return await run(request, _cancel_intent, method="POST")


async def create_refund(request: Request) -> Response:
    return await run(request, _create_refund, method="POST")


async def retrieve_refund(request: Request) -> Response:
    return await run(request, _retrieve_refund, method="GET")


async def list_events(request: Request) -> Response:
    return await run(request, event_list.list_events, method="GET")


async def retrieve_event(request: Request) -> Response:
    return await run(request, event_list.retrieve_event, method="GET")

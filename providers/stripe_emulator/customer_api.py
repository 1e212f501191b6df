"""The `/v1/customers` endpoints and attaching, detaching and listing PaymentMethods."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from providers.stripe_emulator import customers, intents, wire
from providers.stripe_emulator.errors import InvalidRequest, parameter_missing, resource_missing
from providers.stripe_emulator.forms import Form, JsonObject
from providers.stripe_emulator.pipeline import Call, run

_LIST_PARAMS = ("type", "limit", "starting_after", "ending_before", "expand")


# --- customers -------------------------------------------------------------------------


def _create_customer(call: Call) -> JsonObject:
    # Only what the adapter sends: our own id in metadata. Email, name, phone and address
    # are refused as unknown parameters, so personal data cannot reach the emulator.
    form = Form(call.params, ("description", "metadata", "expand"))
    record = customers.create(
        call.state, description=form.string("description") or None, metadata=form.metadata()
    )
    return wire.customer(record)


def _retrieve_customer(call: Call) -> JsonObject:
    Form(call.params, ("expand",))
    customer_id = call.path["id"]
    record = call.state.customers.get(customer_id)
    if record is None:
        raise resource_missing("customer", customer_id, "id")
    return wire.customer(record)  # a deleted one answers its `deleted: true` stub


def _delete_customer(call: Call) -> JsonObject:
    Form(call.params, ())
    record = customers.get_customer(call.state, call.path["id"], "id")
    customers.delete(call.state, record)
    return wire.customer(record)


# --- attaching, detaching, listing -----------------------------------------------------


def _attach(call: Call) -> JsonObject:
    form = Form(call.params, ("customer", "expand"))
    customer_id = form.string("customer")
    if not customer_id:
        raise parameter_missing("customer")
    pm = intents.get_payment_method(call.state, call.path["id"], "payment_method")
    customers.attach(call.state, pm, customers.get_customer(call.state, customer_id))
    return wire.payment_method(pm)


def _detach(call: Call) -> JsonObject:
    Form(call.params, ("expand",))
    pm = intents.get_payment_method(call.state, call.path["id"], "payment_method")
    customers.detach(call.state, pm)
    return wire.payment_method(pm)


def _list_for_customer(call: Call) -> JsonObject:
    customer_id = call.path["id"]
    form = Form(call.params, _LIST_PARAMS)
    return _page(call, form, customer_id, f"/v1/customers/{customer_id}/payment_methods")


def _list_payment_methods(call: Call) -> JsonObject:
    form = Form(call.params, ("customer", *_LIST_PARAMS))
    customer_id = form.string("customer")
    if not customer_id:
        # Stripe lists only Treasury-made methods without a customer: none here.
        _page_params(form)
        return wire.listing("/v1/payment_methods", [], has_more=False)
    return _page(call, form, customer_id, "/v1/payment_methods")


def _page(call: Call, form: Form, customer_id: str, url: str) -> JsonObject:
    limit, starting_after, ending_before = _page_params(form)
    record = customers.get_customer(call.state, customer_id)
    methods, has_more = customers.listed(
        call.state,
        record,
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
    )
    return wire.listing(url, [wire.payment_method(pm) for pm in methods], has_more)


def _page_params(form: Form) -> tuple[int, str | None, str | None]:
    kind = form.string("type")
    if kind is not None and kind != "card":
        raise InvalidRequest(
            f"Invalid type: {kind}. This emulator only supports card.", param="type"
        )
    limit = form.integer("limit", minimum=1) or 10
    if limit > 100:
        raise InvalidRequest(
            "This value must be less than or equal to 100.",
            code="parameter_invalid_integer",
            param="limit",
        )
    starting_after = form.string("starting_after") or None
    ending_before = form.string("ending_before") or None
    if starting_after and ending_before:
        raise InvalidRequest(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    return limit, starting_after, ending_before


# --- Starlette endpoints ---------------------------------------------------------------


async def create_customer(request: Request) -> Response:
    return await run(request, _create_customer, method="POST")


async def customer(request: Request) -> Response:
    if request.method == "DELETE":
        return await run(request, _delete_customer, method="DELETE")
    return await run(request, _retrieve_customer, method="GET")


async def customer_payment_methods(request: Request) -> Response:
    return await run(request, _list_for_customer, method="GET")


async def attach_payment_method(request: Request) -> Response:
    return await run(request, _attach, method="POST")


async def detach_payment_method(request: Request) -> Response:
    return await run(request, _detach, method="POST")


async def list_payment_methods(request: Request) -> Response:
    return await run(request, _list_payment_methods, method="GET")

"""The order routes both APIs have, once: the list, one order, and a shipment.

``/s2s/v1/orders*`` (an API key) and ``/staff/v1/orders*`` (a staff token) differ only in
who the caller is (the audit actor) and what they may see (the disclosure policy); each
endpoint class works those out from its own credential and hands them here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from checkout.domain.disclosure import Disclosure
from checkout.domain.fulfillment import clean_label
from checkout.services.fulfillments import Fulfillments
from checkout.services.order_events import fulfillment_json
from checkout.services.order_listing import OrderListing
from checkout.store.audit import Actor
from checkout.web.errors import ValidationFailed
from checkout.web.jsonio import json_response, read_json
from checkout.web.order_query import order_query
from checkout.web.order_views import order_detail_json
from checkout.web.paths import path_id
from checkout.web.schemas import FulfillmentIn

# Personal data: never kept by a proxy or a client cache.
NO_STORE = {"Cache-Control": "no-store"}


async def list_orders(
    listing: OrderListing, request: Request, policy: Disclosure, actor: Actor
) -> Response:
    page = await listing.list(order_query(request), policy, actor)
    data = [order_detail_json(d, policy) for d in page.data]
    return json_response(
        {"object": "list", "data": data, "has_more": page.has_more}, headers=NO_STORE
    )


async def order_response(
    listing: OrderListing,
    order_id: str,
    policy: Disclosure,
    actor: Actor,
    status: int = 200,
) -> Response:
    detail = await listing.get(order_id, policy, actor)
    return json_response(order_detail_json(detail, policy), status=status, headers=NO_STORE)


async def get_order(
    listing: OrderListing, request: Request, policy: Disclosure, actor: Actor
) -> Response:
    return await order_response(listing, path_id(request, "order_id"), policy, actor)


async def create_fulfillment(
    fulfillments: Fulfillments, request: Request, actor: Actor
) -> Response:
    order_id = path_id(request, "order_id")
    body = await read_json(request, FulfillmentIn)
    carrier = clean_label(body.carrier, 64)
    tracking = clean_label(body.tracking_number, 128)
    if carrier is None or tracking is None:
        problems = {
            name: "printable text"
            for name, value in (("carrier", carrier), ("tracking_number", tracking))
            if value is None
        }
        raise ValidationFailed("The fulfillment is invalid.", fields=problems)
    f = await fulfillments.create(order_id, carrier, tracking, actor=actor)
    return json_response(fulfillment_json(f), status=201)

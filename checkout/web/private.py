"""Routes of the private listener: health, metrics, and the integration API (API keys).

Each route declares its policy (``checkout.web.s2s_auth``).

Personal data by scope. ``orders:read`` is what a warehouse or an ERP holds: it gets the
order whole with the full shipping address (a parcel cannot ship without it) but the
customer's email masked and the billing address without its street lines, the
``FULFILLMENT`` disclosure staff of that role get. A key that also holds
``customers:read`` is trusted with the customer's contact data: orders come with email
and addresses in the clear (``FULL``), and ``GET /s2s/v1/customers/{id}`` opens the
customer record. Every answer that shows personal data is audited (one event per
request, ids and counts only) and marked ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.access.api_keys import ApiKey
from checkout.access.scopes import Scope
from checkout.context import AppContext
from checkout.domain.disclosure import FULFILLMENT, FULL, Disclosure
from checkout.domain.money import Money
from checkout.store import payments as payment_store
from checkout.store.audit import Actor
from checkout.web import order_access as orders
from checkout.web.errors import ServiceUnavailable, ValidationFailed
from checkout.web.jsonio import json_response, read_json
from checkout.web.paths import path_id
from checkout.web.request_id import request_id_of
from checkout.web.s2s_auth import KeyAuth, open_route
from checkout.web.schemas import SKU_PATTERN, ProductPutIn, WebhookEndpointIn
from checkout.web.views import customer_json, product_json
from webhooks import backlog
from webhooks.subscriptions import Endpoint

_NO_STORE = orders.NO_STORE


def endpoint_json(ep: Endpoint, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ep.id,
        "object": "webhook_endpoint",
        "url": ep.url,
        "events": list(ep.events),
        "status": ep.status,
        "created": int(ep.created_at.timestamp()),
    }
    if secret is not None:
        body["secret"] = secret
    return body


class PrivateEndpoints:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.auth = KeyAuth(ctx.api_keys)

    def routes(self) -> list[BaseRoute]:
        manage = self.auth.requires(Scope.WEBHOOKS_MANAGE)
        fulfill = self.auth.requires(Scope.ORDERS_FULFILL)
        read_orders = self.auth.requires(Scope.ORDERS_READ)
        read_customers = self.auth.requires(Scope.CUSTOMERS_READ)
        write_catalog = self.auth.requires(Scope.CATALOG_WRITE)
        idem = self.ctx.idempotency
        return [
            Route("/healthz", open_route(self.healthz), methods=["GET"]),
            Route("/metrics", open_route(self.metrics), methods=["GET"]),
            Route("/s2s/v1/orders", read_orders(self.list_orders), methods=["GET"]),
            Route("/s2s/v1/orders/{order_id}", read_orders(self.get_order), methods=["GET"]),
            Route(
                "/s2s/v1/customers/{customer_id}",
                read_customers(self.get_customer),
                methods=["GET"],
            ),
            # PUT is idempotent by nature; an Idempotency-Key also replays the first answer.
            Route("/s2s/v1/products/{sku}", write_catalog(idem(self.put_product)), methods=["PUT"]),
            # The key is checked before the idempotency layer, so a request without a
            # valid key never claims (or replays) a stored response.
            Route(
                "/s2s/v1/orders/{order_id}/fulfillments",
                fulfill(idem(self.create_fulfillment)),
                methods=["POST"],
            ),
            Route(
                "/s2s/v1/webhook-endpoints",
                manage(idem(self.create_webhook_endpoint)),
                methods=["POST"],
            ),
            Route(
                "/s2s/v1/webhook-endpoints", manage(self.list_webhook_endpoints), methods=["GET"]
            ),
            Route(
                "/s2s/v1/webhook-endpoints/{endpoint_id}",
                manage(self.disable_webhook_endpoint),
                methods=["DELETE"],
            ),
        ]

    async def healthz(self, request: Request) -> Response:
        def ping() -> None:
            with self.ctx.db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))

        try:
            await self.ctx.uow.run(ping)
        except sa.exc.SQLAlchemyError:
            raise ServiceUnavailable("The database does not answer.") from None
        return json_response({"status": "ok", "database": "ok"})

    async def metrics(self, request: Request) -> Response:
        def read() -> tuple[dict[str, int], int]:
            with self.ctx.uow.read() as conn:
                return backlog.counts(conn), len(payment_store.held_for_review(conn, 1000))

        # Read at scrape time: the worker that knows these may be another process.
        try:
            queued, held = await self.ctx.uow.run(read)
        except sa.exc.SQLAlchemyError:
            pass  # the request metrics still answer while the database is away
        else:
            for name, value in queued.items():
                self.ctx.metrics.backlog.labels(name).set(value)
            self.ctx.metrics.backlog.labels("payments_held_for_review").set(held)
        return Response(generate_latest(self.ctx.registry), media_type=CONTENT_TYPE_LATEST)

    @staticmethod
    def _actor(request: Request) -> Actor:
        key: ApiKey = request.state.api_key
        return Actor("api_key", key.id, request_id_of(request.scope))

    @staticmethod
    def _disclosure(request: Request) -> Disclosure:
        key: ApiKey = request.state.api_key
        return FULL if key.allows(Scope.CUSTOMERS_READ) else FULFILLMENT

    async def list_orders(self, request: Request) -> Response:
        return await orders.list_orders(
            self.ctx.order_listing, request, self._disclosure(request), self._actor(request)
        )

    async def get_order(self, request: Request) -> Response:
        return await orders.get_order(
            self.ctx.order_listing, request, self._disclosure(request), self._actor(request)
        )

    async def get_customer(self, request: Request) -> Response:
        customer = await self.ctx.customer_records.read(
            path_id(request, "customer_id"), self._actor(request)
        )
        return json_response(customer_json(customer), headers=_NO_STORE)

    async def put_product(self, request: Request) -> Response:
        sku = str(request.path_params["sku"])
        if not SKU_PATTERN.fullmatch(sku):
            raise ValidationFailed(
                "The sku is invalid.", fields={"sku": "1-64 of A-Z a-z 0-9 . _ -"}
            )
        body = await read_json(request, ProductPutIn)
        price = Money(body.price.amount, body.price.currency)
        product, created = await self.ctx.catalog.put(
            sku=sku, name=body.name, price=price, active=body.active, actor=self._actor(request)
        )
        return json_response(product_json(product, price.currency), status=201 if created else 200)

    async def create_fulfillment(self, request: Request) -> Response:
        return await orders.create_fulfillment(self.ctx.fulfillments, request, self._actor(request))

    async def create_webhook_endpoint(self, request: Request) -> Response:
        body = await read_json(request, WebhookEndpointIn)
        endpoint, secret = await self.ctx.webhook_endpoints.create(body.url, body.events)
        return json_response(endpoint_json(endpoint, secret), status=201)

    async def list_webhook_endpoints(self, request: Request) -> Response:
        data = [endpoint_json(ep) for ep in await self.ctx.webhook_endpoints.list()]
        return json_response({"object": "list", "data": data, "has_more": False})

    async def disable_webhook_endpoint(self, request: Request) -> Response:
        endpoint_id = path_id(request, "endpoint_id")
        return json_response(endpoint_json(await self.ctx.webhook_endpoints.disable(endpoint_id)))


def private_routes(ctx: AppContext) -> list[BaseRoute]:
    return PrivateEndpoints(ctx).routes()

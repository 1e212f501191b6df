"""The signed-in customer's saved payment methods, export and erasure (API.md,
"Customers"). Every route works on the token's own customer: no path names a customer,
so none can be pointed at another one; a method id of someone else's is a 404."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.context import AppContext
from checkout.services.export import CustomerExport
from checkout.store.audit import Actor
from checkout.store.payment_methods import SavedPaymentMethod
from checkout.web.customer_auth import CustomerAuth
from checkout.web.jsonio import json_response
from checkout.web.paths import path_id
from checkout.web.request_id import request_id_of
from checkout.web.views import checkout_json, customer_json, order_json

# Personal data: never kept by a browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store"}


def method_json(m: SavedPaymentMethod) -> dict[str, Any]:
    return {
        "id": m.id,
        "object": "payment_method",
        "provider": m.provider,
        "brand": m.brand,
        "last4": m.last4,
        "exp_month": m.exp_month,
        "exp_year": m.exp_year,
        "created": int(m.created_at.timestamp()),
    }


def export_json(data: CustomerExport) -> dict[str, Any]:
    customer = customer_json(data.customer)
    return {
        "object": "customer_export",
        "customer": customer,
        "verification": {
            "email_verified": data.customer.email_verified_at is not None,
            "email_verified_at": (
                None
                if data.customer.email_verified_at is None
                else int(data.customer.email_verified_at.timestamp())
            ),
        },
        # No marketing or other consents are collected yet; the list says so.
        "consents": [],
        "orders": [order_json(o) for o in data.orders],
        "checkouts": [checkout_json(c) for c in data.checkouts],
        "payments": [
            {
                "id": p.id,
                "checkout_id": p.checkout_id,
                "order_id": p.order_id,
                "provider": p.provider,
                "status": p.status.value,
                "amount": p.amount.to_json(),
                "amount_refunded": p.amount_refunded,
            }
            for p in data.payments
        ],
        "payment_methods": [method_json(m) for m in data.payment_methods],
        # Where the customer is signed in; tokens are never stored, so never exported.
        "sessions": [
            {
                "id": s.id,
                "created": int(s.created_at.timestamp()),
                "last_used": int(s.last_used_at.timestamp()),
                "expires": int(s.expires_at.timestamp()),
            }
            for s in data.sessions
        ],
    }


class MeEndpoints:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.auth = CustomerAuth(ctx.accounts)

    def routes(self) -> list[BaseRoute]:
        signed_in = self.auth.signed_in
        return [
            Route("/v1/me", signed_in(self.erase), methods=["DELETE"]),
            Route("/v1/me/export", signed_in(self.export), methods=["GET"]),
            Route("/v1/me/payment-methods", signed_in(self.list_methods), methods=["GET"]),
            Route(
                "/v1/me/payment-methods/{method_id}",
                signed_in(self.delete_method),
                methods=["DELETE"],
            ),
        ]

    async def list_methods(self, request: Request) -> Response:
        session = await self.auth.required(request)
        methods = await self.ctx.saved_methods.list(session.subject_id)
        return json_response(
            {"object": "list", "data": [method_json(m) for m in methods], "has_more": False},
            headers=_NO_STORE,
        )

    async def delete_method(self, request: Request) -> Response:
        session = await self.auth.required(request)
        await self.ctx.saved_methods.delete(session.subject_id, path_id(request, "method_id"))
        return Response(status_code=204)

    async def export(self, request: Request) -> Response:
        session = await self.auth.required(request)
        data = await self.ctx.export.export(session.subject_id)
        return json_response(export_json(data), headers=_NO_STORE)

    async def erase(self, request: Request) -> Response:
        session = await self.auth.required(request)
        actor = Actor("customer", session.subject_id, request_id_of(request.scope))
        done = await self.ctx.erasure.erase(session.subject_id, actor)
        # 202: our data is erased; steps at the provider may still be retried.
        return json_response(
            {"object": "erasure", "customer_id": done.customer_id, "status": "accepted"},
            status=202,
        )


def me_routes(ctx: AppContext) -> list[BaseRoute]:
    return MeEndpoints(ctx).routes()

"""Routes of customer accounts on the public listener (API.md, "Customers").

Registration and sign-in bodies carry a password, so they are not put through the
idempotency layer: it keeps a SHA-256 of each request body, and a fast unsalted hash of
a password is what argon2 is there to prevent. Both are safe to repeat anyway (a second
registration of an email answers like the first; a second sign-in is another session).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.context import AppContext
from checkout.services.accounts import Registration
from checkout.web.customer_auth import CustomerAuth
from checkout.web.jsonio import json_response, read_json
from checkout.web.paths import page_params, path_id
from checkout.web.policy import Policy, declare
from checkout.web.schemas import (
    CustomerIn,
    PasswordChangeIn,
    ProfilePatchIn,
    SessionIn,
    VerifyEmailIn,
)
from checkout.web.views import customer_json, order_json
from customers.accounts import Profile


class CustomerEndpoints:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.accounts = ctx.accounts
        self.auth = CustomerAuth(ctx.accounts)

    def routes(self) -> list[BaseRoute]:
        signed_in = self.auth.signed_in
        open_ = declare(Policy.OPEN)
        return [
            Route("/v1/customers", open_(self.register), methods=["POST"]),
            Route("/v1/customers/verify-email", open_(self.verify_email), methods=["POST"]),
            Route("/v1/sessions", open_(self.sign_in), methods=["POST"]),
            Route("/v1/sessions/current", signed_in(self.sign_out), methods=["DELETE"]),
            Route("/v1/me", signed_in(self.me), methods=["GET"]),
            Route("/v1/me", signed_in(self.update_me), methods=["PATCH"]),
            Route("/v1/me/password", signed_in(self.change_password), methods=["POST"]),
            Route("/v1/me/orders", signed_in(self.list_orders), methods=["GET"]),
            Route("/v1/me/orders/{order_id}", signed_in(self.get_order), methods=["GET"]),
        ]

    async def register(self, request: Request) -> Response:
        body = await read_json(request, CustomerIn)
        done = await self.accounts.register(
            Registration(body.email, body.password, body.name, body.phone)
        )
        return json_response(
            {
                "id": done.id,
                "object": "customer",
                "email": done.email,
                "name": done.name,
                "phone": done.phone,
            },
            status=201,
        )

    async def verify_email(self, request: Request) -> Response:
        body = await read_json(request, VerifyEmailIn)
        done = await self.accounts.verify_email(body.token)
        return json_response(
            {
                **customer_json(done.customer),
                "claimed": {"checkouts": done.checkouts_claimed, "orders": done.orders_claimed},
            }
        )

    async def sign_in(self, request: Request) -> Response:
        body = await read_json(request, SessionIn)
        address = request.client.host if request.client else None
        issued = await self.accounts.sign_in(body.email, body.password, address=address)
        return json_response(
            {
                "object": "session",
                "token": issued.token,
                "expires_at": int(issued.session.expires_at.timestamp()),
            },
            status=201,
        )

    async def sign_out(self, request: Request) -> Response:
        session = await self.auth.required(request)
        await self.accounts.sign_out(session)
        return Response(status_code=204)

    async def me(self, request: Request) -> Response:
        session = await self.auth.required(request)
        return json_response(customer_json(await self.accounts.me(session.subject_id)))

    async def update_me(self, request: Request) -> Response:
        session = await self.auth.required(request)
        body = await read_json(request, ProfilePatchIn)
        given = frozenset(body.model_fields_set)
        profile = Profile(
            name=body.name,
            phone=body.phone,
            addresses=(
                None
                if body.addresses is None
                else [a.model_dump(exclude_none=True) for a in body.addresses]
            ),
            given=given,
        )
        customer = await self.accounts.update_me(session.subject_id, profile)
        return json_response(customer_json(customer))

    async def change_password(self, request: Request) -> Response:
        session = await self.auth.required(request)
        body = await read_json(request, PasswordChangeIn)
        await self.accounts.change_password(session, body.current_password, body.new_password)
        return Response(status_code=204)

    async def list_orders(self, request: Request) -> Response:
        session = await self.auth.required(request)
        limit, after = page_params(request)
        orders, more = await self.ctx.customer_orders.list(
            session.subject_id, limit=limit, starting_after=after
        )
        return json_response(
            {"object": "list", "data": [order_json(o) for o in orders], "has_more": more}
        )

    async def get_order(self, request: Request) -> Response:
        session = await self.auth.required(request)
        order = await self.ctx.customer_orders.get(session.subject_id, path_id(request, "order_id"))
        return json_response(order_json(order))


def customer_routes(ctx: AppContext) -> list[BaseRoute]:
    return CustomerEndpoints(ctx).routes()

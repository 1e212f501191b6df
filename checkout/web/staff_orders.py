"""Staff order management on the public listener (API.md, "Staff"; docs/STAFF.md).

Each route declares the one permission its role needs; what also depends on the order
(support's per-refund limit, and support cancelling unpaid orders only) is decided by
:class:`~checkout.services.staff_orders.StaffOrders` once the order is read, as 403.

What a role sees, least privilege: ``viewer`` reads under ``VIEWER`` (email masked,
addresses without street lines, no phone); every role from ``fulfillment`` up reads under
``FULFILLMENT`` (the full shipping address; the email still masked: no role in API.md's
table lists the customer's contact details, so none is given them). Reads showing
anything unmasked are audited by the listing service; changes by the services that make
them. Mutating routes go through the idempotency layer after the token check, keyed to
the staff member (not the session).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.access.roles import Permission
from checkout.context import AppContext
from checkout.domain.disclosure import FULFILLMENT, VIEWER, Disclosure
from checkout.domain.operations import Operation
from checkout.web import order_access as orders
from checkout.web.jsonio import json_response, read_json
from checkout.web.paths import path_id
from checkout.web.schemas import CancelIn, CaptureIn, RefundIn
from checkout.web.staff_auth import StaffAuth, actor_of, principal_of


def disclosure_for(request: Request) -> Disclosure:
    role = principal_of(request).role
    return FULFILLMENT if role.allows(Permission.ORDERS_READ_PII_SHIPPING) else VIEWER


def refund_json(order_id: str, op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "object": "refund",
        "order_id": order_id,
        "payment_id": op.payment_id,
        "amount": op.amount.to_json(),
        "reason": op.reason,
        "status": op.status.value,
    }


class StaffOrderEndpoints:
    def __init__(self, ctx: AppContext, auth: StaffAuth) -> None:
        self.ctx = ctx
        self.auth = auth

    def routes(self) -> list[BaseRoute]:
        need = self.auth.requires
        idem = self.ctx.idempotency
        base = "/staff/v1/orders"
        one = base + "/{order_id}"
        return [
            Route(base, need(Permission.ORDERS_READ)(self.list_orders), methods=["GET"]),
            Route(one, need(Permission.ORDERS_READ)(self.get_order), methods=["GET"]),
            Route(
                one + "/capture",
                need(Permission.ORDERS_CAPTURE)(idem(self.capture)),
                methods=["POST"],
            ),
            # Support and up; support's limit per refund is checked against the order.
            Route(
                one + "/refunds",
                need(Permission.ORDERS_REFUND_LIMITED)(idem(self.refund)),
                methods=["POST"],
            ),
            # Support and up; support may cancel unpaid orders only.
            Route(
                one + "/cancel",
                need(Permission.ORDERS_CANCEL_UNPAID)(idem(self.cancel)),
                methods=["POST"],
            ),
            Route(
                one + "/fulfillments",
                need(Permission.ORDERS_FULFILL)(idem(self.create_fulfillment)),
                methods=["POST"],
            ),
        ]

    async def list_orders(self, request: Request) -> Response:
        return await orders.list_orders(
            self.ctx.order_listing, request, disclosure_for(request), actor_of(request)
        )

    async def get_order(self, request: Request) -> Response:
        return await orders.get_order(
            self.ctx.order_listing, request, disclosure_for(request), actor_of(request)
        )

    async def _order(self, request: Request, order_id: str) -> Response:
        """The order after a change, as this member may see it."""
        return await orders.order_response(
            self.ctx.order_listing, order_id, disclosure_for(request), actor_of(request)
        )

    async def capture(self, request: Request) -> Response:
        order_id = path_id(request, "order_id")
        body = await read_json(request, CaptureIn)
        await self.ctx.staff_orders.capture(order_id, body.amount, actor_of(request))
        return await self._order(request, order_id)

    async def refund(self, request: Request) -> Response:
        order_id = path_id(request, "order_id")
        body = await read_json(request, RefundIn)
        role = principal_of(request).role
        limits = (
            None
            if role.allows(Permission.ORDERS_REFUND)
            else self.ctx.settings.support_refund_limits
        )
        op = await self.ctx.staff_orders.refund(
            order_id, body.amount, body.reason, actor_of(request), limits=limits
        )
        return json_response(refund_json(order_id, op), status=201)

    async def cancel(self, request: Request) -> Response:
        order_id = path_id(request, "order_id")
        if (await request.body()).strip():
            await read_json(request, CancelIn)  # an empty object, or nothing at all
        any_order = principal_of(request).role.allows(Permission.ORDERS_CANCEL)
        await self.ctx.staff_orders.cancel(order_id, actor_of(request), any_order=any_order)
        return await self._order(request, order_id)

    async def create_fulfillment(self, request: Request) -> Response:
        return await orders.create_fulfillment(self.ctx.fulfillments, request, actor_of(request))

"""Routes of the public listener: catalog, checkout and payment (customer accounts in
``customers.py``, staff in ``staff.py``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkout.context import AppContext
from checkout.domain.checkout import Contact
from checkout.domain.money import is_currency
from checkout.domain.pricing import LineRequest
from checkout.services.checkouts import CheckoutAccess, CheckoutChanges, CheckoutDraft
from checkout.services.payments import PayCommand
from checkout.web.customer_auth import CustomerAuth
from checkout.web.customers import customer_routes
from checkout.web.errors import ValidationFailed
from checkout.web.jsonio import json_response, read_json
from checkout.web.me import me_routes
from checkout.web.paths import page_params, path_id
from checkout.web.policy import Policy, declare
from checkout.web.schemas import (
    AddressIn,
    CheckoutIn,
    CheckoutPatchIn,
    LineIn,
    PaymentIn,
    PayPalOrderIn,
)
from checkout.web.staff import staff_routes
from checkout.web.views import checkout_json, payment_json, product_json
from customers.masking import Personal


def _lines(lines: list[LineIn]) -> list[LineRequest]:
    return [LineRequest(ln.sku, ln.quantity) for ln in lines]


def _address(a: AddressIn | None) -> Personal[dict[str, Any]] | None:
    if a is None:
        return None
    return Personal(a.model_dump(exclude_none=True), "***")


def _contact_fields(body: CheckoutIn | CheckoutPatchIn) -> dict[str, Any]:
    """The contact fields the caller sent, wrapped as personal data."""
    values = {
        "email": Personal.email(body.email) if body.email else None,
        "shipping_address": _address(body.shipping_address),
        "billing_address": _address(body.billing_address),
    }
    return {name: value for name, value in values.items() if name in body.model_fields_set}


class PublicEndpoints:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.auth = CustomerAuth(ctx.accounts)
        # Product pages, rendered, for a second: the list is the hottest read and may
        # lag the catalog by that much; prices charged always come from the database.
        self._product_cache: dict[bytes, tuple[float, bytes]] = {}
        self._refreshing: set[bytes] = set()

    async def _access(self, request: Request) -> CheckoutAccess:
        """The checkout's client secret, or the token of the customer who owns it."""
        session = await self.auth.optional(request)
        return CheckoutAccess(
            secret=request.headers.get("x-checkout-secret"),
            customer_id=None if session is None else session.subject_id,
        )

    def routes(self) -> list[BaseRoute]:
        idem = self.ctx.idempotency
        # The checkout's secret or its owner's token is checked by the checkout service
        # (anything else is a 404), so these declare what it enforces.
        anyone = declare(Policy.GUEST_OR_CUSTOMER)
        holder = declare(Policy.CHECKOUT_ACCESS)
        return [
            Route("/v1/products", declare(Policy.OPEN)(self.list_products), methods=["GET"]),
            Route("/v1/checkouts", anyone(idem(self.create_checkout)), methods=["POST"]),
            Route("/v1/checkouts/{checkout_id}", holder(self.get_checkout), methods=["GET"]),
            Route("/v1/checkouts/{checkout_id}", holder(self.update_checkout), methods=["PATCH"]),
            Route(
                "/v1/checkouts/{checkout_id}/payments",
                holder(idem(self.create_payment)),
                methods=["POST"],
            ),
            Route(
                "/v1/checkouts/{checkout_id}/paypal-orders",
                holder(idem(self.create_paypal_order)),
                methods=["POST"],
            ),
            Route(
                "/v1/checkouts/{checkout_id}/payments/{payment_id}/refresh",
                holder(idem(self.refresh_payment)),
                methods=["POST"],
            ),
        ]

    async def list_products(self, request: Request) -> Response:
        # Keyed by the raw query string, so a hit costs no parsing at all. While one request
        # refreshes an expired page, the others are served the old copy (no stampede).
        cache_key: bytes = request.scope["query_string"]
        now = time.monotonic()
        hit = self._product_cache.get(cache_key)
        if hit is not None and (hit[0] > now or cache_key in self._refreshing):
            return Response(hit[1], media_type="application/json")
        limit, after = page_params(request)
        currency = request.query_params.get("currency")
        if currency is not None and not is_currency(currency):
            raise ValidationFailed("Unknown currency.", fields={"currency": "ISO 4217 code"})
        self._refreshing.add(cache_key)
        try:
            products, has_more = await self.ctx.catalog.list(limit=limit, starting_after=after)
        finally:
            self._refreshing.discard(cache_key)
        data = [j for p in products if (j := product_json(p, currency)) is not None]
        response = json_response({"object": "list", "data": data, "has_more": has_more})
        ttl = self.ctx.settings.catalog_cache_seconds
        if ttl > 0:
            if len(self._product_cache) > 512:
                self._product_cache.clear()
            self._product_cache[cache_key] = (now + ttl, bytes(response.body))
        return response

    async def create_checkout(self, request: Request) -> Response:
        # A signed-in customer's checkout is theirs, its personal fields under their key.
        session = await self.auth.optional(request)
        body = await read_json(request, CheckoutIn)
        draft = CheckoutDraft(body.currency, _lines(body.lines), Contact(**_contact_fields(body)))
        checkout, secret = await self.ctx.checkouts.create(
            draft, customer_id=None if session is None else session.subject_id
        )
        return json_response(checkout_json(checkout, secret), status=201)

    async def get_checkout(self, request: Request) -> Response:
        checkout = await self.ctx.checkouts.get(
            path_id(request, "checkout_id"), await self._access(request)
        )
        return json_response(checkout_json(checkout))

    async def update_checkout(self, request: Request) -> Response:
        checkout_id = path_id(request, "checkout_id")
        body = await read_json(request, CheckoutPatchIn)
        changes = CheckoutChanges(
            currency=body.currency,
            lines=_lines(body.lines) if body.lines is not None else None,
            contact=_contact_fields(body),
        )
        checkout = await self.ctx.checkouts.update(
            checkout_id, await self._access(request), changes
        )
        return json_response(checkout_json(checkout))

    async def create_payment(self, request: Request) -> Response:
        checkout_id = path_id(request, "checkout_id")
        body = await read_json(request, PaymentIn)
        access = await self._access(request)
        if (body.saved_payment_method or body.save_payment_method) and access.customer_id is None:
            # Saved methods belong to customer accounts, which a guest does not have.
            field = "saved_payment_method" if body.saved_payment_method else "save_payment_method"
            raise ValidationFailed(
                "Saved payment methods need a signed-in customer.",
                fields={field: "requires a customer token"},
            )
        if body.saved_payment_method is not None:
            if body.payment_token is not None:
                raise ValidationFailed(
                    "Send either payment_token or saved_payment_method.",
                    fields={"payment_token": "not with saved_payment_method"},
                )
            cmd = PayCommand(
                body.provider or "stripe",
                "",
                body.return_url,
                customer_id=access.customer_id,
                saved_method=body.saved_payment_method,
            )
        else:
            missing: Mapping[str, str] = {
                name: "required"
                for name, value in (
                    ("provider", body.provider),
                    ("payment_token", body.payment_token),
                )
                if value is None
            }
            if missing:
                raise ValidationFailed("provider and payment_token are required.", fields=missing)
            assert body.provider is not None and body.payment_token is not None
            cmd = PayCommand(
                body.provider,
                body.payment_token,
                body.return_url,
                customer_id=access.customer_id,
                save_method=body.save_payment_method,
            )
        payment = await self.ctx.payments.pay(checkout_id, access, cmd)
        return json_response(payment_json(payment), status=201)

    async def create_paypal_order(self, request: Request) -> Response:
        raw = await request.body()
        body = await read_json(request, PayPalOrderIn) if raw.strip() else PayPalOrderIn()
        order_id, approve = await self.ctx.paypal_orders.create(
            path_id(request, "checkout_id"),
            await self._access(request),
            return_url=body.return_url,
            cancel_url=body.cancel_url,
        )
        return json_response({"paypal_order_id": order_id, "approve_url": approve}, status=201)

    async def refresh_payment(self, request: Request) -> Response:
        payment = await self.ctx.payments.refresh(
            path_id(request, "checkout_id"),
            path_id(request, "payment_id"),
            await self._access(request),
        )
        return json_response(payment_json(payment))


def public_routes(ctx: AppContext) -> list[BaseRoute]:
    return [
        *PublicEndpoints(ctx).routes(),
        *customer_routes(ctx),
        *me_routes(ctx),
        *staff_routes(ctx),
    ]

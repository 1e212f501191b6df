"""The two application factories. No route object is shared between them.

Layers, outermost first: the edge (request id, access log, metrics, last-resort shield;
outside Starlette so that even its 500s carry the request id), Starlette's own error
handling (with, in between, checkout/web/hardening.py's security headers, rate limits and
request deadline), CORS for the storefront's ``/v1/*`` (public listener only; see
``cors.py``), then the card-data guard with the 64 KiB body limit, which must see every
request before any handler or logger does. In tests only, a recorder outside all of them
writes down every request as it arrived (``recording.py``).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from checkout.cardguard import CardDataGuard
from checkout.context import AppContext
from checkout.web.cors import StorefrontCors
from checkout.web.edge import EdgeMiddleware
from checkout.web.error_map import exception_handlers
from checkout.web.errors import error_response
from checkout.web.hardening import protect
from checkout.web.openapi import openapi_route
from checkout.web.policy import Policy, declare
from checkout.web.private import private_routes
from checkout.web.public import public_routes
from checkout.web.recording import RequestRecorder
from webhooks.endpoints import WebhookEndpoints

MAX_BODY = 64 * 1024  # API.md: request bodies over 64 KiB are refused with 413


def _build(
    ctx: AppContext, listener: str, routes: list[BaseRoute], *, cors: bool = False
) -> ASGIApp:
    middleware = [Middleware(CardDataGuard, max_body=MAX_BODY)]
    if cors and ctx.settings.cors_origins:
        # Outside the guard, so that its refusals reach the storefront's code readable.
        middleware.insert(0, Middleware(StorefrontCors, origins=ctx.settings.cors_origins))
    app = Starlette(
        # Each listener describes itself, from this route table (``checkout.web.openapi``).
        routes=[*routes, openapi_route(listener)],
        middleware=middleware,
        exception_handlers=exception_handlers(),
    )
    app.state.ctx = ctx
    edge = EdgeMiddleware(
        protect(app, ctx.settings, listener), listener=listener, metrics=ctx.metrics
    )
    record = ctx.settings.request_record_file
    if record is None:
        return edge
    return RequestRecorder(edge, path=record, listener=listener)


def _reject_webhook(request: Request, message: str) -> Response:
    return error_response(400, "invalid_webhook", message, request.scope)


def create_public_app(ctx: AppContext) -> ASGIApp:
    hooks = WebhookEndpoints(
        ctx.inbox,
        stripe_secrets=[str(s) for s in ctx.settings.stripe_webhook_secrets],
        paypal=ctx.paypal_webhooks,
        reject=_reject_webhook,
    )
    # Webhook routes first: providers deliver in bursts, and Starlette matches routes in
    # order, so each delivery skips the storefront's patterns.
    return _build(ctx, "public", [*webhook_routes(hooks), *public_routes(ctx)], cors=True)


def webhook_routes(hooks: WebhookEndpoints) -> list[BaseRoute]:
    """The provider webhook routes, declaring the signature check each makes on its raw
    body (``webhooks`` imports nothing of ours, so the declaration is made here)."""
    signed = declare(Policy.PROVIDER_SIGNATURE)
    routes: list[BaseRoute] = []
    for route in hooks.routes():
        assert isinstance(route, Route)
        routes.append(Route(route.path, signed(route.endpoint), methods=route.methods))
    return routes


def create_private_app(ctx: AppContext) -> ASGIApp:
    return _build(ctx, "private", private_routes(ctx))

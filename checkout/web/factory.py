"""The two application factories. No route object is shared between them.

Layers, outermost first: the edge (request id, access log, metrics, last-resort shield;
outside Starlette so that even its 500s carry the request id), Starlette's own error
handling (with, in between, checkout/web/hardening.py's security headers, rate limits and
request deadline), then the card-data guard with the 64 KiB body limit, which must see every
request before any handler or logger does.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from checkout.cardguard import CardDataGuard
from checkout.context import AppContext
from checkout.web.edge import EdgeMiddleware
from checkout.web.error_map import exception_handlers
from checkout.web.errors import error_response
from checkout.web.hardening import protect
from checkout.web.private import private_routes
from checkout.web.public import public_routes
from webhooks.endpoints import WebhookEndpoints

MAX_BODY = 64 * 1024  # API.md: request bodies over 64 KiB are refused with 413


def _build(ctx: AppContext, listener: str, routes: list[BaseRoute]) -> ASGIApp:
    app = Starlette(
        routes=routes,
        middleware=[Middleware(CardDataGuard, max_body=MAX_BODY)],
        exception_handlers=exception_handlers(),
    )
    app.state.ctx = ctx
    return EdgeMiddleware(
        protect(app, ctx.settings, listener), listener=listener, metrics=ctx.metrics
    )


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
    return _build(ctx, "public", [*hooks.routes(), *public_routes(ctx)])


def create_private_app(ctx: AppContext) -> ASGIApp:
    return _build(ctx, "private", private_routes(ctx))

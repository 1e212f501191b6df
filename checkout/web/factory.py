"""The two application factories. No route object is shared between them.

Middleware, outermost first: request id (so even a crash answer carries one), the edge
(access log, metrics, last-resort shield), the body limit, then the card-data guard, which
must see every request before any handler or logger does.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from checkout.cardguard import CardDataGuard
from checkout.context import AppContext
from checkout.web.edge import EdgeMiddleware
from checkout.web.error_map import exception_handlers
from checkout.web.limits import BodyLimitMiddleware
from checkout.web.private import private_routes
from checkout.web.public import public_routes
from checkout.web.request_id import RequestIdMiddleware


def _build(ctx: AppContext, listener: str, routes: list[BaseRoute]) -> ASGIApp:
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(EdgeMiddleware, listener=listener, metrics=ctx.metrics),
            Middleware(BodyLimitMiddleware),
            Middleware(CardDataGuard),
        ],
        exception_handlers=exception_handlers(),
    )
    app.state.ctx = ctx
    # Outside Starlette's own error middleware, so a 500 also carries X-Request-Id.
    return RequestIdMiddleware(app)


def create_public_app(ctx: AppContext) -> ASGIApp:
    return _build(ctx, "public", public_routes(ctx))


def create_private_app(ctx: AppContext) -> ASGIApp:
    return _build(ctx, "private", private_routes(ctx))

"""CORS for the storefront API only.

Browsers on the configured storefront origins may call ``/v1/*`` (catalog, checkouts,
payments, customer accounts). Everything else on the public listener (``/staff/*``,
provider ``/webhooks/*``) and the whole private listener answer with no CORS headers at
all, so no page anywhere can read them from a browser.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

STOREFRONT_PREFIX = "/v1/"
ALLOW_METHODS = ("GET", "POST", "PATCH", "DELETE")
ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Checkout-Secret")
# What the SDK reads from an answer: the request id for support, Retry-After to back off.
EXPOSE_HEADERS = ("X-Request-Id", "Retry-After")


class StorefrontCors:
    """Starlette's CORS middleware, applied to ``/v1/*`` and to nothing else."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=list(ALLOW_METHODS),
            allow_headers=list(ALLOW_HEADERS),
            expose_headers=list(EXPOSE_HEADERS),
            allow_credentials=False,  # bearer tokens and checkout secrets, never cookies
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(STOREFRONT_PREFIX):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)

"""The demo storefront (dev only): ``sdk-js-stub/demo`` and the SDK, on an origin of
their own, as a merchant's shop would be.

It is a static site plus ``/config.json`` (where the API and the provider's hosted card
fields are). Its CSP allows scripts and styles from itself only, network calls to itself
and to the public API, and frames from the card provider alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SDK_ROOT = Path(__file__).resolve().parent.parent / "sdk-js-stub"
_FILES = {
    "/": ("demo/index.html", "text/html; charset=utf-8"),
    "/app.js": ("demo/app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("demo/style.css", "text/css; charset=utf-8"),
}
# The SDK's modules, served as they are (no build step): checkout.js imports the others.
_SDK_MODULES = ("checkout.js", "errors.js", "carddata.js", "cardform.js")
# Stripe.js and its Elements frames, for when a real publishable key is configured.
_STRIPE_JS = "https://js.stripe.com"


@dataclass(frozen=True)
class StorefrontConfig:
    api_base: str
    publishable_key: str
    # The emulator's base URL, whose /elements/card frame takes the card; None means
    # Stripe.js Elements with a real publishable key.
    hosted_fields_url: str | None
    currency: str = "USD"

    def page_json(self) -> bytes:
        return json.dumps(
            {
                "apiBase": self.api_base,
                "currency": self.currency,
                "stripe": {
                    "publishableKey": self.publishable_key,
                    "hostedFieldsUrl": self.hosted_fields_url,
                },
            }
        ).encode()

    def content_security_policy(self) -> str:
        api = _origin(self.api_base)
        if self.hosted_fields_url is not None:
            frames, scripts, connect = _origin(self.hosted_fields_url), "'self'", ""
        else:
            frames = f"{_STRIPE_JS} https://hooks.stripe.com"
            scripts, connect = f"'self' {_STRIPE_JS}", " https://api.stripe.com"
        return (
            f"default-src 'none'; script-src {scripts}; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {api}{connect}; frame-src {frames}; form-action 'none'; "
            "base-uri 'none'; frame-ancestors 'none'"
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_storefront_app(config: StorefrontConfig, root: Path = SDK_ROOT) -> Starlette:
    headers = {
        "Content-Security-Policy": config.content_security_policy(),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }

    async def static(request: Request) -> Response:
        relative, media_type = _FILES[request.url.path]
        # Read on each request: the demo is for editing while `make run` keeps running.
        return Response((root / relative).read_bytes(), media_type=media_type, headers=headers)

    async def page_config(request: Request) -> Response:
        return Response(config.page_json(), media_type="application/json", headers=headers)

    async def sdk_module(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _SDK_MODULES:
            return Response("Not found", status_code=404, media_type="text/plain")
        body = (root / "src" / name).read_bytes()
        return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)

    routes = [Route(path, static, methods=["GET"]) for path in _FILES]
    routes.append(Route("/sdk/{name}", sdk_module, methods=["GET"]))

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204, headers=headers)

    routes.append(Route("/config.json", page_config, methods=["GET"]))
    routes.append(Route("/favicon.ico", no_icon, methods=["GET"]))
    return Starlette(routes=routes)

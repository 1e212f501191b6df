"""The hosted card form: what Stripe.js Elements is to a real shop, for the emulator.

A shop embeds ``/elements/card?key=<publishable key>&origin=<the shop's origin>`` in an
iframe. The card number, expiry and CVC are typed into this page, on the emulator's own
origin, and go from here straight to ``POST /v1/payment_methods``; the embedding page
only ever receives the resulting ``pm_…`` id with the brand and last four digits.

The page talks to its parent through ``postMessage`` alone, and only with the origin
named in the URL: it answers messages from that origin (and from its parent window) and
addresses every message to it, and its CSP lets only that origin frame it. Messages:

* parent → frame: ``{type: "hc:tokenize", requestId}``, ``{type: "hc:clear"}``
* frame → parent: ``{type: "hc:ready"}``, ``{type: "hc:change", complete, error}``,
  ``{type: "hc:submit"}`` (Enter in a field), ``{type: "hc:token", requestId, token,
  card: {brand, last4, exp_month, exp_year}}``, ``{type: "hc:error", requestId,
  error: {code, message}}``
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from providers.stripe_emulator.pipeline import emulator_of
from providers.stripe_emulator.three_ds import safe_origin

_ASSETS = {"card-frame.js": "text/javascript", "card-frame.css": "text/css"}


@cache
def _asset(name: str) -> bytes:
    return resources.files("providers.stripe_emulator").joinpath("static", name).read_bytes()


async def card_form_page(request: Request) -> Response:
    _, settings = emulator_of(request)
    parent = request.query_params.get("origin", "")
    key = request.query_params.get("key", "")
    if safe_origin(parent) != parent:
        return _error_page("The origin parameter must be the embedding page's origin.")
    if key != settings.keys.publishable:
        # Stripe.js refuses an unknown key too; the secret key must never reach a browser.
        return _error_page("Use this account's publishable key.")
    body = (
        '<form id="card" novalidate autocomplete="on">'
        '<label>Card number<input id="number" name="cardnumber" autocomplete="cc-number" '
        'inputmode="numeric" placeholder="1234 1234 1234 1234" maxlength="23" '
        'aria-describedby="error"></label>'
        '<div class="row">'
        '<label>Expiry<input id="exp" name="exp-date" autocomplete="cc-exp" '
        'inputmode="numeric" placeholder="MM / YY" maxlength="7"></label>'
        '<label>CVC<input id="cvc" name="cvc" autocomplete="cc-csc" inputmode="numeric" '
        'placeholder="123" maxlength="4"></label>'
        "</div>"
        '<p id="error" role="alert"></p>'
        "</form>"
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>Card details</title>"
        '<link rel="stylesheet" href="/elements/card-frame.css">'
        '<script type="module" src="/elements/card-frame.js"></script></head>'
        f'<body data-parent-origin="{escape(parent)}" data-key="{escape(key)}">{body}'
        "</body></html>"
    )
    return HTMLResponse(html, headers=_headers(frame_ancestor=parent))


async def card_form_asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = _ASSETS.get(name)
    if media_type is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(
        _asset(name),
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _error_page(message: str) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error</title>'
        f"</head><body><p>{escape(message)}</p></body></html>"
    )
    return HTMLResponse(html, status_code=400, headers=_headers(frame_ancestor=None))


def _headers(*, frame_ancestor: str | None) -> dict[str, str]:
    ancestors = frame_ancestor or "'none'"
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            f"frame-ancestors {ancestors}; form-action 'none'; base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }

"""The buyer's approval page: what `rel: approve` points at, with Approve / Cancel.

`GET /checkoutnow?token=ORDER_ID` shows the order; its form posts to
`POST /checkoutnow/{id}/approve` with `action=approve|cancel`, which tests may
call directly. Approving sends the buyer to the order's `return_url` with
`?token=ORDER_ID&PayerID=…`, cancelling to its `cancel_url` with `?token=…`,
as PayPal does. As on PayPal, knowing the order id is what lets one approve it:
the id is the capability the merchant hands to the buyer's browser.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html import escape
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from providers.paypal_emulator import orders
from providers.paypal_emulator.errors import ApiError
from providers.paypal_emulator.money import format_value
from providers.paypal_emulator.pipeline import paypal_of, read_body
from providers.paypal_emulator.state import Order

_STYLE = (
    "body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "button{font:inherit;padding:.5rem 1.25rem;margin-right:.75rem}"
)
# Hashing the one inline style lets the policy forbid every other style and all script.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_MAX_FORM_BYTES = 1024


async def approval_page(request: Request) -> Response:
    state, _ = paypal_of(request)
    order_id = request.query_params.get("token", "")
    with state.lock:
        order = state.orders.get(order_id)
        if order is None:
            return _page("Not found", "<p>This checkout link is not valid.</p>", 404)
        if order.status != "CREATED":
            return _page("Nothing to approve", "<p>This order was already approved.</p>", 409)
        amount = f"{format_value(order.unit.amount.minor, order.unit.amount.currency)} "
        amount += order.unit.amount.currency
        targets = (order.return_url, order.cancel_url)
    action = f"/checkoutnow/{quote(order_id, safe='')}/approve"
    body = (
        "<h1>PayPal sandbox checkout</h1>"
        f"<p>Pay <strong>{escape(amount)}</strong> to the merchant "
        f"(order <code>{escape(order_id)}</code>) as the test buyer?</p>"
        f'<form method="post" action="{escape(action)}">'
        '<button type="submit" name="action" value="approve">Approve</button>'
        '<button type="submit" name="action" value="cancel">Cancel</button>'
        "</form>"
    )
    return _page("PayPal checkout", body, 200, form_targets=targets)


async def submit_approval(request: Request) -> Response:
    state, _ = paypal_of(request)
    try:
        raw = await read_body(request)
    except ApiError:
        return _page("Bad request", "<p>The form could not be read.</p>", 400)
    if len(raw) > _MAX_FORM_BYTES:
        return _page("Bad request", "<p>The form could not be read.</p>", 400)
    action = dict(parse_qsl(raw.decode("latin-1"))).get("action")
    if action not in ("approve", "cancel"):
        return _page("Bad request", "<p>Choose Approve or Cancel.</p>", 400)
    with state.lock:
        try:
            order = orders.get_order(state, request.path_params["id"])
        except ApiError:
            return _page("Not found", "<p>This checkout link is not valid.</p>", 404)
        if order.status == "COMPLETED":
            return _page("Nothing to approve", "<p>This order is already paid.</p>", 409)
        if action == "approve":
            # A second submission (double click, back button) is harmless: same payer.
            orders.approve(state, order)
        location = _return_location(order, approved=action == "approve")
    if location is not None:
        return RedirectResponse(location, status_code=303, headers=_security_headers(()))
    verdict = "approved" if action == "approve" else "cancelled"
    return _page("PayPal checkout", f"<p>Payment {verdict}. You can close this window.</p>", 200)


def _return_location(order: Order, *, approved: bool) -> str | None:
    """Where PayPal sends the buyer next. Lock held."""
    target = order.return_url if approved else order.cancel_url
    if target is None:
        return None
    parts = urlsplit(target)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("token", order.id))
    if approved and order.payer is not None:
        query.append(("PayerID", order.payer.payer_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _security_headers(form_targets: tuple[str | None, ...]) -> dict[str, str]:
    # Browsers apply form-action to the redirect after a submission too, so the shop's
    # origins must be allowed or the 303 back to it is blocked.
    sources = ["'self'"] + [o for o in map(_origin, form_targets) if o is not None]
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
            f"form-action {' '.join(dict.fromkeys(sources))}; frame-ancestors 'none'; "
            "base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def _origin(url: str | None) -> str | None:
    """`scheme://host[:port]` of `url`, or None if it would not be a safe CSP source."""
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[a-z0-9.\-]+", host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _page(
    title: str, body: str, status: int, *, form_targets: tuple[str | None, ...] = ()
) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_security_headers(form_targets))

"""The emulated 3-D Secure challenge: a page with Complete / Fail, and its form target.

The page is what `next_action.redirect_to_url.url` points at. Its POST target
is equally usable by tests (`outcome=succeed|fail&token=…`). The per-intent
token in both acts as the capability and as the CSRF token: without it
nobody can complete someone else's challenge.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from html import escape
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from providers.stripe_emulator import intents
from providers.stripe_emulator.errors import InvalidRequest
from providers.stripe_emulator.forms import FormError, parse_pairs
from providers.stripe_emulator.money import format_amount
from providers.stripe_emulator.pipeline import emulator_of, read_body
from providers.stripe_emulator.state import PaymentIntent

_STYLE = (
    "body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "button{font:inherit;padding:.5rem 1.25rem;margin-right:.75rem}"
)
# Hashing the one inline style lets the policy forbid every other style and all script.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_SUCCEEDED_STATES = ("succeeded", "requires_capture", "processing")


async def challenge_page(request: Request) -> Response:
    state, _ = emulator_of(request)
    with state.lock:
        intent = _authorized_intent(request, request.query_params.get("token", ""))
        if intent is None:
            return _page("Not found", "<p>This authentication link is not valid.</p>", 404)
        if intent.status != "requires_action":
            return _page(
                "Nothing to authenticate",
                "<p>This payment is not waiting for authentication.</p>",
                409,
            )
        amount = format_amount(intent.amount, intent.currency)
        token = intent.challenge_token or ""
        action = f"/3ds/{quote(intent.id, safe='')}/complete"
        return_url = intent.return_url
    body = (
        "<h1>3-D Secure test payment</h1>"
        f"<p>Authenticate the payment of <strong>{escape(amount)}</strong> "
        f"(<code>{escape(intent.id)}</code>)?</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit" name="outcome" value="succeed">Complete</button>'
        '<button type="submit" name="outcome" value="fail">Fail</button>'
        "</form>"
    )
    return _page("3-D Secure", body, 200, form_target=return_url)


async def complete_challenge(request: Request) -> Response:
    state, _ = emulator_of(request)
    try:
        fields = dict(parse_pairs(await read_body(request)))
    except (FormError, InvalidRequest):
        return _page("Bad request", "<p>The form could not be read.</p>", 400)
    outcome = fields.get("outcome")
    if outcome not in ("succeed", "fail"):
        return _page("Bad request", "<p>Choose Complete or Fail.</p>", 400)
    with state.lock:
        intent = _authorized_intent(request, fields.get("token", ""))
        if intent is None:
            return _page("Not found", "<p>This authentication link is not valid.</p>", 404)
        # A second submission (double click, back button) changes nothing but still
        # sends the cardholder back to the shop.
        intents.finish_authentication(state, intent, passed=outcome == "succeed")
        status, return_url = intent.status, intent.return_url
        location = _return_location(intent) if return_url else None
    if location is not None:
        return RedirectResponse(location, status_code=303, headers=_security_headers(None))
    verdict = "complete" if status in _SUCCEEDED_STATES else "failed"
    return _page(
        "3-D Secure",
        f"<p>Authentication {verdict}. You can close this window.</p>",
        200,
    )


def _authorized_intent(request: Request, token: str) -> PaymentIntent | None:
    """The intent named in the path, if `token` is its challenge token. Lock held."""
    state, _ = emulator_of(request)
    intent = state.payment_intents.get(request.path_params["pi_id"])
    if intent is None or intent.challenge_token is None:
        return None
    if not hmac.compare_digest(intent.challenge_token.encode(), token.encode()):
        return None
    return intent


def _return_location(intent: PaymentIntent) -> str:
    assert intent.return_url is not None
    parts = urlsplit(intent.return_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [
        ("payment_intent", intent.id),
        ("payment_intent_client_secret", intent.client_secret),
        ("redirect_status", "succeeded" if intent.status in _SUCCEEDED_STATES else "failed"),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _security_headers(form_target: str | None) -> dict[str, str]:
    # Browsers apply form-action to the redirect after a submission too, so the shop's
    # origin must be allowed or the 303 back to it is blocked.
    form_action = "'self'"
    origin = safe_origin(form_target) if form_target else None
    if origin is not None:
        form_action += f" {origin}"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def safe_origin(url: str) -> str | None:
    """`scheme://host[:port]` of `url`, or None if it would not be a safe CSP source."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[a-z0-9.\-]+", host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _page(title: str, body: str, status: int, *, form_target: str | None = None) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_security_headers(form_target))

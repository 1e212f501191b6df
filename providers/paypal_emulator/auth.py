"""OAuth 2.0 client credentials, as PayPal does them, and the Bearer check.

`POST /v1/oauth2/token` takes HTTP Basic `client_id:client_secret` and the form
`grant_type=client_credentials`. Its errors are OAuth-shaped
(`{"error", "error_description"}`), unlike the rest of the API.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from providers.paypal_emulator.state import TOKEN_LIFETIME_SECONDS, PayPalState, iso

_SCOPES = " ".join(
    [
        "https://uri.paypal.com/services/checkout/one-click-with-merchant-issued-token",
        "https://uri.paypal.com/services/payments/futurepayments",
        "https://uri.paypal.com/services/payments/realtimepayment",
        "https://uri.paypal.com/services/payments/payment/authcapture",
        "https://uri.paypal.com/services/payments/refund",
        "https://uri.paypal.com/services/payments/orders/client_sdk_orders_api",
        "openid",
    ]
)
# A token is reissued rather than handed out again when it has less than this left,
# so a client never receives one that dies in flight.
_REISSUE_MARGIN_SECONDS = 60
_MAX_FORM_BYTES = 4096


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str = field(repr=False)

    def match(self, client_id: str, client_secret: str) -> bool:
        # Both compared, always, so timing does not tell which one was wrong.
        id_ok = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        return id_ok and secret_ok


async def token_endpoint(request: Request) -> Response:
    state: PayPalState = request.app.state.paypal
    credentials: Credentials = request.app.state.paypal_credentials
    presented = _basic(request.headers.get("authorization", ""))
    if presented is None or not credentials.match(*presented):
        return _oauth_error(401, "invalid_client", "Client Authentication failed")
    raw = await request.body()
    if len(raw) > _MAX_FORM_BYTES:
        return _oauth_error(400, "invalid_request", "Request body too large")
    form = dict(parse_qsl(raw.decode("latin-1")))
    grant_type = form.get("grant_type")
    if grant_type is None:
        return _oauth_error(400, "unsupported_grant_type", "Grant Type is NULL")
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "unsupported grant_type")
    with state.lock:
        now = state.clock()
        token, expires_at = _live_or_new_token(state, now)
    return JSONResponse(
        {
            "scope": _SCOPES,
            "access_token": token,
            "token_type": "Bearer",
            "app_id": state.app_id,
            "expires_in": int(expires_at - now),
            "nonce": iso(now) + secrets.token_urlsafe(32),
        },
        headers={"Cache-Control": "no-store"},
    )


def bearer_ok(state: PayPalState, authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    with state.lock:
        return state.token_valid(token.strip())


def _live_or_new_token(state: PayPalState, now: float) -> tuple[str, float]:
    """PayPal answers with the same token until it nears expiry. Lock held."""
    for token, expires_at in list(state.tokens.items()):
        if expires_at <= now:
            del state.tokens[token]
    current = state.current_token
    if current is not None:
        expires_at = state.tokens.get(current, 0.0)
        if expires_at - now > _REISSUE_MARGIN_SECONDS:
            return current, expires_at
    token = "A21AA" + secrets.token_urlsafe(72)
    state.tokens[token] = now + TOKEN_LIFETIME_SECONDS
    state.current_token = token
    return token, state.tokens[token]


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, client_secret = decoded.partition(":")
    return (client_id, client_secret) if sep else None


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", "PayPal-Debug-Id": PayPalState.debug_id()},
    )

"""The part of PayPal's Webhooks API that goes with deliveries.

- `GET /v1/notifications/certs/{cert_id}`: the signing certificate (PEM), unauthenticated
  as PayPal's is. Receivers never need it from here (they trust a pinned copy, or PayPal's
  real host), but it is what the advertised URL names, for looking at by hand.
- `GET /v1/notifications/webhooks-events/{id}`: a sent event.
- `POST /v1/notifications/webhooks-events/{id}/resend`: deliver it again, byte for byte,
  which is how a test (or a person) makes a receiver see one event twice.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from providers.paypal_emulator.auth import bearer_ok
from providers.paypal_emulator.errors import authentication_failure, not_found, unknown_route
from providers.paypal_emulator.pipeline import doc_base_for, error_response
from providers.paypal_emulator.state import PayPalState
from providers.paypal_emulator.webhooks import WebhookDeliverer

_DOCS = "https://developer.paypal.com/docs/api/webhooks/v1/"


async def certificate(request: Request) -> Response:
    deliverer = _deliverer(request)
    if deliverer is None or request.path_params["cert_id"] != deliverer.identity.cert_id:
        return error_response(unknown_route(), PayPalState.debug_id(), doc_base_for(""))
    return Response(deliverer.identity.leaf_pem, media_type="application/x-pem-file")


async def get_event(request: Request) -> Response:
    return _answer(request, resend=False)


async def resend_event(request: Request) -> Response:
    return _answer(request, resend=True)


def _answer(request: Request, *, resend: bool) -> Response:
    state: PayPalState = request.app.state.paypal
    debug_id = PayPalState.debug_id()
    if not bearer_ok(state, request.headers.get("authorization")):
        return error_response(authentication_failure(), debug_id, _DOCS)
    event_id = request.path_params["id"]
    deliverer = _deliverer(request)
    event = deliverer.event(event_id) if deliverer is not None else None
    if event is None or (resend and deliverer is not None and not deliverer.resend(event_id)):
        return error_response(not_found("event_id", event_id), debug_id, _DOCS)
    headers = {"PayPal-Debug-Id": debug_id, "Cache-Control": "no-store"}
    # PayPal answers a resend with 202 Accepted and the event.
    return JSONResponse(event, status_code=202 if resend else 200, headers=headers)


def _deliverer(request: Request) -> WebhookDeliverer | None:
    deliverer: WebhookDeliverer | None = request.app.state.paypal_webhooks
    return deliverer

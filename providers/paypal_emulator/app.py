"""The emulator's Starlette application: route list, middleware and error mapping.

Faults: `app.state.faults` is a `providers.emulator_faults.FaultInjector` (also driven
over HTTP at `/_emulator/faults` with a Bearer token the emulator issued); its ledger
counts the operations that really ran, never a `PayPal-Request-Id` replay.

Webhooks: given a URL and a webhook id, `app.state.paypal_webhooks` is a
`WebhookDeliverer` that sends PayPal's signed events there after each answer.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.emulator_faults import FaultInjector, FaultMiddleware, fault_routes
from providers.paypal_emulator import api, approval, notifications, pki
from providers.paypal_emulator.auth import Credentials, bearer_ok, token_endpoint
from providers.paypal_emulator.errors import for_status, method_not_supported, unknown_route
from providers.paypal_emulator.pipeline import Settings, doc_base_for, dump, error_response
from providers.paypal_emulator.state import PayPalState
from providers.paypal_emulator.webhooks import DeliverAfterResponse, WebhookDeliverer

_ORDER = "/v2/checkout/orders/{id}"
_AUTHORIZATION = "/v2/payments/authorizations/{id}"
_CAPTURE = "/v2/payments/captures/{id}"
_EVENT = "/v1/notifications/webhooks-events/{id}"


def create_app(
    *,
    client_id: str,
    client_secret: str,
    public_base_url: str,
    webhook_url: str | None = None,
    webhook_id: str | None = None,
    signing: pki.SigningIdentity | None = None,
) -> Starlette:
    """A fresh emulated PayPal app and merchant; its state is on `app.state.paypal`.

    With a webhook URL and id it also delivers PayPal's signed events there, as a webhook
    registered on a PayPal app would; it signs with `signing` (a test CA's leaf) or, if
    none is given, with an identity of its own (`app.state.paypal_webhooks.identity`)."""
    state = PayPalState()
    faults = FaultInjector()
    deliverer = (
        WebhookDeliverer(
            state,
            url=webhook_url,
            webhook_id=webhook_id,
            identity=signing or pki.generate(),
            public_base_url=public_base_url,
        )
        if webhook_url and webhook_id
        else None
    )
    routes = [
        Route("/v1/oauth2/token", token_endpoint, methods=["POST"]),
        Route("/v2/checkout/orders", api.create_order, methods=["POST"]),
        Route(_ORDER, api.get_order, methods=["GET"]),
        Route(f"{_ORDER}/capture", api.capture_order, methods=["POST"]),
        Route(f"{_ORDER}/authorize", api.authorize_order, methods=["POST"]),
        Route(_AUTHORIZATION, api.get_authorization, methods=["GET"]),
        Route(f"{_AUTHORIZATION}/capture", api.capture_authorization, methods=["POST"]),
        Route(f"{_AUTHORIZATION}/void", api.void_authorization, methods=["POST"]),
        Route(_CAPTURE, api.get_capture, methods=["GET"]),
        Route(f"{_CAPTURE}/refund", api.refund_capture, methods=["POST"]),
        Route("/v2/payments/refunds/{id}", api.get_refund, methods=["GET"]),
        Route("/checkoutnow", approval.approval_page, methods=["GET"]),
        Route("/checkoutnow/{id}/approve", approval.submit_approval, methods=["POST"]),
        Route("/v1/notifications/certs/{cert_id}", notifications.certificate, methods=["GET"]),
        Route(_EVENT, notifications.get_event, methods=["GET"]),
        Route(f"{_EVENT}/resend", notifications.resend_event, methods=["POST"]),
        *fault_routes(
            faults,
            authorized=lambda request: bearer_ok(state, request.headers.get("authorization")),
        ),
    ]
    app = Starlette(
        routes=routes,
        # Faults inside DebugIdMiddleware: injected errors carry a PayPal-Debug-Id too.
        middleware=[
            Middleware(DeliverAfterResponse, deliverer),
            Middleware(DebugIdMiddleware),
            Middleware(FaultMiddleware, faults, error_body=_fault_body),
        ],
        exception_handlers={HTTPException: _http_exception, Exception: _server_error},
    )
    app.state.faults = faults
    app.state.paypal = state
    app.state.paypal_webhooks = deliverer
    app.state.paypal_credentials = Credentials(client_id, client_secret)
    app.state.paypal_settings = Settings(public_base_url=public_base_url.rstrip("/"))
    return app


def _fault_body(status: int) -> tuple[bytes, str]:
    error = for_status(status)
    return dump(error.body(PayPalState.debug_id(), doc_base_for(""))), "application/json"


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Routing misses, answered in PayPal's error shape (the SDK maps 404 and 405)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error = method_not_supported() if status == 405 else unknown_route()
    if status not in (404, 405):
        error = for_status(status)
    return error_response(error, PayPalState.debug_id(), doc_base_for(request.url.path))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(for_status(500), PayPalState.debug_id(), doc_base_for(""))


class DebugIdMiddleware:
    """Give every answer a `PayPal-Debug-Id`, as PayPal does, unless it already has one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"paypal-debug-id" for name, _ in headers):
                    headers.append((b"paypal-debug-id", PayPalState.debug_id().encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)

"""The emulator's Starlette application: route list, middleware and error mapping.

Faults: `app.state.faults` is a `providers.emulator_faults.FaultInjector` (also driven
over HTTP at `/_emulator/faults` with the secret key); its ledger counts the operations
that really ran. `app.state.deliveries` is a `providers.emulator_deliveries.DeliveryFaults`
(over HTTP at `/_emulator/deliveries`): webhook deliveries dropped, held back and released
in another order, or duplicated.

Every event is kept in `app.state.emulator.events` and listed at `GET /v1/events`, whether
or not a webhook URL is configured.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.emulator_deliveries import DeliveryFaults, delivery_routes
from providers.emulator_faults import FaultInjector, FaultMiddleware, fault_routes
from providers.stripe_emulator import api, card_form, customer_api, three_ds, wire
from providers.stripe_emulator.auth import ApiKeys, authenticate
from providers.stripe_emulator.errors import (
    ApiError,
    InvalidRequest,
    fault_error,
    unrecognized_url,
)
from providers.stripe_emulator.events import Event
from providers.stripe_emulator.pipeline import Settings, error_response
from providers.stripe_emulator.state import EmulatorState, PaymentIntent
from providers.stripe_emulator.webhooks import DeliverAfterResponse, WebhookDeliverer
from providers.stripe_emulator.wire import dump

# Only tokenization is called from browsers (another origin, as Stripe.js is).
_TOKENIZATION_CORS = Middleware(
    CORSMiddleware,
    allow_origins=["*"],
    allow_methods=["POST"],
    allow_headers=["Authorization", "Content-Type"],
    max_age=600,
)


def create_app(
    *,
    secret_key: str,
    publishable_key: str,
    public_base_url: str,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> Starlette:
    """A fresh emulated account; its state is on `app.state.emulator`. With a webhook URL
    and secret it also delivers signed events there, as a Stripe webhook endpoint would."""
    keys = ApiKeys(secret=secret_key, publishable=publishable_key)
    faults = FaultInjector()
    deliveries = DeliveryFaults(ledger=faults.record)
    state = EmulatorState(ledger=faults.record)
    deliverer = (
        WebhookDeliverer(
            url=webhook_url, secret=webhook_secret, faults=deliveries, ledger=faults.record
        )
        if webhook_url and webhook_secret
        else None
    )
    state.on_event = _publisher(state, public_base_url, deliverer)

    def authorized(request: Request) -> bool:
        return _has_secret_key(request, keys)

    routes = [
        Route(
            "/v1/payment_methods",
            api.create_payment_method,
            methods=["POST", "OPTIONS"],
            middleware=[_TOKENIZATION_CORS],
        ),
        Route("/v1/payment_methods", customer_api.list_payment_methods, methods=["GET"]),
        Route("/v1/payment_methods/{id}", api.retrieve_payment_method),
        Route(
            "/v1/payment_methods/{id}/attach",
            customer_api.attach_payment_method,
            methods=["POST"],
        ),
        Route(
            "/v1/payment_methods/{id}/detach",
            customer_api.detach_payment_method,
            methods=["POST"],
        ),
        Route("/v1/customers", customer_api.create_customer, methods=["POST"]),
        Route("/v1/customers/{id}", customer_api.customer, methods=["GET", "DELETE"]),
        Route("/v1/customers/{id}/payment_methods", customer_api.customer_payment_methods),
        Route("/v1/payment_intents", api.create_payment_intent, methods=["POST"]),
        Route("/v1/payment_intents/{id}", api.retrieve_payment_intent),
        Route("/v1/payment_intents/{id}/confirm", api.confirm_payment_intent, methods=["POST"]),
        Route("/v1/payment_intents/{id}/capture", api.capture_payment_intent, methods=["POST"]),
        Route("/v1/payment_intents/{id}/cancel", api.cancel_payment_intent, methods=["POST"]),
        Route("/v1/refunds", api.create_refund, methods=["POST"]),
        Route("/v1/refunds/{id}", api.retrieve_refund),
        Route("/v1/events", api.list_events),
        Route("/v1/events/{id}", api.retrieve_event),
        Route("/elements/card", card_form.card_form_page),
        Route("/elements/{name}", card_form.card_form_asset),
        Route("/3ds/{pi_id}", three_ds.challenge_page),
        Route("/3ds/{pi_id}/complete", three_ds.complete_challenge, methods=["POST"]),
        *fault_routes(faults, authorized=authorized),
        *delivery_routes(
            deliveries,
            release=deliverer.release if deliverer else lambda: 0,
            authorized=authorized,
        ),
    ]
    app = Starlette(
        routes=routes,
        # Faults inside RequestIdMiddleware: injected errors carry a Request-Id, as Stripe's do.
        middleware=[
            Middleware(DeliverAfterResponse, deliverer),
            Middleware(RequestIdMiddleware),
            Middleware(FaultMiddleware, faults, error_body=_fault_body),
        ],
        exception_handlers={HTTPException: _http_exception},
    )
    app.state.faults = faults
    app.state.deliveries = deliveries
    app.state.emulator = state
    app.state.webhooks = deliverer
    app.state.emulator_settings = Settings(keys=keys, public_base_url=public_base_url.rstrip("/"))
    return app


def _publisher(
    state: EmulatorState, public_base_url: str, deliverer: WebhookDeliverer | None
) -> Callable[[str, PaymentIntent], None]:
    """Turn a state change into an event: kept in the log, and queued for delivery."""

    def publish(event_type: str, intent: PaymentIntent) -> None:
        event_id, created = EmulatorState.new_id("evt"), state.now()
        body = wire.event(
            state,
            intent,
            public_base_url,
            event_id=event_id,
            event_type=event_type,
            created=created,
            pending_webhooks=1 if deliverer is not None else 0,
        )
        payload = json.dumps(body, separators=(",", ":")).encode()
        state.events.add(Event(event_id, event_type, created, payload))
        if deliverer is not None:
            deliverer.enqueue(payload)

    return publish


def _has_secret_key(request: Request, keys: ApiKeys) -> bool:
    try:
        authenticate(request.headers.get("authorization"), keys, publishable_ok=False)
    except ApiError:
        return False
    return True


def _fault_body(status: int) -> tuple[bytes, str]:
    return dump(fault_error(status).body()), "application/json"


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Routing misses (and any other HTTP exception), answered in Stripe's error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status in (404, 405):
        # Stripe answers a known path with the wrong method as an unknown URL, too.
        return error_response(unrecognized_url(request.method, request.url.path))
    message = exc.detail if isinstance(exc, HTTPException) else "Internal error"
    return error_response(InvalidRequest(message, status=status))


class RequestIdMiddleware:
    """Give every answer a `Request-Id`, as Stripe does; the SDK puts it on its errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"request-id" for name, _ in headers):
                    request_id = EmulatorState.new_id("req")
                    headers.append((b"request-id", request_id.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)

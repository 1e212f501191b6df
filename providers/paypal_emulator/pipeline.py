"""One API request through the emulator: authenticate, parse, dedupe, execute, answer.

Endpoints supply only an `Operation`: a synchronous function from the parsed
call to an `Answer`. It runs under the state lock, so looking up a
`PayPal-Request-Id`, executing and storing the answer are one step: a
duplicate that arrives mid-flight waits, then replays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from providers.paypal_emulator import idempotency
from providers.paypal_emulator.auth import bearer_ok
from providers.paypal_emulator.errors import (
    ApiError,
    JsonObject,
    authentication_failure,
    invalid_request,
)
from providers.paypal_emulator.jsonbody import parse_object
from providers.paypal_emulator.state import PayPalState, StoredResponse

MAX_BODY_BYTES = 64 * 1024
_DOCS = "https://developer.paypal.com/docs/api/"


@dataclass(frozen=True)
class Settings:
    public_base_url: str


@dataclass(frozen=True)
class Call:
    state: PayPalState
    settings: Settings
    body: JsonObject
    path: Mapping[str, str]
    # `Prefer: return=representation` asks for the whole resource; PayPal's default is
    # `return=minimal` (id, status, links), and adapters must not rely on more.
    representation: bool


@dataclass(frozen=True)
class Answer:
    status: int
    body: JsonObject | None  # None: 204 No Content


Operation = Callable[[Call], Answer]


class Ledger(Protocol):
    """The part of the fault injector that counts operations (see `app.py`)."""

    def record(self, operation: str) -> None: ...


def paypal_of(request: Request) -> tuple[PayPalState, Settings]:
    state: PayPalState = request.app.state.paypal
    settings: Settings = request.app.state.paypal_settings
    return state, settings


async def run(
    request: Request, operation: Operation, *, ledger_name: str | None = None
) -> Response:
    """Serve one call. `ledger_name` is recorded once per real (non-replayed) success."""
    state, settings = paypal_of(request)
    debug_id = PayPalState.debug_id()
    doc_base = doc_base_for(request.url.path)
    if not bearer_ok(state, request.headers.get("authorization")):
        return error_response(authentication_failure(), debug_id, doc_base)
    is_post = request.method == "POST"
    try:
        # paypalrestsdk sends the body `null` on GETs; only POST bodies mean anything.
        body = parse_object(await read_body(request)) if is_post else {}
    except ApiError as error:
        return error_response(error, debug_id, doc_base)
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    call = Call(
        state=state,
        settings=settings,
        body=body,
        path=request.path_params,
        representation="return=representation" in prefer.split(","),
    )
    request_id = request.headers.get("paypal-request-id") if is_post else None
    endpoint = f"{request.method} {request.url.path}"
    with state.lock:
        if request_id:
            stored = idempotency.recall(state, endpoint, request_id)
            if stored is not None:
                return _respond(stored.status, stored.body, debug_id)
        status, content = _execute(call, operation, debug_id, doc_base)
        if 200 <= status < 300:
            if request_id:
                idempotency.remember(
                    state, endpoint, request_id, StoredResponse(status, content, state.clock())
                )
            ledger: Ledger | None = getattr(request.app.state, "faults", None)
            if ledger is not None and ledger_name is not None:
                ledger.record(ledger_name)
    return _respond(status, content, debug_id)


async def read_body(request: Request) -> bytes:
    """The body, refused past `MAX_BODY_BYTES` without buffering more than that."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise invalid_request(
                "INVALID_PARAMETER_VALUE", f"Request bodies are limited to {MAX_BODY_BYTES} bytes."
            )
    return bytes(body)


def doc_base_for(path: str) -> str:
    if path.startswith("/v2/checkout/"):
        return _DOCS + "orders/v2/"
    if path.startswith("/v2/payments/"):
        return _DOCS + "payments/v2/"
    return _DOCS + "overview/"


def error_response(error: ApiError, debug_id: str, doc_base: str) -> Response:
    return _respond(error.status, dump(error.body(debug_id, doc_base)), debug_id)


def dump(body: JsonObject) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _execute(call: Call, operation: Operation, debug_id: str, doc_base: str) -> tuple[int, bytes]:
    """Run with the lock held; errors become PayPal error bodies."""
    try:
        answer = operation(call)
    except ApiError as error:
        return error.status, dump(error.body(debug_id, doc_base))
    return answer.status, b"" if answer.body is None else dump(answer.body)


def _respond(status: int, body: bytes, debug_id: str) -> Response:
    headers = {"PayPal-Debug-Id": debug_id, "Cache-Control": "no-store"}
    if status == 204:
        return Response(status_code=204, headers=headers)
    return Response(body, status_code=status, media_type="application/json", headers=headers)

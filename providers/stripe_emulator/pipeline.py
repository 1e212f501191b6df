"""One request through the emulator: authenticate, parse, dedupe, execute, answer.

Endpoints in `api` supply only an `Operation`: a synchronous function from the
parsed call to a JSON object. Running it synchronously under the state lock is
what makes idempotency exact: lookup, execution and storing the answer are one
step, so a duplicate arriving mid-flight waits and then replays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from providers.stripe_emulator import idempotency
from providers.stripe_emulator.auth import ApiKeys, authenticate
from providers.stripe_emulator.errors import (
    ApiError,
    InvalidRequest,
    from_form_error,
    unrecognized_url,
)
from providers.stripe_emulator.forms import FormError, JsonObject, Params, nest, parse_pairs
from providers.stripe_emulator.intents import PaymentDeclined
from providers.stripe_emulator.state import EmulatorState, StoredResponse
from providers.stripe_emulator.wire import decline, dump

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Settings:
    keys: ApiKeys
    public_base_url: str


@dataclass(frozen=True)
class Call:
    state: EmulatorState
    settings: Settings
    params: Params
    path: Mapping[str, str]


Operation = Callable[[Call], JsonObject]


def emulator_of(request: Request) -> tuple[EmulatorState, Settings]:
    state: EmulatorState = request.app.state.emulator
    settings: Settings = request.app.state.emulator_settings
    return state, settings


async def run(
    request: Request, operation: Operation, *, method: str, publishable_ok: bool = False
) -> Response:
    if request.method != method:
        return error_response(unrecognized_url(request.method, request.url.path))
    state, settings = emulator_of(request)
    try:
        authenticate(
            request.headers.get("authorization"), settings.keys, publishable_ok=publishable_ok
        )
        raw = await read_body(request) if method == "POST" else request.url.query.encode()
        pairs = parse_pairs(raw)
        params = nest(pairs)
    except ApiError as error:
        return error_response(error)
    except FormError as error:
        return error_response(from_form_error(error))

    call = Call(state, settings, params, request.path_params)
    key = request.headers.get("idempotency-key") if method == "POST" else None
    request_id = EmulatorState.new_id("req")
    with state.lock:
        if key is None:
            status, body, _ = _execute(call, operation)
            return _json(status, body, request_id)
        endpoint = f"{method} {request.url.path}"
        request_hash = state.request_hash(endpoint, pairs)
        try:
            idempotency.check_key(key)
            stored = idempotency.recall(state, key, endpoint, request_hash)
        except ApiError as error:
            return error_response(error)
        if stored is not None:
            return _replay(stored, key)
        status, body, replayable = _execute(call, operation)
        if replayable:
            idempotency.remember(
                state,
                key,
                StoredResponse(
                    request_hash=request_hash,
                    endpoint=endpoint,
                    status=status,
                    body=body,
                    request_id=request_id,
                    stored_at=state.clock(),
                ),
            )
        response = _json(status, body, request_id)
        response.headers["Idempotency-Key"] = key
        return response


async def read_body(request: Request) -> bytes:
    """The body, refused past `MAX_BODY_BYTES` without buffering more than that."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise InvalidRequest(
                f"Request bodies are limited to {MAX_BODY_BYTES} bytes.", status=413
            )
    return bytes(body)


def _execute(call: Call, operation: Operation) -> tuple[int, bytes, bool]:
    """Run with the lock held; returns status, body and whether a retry may replay it."""
    try:
        return 200, dump(operation(call)), True
    except PaymentDeclined as declined:
        error: ApiError = decline(
            call.state, declined.intent, declined.payment_method, call.settings.public_base_url
        )
    except FormError as form_error:
        error = from_form_error(form_error)
    except ApiError as api_error:
        error = api_error
    return error.status, dump(error.body()), error.replayable


def error_response(error: ApiError) -> Response:
    response = _json(error.status, dump(error.body()), EmulatorState.new_id("req"))
    response.headers.update(error.headers)
    return response


def _json(status: int, body: bytes, request_id: str) -> Response:
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Request-Id": request_id, "Cache-Control": "no-cache, no-store"},
    )


def _replay(stored: StoredResponse, key: str) -> Response:
    response = _json(stored.status, stored.body, EmulatorState.new_id("req"))
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Original-Request"] = stored.request_id
    response.headers["Idempotency-Key"] = key
    return response

"""Fault injection shared by the provider emulators.

Tests (or a developer with curl) queue rules on a `FaultInjector`; `FaultMiddleware`
applies the first matching rule to the next request: an error answer, a delay, or a
connection broken before or after the operation ran. The injector also keeps a ledger
of operations the emulator really executed, so a test can prove that a retry after an
ambiguous failure did not charge twice.

Control routes (`fault_routes`, under `/_emulator/`) are never subject to faults.
A single request can also carry `Emulator-Fault: <fault>[; delay_ms=N]`, e.g.

    curl -X POST $EMULATOR/_emulator/faults -H "Authorization: Bearer $KEY" \
        -d '{"fault": "drop_after_success", "path_prefix": "/v1/payment_intents"}'
    curl $EMULATOR/v1/payment_intents/pi_123 -u $KEY: -H "Emulator-Fault: error_503"
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL_PREFIX = "/_emulator/"
FAULT_HEADER = b"emulator-fault"
TIMEOUT_DEFAULT_MS = 30_000
# Long enough for any client timeout worth testing, short enough that a typo cannot
# park a connection (and a test run's shutdown) for hours.
MAX_DELAY_MS = 600_000
# Delayed requests are read whole before sleeping; refuse to hold more than this.
MAX_BUFFERED_BODY = 1024 * 1024

ErrorBody = Callable[[int], tuple[bytes, str]]


class Fault(enum.StrEnum):
    ERROR_500 = "error_500"
    ERROR_503 = "error_503"
    RATE_LIMIT = "rate_limit"
    DELAY = "delay"
    TIMEOUT = "timeout"
    DROP_BEFORE = "drop_before"
    DROP_AFTER_SUCCESS = "drop_after_success"


_ERROR_STATUS = {Fault.ERROR_500: 500, Fault.ERROR_503: 503, Fault.RATE_LIMIT: 429}


@dataclass(frozen=True, slots=True)
class Rule:
    fault: Fault
    method: str | None = None
    path_prefix: str | None = None
    times: int = 1
    delay_ms: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and (
            self.path_prefix is None or path.startswith(self.path_prefix)
        )

    @property
    def delay_seconds(self) -> float:
        if self.fault is Fault.TIMEOUT and self.delay_ms == 0:
            return TIMEOUT_DEFAULT_MS / 1000
        return self.delay_ms / 1000


class FaultInjector:
    """Queued fault rules and the ledger of executed operations; safe across threads,
    since tests set rules from their own thread while the server thread takes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._calls: Counter[str] = Counter()

    def add(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        times: int = 1,
        delay_ms: int = 0,
    ) -> None:
        """Queue a rule; raises ValueError for an unknown fault or out-of-range numbers."""
        rule = Rule(
            Fault(fault),
            method.upper() if method else None,
            path_prefix or None,
            _check_int("times", times, 1, 1_000_000),
            _check_int("delay_ms", delay_ms, 0, MAX_DELAY_MS),
        )
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        """Drop all queued rules. The ledger is history and is kept."""
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Rule | None:
        """The first rule matching this request (as it was before this use), used up once."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.matches(method, path):
                    if rule.times > 1:
                        self._rules[index] = replace(rule, times=rule.times - 1)
                    else:
                        del self._rules[index]
                    return rule
        return None

    def record(self, operation: str) -> None:
        with self._lock:
            self._calls[operation] += 1

    def count(self, operation: str) -> int:
        with self._lock:
            return self._calls[operation]

    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    # bool is an int subclass; `"times": true` in JSON is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return value


def parse_fault_header(value: str) -> Rule:
    """`drop_before` or `delay; delay_ms=250`: a one-request rule; ValueError if malformed."""
    name, *params = (part.strip() for part in value.split(";"))
    try:
        fault = Fault(name.lower())
    except ValueError:
        known = ", ".join(Fault)
        raise ValueError(f"Unknown Emulator-Fault {name!r}; expected one of {known}") from None
    delay_ms = 0
    for param in filter(None, params):
        key, _, number = param.partition("=")
        if key.strip().lower() != "delay_ms" or not number.strip().isdigit():
            raise ValueError(f"Unknown Emulator-Fault parameter {param!r}; only delay_ms=N")
        delay_ms = _check_int("delay_ms", int(number), 0, MAX_DELAY_MS)
    return Rule(fault, delay_ms=delay_ms)


def default_error_body(status: int) -> tuple[bytes, str]:
    return json.dumps({"error": {"message": f"Emulated fault: HTTP {status}"}}).encode(), (
        "application/json"
    )


class ConnectionDropped(Exception):
    """Raised on purpose so the server closes the connection without an answer."""


class FaultMiddleware:
    """Applies the request's `Emulator-Fault` header, else the first matching queued rule."""

    def __init__(
        self, app: ASGIApp, injector: FaultInjector, *, error_body: ErrorBody = default_error_body
    ) -> None:
        self.app = app
        self.injector = injector
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(FAULT_HEADER)
        if header is not None:
            try:
                rule: Rule | None = parse_fault_header(header.decode("latin-1"))
            except ValueError as bad:
                await PlainTextResponse(str(bad), status_code=400)(scope, receive, send)
                return
        else:
            rule = self.injector.take(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
        else:
            await self._apply(rule, scope, receive, send)

    async def _apply(self, rule: Rule, scope: Scope, receive: Receive, send: Send) -> None:
        fault = rule.fault
        if fault in _ERROR_STATUS:
            status = _ERROR_STATUS[fault]
            body, content_type = self.error_body(status)
            headers = {"Retry-After": "0"} if status == 429 else {}
            response = Response(body, status_code=status, headers=headers, media_type=content_type)
            await response(scope, receive, send)
        elif fault in (Fault.DELAY, Fault.TIMEOUT):
            buffered = await _read_request(receive)
            if buffered is None:
                await PlainTextResponse("Request body too large", status_code=413)(
                    scope, receive, send
                )
                return
            await asyncio.sleep(rule.delay_seconds)
            await self.app(scope, buffered, send)
        elif fault is Fault.DROP_BEFORE:
            await _break_connection(send, fault)
        else:
            # The operation runs and commits (idempotent answer stored); its answer is lost.
            await self.app(scope, receive, _discard)
            await _break_connection(send, fault)


async def _read_request(receive: Receive) -> Receive | None:
    """Read the whole request now and replay it to the app.

    Once a client has given up, uvicorn answers every `receive` with `http.disconnect`,
    so without this a timed-out request could never "proceed" as a real provider would,
    having received it before the client's deadline.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            first = message
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BUFFERED_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            break
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _discard(message: Message) -> None:
    """Stands in for `send` while a drop_after_success operation runs."""


# A response start the server refuses while validating it (NUL is illegal in a header
# value), after marking the response as started but before writing a byte.
_UNWRITABLE_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"emulator-fault", b"\x00")],
}


async def _break_connection(send: Send, fault: Fault) -> None:
    """Close the connection with no response at all.

    ASGI has no "abort": raising before `http.response.start` gets a 500 from the
    server, raising after it closes the connection but only once the status line and
    headers are out, and the Stripe SDK reads a truncated body outside its error
    handling (raw `aiohttp.ClientPayloadError`, not `APIConnectionError`). A start that
    uvicorn (httptools and h11 alike) rejects before writing leaves it with a started,
    unwritten response; the exception below then makes it close the transport, and the
    client sees the server disconnect before answering, as after a crash or a reset.
    """
    with contextlib.suppress(Exception):
        await send(_UNWRITABLE_START)
    raise ConnectionDropped(f"emulator fault {fault}: connection broken on purpose")


def fault_routes(injector: FaultInjector, *, authorized: Callable[[Request], bool]) -> list[Route]:
    """`POST`/`DELETE /_emulator/faults` and `GET /_emulator/calls`, each behind `authorized`."""

    async def add_fault(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        try:
            rule = _rule_from_json(await request.body())
            injector.add(
                rule.fault,
                method=rule.method,
                path_prefix=rule.path_prefix,
                times=rule.times,
                delay_ms=rule.delay_ms,
            )
        except ValueError as bad:
            return JSONResponse({"error": str(bad)}, status_code=400)
        return JSONResponse(
            {
                "fault": rule.fault.value,
                "method": rule.method,
                "path_prefix": rule.path_prefix,
                "times": rule.times,
                "delay_ms": rule.delay_ms,
            },
            status_code=201,
        )

    async def clear_faults(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        injector.clear()
        return Response(status_code=204)

    async def calls(request: Request) -> Response:
        if not authorized(request):
            return _unauthorized()
        return JSONResponse({"calls": injector.calls()})

    return [
        Route(CONTROL_PREFIX + "faults", add_fault, methods=["POST"]),
        Route(CONTROL_PREFIX + "faults", clear_faults, methods=["DELETE"]),
        Route(CONTROL_PREFIX + "calls", calls, methods=["GET"]),
    ]


_RULE_FIELDS = {"fault", "method", "path_prefix", "times", "delay_ms"}
_FAULT_NAMES = tuple(fault.value for fault in Fault)


def _rule_from_json(raw: bytes) -> Rule:
    """A rule from the control API's JSON; ValueError on any malformation."""
    data = json.loads(raw)  # JSONDecodeError and UnicodeDecodeError are ValueErrors
    if not isinstance(data, dict):
        raise ValueError("Expected a JSON object")
    unknown = set(data) - _RULE_FIELDS
    if unknown:
        raise ValueError(f"Unknown fields: {', '.join(sorted(unknown))}")
    fault, method, prefix = data.get("fault"), data.get("method"), data.get("path_prefix")
    if not isinstance(fault, str) or fault not in _FAULT_NAMES:
        raise ValueError(f"fault must be one of {', '.join(_FAULT_NAMES)}")
    if not (method is None or isinstance(method, str)):
        raise ValueError("method must be a string or null")
    if not (prefix is None or isinstance(prefix, str)):
        raise ValueError("path_prefix must be a string or null")
    times = _check_int("times", data.get("times", 1), 1, 1_000_000)
    delay_ms = _check_int("delay_ms", data.get("delay_ms", 0), 0, MAX_DELAY_MS)
    return Rule(Fault(fault), method.upper() if method else None, prefix, times, delay_ms)


def _unauthorized() -> Response:
    return JSONResponse({"error": "Not authorized for emulator control"}, status_code=401)

"""The outermost layer of each listener: request id, access log, metrics, and a
last-resort shield. One layer rather than several, since it runs on every request.

It sits outside Starlette's own error middleware so that even a 500 carries
``X-Request-Id``; Starlette's router records the matched route in the shared scope, which
is how the route template reaches the log and the metrics.

Uvicorn's own access log is off: it would write query strings, which may carry personal
data. This one writes method, route template, status and duration, with the request id.
An exception that escapes everything else is logged by type only (its text can quote
SQL parameters or request data) and answered with API.md's error format.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout.logs import AccessLog
from checkout.web.errors import error_response
from checkout.web.request_id import assign_request_id, current_request_id

log = logging.getLogger("checkout.access")
errlog = logging.getLogger("checkout.web")


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "checkout_http_requests",
            "HTTP requests answered",
            ["listener", "method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "checkout_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["listener", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # Set when /metrics is scraped (the worker may be another process).
        self.backlog = Gauge(
            "checkout_backlog",
            "Work waiting or stuck: webhook inbox, outbound deliveries, payments for review",
            ["queue"],
            registry=registry,
        )
        # Labelled children, looked up once: labels() takes a lock and builds a key on
        # every call, and this runs on every request.
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def observe(self, listener: str, method: str, route: str, status: int, seconds: float) -> None:
        # Methods outside HTTP's usual set share one label: a client must not be able to
        # mint new time series by inventing methods.
        method = method if method in _METHODS else "OTHER"
        key = (listener, method, route, status)
        child = self._children.get(key)
        if child is None:
            child = (
                self.requests.labels(listener, method, route, str(status)),
                self.latency.labels(listener, route),
            )
            self._children[key] = child
        child[0].inc()
        child[1].observe(seconds)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, listener: str, metrics: HttpMetrics) -> None:
        self.app = app
        self.listener = listener
        self.metrics = metrics
        self.access = AccessLog(log.name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = assign_request_id(scope)
        token = current_request_id.set(rid)
        rid_header = (b"x-request-id", rid.encode("latin-1"))
        status = 500
        started = False

        async def observing_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        except Exception as exc:
            errlog.error("unhandled error", extra={"error_type": type(exc).__name__})
            if not started:
                response = error_response(500, "internal_error", "Internal error.", scope)
                await response(scope, receive, observing_send)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_of(scope)
            self.metrics.observe(self.listener, scope["method"], route, status, elapsed)
            self.access.request(
                {
                    "listener": self.listener,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                }
            )
            current_request_id.reset(token)

"""The protective layers each listener gets between the edge middleware and Starlette:
security headers, per-route rate limits (public listener), and a deadline per request.

Outermost first, so that a refusal from any of them still carries the headers, and a
rate-limited request costs neither a deadline nor a read of its body.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from checkout.config import Settings
from checkout.web.rate_limit import RateLimiter
from checkout.web.request_timeout import RequestTimeout
from checkout.web.security_headers import SecurityHeaders
from providers.retry import DEFAULT_RETRY

# Above the provider calls' worst case, so their own errors answer first.
TIMEOUT_MARGIN_S = 15.0


def request_timeout(settings: Settings) -> float:
    configured = settings.network.request_timeout
    if configured is not None:
        return configured
    return DEFAULT_RETRY.worst_case(settings.provider_timeout) + TIMEOUT_MARGIN_S


def protect(app: ASGIApp, settings: Settings, listener: str) -> ASGIApp:
    public = listener == "public"
    app = RequestTimeout(app, seconds=request_timeout(settings))
    if public and settings.network.rate_limits_on:
        app = RateLimiter(app, limits=settings.network.rate_limits)
    return SecurityHeaders(app, hsts=public)

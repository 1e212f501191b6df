"""The API's one error format, and the exceptions the edge maps onto it.

Every error leaving either listener looks like
``{"error": {"code", "message", "request_id", "fields"?}}`` (API.md). Handlers raise
:class:`ApiError` subclasses; framework errors (404/405/500) are mapped by
:func:`exception_handlers` so nothing reaches a client in any other shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from checkout.web.request_id import request_id_of

log = logging.getLogger("checkout.web")


def error_body(
    code: str,
    message: str,
    request_id: str,
    *,
    fields: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if fields:
        err["fields"] = dict(fields)
    if extra:
        err.update(extra)
    return json.dumps({"error": err}, separators=(",", ":")).encode()


def error_response(
    status: int,
    code: str,
    message: str,
    scope: Scope,
    *,
    fields: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = error_body(code, message, request_id_of(scope), fields=fields, extra=extra)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class ApiError(Exception):
    """Base of every error an endpoint may raise; carries its HTTP mapping."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields) if fields else None
        self.extra = dict(extra) if extra else None
        self.headers = dict(headers) if headers else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r})"


class ValidationFailed(ApiError):
    status = 422
    code = "validation_error"


class CardDataForbidden(ApiError):
    status = 422
    code = "card_data_forbidden"


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class IdempotencyConflict(ApiError):
    status = 409
    code = "idempotency_conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"


class PaymentFailed(ApiError):
    status = 402
    code = "payment_failed"


class ProviderUnavailable(ApiError):
    status = 502
    code = "provider_unavailable"


class ServiceUnavailable(ApiError):
    status = 503
    code = "service_unavailable"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def render(exc: ApiError, scope: Scope) -> Response:
    return error_response(
        exc.status,
        exc.code,
        exc.message,
        scope,
        fields=exc.fields,
        extra=exc.extra,
        headers=exc.headers,
    )


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = {
        404: "No such route.",
        405: "Method not allowed on this route.",
    }.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, message, request.scope, headers=headers)


def unexpected_error(request: Request, exc: Exception) -> Response:
    # Only the type goes to the log: an exception's text may quote request data.
    log.error("unhandled error", extra={"error_type": type(exc).__name__})
    return error_response(500, "internal_error", "Internal error.", request.scope)

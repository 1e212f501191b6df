"""Errors the emulator answers with, in Stripe's wire shape.

    ApiError                      {"error": {...}} with an HTTP status
     ├── InvalidRequest           400 / 404, type invalid_request_error
     ├── AuthenticationFailed     401, type invalid_request_error (what Stripe sends)
     ├── CardFailure              402, type card_error
     ├── IdempotencyConflict      400, type idempotency_error
     └── ServerFault              5xx, type api_error (only from injected faults)

The official SDK chooses its exception class from the status and `type`, so
these two values are the contract; the rest is for humans and adapters.
"""

from __future__ import annotations

from collections.abc import Mapping

from providers.stripe_emulator.forms import FormError, JsonObject, MissingParam

DOC_BASE = "https://stripe.com/docs/error-codes/"


class ApiError(Exception):
    """An error answer. `replayable` says whether an idempotent retry gets it again.

    Stripe stores a result under an idempotency key only once the endpoint has
    started executing: validation and authentication failures are not stored,
    declines and state conflicts are.
    """

    status: int = 400
    error_type: str = "invalid_request_error"
    replayable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        replayable: bool | None = None,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        if status is not None:
            self.status = status
        if replayable is not None:
            self.replayable = replayable
        self.extra: Mapping[str, object] = extra or {}
        self.headers: Mapping[str, str] = headers or {}

    def body(self) -> JsonObject:
        error: JsonObject = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(ApiError):
    pass


class AuthenticationFailed(ApiError):
    status = 401


class CardFailure(ApiError):
    status = 402
    error_type = "card_error"
    replayable = True


class IdempotencyConflict(ApiError):
    error_type = "idempotency_error"


class ServerFault(ApiError):
    status = 500
    error_type = "api_error"


def fault_error(status: int) -> ApiError:
    """What Stripe answers with the status an injected fault asks for."""
    if status == 429:
        return InvalidRequest(
            "Too many requests hit the API too quickly. We recommend an exponential "
            "backoff of your requests.",
            code="rate_limit",
            status=429,
        )
    return ServerFault("An unknown error occurred", status=status)


def from_form_error(error: FormError) -> InvalidRequest:
    return InvalidRequest(error.message, code=error.code, param=error.param)


def parameter_missing(param: str) -> InvalidRequest:
    return from_form_error(MissingParam(param))


def resource_missing(noun: str, object_id: str, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"No such {noun}: '{object_id}'",
        code="resource_missing",
        param=param,
        status=404,
    )


def unexpected_state(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="payment_intent_unexpected_state", replayable=True)


def unrecognized_url(method: str, path: str) -> InvalidRequest:
    return InvalidRequest(
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
        status=404,
    )

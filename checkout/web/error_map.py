"""Domain and service errors mapped onto API errors, in one place."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from checkout.db.outage import database_unavailable
from checkout.domain.errors import CheckoutNotOpen, DomainError, InvalidCart, PriceChanged
from checkout.domain.money import MoneyError
from checkout.domain.operations import InvalidAmount, OperationRefused
from checkout.services.errors import (
    ConflictError,
    InvalidInput,
    NotFoundError,
    NotPermitted,
    NotSignedIn,
    PaymentDeclined,
    PaymentRejected,
    ProviderDown,
    ProviderUnreachable,
    ServiceError,
    TooManyAttempts,
)
from checkout.web import errors as api
from customers.keystore import OwnerErased
from webhooks.subscriptions import EndpointRefused


def as_api_error(exc: Exception) -> api.ApiError | None:
    """The API error for ``exc``, or None for an unexpected one (a 500)."""
    if isinstance(exc, api.ApiError):
        return exc
    if isinstance(exc, InvalidCart):
        return api.ValidationFailed("The checkout cannot be priced.", fields=exc.fields)
    if isinstance(exc, CheckoutNotOpen):
        return api.Conflict(f"The checkout is {exc.status}.")
    if isinstance(exc, PriceChanged):
        return api.Conflict(
            "Prices changed since the checkout was priced; it now shows the new total. "
            "Review it and pay again."
        )
    if isinstance(exc, OperationRefused):
        return api.Conflict(str(exc))
    if isinstance(exc, InvalidAmount):
        return api.ValidationFailed(str(exc), fields={"amount": str(exc)})
    if isinstance(exc, MoneyError):
        return api.ValidationFailed(str(exc))
    if isinstance(exc, OwnerErased):
        # A request that was already running when its customer was erased.
        return api.NotFound("No such object.")
    if isinstance(exc, EndpointRefused):
        return api.ValidationFailed(exc.message, fields={exc.field: exc.message})
    if isinstance(exc, NotFoundError):
        return api.NotFound(exc.message)
    if isinstance(exc, ConflictError):
        return api.Conflict(exc.message)
    if isinstance(exc, NotPermitted):
        return api.Forbidden(exc.message)
    if isinstance(exc, PaymentDeclined):
        return api.PaymentFailed(
            exc.message, extra={"decline_code": exc.decline_code, "payment_id": exc.payment_id}
        )
    if isinstance(exc, PaymentRejected):
        fields = {exc.field: exc.message} if exc.field else None
        return api.ValidationFailed(exc.message, fields=fields)
    if isinstance(exc, ProviderDown):
        return api.ProviderUnavailable(
            "The payment provider did not answer; the payment is being confirmed. "
            "Retry with the same Idempotency-Key or refresh the payment.",
            extra={"payment_id": exc.payment_id},
        )
    if isinstance(exc, ProviderUnreachable):
        return api.ProviderUnavailable(exc.message)
    if isinstance(exc, InvalidInput):
        return api.ValidationFailed(exc.message, fields={exc.field: exc.message})
    if isinstance(exc, NotSignedIn):
        return api.Unauthenticated(exc.message, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, TooManyAttempts):
        return api.RateLimited(exc.message, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, DomainError | ServiceError):
        return api.Conflict(str(exc))
    if database_unavailable(exc):
        # Restarted or unreachable: the pool reconnects by itself (checkout/db/outage.py).
        return api.ServiceUnavailable(
            "The database is unavailable; retry shortly.", headers={"Retry-After": "1"}
        )
    return None


def _mapped(request: Request, exc: Exception) -> Response:
    mapped = as_api_error(exc)
    if mapped is None:
        return api.unexpected_error(request, exc)
    return api.render(mapped, request.scope)


def exception_handlers() -> dict[Any, Any]:
    return {
        api.ApiError: _mapped,
        DomainError: _mapped,
        ServiceError: _mapped,
        MoneyError: _mapped,
        EndpointRefused: _mapped,
        OwnerErased: _mapped,
        sa.exc.SQLAlchemyError: _mapped,
        HTTPException: api.http_error,
        Exception: api.unexpected_error,
    }

"""Errors of the use cases (beside the domain's own); the web edge maps both.

ServiceError
 ├── NotFoundError      no such object, or not the caller's           -> 404
 ├── ConflictError      the object's state forbids the request        -> 409
 ├── NotPermitted       the caller's role may not do this to this object -> 403
 ├── PaymentDeclined    the provider declined; the checkout stays open -> 402
 ├── PaymentRejected    the payment cannot succeed as sent            -> 422
 ├── ProviderDown       the provider's answer is unknown               -> 502
 ├── ProviderUnreachable  a provider call that moves no money failed    -> 502
 ├── InvalidInput       a field the use case refuses (a weak password) -> 422
 ├── NotSignedIn        wrong email or password, or a dead token       -> 401
 └── TooManyAttempts    sign-in throttled; retry after some seconds    -> 429
"""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ServiceError):
    pass


class ConflictError(ServiceError):
    pass


class NotPermitted(ServiceError):
    """Allowed on some objects, not this one: a refund past the caller's limit, a paid
    order for a role that may cancel unpaid ones only."""


class PaymentDeclined(ServiceError):
    def __init__(self, message: str, *, decline_code: str, payment_id: str) -> None:
        super().__init__(message)
        self.decline_code = decline_code
        self.payment_id = payment_id


class PaymentRejected(ServiceError):
    def __init__(self, message: str, *, field: str | None, payment_id: str) -> None:
        super().__init__(message)
        self.field = field
        self.payment_id = payment_id


class ProviderDown(ServiceError):
    def __init__(self, message: str, *, payment_id: str) -> None:
        super().__init__(message)
        self.payment_id = payment_id


class ProviderUnreachable(ServiceError):
    """The provider did not answer a call that moves no money (saving or detaching a
    payment method); retrying is safe."""


class InvalidInput(ServiceError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class NotSignedIn(ServiceError):
    pass


class TooManyAttempts(ServiceError):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

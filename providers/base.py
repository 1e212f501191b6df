"""The provider-neutral face every adapter implements.

Amounts cross this boundary as integer minor units in ISO 4217 terms (upper-case code);
each adapter converts to its provider's wire format itself.

    ProviderError
     ├── ProviderDeclined     the provider refused the money (card declined, ...)  -> 402
     ├── ProviderRejected     the request cannot succeed as sent (bad token, amount) -> 422
     │    └── ProviderUnsupported  this provider does not offer the feature (PayPal vault)
     └── ProviderUnavailable  outcome unknown: timeout, connection, 5xx, 429        -> 502/503
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

# Neutral statuses; the checkout's payment state machine uses the same words.
ProviderStatus = Literal[
    "processing",
    "requires_action",
    "authorized",
    "captured",
    "partially_refunded",
    "refunded",
    "failed",
    "voided",
]


@dataclass(frozen=True, slots=True)
class NextAction:
    type: Literal["redirect", "provider_sdk"]
    url: str | None = None
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    payment_id: str
    amount: int
    currency: str
    token: str
    capture: bool
    idempotency_key: str
    return_url: str | None = None
    description: str | None = None
    # Our own object the payment is for (the checkout): PayPal orders carry it, and a
    # token made for another checkout is refused.
    reference: str | None = None
    # Saved payment methods (see `SavedMethods`): the provider customer whose saved
    # method `token` is, or who should keep it; `save_method` keeps it after this payment
    # (Stripe: `setup_future_usage`), `off_session` says the cardholder is not there to
    # answer 3-D Secure, so a card that needs it is declined `authentication_required`.
    customer: str | None = None
    save_method: bool = False
    off_session: bool = False


@dataclass(frozen=True, slots=True)
class SavedMethod:
    """A payment method kept at the provider for one customer: everything we may store
    about it. Never a fingerprint, a cardholder name or billing details."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    provider_ref: str
    status: ProviderStatus
    amount: int
    currency: str
    amount_captured: int = 0
    amount_refunded: int = 0
    next_action: NextAction | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    # The method now saved for the payment's customer (a charge with `save_method`,
    # once money is secured; also on later fetches), else None.
    saved_method: SavedMethod | None = None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    provider_ref: str
    status: Literal["pending", "succeeded", "failed"]
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook event, provider-neutral: what happened to which payment."""

    provider: str
    event_id: str
    type: str
    # The provider's id of the payment object (Stripe PaymentIntent, PayPal order).
    provider_ref: str | None
    # Our payment id when the provider echoes it back (Stripe metadata), else None.
    payment_id: str | None
    created: int


@dataclass(frozen=True, slots=True)
class ListedEvent:
    """An event read back from the provider's event list rather than delivered."""

    event: ProviderEvent
    # The event's JSON, kept in the inbox as a delivered body would be.
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events listed since a time, newest first, as providers list them."""

    events: tuple[ListedEvent, ...]
    # The last (oldest) event id listed, readable or not: where to resume.
    last_id: str | None
    # False when the page cap stopped the listing: older events remain after `last_id`.
    complete: bool


class WebhookRejected(Exception):
    """A webhook delivery that is forged, malformed or stale; never stored (-> 400).

    The reason is for our logs: it never quotes the header or the body."""


class ProviderError(Exception):
    def __init__(self, message: str, *, provider_request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider_request_id = provider_request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(request_id={self.provider_request_id!r})"


class ProviderDeclined(ProviderError):
    def __init__(
        self,
        message: str,
        *,
        decline_code: str,
        provider_ref: str | None = None,
        provider_request_id: str | None = None,
    ) -> None:
        super().__init__(message, provider_request_id=provider_request_id)
        self.decline_code = decline_code
        self.provider_ref = provider_ref


class ProviderRejected(ProviderError):
    def __init__(
        self, message: str, *, param: str | None = None, provider_request_id: str | None = None
    ) -> None:
        super().__init__(message, provider_request_id=provider_request_id)
        self.param = param


class ProviderUnavailable(ProviderError):
    pass


class ProviderUnsupported(ProviderRejected):
    """The provider (as we integrate it) does not offer `feature`; asking again will not
    help. A `ProviderRejected`, so edges that map those (422) need nothing new."""

    def __init__(self, message: str, *, feature: str) -> None:
        super().__init__(message)
        self.feature = feature


class PaymentProvider(Protocol):
    name: str

    async def charge(self, request: ChargeRequest) -> ProviderPayment: ...

    async def fetch(self, provider_ref: str) -> ProviderPayment: ...

    async def capture(
        self, provider_ref: str, amount: int | None, idempotency_key: str
    ) -> ProviderPayment: ...

    async def void(self, provider_ref: str, idempotency_key: str) -> ProviderPayment: ...

    async def refund(
        self, provider_ref: str, amount: int, idempotency_key: str
    ) -> ProviderRefund: ...

    async def aclose(self) -> None: ...


class SavedMethods(Protocol):
    """Payment methods kept at the provider for a customer, to pay again later.

    Charging with one is `PaymentProvider.charge` with `ChargeRequest.customer` and the
    saved token. Only a provider customer id and tokens cross this boundary, never
    personal data: the provider customer is made from our own reference alone.
    """

    name: str

    async def ensure_customer(self, reference: str) -> str:
        """The provider customer for our `reference` (our `cus_…`), made on the first
        call. Store what it returns: a repeat within the provider's idempotency window
        (Stripe: 24 h) returns the same customer, a later one makes another."""
        ...

    async def save(self, customer: str, token: str) -> SavedMethod:
        """Keep `token` (issued by the provider's client code, unused or already the
        customer's) for `customer`. A token that belongs to someone else, or was spent or
        detached, is `ProviderRejected`."""
        ...

    async def list_saved(self, customer: str) -> tuple[SavedMethod, ...]:
        """The customer's saved methods, most recently saved first."""
        ...

    async def detach(self, token: str) -> None:
        """Forget a saved method at the provider; it can never pay again. Detaching one
        that is already detached succeeds (erasure may run twice)."""
        ...

    async def delete_customer(self, customer: str) -> None:
        """Delete the provider customer, detaching every method it holds (erasure). An
        already deleted customer succeeds."""
        ...


class EventSource(Protocol):
    """A provider that can list its recent events, so events whose webhooks never arrived
    can still be applied (only Stripe offers such a list)."""

    name: str

    async def events_since(
        self, created_gte: int, *, starting_after: str | None = None, max_pages: int = 10
    ) -> EventBatch: ...

"""The emulator's in-memory PayPal merchant account: tokens, orders, payments, request ids.

Every read and write happens with `PayPalState.lock` held, and no code holding
it awaits, so requests served concurrently by one event loop (or by test
threads poking at the state) see each operation whole.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from providers.paypal_emulator.money import Money

Intent = Literal["CAPTURE", "AUTHORIZE"]
OrderStatus = Literal["CREATED", "APPROVED", "COMPLETED"]
AuthorizationStatus = Literal["CREATED", "PARTIALLY_CAPTURED", "CAPTURED", "VOIDED", "EXPIRED"]
CaptureStatus = Literal["COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"]

_ID_ALPHABET = string.ascii_uppercase + string.digits
TOKEN_LIFETIME_SECONDS = 32400
# PayPal documents 6 hours for Orders v2 request ids (Payments v2 says 45 days); one
# value for all keeps the sweep simple, and no retry of ours is anywhere near 6 hours.
REQUEST_ID_TTL_SECONDS = 6 * 60 * 60
AUTHORIZATION_LIFETIME_SECONDS = 29 * 24 * 60 * 60


@dataclass(slots=True)
class PurchaseUnit:
    reference_id: str
    amount: Money
    custom_id: str | None
    invoice_id: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Payer:
    payer_id: str
    email_address: str
    given_name: str
    surname: str
    country_code: str


@dataclass(slots=True)
class Order:
    id: str
    intent: Intent
    status: OrderStatus
    unit: PurchaseUnit
    return_url: str | None
    cancel_url: str | None
    create_time: float
    update_time: float
    payer: Payer | None = None
    capture_ids: list[str] = field(default_factory=list)
    authorization_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Authorization:
    id: str
    order_id: str
    amount: Money
    status: AuthorizationStatus
    create_time: float
    update_time: float
    expires_at: float
    captured: int = 0
    capture_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Capture:
    id: str
    order_id: str
    authorization_id: str | None
    amount: Money
    final_capture: bool
    status: CaptureStatus
    create_time: float
    update_time: float
    invoice_id: str | None
    custom_id: str | None
    refunded: int = 0
    refund_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Refund:
    id: str
    capture_id: str
    amount: Money
    create_time: float
    invoice_id: str | None
    note_to_payer: str | None
    status: Literal["COMPLETED"] = "COMPLETED"


Resource = Order | Authorization | Capture | Refund
# Called with the state lock held, once per change PayPal would announce by webhook.
EventListener = Callable[[str, Resource], None]


@dataclass(slots=True)
class StoredResponse:
    """A first answer kept under a `PayPal-Request-Id`."""

    status: int
    body: bytes = field(repr=False)
    stored_at: float


class PayPalState:
    """One emulated PayPal REST app and its merchant account, in memory."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.app_id = "APP-" + self.new_id(17)
        self.merchant_id = self.new_id(13)
        # token -> expiry. PayPal hands out the same live token until it expires.
        self.tokens: dict[str, float] = {}
        self.current_token: str | None = None
        self.orders: dict[str, Order] = {}
        self.authorizations: dict[str, Authorization] = {}
        self.captures: dict[str, Capture] = {}
        self.refunds: dict[str, Refund] = {}
        self.request_ids: dict[tuple[str, str], StoredResponse] = {}
        # The app wires this to its webhook deliverer when it has a webhook URL.
        self.on_event: EventListener | None = None

    def __repr__(self) -> str:
        return (
            f"PayPalState(orders={len(self.orders)}, authorizations={len(self.authorizations)}, "
            f"captures={len(self.captures)}, refunds={len(self.refunds)}, "
            f"request_ids={len(self.request_ids)})"
        )

    @staticmethod
    def new_id(length: int = 17) -> str:
        # PayPal's ids are upper-case alphanumerics (orders, captures, refunds: 17 long).
        return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))

    @staticmethod
    def debug_id() -> str:
        return secrets.token_hex(7)[:13]

    def emit(self, event_type: str, record: Resource) -> None:
        """Announce a change (lock held), as PayPal does to a webhook listener."""
        if self.on_event is not None:
            self.on_event(event_type, record)

    def token_valid(self, token: str) -> bool:
        expires_at = self.tokens.get(token)
        return expires_at is not None and self.clock() < expires_at


def iso(timestamp: float) -> str:
    """PayPal's timestamps: UTC, whole seconds, `Z`."""
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

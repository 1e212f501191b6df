"""The emulator's in-memory account: objects by id and the idempotency store.

Every read and write happens with `EmulatorState.lock` held, and no code holding
it awaits, so requests served concurrently by one event loop (or by test
threads poking at the state) see each operation whole.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from providers.stripe_emulator.cards import Card
from providers.stripe_emulator.events import EventLog

IntentStatus = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
]
CaptureMethod = Literal["automatic", "automatic_async", "manual"]
FutureUsage = Literal["on_session", "off_session"]
# Operations counted in the fault injector's ledger when they really execute.
LedgerOperation = Literal[
    "payment_methods.create",
    "payment_intents.create",
    "payment_intents.confirm",
    "payment_intents.capture",
    "payment_intents.cancel",
    "refunds.create",
    "customers.create",
    "customers.delete",
    "payment_methods.attach",
    "payment_methods.detach",
]

_ID_ALPHABET = string.ascii_letters + string.digits
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60


@dataclass(slots=True)
class PaymentMethod:
    id: str
    created: int
    card: Card
    metadata: dict[str, str]
    customer: str | None = None
    # Stripe lets a PaymentMethod that belongs to no Customer pay once; after that (or
    # once detached) it can neither pay nor be attached again.
    spent: bool = False
    # Set up for future use by a payment with `setup_future_usage`: cards that ask for
    # 3-D Secure "unless set up" then pass off-session payments without a challenge.
    set_up: bool = False


@dataclass(slots=True)
class Customer:
    """A Customer holds no personal data here: the adapter sends only our own id."""

    id: str
    created: int
    description: str | None
    metadata: dict[str, str]
    # Attached PaymentMethod ids, oldest first (lists answer newest first).
    payment_methods: list[str] = field(default_factory=list)
    deleted: bool = False


@dataclass(slots=True)
class PaymentError:
    """A PaymentIntent's `last_payment_error`."""

    type: str
    code: str
    message: str
    payment_method: str
    decline_code: str | None = None
    charge: str | None = None


@dataclass(slots=True)
class Charge:
    id: str
    payment_intent: str
    payment_method: str
    amount: int
    currency: str
    created: int
    status: Literal["succeeded", "failed"]
    captured: bool = False
    amount_captured: int = 0
    amount_refunded: int = 0
    failure_code: str | None = None


@dataclass(slots=True)
class PaymentIntent:
    id: str
    client_secret: str = field(repr=False)
    amount: int
    currency: str
    capture_method: CaptureMethod
    created: int
    status: IntentStatus
    description: str | None
    metadata: dict[str, str]
    payment_method: str | None = None
    customer: str | None = None
    setup_future_usage: FutureUsage | None = None
    # Whether the cardholder is absent: then a card that needs 3-D Secure fails with
    # `authentication_required` instead of asking for a challenge nobody can answer.
    off_session: bool = False
    return_url: str | None = None
    amount_capturable: int = 0
    amount_received: int = 0
    latest_charge: str | None = None
    last_payment_error: PaymentError | None = None
    # Proves that a 3-D Secure completion came from the page we served for this intent.
    challenge_token: str | None = field(default=None, repr=False)
    canceled_at: int | None = None
    cancellation_reason: str | None = None


@dataclass(slots=True)
class Refund:
    id: str
    amount: int
    currency: str
    payment_intent: str
    charge: str
    created: int
    reason: str | None
    metadata: dict[str, str]
    status: Literal["succeeded"] = "succeeded"


@dataclass(slots=True)
class StoredResponse:
    """A first answer kept under an idempotency key.

    `request_hash` is a keyed hash of the request, never the request itself: a
    tokenization request carries a card number.
    """

    request_hash: str
    endpoint: str
    status: int
    body: bytes = field(repr=False)
    request_id: str
    stored_at: float


class EmulatorState:
    """One emulated Stripe account, in memory."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        ledger: Callable[[str], None] | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self._ledger = ledger
        # Called with (event type, intent) whenever a PaymentIntent changes in a way
        # Stripe announces with an event; the app wires it to the event log and the
        # webhook deliverer.
        self.on_event: Callable[[str, PaymentIntent], None] | None = None
        self.payment_methods: dict[str, PaymentMethod] = {}
        self.customers: dict[str, Customer] = {}
        self.payment_intents: dict[str, PaymentIntent] = {}
        self.charges: dict[str, Charge] = {}
        self.refunds: dict[str, Refund] = {}
        self.idempotency: dict[str, StoredResponse] = {}
        self.events = EventLog()
        # Per instance, so a fingerprint or request hash means nothing outside this process.
        self._hash_key = secrets.token_bytes(32)

    def __repr__(self) -> str:
        return (
            f"EmulatorState(customers={len(self.customers)}, "
            f"payment_methods={len(self.payment_methods)}, "
            f"payment_intents={len(self.payment_intents)}, charges={len(self.charges)}, "
            f"refunds={len(self.refunds)}, idempotency_keys={len(self.idempotency)}, "
            f"events={len(self.events)})"
        )

    def now(self) -> int:
        return int(self.clock())

    def record(self, operation: LedgerOperation) -> None:
        """Note that `operation` really ran (never called for an idempotent replay)."""
        if self._ledger is not None:
            self._ledger(operation)

    def emit(self, event_type: str, intent: PaymentIntent) -> None:
        if self.on_event is not None:
            self.on_event(event_type, intent)

    @staticmethod
    def new_id(prefix: str) -> str:
        # 24 characters of 62 is ~143 random bits, the shape of Stripe's own ids.
        return prefix + "_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))

    def card_fingerprint(self, number: str) -> str:
        digest = hmac.new(self._hash_key, b"card:" + number.encode(), hashlib.sha256)
        return digest.hexdigest()[:16]

    def request_hash(self, endpoint: str, pairs: list[tuple[str, str]]) -> str:
        # Order-insensitive: the same params sent in another order are the same request.
        canonical = json.dumps([endpoint, sorted(pairs)], separators=(",", ":"))
        return hmac.new(self._hash_key, b"req:" + canonical.encode(), hashlib.sha256).hexdigest()

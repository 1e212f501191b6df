"""Request bodies of the public API, parsed strictly (no "5" for 5, no unknown fields)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from checkout.domain.money import is_currency

SKU_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Email = Annotated[
    str,
    StringConstraints(
        max_length=254,
        strip_whitespace=True,
        pattern=r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+$",
    ),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class LineIn(_Strict):
    sku: Sku
    quantity: int


class AddressIn(_Strict):
    name: Text
    line1: Text
    line2: Text | None = None
    city: Text
    region: Text | None = None
    postal_code: Annotated[
        str, StringConstraints(min_length=1, max_length=20, strip_whitespace=True)
    ]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


def _known_currency(value: str | None) -> str | None:
    if value is not None and not is_currency(value):
        raise ValueError("not an ISO 4217 currency")
    return value


class CheckoutIn(_Strict):
    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    email: Email | None = None
    shipping_address: AddressIn | None = None
    billing_address: AddressIn | None = None

    _currency = field_validator("currency")(_known_currency)


class CheckoutPatchIn(_Strict):
    currency: Currency | None = None
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=100)
    email: Email | None = None
    shipping_address: AddressIn | None = None
    billing_address: AddressIn | None = None

    _currency = field_validator("currency")(_known_currency)


class PaymentIn(_Strict):
    provider: Literal["stripe", "paypal"] | None = None
    payment_token: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    save_payment_method: bool = False
    saved_payment_method: Annotated[str, StringConstraints(max_length=64)] | None = None
    # Where the provider sends the buyer back after 3-D Secure (API.md leaves it open).
    return_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://")] | None = (
        None
    )


class PayPalOrderIn(_Strict):
    # Where PayPal sends the buyer after approving or cancelling (the storefront's pages).
    return_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://")] | None = (
        None
    )
    cancel_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://")] | None = (
        None
    )


class FulfillmentIn(_Strict):
    carrier: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    tracking_number: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class CaptureIn(_Strict):
    amount: int | None = None  # minor units; the whole authorization when absent


class RefundIn(_Strict):
    amount: int  # minor units
    reason: Text


class CancelIn(_Strict):
    pass


class WebhookEndpointIn(_Strict):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    # Which of API.md's order events; checked against the list by the subscriptions.
    events: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        min_length=1, max_length=10
    )


# Customers. Passwords are only bounded here (the body limit bounds them anyway); the
# policy's own rules answer with its reasons, never echoing the value.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Phone = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 ().-]*[0-9]$")
]


class CustomerIn(_Strict):
    email: Email
    password: Password
    name: Text | None = None
    phone: Phone | None = None


class SessionIn(_Strict):
    # Not validated as an address: a malformed one signs in as nobody, like any other.
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Password


class ProfilePatchIn(_Strict):
    name: Text | None = None
    phone: Phone | None = None
    addresses: list[AddressIn] | None = Field(default=None, max_length=20)


class PasswordChangeIn(_Strict):
    current_password: Password
    new_password: Password


class VerifyEmailIn(_Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=128)]


StaffRole = Literal["viewer", "fulfillment", "support", "manager", "admin"]


class StaffSessionIn(_Strict):
    # Neither the address nor the code is validated: a malformed one signs in as nobody,
    # with the same 401 as a wrong one.
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Password
    totp: Annotated[str, StringConstraints(min_length=1, max_length=16)]


class StaffMemberIn(_Strict):
    email: Email
    role: StaffRole


class StaffMemberPatchIn(_Strict):
    role: StaffRole | None = None
    active: bool | None = None


# The private listener's catalog writes.
MAX_AMOUNT = 10**12 - 1  # minor units; far beyond any product, well inside BIGINT


class MoneyIn(_Strict):
    amount: int = Field(ge=0, le=MAX_AMOUNT)
    currency: Currency

    _currency = field_validator("currency")(_known_currency)


class ProductPutIn(_Strict):
    name: Text
    price: MoneyIn
    active: bool

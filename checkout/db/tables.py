"""SQLModel tables. Amounts are BIGINT minor units; personal fields are ciphertext.

Rows are records, not the domain: ``checkout.store`` maps between them and the plain
domain objects, so nothing outside that package handles a row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from customers.column import Encrypted, Sealed


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kw)


def _money(**kw: Any) -> Any:
    return Field(sa_type=sa.BigInteger, **kw)


class ProductRow(SQLModel, table=True):
    __tablename__ = "products"
    id: str = Field(primary_key=True, max_length=64)
    sku: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ProductPriceRow(SQLModel, table=True):
    __tablename__ = "product_prices"
    product_id: str = Field(foreign_key="products.id", primary_key=True, max_length=64)
    currency: str = Field(primary_key=True, max_length=3)
    amount: int = _money()


class CheckoutRow(SQLModel, table=True):
    __tablename__ = "checkouts"
    id: str = Field(primary_key=True, max_length=64)
    secret_hash: str = Field(max_length=64)
    status: str = Field(max_length=16)
    currency: str = Field(max_length=3)
    # Priced lines as a JSON list of {sku, product_id, name, quantity, unit_amount}.
    lines: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    subtotal: int = _money()
    shipping: int = _money()
    total: int = _money()
    email_enc: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    shipping_address_enc: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    billing_address_enc: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    # The email's blind index, so a customer who verifies that email can claim the row.
    email_index: str | None = Field(default=None, max_length=64, index=True)
    customer_id: str | None = Field(default=None, max_length=64, index=True)
    order_id: str | None = Field(default=None, max_length=64)
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class PaymentRow(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        # One checkout, at most one payment that is in flight or has secured money.
        # Failed and voided attempts fall out of the index, so the buyer may try again.
        sa.Index(
            "uq_payments_one_active_per_checkout",
            "checkout_id",
            unique=True,
            sqlite_where=sa.text("status NOT IN ('failed', 'voided')"),
            postgresql_where=sa.text("status NOT IN ('failed', 'voided')"),
        ),
        # Only flagged payments are indexed: the review list stays cheap at any size.
        sa.Index(
            "ix_payments_held_for_review",
            "updated_at",
            sqlite_where=sa.text("review_reason IS NOT NULL"),
            postgresql_where=sa.text("review_reason IS NOT NULL"),
        ),
    )
    id: str = Field(primary_key=True, max_length=64)
    checkout_id: str = Field(foreign_key="checkouts.id", index=True, max_length=64)
    order_id: str | None = Field(default=None, max_length=64, index=True)
    provider: str = Field(max_length=16)
    provider_ref: str | None = Field(default=None, max_length=255, index=True)
    status: str = Field(max_length=24)
    amount: int = _money()
    currency: str = Field(max_length=3)
    amount_captured: int = _money(default=0)
    amount_refunded: int = _money(default=0)
    capture_method: str = Field(max_length=16)
    # The key every provider call for this payment derives its own from.
    idempotency_key: str = Field(max_length=128, unique=True)
    decline_code: str | None = Field(default=None, max_length=64)
    failure_message: str | None = Field(default=None, max_length=500)
    next_action: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # What the charge was asked with, so a charge whose outcome never reached us can be
    # asked again identically (same key, same parameters) after a timeout or a crash.
    payment_token: str | None = Field(default=None, max_length=255)
    return_url: str | None = Field(default=None, max_length=2000)
    # A signed-in customer's provider customer (saved methods) and whether the method is
    # kept after this payment: stored so a taken-over charge is sent exactly as the first.
    provider_customer: str | None = Field(default=None, max_length=255)
    save_method: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Until when the request that started the charge may still be waiting on the provider;
    # past it, a retry takes the payment over instead of being told it is in progress.
    locked_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # Set when the provider's amount or currency differs from what was asked (or the cart
    # moved meanwhile): no order is made, and it stays set until a person has looked.
    review_reason: str | None = Field(default=None, max_length=100)
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class PaymentOperationRow(SQLModel, table=True):
    """A capture, void or refund: written before the provider is called, settled after."""

    __tablename__ = "payment_operations"
    __table_args__ = (
        # An authorization is captured or voided once: one such operation pending or done.
        sa.Index(
            "uq_payment_operations_one_capture_or_void",
            "payment_id",
            unique=True,
            sqlite_where=sa.text("kind IN ('capture', 'void') AND status != 'failed'"),
            postgresql_where=sa.text("kind IN ('capture', 'void') AND status != 'failed'"),
        ),
    )
    id: str = Field(primary_key=True, max_length=64)
    payment_id: str = Field(foreign_key="payments.id", index=True, max_length=64)
    kind: str = Field(max_length=16)  # capture | void | refund
    status: str = Field(max_length=16)  # pending | succeeded | failed
    amount: int = _money()
    currency: str = Field(max_length=3)
    provider_ref: str | None = Field(default=None, max_length=255)
    reason: str | None = Field(default=None, max_length=500)
    failure_code: str | None = Field(default=None, max_length=64)
    locked_until: datetime = Field(sa_type=sa.DateTime(timezone=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        # Staff and integration order lists: newest first by (created_at, id), paged by
        # keyset; one index per filter, each ending in the sort key (store/order_listing).
        sa.Index("ix_orders_created_at_id", "created_at", "id"),
        sa.Index("ix_orders_status_created_at_id", "status", "created_at", "id"),
        sa.Index("ix_orders_email_index_created_at_id", "email_index", "created_at", "id"),
    )
    id: str = Field(primary_key=True, max_length=64)
    checkout_id: str = Field(foreign_key="checkouts.id", unique=True, max_length=64)
    customer_id: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(max_length=24)
    currency: str = Field(max_length=3)
    subtotal: int = _money()
    shipping: int = _money()
    total: int = _money()
    email_enc: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    shipping_address_enc: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    billing_address_enc: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    email_index: str | None = Field(default=None, max_length=64)
    # When the first shipment went out; fulfillment is apart from the payment-led status.
    fulfilled_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # When its personal fields were erased (the customer's erasure, or retention).
    erased_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    version: int = 1
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OrderLineRow(SQLModel, table=True):
    __tablename__ = "order_lines"
    order_id: str = Field(foreign_key="orders.id", primary_key=True, max_length=64)
    position: int = Field(primary_key=True)
    sku: str = Field(max_length=64)
    product_id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    quantity: int
    unit_amount: int = _money()
    total_amount: int = _money()


class FulfillmentRow(SQLModel, table=True):
    """One shipment of an order (a warehouse may ship an order in several parcels)."""

    __tablename__ = "fulfillments"
    id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=64)
    carrier: str = Field(max_length=64)
    tracking_number: str = Field(max_length=128)
    # Who recorded it: an API key id (staff members join with the staff issue).
    actor: str = Field(max_length=64)
    created_at: datetime = _ts()


class IdempotencyRow(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("actor", "key", name="uq_idempotency_actor_key"),)
    id: int | None = Field(default=None, primary_key=True)
    # A hash of the caller's credential, never the credential itself.
    actor: str = Field(max_length=64)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    state: str = Field(max_length=16)  # in_flight | done
    response_status: int | None = None
    # The stored response is encrypted: it can hold a client secret or personal data.
    response_enc: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    created_at: datetime = _ts(index=True)
    locked_until: datetime = Field(sa_type=sa.DateTime(timezone=True))


class ApiKeyRow(SQLModel, table=True):
    """A private-listener API key. Only the SHA-256 of the secret is kept (shown once)."""

    __tablename__ = "api_keys"
    id: str = Field(primary_key=True, max_length=64)
    secret_hash: str = Field(max_length=64, unique=True)
    # The first characters after ``sk_``, so an operator can tell keys apart in a list.
    hint: str = Field(max_length=16)
    label: str | None = Field(default=None, max_length=100)
    scopes: str = Field(max_length=500)  # comma-separated
    created_at: datetime = _ts()
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class PaymentMethodRow(SQLModel, table=True):
    """A customer's saved payment method: the provider's token and what a list shows of
    it (brand, last four digits, expiry), nothing else. Our ``pm_`` id is not the
    provider's token, which never leaves the server."""

    __tablename__ = "payment_methods"
    __table_args__ = (sa.UniqueConstraint("provider", "token", name="uq_payment_methods_token"),)
    id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=64, index=True)
    provider: str = Field(max_length=16)
    token: str = Field(max_length=255)
    brand: str = Field(max_length=32)
    last4: str = Field(max_length=4)
    exp_month: int
    exp_year: int
    created_at: datetime = _ts()


class ErasureTaskRow(SQLModel, table=True):
    """A step of an erasure that lives outside the main database (destroying the
    customer's keys, detaching tokens and deleting the customer at the provider). Queued
    in the transaction that nulls the customer's fields, so a crash or a provider outage
    leaves work the worker finishes, never an erasure half done."""

    __tablename__ = "erasure_tasks"
    __table_args__ = (
        sa.UniqueConstraint("kind", "provider", "ref", name="uq_erasure_tasks_step"),
        sa.Index("ix_erasure_tasks_due", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # destroy_keys (ref: cus_ id) | detach_method (ref: token) | delete_provider_customer
    kind: str = Field(max_length=32)
    provider: str = Field(max_length=16)  # "vault" for destroy_keys
    ref: str = Field(max_length=255)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # The error's type only, never its message (which could quote a provider body).
    last_error: str | None = Field(default=None, max_length=100)
    created_at: datetime = _ts()


class AuditEventRow(SQLModel, table=True):
    """Append-only record of who did what to which object, hash-chained in ``id`` order
    (``checkout/domain/audit_chain.py``). ``details`` holds counts, ids and role names,
    never a personal value."""

    __tablename__ = "audit_events"
    # At most one event follows each: two appenders that read the same head cannot both
    # commit, whatever the locking does (``checkout/store/audit.py``).
    __table_args__ = (sa.UniqueConstraint("prev_hash", name="uq_audit_events_prev_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = _ts(index=True)
    actor_type: str = Field(max_length=16)  # customer | staff | api_key | cli | system
    actor_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)  # customer.erased, order.personal_data_expired, ...
    target_type: str = Field(max_length=32)
    target_id: str = Field(max_length=64)
    request_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # SHA-256 of the previous event's ``hash`` (the genesis value for the first) and this
    # event's own, over its fields and ``prev_hash``.
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class StaffMemberRow(SQLModel, table=True):
    """A staff member (``checkout/store/staff.py``). The email and the TOTP secret are
    encrypted under the member's own data key; the email is found by its blind index."""

    __tablename__ = "staff_members"
    id: str = Field(primary_key=True, max_length=64)
    email_enc: Sealed = Field(sa_type=Encrypted("staff_members", "email"))
    email_index: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)  # viewer | fulfillment | support | manager | admin
    active: bool = True
    password_hash: str = Field(max_length=255)  # argon2id PHC string
    totp_secret_enc: Sealed = Field(sa_type=Encrypted("staff_members", "totp_secret"))
    # The last TOTP time step that signed in: a code is accepted once, and never an older.
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()

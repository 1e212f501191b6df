"""Tables of customer accounts: customers, sessions, the sign-in throttle, email
verification and the email outbox.

None holds a secret or a personal value in the clear: personal fields are ``Encrypted``
under the customer's own data key, a session or verification row keeps the SHA-256 of its
token, a throttle row an HMAC of its key (an email's blind index, an IP address).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from customers.column import Encrypted, Sealed


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


class SessionRow(SQLModel, table=True):
    """A signed-in customer or staff member (``customers/sessions.py``)."""

    __tablename__ = "sessions"
    __table_args__ = (
        # Revoking every session of one subject (password change, erasure, deactivation).
        sa.Index("ix_sessions_subject", "subject_kind", "subject_id"),
        # Purging the expired ones.
        sa.Index("ix_sessions_expires_at", "expires_at"),
    )
    id: str = Field(primary_key=True, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    subject_kind: str = Field(max_length=16)  # customer | staff
    subject_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=_ts())
    last_used_at: datetime = Field(sa_type=_ts())
    # The earlier of the idle deadline (moved on by use) and the absolute one.
    expires_at: datetime = Field(sa_type=_ts())
    absolute_expires_at: datetime = Field(sa_type=_ts())


class SignInThrottleRow(SQLModel, table=True):
    """Failed sign-ins of one account or one client address (``customers/throttle.py``)."""

    __tablename__ = "sign_in_throttle"
    __table_args__ = (sa.Index("ix_sign_in_throttle_last_failure_at", "last_failure_at"),)
    scope: str = Field(primary_key=True, max_length=16)  # account | address
    key_hash: str = Field(primary_key=True, max_length=64)
    failures: int = 0  # in the current window
    window_started_at: datetime = Field(sa_type=_ts())
    lockouts: int = 0  # since the key was last forgotten; each one lasts twice the last
    locked_until: datetime | None = Field(default=None, sa_type=_ts())
    last_failure_at: datetime = Field(sa_type=_ts())
    failures_total: int = 0  # since the key was last reset or forgotten


class CustomerRow(SQLModel, table=True):
    """A customer account (``customers/accounts.py``). Every personal field is encrypted
    under the customer's own key (owner = ``id``), so destroying that key erases them."""

    __tablename__ = "customers"
    id: str = Field(primary_key=True, max_length=64)
    email_enc: Sealed | None = Field(default=None, sa_type=Encrypted("customers", "email"))
    # The email's blind index: lookup and uniqueness without decrypting. NULL once erased.
    email_index: str | None = Field(default=None, max_length=64, unique=True)
    email_verified_at: datetime | None = Field(default=None, sa_type=_ts())
    name_enc: Sealed | None = Field(default=None, sa_type=Encrypted("customers", "name"))
    phone_enc: Sealed | None = Field(default=None, sa_type=Encrypted("customers", "phone"))
    # A JSON list of API.md addresses, encrypted as one value.
    addresses_enc: Sealed | None = Field(default=None, sa_type=Encrypted("customers", "addresses"))
    password_hash: str | None = Field(default=None, max_length=255)  # argon2id PHC string
    # The Stripe Customer holding this customer's saved cards: made from our id alone, so
    # it names nobody. Only Stripe offers saved methods (PayPal's vault is not integrated).
    stripe_customer_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=_ts())
    updated_at: datetime = Field(sa_type=_ts())
    erased_at: datetime | None = Field(default=None, sa_type=_ts())


class EmailVerificationRow(SQLModel, table=True):
    """A token that proves a customer reads the mailbox of their email (SHA-256 only)."""

    __tablename__ = "email_verifications"
    id: str = Field(primary_key=True, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    customer_id: str = Field(max_length=64, index=True)
    # The blind index of the address it was sent to: a token for an old address must not
    # verify a new one.
    email_index: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=_ts())
    expires_at: datetime = Field(sa_type=_ts())
    used_at: datetime | None = Field(default=None, sa_type=_ts())


class EmailOutboxRow(SQLModel, table=True):
    """An email to send (``customers/outbox.py``), written in the transaction that decided
    to send it. Recipient and content are encrypted under the recipient customer's key and
    cleared once sent."""

    __tablename__ = "email_outbox"
    __table_args__ = (sa.Index("ix_email_outbox_due", "status", "next_attempt_at"),)
    id: str = Field(primary_key=True, max_length=32)
    customer_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)  # verify_email | registration_attempt
    to_enc: Sealed | None = Field(default=None, sa_type=Encrypted("email_outbox", "to"))
    # JSON of the template's values (a verification token, say).
    data_enc: Sealed | None = Field(default=None, sa_type=Encrypted("email_outbox", "data"))
    status: str = Field(max_length=16)  # pending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=_ts())
    created_at: datetime = Field(sa_type=_ts())
    sent_at: datetime | None = Field(default=None, sa_type=_ts())

"""Tables of the account building blocks: sessions and the sign-in throttle.

Neither holds a secret or a personal value in the clear: a session row keeps the SHA-256
of its token, a throttle row an HMAC of its key (an email's blind index, an IP address).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


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

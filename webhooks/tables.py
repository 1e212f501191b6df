"""The durable inbox of verified provider events, and how far event lists were read."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class WebhookEventRow(SQLModel, table=True):
    __tablename__ = "webhook_events"
    __table_args__ = (
        # One row per provider event, however often it is delivered.
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event"),
        sa.Index("ix_webhook_events_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=16)
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=100)
    provider_ref: str | None = Field(default=None, max_length=255)
    payment_id: str | None = Field(default=None, max_length=64)
    # The raw event, encrypted: provider payloads can carry personal data.
    payload_enc: bytes = Field(sa_type=sa.LargeBinary)
    status: str = Field(max_length=16)  # pending | processed | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))
    last_error: str | None = Field(default=None, max_length=500)
    received_at: datetime = Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))
    processed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class EventCursorRow(SQLModel, table=True):
    """How far each provider's event list has been read (``webhooks/catchup.py``)."""

    __tablename__ = "event_cursors"
    provider: str = Field(primary_key=True, max_length=16)
    # Events created at or after this Unix time (the provider's clock) are listed next.
    created_gte: int = Field(sa_type=sa.BigInteger)
    # Mid-window, when a pass stopped at its page cap: the last event id it listed, and
    # the newest creation time the window has seen.
    resume_after: str | None = Field(default=None, max_length=255)
    window_newest: int | None = Field(default=None, sa_type=sa.BigInteger)
    # A pass holds the cursor until then, so concurrent workers do not list twice; the
    # version makes a pass that outlived its lease unable to write.
    locked_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    version: int = 0
    updated_at: datetime = Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))

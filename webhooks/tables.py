"""The durable inbox of verified provider events."""

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

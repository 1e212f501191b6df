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


# Outbound: signed deliveries of our own order events to integrations.


class WebhookEndpointRow(SQLModel, table=True):
    """An integration's subscription (``POST /s2s/v1/webhook-endpoints``)."""

    __tablename__ = "webhook_endpoints"
    id: str = Field(primary_key=True, max_length=64)
    url: str = Field(max_length=2048)
    events: str = Field(max_length=500)  # comma-separated event types
    # The signing secret, encrypted: whoever reads the database must not be able to forge
    # deliveries an integration would trust.
    secret_enc: bytes = Field(sa_type=sa.LargeBinary)
    status: str = Field(max_length=16)  # enabled | disabled
    created_at: datetime = Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))
    disabled_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class OutboxEventRow(SQLModel, table=True):
    """An order event, written in the same transaction as the change it describes.

    ``body`` is the exact JSON every delivery sends, so retries and every subscriber see
    the same bytes under the same id. It carries no personal data (an integration that
    needs an address reads the order with a key scoped for it).
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        # Only undispatched rows are ever scanned; the partial index stays tiny.
        sa.Index(
            "ix_outbox_events_undispatched",
            "seq",
            postgresql_where=sa.text("dispatched = false"),
            sqlite_where=sa.text("dispatched = 0"),
        ),
    )
    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=64, unique=True)
    type: str = Field(max_length=64)
    body: str = Field(sa_type=sa.Text)
    dispatched: bool = False
    created_at: datetime = Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))


class WebhookDeliveryRow(SQLModel, table=True):
    """One event owed to one endpoint, until it answers 2xx or the retry window ends."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_pair"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=64)
    event_id: str = Field(foreign_key="outbox_events.id", max_length=64)
    status: str = Field(max_length=16)  # pending | delivered | failed | canceled
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=_now, sa_type=sa.DateTime(timezone=True))
    delivered_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


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

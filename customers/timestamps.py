"""Timestamps read back from the database, made timezone-aware UTC.

SQLite hands back naive datetimes for timezone-aware columns (they were stored UTC);
PostgreSQL hands back aware ones. Every package that reads a timestamp uses this one
function (customers imports nothing of ours, so the others may all import it).
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)

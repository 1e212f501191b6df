"""The event-list cursor of each provider, taken under a lease.

Any number of workers reconcile; only one at a time should walk a provider's event list,
and none should hold a transaction open while it does. Claiming is one conditional
``UPDATE … RETURNING`` (free, or its lease ran out), which both backends run atomically;
saving is conditional on the version the claim returned, so a pass that outlived its
lease (and was taken over) cannot move the cursor under its successor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webhooks.tables import EventCursorRow

_C: sa.Table = EventCursorRow.__table__  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Cursor:
    provider: str
    created_gte: int
    resume_after: str | None
    window_newest: int | None
    version: int


def claim(conn: Connection, provider: str, *, start_at: int, lease: timedelta) -> Cursor | None:
    """The provider's cursor, now held for `lease`; None while another pass holds it.
    A provider never read before starts at `start_at`."""
    now = _now()
    factory = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        factory(_C)
        .values(provider=provider, created_gte=start_at, version=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["provider"])
    )
    row = conn.execute(
        sa.update(_C)
        .where(
            _C.c.provider == provider,
            sa.or_(_C.c.locked_until.is_(None), _C.c.locked_until < now),
        )
        .values(locked_until=now + lease, version=_C.c.version + 1)
        .returning(_C.c.created_gte, _C.c.resume_after, _C.c.window_newest, _C.c.version)
    ).first()
    if row is None:
        return None
    return Cursor(provider, int(row[0]), row[1], row[2], int(row[3]))


def save(
    conn: Connection,
    held: Cursor,
    *,
    created_gte: int,
    resume_after: str | None,
    window_newest: int | None,
) -> bool:
    """Move the cursor and let it go; False if the lease was lost meanwhile."""
    result = conn.execute(
        sa.update(_C)
        .where(_C.c.provider == held.provider, _C.c.version == held.version)
        .values(
            created_gte=created_gte,
            resume_after=resume_after,
            window_newest=window_newest,
            locked_until=None,
            updated_at=_now(),
        )
    )
    return result.rowcount == 1


def release(conn: Connection, held: Cursor) -> None:
    """Let the cursor go unchanged (the listing failed)."""
    conn.execute(
        sa.update(_C)
        .where(_C.c.provider == held.provider, _C.c.version == held.version)
        .values(locked_until=None)
    )

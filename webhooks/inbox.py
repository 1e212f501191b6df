"""Storing verified events once, and handing due ones to a worker.

Storing is one ``INSERT … ON CONFLICT DO NOTHING``: the same event delivered fifty times
at once leaves one row, and every delivery can be answered 200. Deliveries that arrive
together are inserted in one transaction (group commit), each answered once it committed.
Claiming on PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` so any number of workers drain the
inbox without taking the same row; on SQLite one process holds the write lock anyway.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from customers.pii import FieldCipher
from providers.base import ProviderEvent
from webhooks.group_commit import GroupCommit
from webhooks.tables import WebhookEventRow
from webhooks.transactions import Transactions

_W: sa.Table = WebhookEventRow.__table__  # type: ignore[attr-defined]
_TABLE = "webhook_events"
# Ids per query in `known`: well under any backend's bound-parameter limit.
_CHUNK = 500


# Built once with bind parameters: building the statement per event cost more than
# running it (ingestion profile).
_BINDS: dict[str, sa.BindParameter[Any]] = {
    column: sa.bindparam(column)
    for column in (
        "provider",
        "event_id",
        "type",
        "provider_ref",
        "payment_id",
        "payload_enc",
        "status",
        "attempts",
        "next_attempt_at",
        "received_at",
    )
}
_ONCE = ["provider", "event_id"]
_STORE_PG = (
    pg_insert(_W).values(_BINDS).on_conflict_do_nothing(index_elements=_ONCE).returning(_W.c.id)
)
# PostgreSQL, for a group: executed with a list of rows, which SQLAlchemy sends as
# multi-row INSERTs ("insertmanyvalues") from one cached compilation.
_STORE_MANY_PG = (
    pg_insert(_W)
    .on_conflict_do_nothing(index_elements=_ONCE)
    .returning(_W.c.provider, _W.c.event_id)
)
# SQLite, for a group: straight to the driver, one execute per row of one statement the
# driver keeps compiled, each row's rowcount saying whether it was new. SQLAlchemy's
# multi-row INSERT renders new SQL for every group size and processes every parameter
# in Python: that cost 40 µs a row, more than SQLite spent storing it (ingestion profile).
_SQLITE = sqlite.dialect(paramstyle="named")
_STORE_SQLITE_DRIVER = str(
    sqlite_insert(_W)
    .values(_BINDS)
    .on_conflict_do_nothing(index_elements=_ONCE)
    .compile(dialect=_SQLITE)
)
_SQLITE_DATETIME = _W.c.received_at.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
_DATETIMES = ("next_attempt_at", "received_at")


def _now() -> datetime:
    return datetime.now(UTC)


def _insert_sqlite(conn: Connection, rows: list[dict[str, Any]]) -> list[bool]:
    """Rows inserted through the driver, inside ``conn``'s transaction: which were new."""
    assert _SQLITE_DATETIME is not None
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        fresh: list[bool] = []
        for row in rows:
            # As SQLAlchemy would bind them, so the rows read back the same way.
            params = {**row, **{key: _SQLITE_DATETIME(row[key]) for key in _DATETIMES}}
            cursor.execute(_STORE_SQLITE_DRIVER, params)
            fresh.append(cursor.rowcount == 1)
        return fresh
    finally:
        cursor.close()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    event: ProviderEvent
    attempts: int


class Inbox:
    def __init__(self, tx: Transactions, cipher: FieldCipher) -> None:
        self._tx = tx
        self._cipher = cipher
        # Deliveries arriving together share one transaction (webhooks/group_commit.py).
        self._stores: GroupCommit[dict[str, Any], bool] = GroupCommit(
            tx, self._insert, self._insert_many
        )

    def _aad_id(self, event: ProviderEvent) -> str:
        # Bound to (provider, event id), which is unique: a payload moved to another row
        # does not decrypt.
        return f"{event.provider}/{event.event_id}"

    async def store(self, event: ProviderEvent, payload: bytes) -> bool:
        """Keep the event; False if it was already kept (a duplicate delivery)."""
        enc = self._cipher.encrypt(
            payload.decode("utf-8", errors="replace"),
            table=_TABLE,
            column="payload",
            row_id=self._aad_id(event),
        )
        now = _now()
        values = {
            "provider": event.provider,
            "event_id": event.event_id,
            "type": event.type[:100],
            "provider_ref": event.provider_ref,
            "payment_id": event.payment_id,
            "payload_enc": enc,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
        }
        return await self._stores.submit(values)

    def _insert(self, conn: Connection, values: dict[str, Any]) -> bool:
        if not self._tx.is_postgres:
            return _insert_sqlite(conn, [values])[0]
        return conn.execute(_STORE_PG, values).first() is not None

    def _insert_many(self, conn: Connection, rows: list[dict[str, Any]]) -> list[bool]:
        """Which rows are new; the same event twice in one group is new only the first
        time. PostgreSQL: one multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``."""
        if not self._tx.is_postgres:
            return _insert_sqlite(conn, rows)
        inserted = {(p, e) for p, e in conn.execute(_STORE_MANY_PG, rows)}
        out: list[bool] = []
        for row in rows:
            key = (row["provider"], row["event_id"])
            out.append(key in inserted)
            inserted.discard(key)
        return out

    async def known(self, provider: str, event_ids: Collection[str]) -> set[str]:
        """Which of these events are kept already: one read instead of a write per event
        when a provider's event list repeats what its webhooks brought."""
        ids = list(event_ids)

        def select() -> set[str]:
            found: set[str] = set()
            with self._tx.read() as conn:
                for start in range(0, len(ids), _CHUNK):
                    rows = conn.execute(
                        sa.select(_W.c.event_id).where(
                            _W.c.provider == provider,
                            _W.c.event_id.in_(ids[start : start + _CHUNK]),
                        )
                    )
                    found.update(row[0] for row in rows)
            return found

        return await self._tx.run(select) if ids else set()

    def claim_due(self, conn: Connection, limit: int) -> list[StoredEvent]:
        q = (
            sa.select(_W)
            .where(_W.c.status == "pending", _W.c.next_attempt_at <= _now())
            .order_by(_W.c.next_attempt_at, _W.c.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        return [
            StoredEvent(
                id=row.id,
                event=ProviderEvent(
                    row.provider,
                    row.event_id,
                    row.type,
                    row.provider_ref,
                    row.payment_id,
                    0,
                ),
                attempts=row.attempts,
            )
            for row in conn.execute(q)
        ]

    @staticmethod
    def processed(conn: Connection, event_ids: list[int]) -> None:
        """Mark a batch's finished events in one statement."""
        if event_ids:
            conn.execute(
                sa.update(_W)
                .where(_W.c.id.in_(event_ids))
                .values(status="processed", processed_at=_now(), last_error=None)
            )

    @staticmethod
    def retry_later(conn: Connection, stored: StoredEvent, delay: timedelta, why: str) -> None:
        conn.execute(
            sa.update(_W)
            .where(_W.c.id == stored.id)
            .values(
                attempts=stored.attempts + 1,
                next_attempt_at=_now() + delay,
                last_error=why[:500],
            )
        )

    @staticmethod
    def release(conn: Connection, event_ids: list[int]) -> None:
        """Claimed events left unstarted: due again now, their attempts unchanged."""
        if event_ids:
            conn.execute(sa.update(_W).where(_W.c.id.in_(event_ids)).values(next_attempt_at=_now()))

    @staticmethod
    def dead(conn: Connection, stored: StoredEvent, why: str) -> None:
        conn.execute(
            sa.update(_W)
            .where(_W.c.id == stored.id)
            .values(status="dead", attempts=stored.attempts + 1, last_error=why[:500])
        )

    def payload(self, conn: Connection, stored: StoredEvent) -> Any:
        row = conn.execute(sa.select(_W.c.payload_enc).where(_W.c.id == stored.id)).one()
        text = self._cipher.decrypt(
            row[0], table=_TABLE, column="payload", row_id=self._aad_id(stored.event)
        )
        return json.loads(text)


def requeue(conn: Connection, provider: str | None, event_id: str) -> int:
    """Hand a stored event to the worker again (``checkout webhooks replay``); how many
    rows matched. Applying is idempotent, so replaying a processed event is safe."""
    q = sa.update(_W).where(_W.c.event_id == event_id)
    if provider is not None:
        q = q.where(_W.c.provider == provider)
    result = conn.execute(
        q.values(status="pending", attempts=0, next_attempt_at=_now(), last_error=None)
    )
    return int(result.rowcount)

"""Idempotency records: claim a key, finish it with a response, or release it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from checkout.db.tables import IdempotencyRow, utcnow
from customers.timestamps import as_utc

_I = IdempotencyRow.__table__  # type: ignore[attr-defined]

RETENTION = timedelta(hours=24)
# A request that has held its key this long is presumed dead (its process crashed) and
# the key may be claimed again. The composition root passes one a little longer than a
# provider call may take with all its retries; this is the fallback.
LEASE = timedelta(seconds=120)


# INSERT ... ON CONFLICT DO NOTHING, which SQLite and PostgreSQL spell alike: a taken key
# is an answer, not an error, so the transaction goes on without a savepoint.
# RETURNING says whether the row went in (rowcount is -1 for this form on psycopg).
_INSERT_UNLESS_TAKEN = {
    "sqlite": sqlite_insert(_I)
    .on_conflict_do_nothing(index_elements=["actor", "key"])
    .returning(_I.c.id),
    "postgresql": pg_insert(_I)
    .on_conflict_do_nothing(index_elements=["actor", "key"])
    .returning(_I.c.id),
}


def _insert_unless_taken(conn: Connection) -> sa.Insert:
    return _INSERT_UNLESS_TAKEN[conn.dialect.name]


_BY_KEY_LOCKED = (
    sa.select(_I)
    .where(_I.c.actor == sa.bindparam("b_actor"), _I.c.key == sa.bindparam("b_key"))
    .with_for_update()
)
_RECLAIM = sa.update(_I).where(_I.c.id == sa.bindparam("b_id"))
_FINISH = sa.update(_I).where(
    _I.c.actor == sa.bindparam("b_actor"), _I.c.key == sa.bindparam("b_key")
)
_RELEASE = sa.delete(_I).where(
    _I.c.actor == sa.bindparam("b_actor"),
    _I.c.key == sa.bindparam("b_key"),
    _I.c.state == "in_flight",
)


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Literal["new", "replay", "mismatch", "in_flight"]
    status: int | None = None
    response_enc: bytes | None = None


def _in_flight(request_hash: str, now: datetime, lease: timedelta) -> dict[str, object]:
    """The columns of a freshly claimed key, for a new row or a reclaimed one."""
    return {
        "request_hash": request_hash,
        "state": "in_flight",
        "response_status": None,
        "response_enc": None,
        "created_at": now,
        "locked_until": now + lease,
    }


def claim(
    conn: Connection, actor: str, key: str, request_hash: str, lease: timedelta = LEASE
) -> Claim:
    now = utcnow()
    inserted = conn.execute(
        _insert_unless_taken(conn),
        {"actor": actor, "key": key, **_in_flight(request_hash, now, lease)},
    )
    if inserted.first() is not None:
        return Claim("new")
    row = conn.execute(_BY_KEY_LOCKED, {"b_actor": actor, "b_key": key}).one()
    expired = as_utc(row.created_at) < now - RETENTION
    abandoned = row.state == "in_flight" and as_utc(row.locked_until) < now
    if expired or abandoned:
        conn.execute(_RECLAIM, {"b_id": row.id, **_in_flight(request_hash, now, lease)})
        return Claim("new")
    if row.request_hash != request_hash:
        return Claim("mismatch")
    if row.state == "in_flight":
        return Claim("in_flight")
    return Claim("replay", row.response_status, row.response_enc)


def finish(conn: Connection, actor: str, key: str, status: int, response_enc: bytes) -> None:
    conn.execute(
        _FINISH,
        {
            "b_actor": actor,
            "b_key": key,
            "state": "done",
            "response_status": status,
            "response_enc": response_enc,
        },
    )


def release(conn: Connection, actor: str, key: str) -> None:
    conn.execute(_RELEASE, {"b_actor": actor, "b_key": key})


def purge_expired(conn: Connection, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - RETENTION
    result = conn.execute(sa.delete(_I).where(_I.c.created_at < cutoff))
    return int(result.rowcount)

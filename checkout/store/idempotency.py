"""Idempotency records: claim a key, finish it with a response, or release it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from checkout.db.tables import IdempotencyRow, utcnow

_I = IdempotencyRow.__table__  # type: ignore[attr-defined]

RETENTION = timedelta(hours=24)
# A request that has held its key this long is presumed dead (its process crashed) and
# the key may be claimed again; longer than any provider timeout plus retries.
LEASE = timedelta(seconds=120)


_INSERT = sa.insert(_I)
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


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns.
    return ts if ts.tzinfo else ts.replace(tzinfo=utcnow().tzinfo)


def claim(conn: Connection, actor: str, key: str, request_hash: str) -> Claim:
    now = utcnow()
    try:
        with conn.begin_nested():
            conn.execute(
                _INSERT,
                {
                    "actor": actor,
                    "key": key,
                    "request_hash": request_hash,
                    "state": "in_flight",
                    "response_status": None,
                    "response_enc": None,
                    "created_at": now,
                    "locked_until": now + LEASE,
                },
            )
        return Claim("new")
    except IntegrityError:
        pass
    row = conn.execute(_BY_KEY_LOCKED, {"b_actor": actor, "b_key": key}).one()
    expired = _aware(row.created_at) < now - RETENTION
    abandoned = row.state == "in_flight" and _aware(row.locked_until) < now
    if expired or abandoned:
        conn.execute(
            _RECLAIM,
            {
                "b_id": row.id,
                "request_hash": request_hash,
                "state": "in_flight",
                "response_status": None,
                "response_enc": None,
                "created_at": now,
                "locked_until": now + LEASE,
            },
        )
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

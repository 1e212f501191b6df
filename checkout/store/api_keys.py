"""API-key rows ↔ :class:`checkout.access.api_keys.ApiKey`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.access.api_keys import ApiKey
from checkout.access.scopes import format_scopes, parse_scopes
from checkout.db.tables import ApiKeyRow, utcnow
from customers.timestamps import as_utc

_K: sa.Table = ApiKeyRow.__table__  # type: ignore[attr-defined]
_BY_HASH = sa.select(_K).where(_K.c.secret_hash == sa.bindparam("h"))
# Recording every use would turn each private read into a write; a minute's precision
# is what an operator deciding whether a key is still in use needs.
TOUCH_EVERY = timedelta(minutes=1)


def _key(row: Any) -> ApiKey:
    m = row._mapping
    return ApiKey(
        id=m["id"],
        hint=m["hint"],
        label=m["label"],
        scopes=parse_scopes(m["scopes"]),
        created_at=as_utc(m["created_at"]),
        revoked_at=as_utc(m["revoked_at"]) if m["revoked_at"] else None,
        last_used_at=as_utc(m["last_used_at"]) if m["last_used_at"] else None,
    )


def insert(conn: Connection, key: ApiKey, secret_hash: str) -> None:
    conn.execute(
        sa.insert(_K),
        {
            "id": key.id,
            "secret_hash": secret_hash,
            "hint": key.hint,
            "label": key.label,
            "scopes": format_scopes(key.scopes),
            "created_at": key.created_at,
        },
    )


def by_hash(conn: Connection, secret_hash: str) -> ApiKey | None:
    row = conn.execute(_BY_HASH, {"h": secret_hash}).first()
    return _key(row) if row is not None else None


def touch(conn: Connection, key_id: str, now: datetime) -> None:
    conn.execute(
        sa.update(_K)
        .where(
            _K.c.id == key_id,
            sa.or_(_K.c.last_used_at.is_(None), _K.c.last_used_at < now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
    )


def revoke(conn: Connection, key_id: str) -> bool:
    result = conn.execute(
        sa.update(_K)
        .where(_K.c.id == key_id, _K.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)


def all_keys(conn: Connection) -> list[ApiKey]:
    return [_key(r) for r in conn.execute(sa.select(_K).order_by(_K.c.created_at, _K.c.id))]

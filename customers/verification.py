"""Email verification tokens: proof that a customer reads the mailbox of their email.

A token is ``evf_`` and 256 random bits, sent by email and never stored: only its SHA-256
is kept (like session tokens). It expires, works once, and is bound to the blind index of
the address it was sent to, so a token mailed to an old address cannot verify a new one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from customers.tables import EmailVerificationRow

PREFIX = "evf_"
LIFETIME = timedelta(days=2)
_MAX_TOKEN = 128
_V: sa.Table = EmailVerificationRow.__table__  # type: ignore[attr-defined]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Verified:
    customer_id: str
    email_index: str


def issue(
    conn: Connection,
    customer_id: str,
    email_index: str,
    *,
    now: datetime,
    lifetime: timedelta = LIFETIME,
) -> str:
    """A new token for the customer's current address; the only time it exists here."""
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(_V),
        {
            "id": "evr_" + secrets.token_hex(12),
            "token_hash": _hash(token),
            "customer_id": customer_id,
            "email_index": email_index,
            "created_at": now,
            "expires_at": now + lifetime,
        },
    )
    return token


def consume(conn: Connection, token: str, *, now: datetime) -> Verified | None:
    """Use a token once: who it verifies, or None (unknown, used, expired)."""
    if not token.startswith(PREFIX) or len(token) > _MAX_TOKEN:
        return None
    # One conditional UPDATE: of two requests racing with one token, only one wins it.
    row = conn.execute(
        sa.update(_V)
        .where(_V.c.token_hash == _hash(token), _V.c.used_at.is_(None), _V.c.expires_at > now)
        .values(used_at=now)
        .returning(_V.c.customer_id, _V.c.email_index)
    ).first()
    return None if row is None else Verified(row.customer_id, row.email_index)


def purge(conn: Connection, *, now: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` used or expired tokens; how many."""
    ids = (
        sa.select(_V.c.id)
        .where(sa.or_(_V.c.used_at.is_not(None), _V.c.expires_at <= now))
        .limit(limit)
    )
    return int(conn.execute(sa.delete(_V).where(_V.c.id.in_(ids))).rowcount)

"""Session tokens for customers now and staff later: opaque, hashed, expiring, revocable.

A token is ``sess_`` and 256 random bits; only its SHA-256 is stored (a random secret
needs no slow hash, and a stolen table gives no usable token). Every sign-in issues a new
token, so a token planted before sign-in never becomes a signed-in one.

A session ends at the earlier of two deadlines: idle (moved on by use) and absolute (fixed
at sign-in). Use is written at most once per ``touch_every`` so reading a page is not a
write each time; the idle deadline therefore moves in steps, and a session can end up to
``touch_every`` before a full idle period after its very last use. Revoking deletes the
row, so it takes effect on the next request everywhere.

Every function takes the caller's ``Connection``, so signing in (verify, rehash, reset the
throttle, issue) can be one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from customers.tables import SessionRow
from customers.timestamps import as_utc as _utc

PREFIX = "sess_"
_MAX_TOKEN = 128
_S: sa.Table = SessionRow.__table__  # type: ignore[attr-defined]

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(days=7)
    absolute: timedelta = timedelta(days=30)
    touch_every: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        if min(self.idle, self.absolute, self.touch_every) <= timedelta(0):
            raise ValueError("session durations must be positive")
        if self.touch_every >= self.idle:
            raise ValueError("touch_every must be shorter than the idle timeout")


CUSTOMER_SESSIONS = SessionPolicy()
STAFF_SESSIONS = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    kind: str
    subject_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime  # the earlier of the idle and the absolute deadline
    absolute_expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session and its token: the only time the token exists on our side."""

    token: str = field(repr=False)
    session: Session


class Sessions:
    """The sessions of one kind of subject ("customer", "staff") under one policy.

    A token issued for one kind is unknown to the others: a customer token never
    authenticates a staff request.
    """

    def __init__(
        self, kind: str, policy: SessionPolicy = CUSTOMER_SESSIONS, *, clock: Clock = utcnow
    ) -> None:
        if not 0 < len(kind) <= 16:
            raise ValueError("a subject kind is 1 to 16 characters")
        self.kind = kind
        self.policy = policy
        self._clock = clock

    def __repr__(self) -> str:
        return f"Sessions(kind={self.kind!r}, policy={self.policy!r})"

    def _now(self) -> datetime:
        return _utc(self._clock())

    def issue(self, conn: Connection, subject_id: str) -> IssuedSession:
        now = self._now()
        token = PREFIX + secrets.token_urlsafe(32)
        absolute = now + self.policy.absolute
        session = Session(
            id="ses_" + secrets.token_hex(12),
            kind=self.kind,
            subject_id=subject_id,
            created_at=now,
            last_used_at=now,
            expires_at=min(now + self.policy.idle, absolute),
            absolute_expires_at=absolute,
        )
        conn.execute(
            sa.insert(_S),
            {
                "id": session.id,
                "token_hash": hash_token(token),
                "subject_kind": self.kind,
                "subject_id": subject_id,
                "created_at": now,
                "last_used_at": now,
                "expires_at": session.expires_at,
                "absolute_expires_at": absolute,
            },
        )
        return IssuedSession(token, session)

    def lookup(self, conn: Connection, token: str) -> Session | None:
        """The live session of this token, else None (unknown, revoked, expired, another
        kind's). Reads only; see :meth:`authenticate`."""
        if not token.startswith(PREFIX) or len(token) > _MAX_TOKEN:
            return None
        row = conn.execute(
            sa.select(_S).where(
                _S.c.token_hash == hash_token(token), _S.c.subject_kind == self.kind
            )
        ).first()
        if row is None:
            return None
        session = _session(row._mapping)
        return session if session.expires_at > self._now() else None

    def touch_due(self, session: Session) -> bool:
        return self._now() - session.last_used_at >= self.policy.touch_every

    def touch(self, conn: Connection, session: Session) -> Session:
        """Record a use: the idle deadline moves on (never past the absolute one). Writes
        only if the last recorded use is older than ``touch_every``."""
        now = self._now()
        if now - session.last_used_at < self.policy.touch_every:
            return session
        expires_at = min(now + self.policy.idle, session.absolute_expires_at)
        conn.execute(
            sa.update(_S)
            .where(
                _S.c.id == session.id,
                # Another request may have touched it meanwhile; one write is enough.
                _S.c.last_used_at < now - self.policy.touch_every,
            )
            .values(last_used_at=now, expires_at=expires_at)
        )
        return Session(
            session.id,
            session.kind,
            session.subject_id,
            session.created_at,
            now,
            expires_at,
            session.absolute_expires_at,
        )

    def authenticate(self, conn: Connection, token: str) -> Session | None:
        """:meth:`lookup`, then :meth:`touch` when due (so `conn` must be able to write)."""
        session = self.lookup(conn, token)
        if session is None:
            return None
        return self.touch(conn, session) if self.touch_due(session) else session

    def revoke(self, conn: Connection, session_id: str) -> bool:
        result = conn.execute(
            sa.delete(_S).where(_S.c.id == session_id, _S.c.subject_kind == self.kind)
        )
        return bool(result.rowcount)

    def revoke_token(self, conn: Connection, token: str) -> bool:
        """Sign out: end the session this token belongs to."""
        if not token.startswith(PREFIX) or len(token) > _MAX_TOKEN:
            return False
        result = conn.execute(
            sa.delete(_S).where(
                _S.c.token_hash == hash_token(token), _S.c.subject_kind == self.kind
            )
        )
        return bool(result.rowcount)

    def revoke_all(self, conn: Connection, subject_id: str, *, keep: str | None = None) -> int:
        """End every session of a subject (erasure, deactivation), or every one but
        `keep` (a password change from the session that made it); how many ended."""
        q = sa.delete(_S).where(_S.c.subject_kind == self.kind, _S.c.subject_id == subject_id)
        if keep is not None:
            q = q.where(_S.c.id != keep)
        return int(conn.execute(q).rowcount)

    def active(self, conn: Connection, subject_id: str) -> list[Session]:
        """A subject's live sessions, newest first (for "where am I signed in")."""
        rows = conn.execute(
            sa.select(_S)
            .where(
                _S.c.subject_kind == self.kind,
                _S.c.subject_id == subject_id,
                _S.c.expires_at > self._now(),
            )
            .order_by(_S.c.created_at.desc(), _S.c.id)
        )
        return [_session(row._mapping) for row in rows]

    def purge_expired(self, conn: Connection, *, limit: int = 1000) -> int:
        """Delete up to `limit` expired sessions of this kind (housekeeping); how many."""
        ids = (
            sa.select(_S.c.id)
            .where(_S.c.subject_kind == self.kind, _S.c.expires_at <= self._now())
            .limit(limit)
        )
        return int(conn.execute(sa.delete(_S).where(_S.c.id.in_(ids))).rowcount)


def _session(m: Any) -> Session:
    return Session(
        id=m["id"],
        kind=m["subject_kind"],
        subject_id=m["subject_id"],
        created_at=_utc(m["created_at"]),
        last_used_at=_utc(m["last_used_at"]),
        expires_at=_utc(m["expires_at"]),
        absolute_expires_at=_utc(m["absolute_expires_at"]),
    )

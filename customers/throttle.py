"""Failed sign-ins, counted in the database so that every process agrees.

Each attempt is counted under two keys: the account (the email's blind index, whether or
not an account has that email: throttling only real accounts would make a 429 say which
emails are registered) and the client address. Per key, a fixed window: `max_failures`
failures within `window` lock the key for `lockout`, each further lockout twice as long as
the one before, up to `max_lockout`; a key with no failure for `forget_after` starts over.
A successful sign-in resets the account's key, not the address's: an attacker holding one
account of their own could otherwise clear their address between guesses.

Counting a failure is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: the database
applies concurrent failures of one key one after the other (PostgreSQL holds the row lock,
SQLite the write lock), so none is lost however many processes see them at once. All the
arithmetic on times happens here, not in SQL; the statement only picks between values.

Keys are stored as HMAC-SHA256 under a secret the composition root hands in, so a stolen
table reveals no address or email hash (an unkeyed hash of an IPv4 address is reversed by
trying all 2^32 of them).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from customers.tables import SignInThrottleRow
from customers.timestamps import as_utc as _utc

_T: sa.Table = SignInThrottleRow.__table__  # type: ignore[attr-defined]
_TS = sa.DateTime(timezone=True)
_MIN_SECRET = 16

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=1)
    max_lockout: timedelta = timedelta(hours=1)
    forget_after: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if min(self.window, self.lockout, self.forget_after) <= timedelta(0):
            raise ValueError("throttle durations must be positive")
        if self.max_lockout < self.lockout:
            raise ValueError("max_lockout must not be shorter than lockout")

    def lockouts(self) -> list[timedelta]:
        """The first lockout's length, the second's, …, the last one being the cap."""
        lengths = [self.lockout]
        while lengths[-1] < self.max_lockout:
            lengths.append(min(lengths[-1] * 2, self.max_lockout))
        return lengths


# An account sees few honest failures; an address can be a whole office behind one NAT.
ACCOUNT_POLICY = ThrottlePolicy(max_failures=5)
ADDRESS_POLICY = ThrottlePolicy(max_failures=20)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until the next attempt may be made; 0 if allowed

    @staticmethod
    def until(locked_until: datetime | None, now: datetime) -> Decision:
        if locked_until is None or locked_until <= now:
            return ALLOW
        return Decision(False, max(1, math.ceil((locked_until - now).total_seconds())))

    def __and__(self, other: Decision) -> Decision:
        if self.allowed and other.allowed:
            return ALLOW
        return Decision(False, max(self.retry_after, other.retry_after))


ALLOW = Decision(True)


class Throttle:
    """The failure counters of one scope ("account", "address") under one policy."""

    def __init__(
        self, scope: str, policy: ThrottlePolicy, secret: bytes, *, clock: Clock = utcnow
    ) -> None:
        if not 0 < len(scope) <= 16:
            raise ValueError("a scope is 1 to 16 characters")
        if len(secret) < _MIN_SECRET:
            raise ValueError(f"the throttle secret must be at least {_MIN_SECRET} bytes")
        self.scope = scope
        self.policy = policy
        self._secret = secret
        self._clock = clock

    def __repr__(self) -> str:
        return f"Throttle(scope={self.scope!r}, policy={self.policy!r})"

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _hash(self, key: str) -> str:
        msg = f"{self.scope}\x00{key}".encode("utf-8", errors="surrogatepass")
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def check(self, conn: Connection, key: str) -> Decision:
        """Whether an attempt under `key` may be made now."""
        locked_until = conn.execute(
            sa.select(_T.c.locked_until).where(
                _T.c.scope == self.scope, _T.c.key_hash == self._hash(key)
            )
        ).scalar()
        now = self._now()
        return Decision.until(_utc(locked_until) if locked_until else None, now)

    def failure(self, conn: Connection, key: str) -> Decision:
        """Count a failed attempt under `key`; the decision for the next attempt."""
        now = self._now()
        factory = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        insert = factory(_T).values(scope=self.scope, key_hash=self._hash(key), **self._first(now))
        upsert = insert.on_conflict_do_update(
            index_elements=["scope", "key_hash"], set_=self._next(now)
        ).returning(_T.c.locked_until)
        locked_until = conn.execute(upsert).scalar_one()
        return Decision.until(_utc(locked_until) if locked_until else None, now)

    def reset(self, conn: Connection, key: str) -> None:
        conn.execute(
            sa.delete(_T).where(_T.c.scope == self.scope, _T.c.key_hash == self._hash(key))
        )

    def purge(self, conn: Connection, *, limit: int = 1000) -> int:
        """Delete up to `limit` keys that are forgotten and not locked; how many."""
        now = self._now()
        keys = (
            sa.select(_T.c.key_hash)
            .where(
                _T.c.scope == self.scope,
                _T.c.last_failure_at <= now - self.policy.forget_after,
                sa.or_(_T.c.locked_until.is_(None), _T.c.locked_until <= now),
            )
            .limit(limit)
        )
        result = conn.execute(
            sa.delete(_T).where(_T.c.scope == self.scope, _T.c.key_hash.in_(keys))
        )
        return int(result.rowcount)

    def _first(self, now: datetime) -> dict[str, Any]:
        """The row of a key's first failure."""
        locked = self.policy.max_failures == 1
        return {
            "failures": 0 if locked else 1,
            "window_started_at": now,
            "lockouts": 1 if locked else 0,
            "locked_until": now + self.policy.lockout if locked else None,
            "last_failure_at": now,
            "failures_total": 1,
        }

    def _next(self, now: datetime) -> dict[str, Any]:
        """The row after one more failure, as expressions over the row as it was."""
        p = self.policy
        t = _T.c
        at = sa.literal(now, _TS)
        forgotten = t.last_failure_at <= sa.literal(now - p.forget_after, _TS)
        window_over = t.window_started_at <= sa.literal(now - p.window, _TS)
        failures = sa.case((sa.or_(forgotten, window_over), 0), else_=t.failures) + 1
        lockouts = sa.case((forgotten, 0), else_=t.lockouts)
        locks = failures >= p.max_failures
        lengths = p.lockouts()
        lock_end = sa.case(
            *((lockouts == n, sa.literal(now + length, _TS)) for n, length in enumerate(lengths)),
            else_=sa.literal(now + lengths[-1], _TS),
        )
        return {
            # A lockout starts a new window: after it, the key gets a full window's tries.
            "failures": sa.case((locks, 0), else_=failures),
            "window_started_at": sa.case(
                (sa.or_(locks, forgotten, window_over), at), else_=t.window_started_at
            ),
            "lockouts": sa.case((locks, lockouts + 1), else_=lockouts),
            "locked_until": sa.case(
                (locks, lock_end), (forgotten, sa.null()), else_=t.locked_until
            ),
            "last_failure_at": at,
            "failures_total": sa.case((forgotten, 1), else_=t.failures_total + 1),
        }


class SignInThrottle:
    """Sign-in attempts throttled per account and per client address."""

    def __init__(
        self,
        secret: bytes,
        *,
        account: ThrottlePolicy = ACCOUNT_POLICY,
        address: ThrottlePolicy = ADDRESS_POLICY,
        clock: Clock = utcnow,
    ) -> None:
        self.account = Throttle("account", account, secret, clock=clock)
        self.address = Throttle("address", address, secret, clock=clock)

    def __repr__(self) -> str:
        return f"SignInThrottle(account={self.account!r}, address={self.address!r})"

    def check(self, conn: Connection, *, account: str, address: str | None) -> Decision:
        """Before verifying a password: may this attempt be made? (429 when not.)"""
        decision = self.account.check(conn, account)
        return decision if address is None else decision & self.address.check(conn, address)

    def failed(self, conn: Connection, *, account: str, address: str | None) -> Decision:
        """After a wrong password or an unknown email; the decision for the next attempt."""
        decision = self.account.failure(conn, account)
        return decision if address is None else decision & self.address.failure(conn, address)

    def succeeded(self, conn: Connection, *, account: str) -> None:
        self.account.reset(conn, account)

    def purge(self, conn: Connection, *, limit: int = 1000) -> int:
        return self.account.purge(conn, limit=limit) + self.address.purge(conn, limit=limit)

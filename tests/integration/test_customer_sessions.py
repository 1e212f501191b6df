"""Sessions on each backend: hashed tokens, idle and absolute expiry, throttled touches,
revocation of one and of all."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from checkout.db.engine import Database, make_database
from customers.sessions import IssuedSession, Session, SessionPolicy, Sessions
from customers.tables import SessionRow

POLICY = SessionPolicy(
    idle=timedelta(minutes=30), absolute=timedelta(hours=2), touch_every=timedelta(minutes=1)
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = make_database(db_url, pool_size=2)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(clock: Clock) -> Sessions:
    return Sessions("customer", POLICY, clock=clock)


def _issue(db: Database, sessions: Sessions, subject: str = "cus_1") -> IssuedSession:
    with db.writer.begin() as conn:
        return sessions.issue(conn, subject)


def _auth(db: Database, sessions: Sessions, token: str) -> Session | None:
    with db.writer.begin() as conn:
        return sessions.authenticate(conn, token)


def _rows(db: Database) -> list[dict[str, object]]:
    with db.engine.connect() as conn:
        table = SessionRow.__table__  # type: ignore[attr-defined]
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def test_a_token_has_256_random_bits_and_only_its_sha256_is_stored(
    db: Database, sessions: Sessions, clock: Clock
) -> None:
    issued = _issue(db, sessions)
    assert issued.token.startswith("sess_")
    assert len(issued.token) - len("sess_") == 43  # 32 bytes, base64url
    (row,) = _rows(db)
    assert row["token_hash"] == hashlib.sha256(issued.token.encode()).hexdigest()
    secret = issued.token.removeprefix("sess_")
    assert not any(secret in str(value) for value in row.values())
    assert issued.token not in repr(issued)
    assert issued.session.expires_at == clock.now + POLICY.idle
    assert issued.session.absolute_expires_at == clock.now + POLICY.absolute


def test_every_sign_in_gets_a_new_token_and_each_works(db: Database, sessions: Sessions) -> None:
    first, second = _issue(db, sessions), _issue(db, sessions)
    assert first.token != second.token
    assert first.session.id != second.session.id
    for issued in (first, second):
        found = _auth(db, sessions, issued.token)
        assert found is not None and found.subject_id == "cus_1"


@pytest.mark.parametrize(
    "token", ["", "sess_", "sess_nope", "Bearer sess_x", "sess_" + "A" * 200, "\ud800"]
)
def test_unknown_and_malformed_tokens_find_nothing(
    db: Database, sessions: Sessions, token: str
) -> None:
    _issue(db, sessions)
    assert _auth(db, sessions, token) is None
    with db.writer.begin() as conn:
        assert sessions.revoke_token(conn, token) is False


def test_an_idle_session_expires_and_use_keeps_it_alive(
    db: Database, sessions: Sessions, clock: Clock
) -> None:
    used, idle = _issue(db, sessions), _issue(db, sessions)
    clock.advance(minutes=29)
    assert _auth(db, sessions, used.token) is not None
    clock.advance(minutes=29)  # 58 minutes in: `idle` saw no use for 58 minutes
    assert _auth(db, sessions, idle.token) is None
    assert _auth(db, sessions, used.token) is not None
    clock.advance(minutes=30, seconds=1)
    assert _auth(db, sessions, used.token) is None


def test_a_session_in_use_still_ends_at_its_absolute_deadline(
    db: Database, sessions: Sessions, clock: Clock
) -> None:
    issued = _issue(db, sessions)
    for _ in range(5):  # used every 20 minutes: 1 h 40 min
        clock.advance(minutes=20)
        assert _auth(db, sessions, issued.token) is not None
    clock.advance(minutes=19)
    session = _auth(db, sessions, issued.token)
    assert session is not None
    # The idle deadline never reaches past the absolute one.
    assert session.expires_at == issued.session.absolute_expires_at
    clock.advance(minutes=1, seconds=1)  # 2 h and a second
    assert _auth(db, sessions, issued.token) is None


def test_use_is_written_at_most_once_a_minute(
    db: Database, sessions: Sessions, clock: Clock
) -> None:
    issued = _issue(db, sessions)
    start = clock.now

    def last_used() -> datetime:
        (row,) = _rows(db)
        value = row["last_used_at"]
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    clock.advance(seconds=30)
    _auth(db, sessions, issued.token)
    assert last_used() == start
    clock.advance(seconds=31)
    _auth(db, sessions, issued.token)
    assert last_used() == clock.now
    touched = clock.now
    clock.advance(seconds=59)
    _auth(db, sessions, issued.token)
    assert last_used() == touched
    with db.engine.connect() as conn:
        assert sessions.lookup(conn, issued.token) is not None  # a read-only connection


def test_a_token_of_one_subject_kind_is_unknown_to_another(
    db: Database, sessions: Sessions, clock: Clock
) -> None:
    staff = Sessions("staff", POLICY, clock=clock)
    issued = _issue(db, sessions)
    assert _auth(db, staff, issued.token) is None
    with db.writer.begin() as conn:
        assert staff.revoke_token(conn, issued.token) is False
        assert staff.revoke_all(conn, "cus_1") == 0
    assert _auth(db, sessions, issued.token) is not None


def test_signing_out_ends_that_session_only(db: Database, sessions: Sessions) -> None:
    phone, laptop = _issue(db, sessions), _issue(db, sessions)
    with db.writer.begin() as conn:
        assert sessions.revoke_token(conn, phone.token) is True
        assert sessions.revoke_token(conn, phone.token) is False
    assert _auth(db, sessions, phone.token) is None
    assert _auth(db, sessions, laptop.token) is not None
    with db.writer.begin() as conn:
        assert sessions.revoke(conn, laptop.session.id) is True
    assert _auth(db, sessions, laptop.token) is None


def test_revoke_all_ends_every_session_of_a_subject(db: Database, sessions: Sessions) -> None:
    mine = [_issue(db, sessions, "cus_a") for _ in range(3)]
    theirs = _issue(db, sessions, "cus_b")
    with db.writer.begin() as conn:
        assert sessions.revoke_all(conn, "cus_a") == 3
    assert all(_auth(db, sessions, s.token) is None for s in mine)
    assert _auth(db, sessions, theirs.token) is not None


def test_revoke_all_can_keep_the_session_that_changed_the_password(
    db: Database, sessions: Sessions
) -> None:
    current, other = _issue(db, sessions), _issue(db, sessions)
    with db.writer.begin() as conn:
        assert sessions.revoke_all(conn, "cus_1", keep=current.session.id) == 1
        assert [s.id for s in sessions.active(conn, "cus_1")] == [current.session.id]
    assert _auth(db, sessions, other.token) is None
    assert _auth(db, sessions, current.token) is not None


def test_expired_sessions_are_purged_in_batches(
    db: Database, sessions: Sessions, clock: Clock
) -> None:
    for _ in range(3):
        _issue(db, sessions)
    clock.advance(minutes=31)
    fresh = _issue(db, sessions)
    with db.writer.begin() as conn:
        assert sessions.purge_expired(conn, limit=2) == 2
        assert sessions.purge_expired(conn, limit=2) == 1
        assert sessions.purge_expired(conn) == 0
    assert [r["id"] for r in _rows(db)] == [fresh.session.id]


def test_policies_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        SessionPolicy(idle=timedelta(0))
    with pytest.raises(ValueError, match="shorter than the idle"):
        SessionPolicy(idle=timedelta(minutes=1), touch_every=timedelta(minutes=1))
    with pytest.raises(ValueError, match="subject kind"):
        Sessions("")

"""Failed sign-ins throttled in the database on each backend: windows, growing lockouts,
Retry-After values, reset on success, keyed hashes, and concurrent failures all counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from checkout.db.engine import Database, make_database
from customers.tables import SignInThrottleRow
from customers.throttle import Decision, SignInThrottle, Throttle, ThrottlePolicy

SECRET = b"throttle-test-secret-32-bytes!!!"
ACCOUNT = ThrottlePolicy(
    max_failures=5,
    window=timedelta(minutes=15),
    lockout=timedelta(minutes=1),
    max_lockout=timedelta(minutes=10),
    forget_after=timedelta(hours=24),
)
ADDRESS = ThrottlePolicy(max_failures=20, lockout=timedelta(minutes=5))
_T = SignInThrottleRow.__table__  # type: ignore[attr-defined]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, 0, 250000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = make_database(db_url, pool_size=20)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> SignInThrottle:
    return SignInThrottle(SECRET, account=ACCOUNT, address=ADDRESS, clock=clock)


def _fail(
    db: Database, t: SignInThrottle, account: str = "acct", address: str | None = None
) -> Decision:
    with db.writer.begin() as conn:
        return t.failed(conn, account=account, address=address)


def _check(
    db: Database, t: SignInThrottle, account: str = "acct", address: str | None = None
) -> Decision:
    with db.reader.begin() as conn:
        return t.check(conn, account=account, address=address)


def _rows(db: Database) -> list[dict[str, object]]:
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(_T))]


def test_failures_below_the_limit_are_allowed_and_the_limit_locks(
    db: Database, throttle: SignInThrottle
) -> None:
    for _ in range(4):
        assert _fail(db, throttle) == Decision(True, 0)
        assert _check(db, throttle).allowed
    assert _fail(db, throttle) == Decision(False, 60)
    assert _check(db, throttle) == Decision(False, 60)
    assert _check(db, throttle, account="someone else").allowed


def test_retry_after_counts_down_in_whole_seconds_rounded_up(
    db: Database, throttle: SignInThrottle, clock: Clock
) -> None:
    for _ in range(5):
        _fail(db, throttle)
    clock.advance(seconds=0.5)
    assert _check(db, throttle) == Decision(False, 60)
    clock.advance(seconds=30)
    assert _check(db, throttle) == Decision(False, 30)
    clock.advance(seconds=29.4)
    assert _check(db, throttle) == Decision(False, 1)
    clock.advance(seconds=0.1)
    assert _check(db, throttle).allowed


def test_each_lockout_lasts_twice_the_one_before_up_to_the_cap(
    db: Database, throttle: SignInThrottle, clock: Clock
) -> None:
    waits = []
    for _ in range(6):
        for _ in range(4):
            assert _fail(db, throttle).allowed
        decision = _fail(db, throttle)
        assert not decision.allowed
        waits.append(decision.retry_after)
        clock.advance(seconds=decision.retry_after)
        assert _check(db, throttle).allowed
    assert waits == [60, 120, 240, 480, 600, 600]


def test_failures_in_an_old_window_are_not_counted(
    db: Database, throttle: SignInThrottle, clock: Clock
) -> None:
    for _ in range(4):
        _fail(db, throttle)
    clock.advance(minutes=15)
    for _ in range(4):
        assert _fail(db, throttle).allowed
    assert not _fail(db, throttle).allowed


def test_a_key_quiet_for_a_day_starts_over(
    db: Database, throttle: SignInThrottle, clock: Clock
) -> None:
    for _ in range(10):
        _fail(db, throttle)  # two lockouts: the next would be 4 minutes
    clock.advance(hours=24)
    for _ in range(4):
        assert _fail(db, throttle).allowed
    assert _fail(db, throttle) == Decision(False, 60)
    (row,) = _rows(db)
    assert (row["lockouts"], row["failures_total"]) == (1, 5)


def test_success_resets_the_account_but_not_the_address(
    db: Database, throttle: SignInThrottle
) -> None:
    for _ in range(4):
        _fail(db, throttle, address="203.0.113.7")
    with db.writer.begin() as conn:
        throttle.succeeded(conn, account="acct")
    for _ in range(4):
        assert _fail(db, throttle, address="203.0.113.7").allowed
    rows = {r["scope"]: r for r in _rows(db)}
    assert rows["address"]["failures_total"] == 8
    assert rows["account"]["failures_total"] == 4


def test_one_address_failing_on_many_accounts_is_locked(
    db: Database, throttle: SignInThrottle
) -> None:
    for n in range(19):
        assert _fail(db, throttle, account=f"acct{n}", address="203.0.113.7").allowed
    assert _fail(db, throttle, account="acct19", address="203.0.113.7") == Decision(False, 300)
    # Any account, from that address; the address's lockout is the longer one.
    assert _check(db, throttle, account="fresh", address="203.0.113.7") == Decision(False, 300)
    assert _check(db, throttle, account="fresh", address="198.51.100.1").allowed
    assert _check(db, throttle, account="fresh", address=None).allowed


def test_the_longer_of_two_lockouts_is_the_answer(
    db: Database, throttle: SignInThrottle, clock: Clock
) -> None:
    for n in range(20):
        _fail(db, throttle, account=f"acct{n}", address="203.0.113.7")
    for _ in range(5):
        _fail(db, throttle, account="target")
    clock.advance(seconds=10)
    assert _check(db, throttle, account="target") == Decision(False, 50)
    assert _check(db, throttle, account="target", address="203.0.113.7") == Decision(False, 290)


def test_keys_are_stored_as_keyed_hashes(db: Database, throttle: SignInThrottle) -> None:
    for _ in range(5):
        _fail(db, throttle, account="jane@example.com", address="203.0.113.7")
    rows = _rows(db)
    assert {r["scope"] for r in rows} == {"account", "address"}
    for row in rows:
        text = " ".join(str(v) for v in row.values())
        assert "203.0.113.7" not in text and "jane" not in text
        assert len(str(row["key_hash"])) == 64
    # Under another secret the same key is another row: guessing keys needs the secret.
    other = SignInThrottle(b"another-secret-of-32-bytes-long!", account=ACCOUNT, address=ADDRESS)
    with db.reader.begin() as conn:
        assert other.check(conn, account="jane@example.com", address="203.0.113.7").allowed
    assert not _check(db, throttle, account="jane@example.com").allowed


def test_concurrent_failures_from_many_threads_are_all_counted(
    db: Database, throttle: SignInThrottle
) -> None:
    threads = 20
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def fail_once() -> None:
        try:
            barrier.wait(timeout=10)
            _fail(db, throttle, account="acct", address="203.0.113.7")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=fail_once) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert errors == []
    rows = {r["scope"]: r for r in _rows(db)}
    # 20 failures: four lockouts of the account (every fifth), one of the address.
    assert rows["account"]["failures_total"] == 20
    assert (rows["account"]["lockouts"], rows["account"]["failures"]) == (4, 0)
    assert rows["address"]["failures_total"] == 20
    assert (rows["address"]["lockouts"], rows["address"]["failures"]) == (1, 0)
    assert _check(db, throttle) == Decision(False, 480)


def test_forgotten_unlocked_keys_are_purged(
    db: Database, throttle: SignInThrottle, clock: Clock
) -> None:
    _fail(db, throttle, account="old", address="203.0.113.7")
    clock.advance(hours=23)
    _fail(db, throttle, account="recent")
    clock.advance(hours=1)
    with db.writer.begin() as conn:
        assert throttle.purge(conn) == 2  # "old" and the address; "recent" is 1 h old
    assert len(_rows(db)) == 1


def test_a_long_lockout_outlives_the_forgetting(db: Database, clock: Clock) -> None:
    long = ThrottlePolicy(
        max_failures=1,
        lockout=timedelta(hours=48),
        max_lockout=timedelta(hours=48),
        forget_after=timedelta(hours=24),
    )
    throttle = Throttle("account", long, SECRET, clock=clock)
    with db.writer.begin() as conn:
        assert throttle.failure(conn, "k") == Decision(False, 48 * 3600)
    clock.advance(hours=25)
    with db.writer.begin() as conn:
        assert throttle.purge(conn) == 0
        assert throttle.check(conn, "k") == Decision(False, 23 * 3600)


def test_policies_and_secrets_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_failures"):
        ThrottlePolicy(max_failures=0)
    with pytest.raises(ValueError, match="positive"):
        ThrottlePolicy(window=timedelta(0))
    with pytest.raises(ValueError, match="max_lockout"):
        ThrottlePolicy(lockout=timedelta(hours=2), max_lockout=timedelta(hours=1))
    with pytest.raises(ValueError, match="16 bytes"):
        SignInThrottle(b"short")
    assert ThrottlePolicy().lockouts() == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]

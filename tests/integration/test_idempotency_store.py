"""Idempotency records on each backend: claims, replays, crashed holders and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from checkout.db.engine import make_database
from checkout.db.tables import utcnow
from checkout.services.uow import UnitOfWork
from checkout.store import idempotency as store


@pytest.fixture
def uow(db_url: str):  # type: ignore[no-untyped-def]
    db = make_database(db_url, pool_size=2)
    u = UnitOfWork(db)
    yield u
    u.close()
    db.dispose()


def _claim(uow: UnitOfWork, key: str = "k", body: str = "h1") -> store.Claim:
    with uow.write() as conn:
        return store.claim(conn, "actor", key, body)


def test_first_claim_is_new_then_in_flight_then_replay(uow: UnitOfWork) -> None:
    assert _claim(uow).outcome == "new"
    assert _claim(uow).outcome == "in_flight"
    with uow.write() as conn:
        store.finish(conn, "actor", "k", 201, b"ciphertext")
    replay = _claim(uow)
    assert (replay.outcome, replay.status, bytes(replay.response_enc or b"")) == (
        "replay",
        201,
        b"ciphertext",
    )
    assert _claim(uow, body="h2").outcome == "mismatch"


def test_a_claim_left_by_a_crashed_request_can_be_taken_over(uow: UnitOfWork) -> None:
    assert _claim(uow).outcome == "new"
    with uow.write() as conn:
        conn.execute(
            sa.text("UPDATE idempotency_keys SET locked_until = :t"),
            {"t": utcnow() - timedelta(seconds=1)},
        )
    assert _claim(uow, body="h2").outcome == "new"
    assert _claim(uow, body="h2").outcome == "in_flight"


def test_keys_older_than_a_day_start_afresh_and_are_purged(uow: UnitOfWork) -> None:
    assert _claim(uow).outcome == "new"
    with uow.write() as conn:
        store.finish(conn, "actor", "k", 201, b"x")
        conn.execute(
            sa.text("UPDATE idempotency_keys SET created_at = :t"),
            {"t": utcnow() - timedelta(hours=25)},
        )
    assert _claim(uow, body="other").outcome == "new"
    with uow.write() as conn:
        conn.execute(
            sa.text("UPDATE idempotency_keys SET created_at = :t"),
            {"t": utcnow() - timedelta(hours=25)},
        )
        assert store.purge_expired(conn) == 1
    assert _claim(uow).outcome == "new"


def test_release_frees_an_in_flight_key_only(uow: UnitOfWork) -> None:
    assert _claim(uow).outcome == "new"
    with uow.write() as conn:
        store.release(conn, "actor", "k")
    assert _claim(uow).outcome == "new"
    with uow.write() as conn:
        store.finish(conn, "actor", "k", 200, b"x")
        store.release(conn, "actor", "k")
    assert _claim(uow).outcome == "replay"

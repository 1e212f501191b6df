"""The audit log's hash chain on both backends: an intact chain verifies, and
``checkout audit verify`` names the first row after an edit, a deletion or a swap;
concurrent appenders never fork it; rows written before the chain are chained by the
migration."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from checkout.db.engine import make_database
from checkout.db.migrate import upgrade
from checkout.domain.audit_chain import GENESIS
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from tests.conftest import PG_URL, _pg_url_with_schema
from tests.e2e.served import CHECKOUT


def _append(uow: UnitOfWork, n: int, who: str = "t") -> None:
    for i in range(n):
        with uow.write() as conn:
            audit.record(
                conn,
                audit.Actor("system", None, f"req-{who}-{i}"),
                audit.AuditEvent("test.event", "order", f"ord_{who}{i}", {"n": i}),
            )


@pytest.fixture
def uow(db_url: str) -> Iterator[UnitOfWork]:
    db = make_database(db_url, pool_size=12)
    unit = UnitOfWork(db)
    yield unit
    unit.close()
    db.dispose()


def _verify_cli(db_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKOUT_")}
    env.update(DATABASE_URL=db_url, CHECKOUT_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run(
        [CHECKOUT, "audit", "verify"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ids(uow: UnitOfWork) -> list[int]:
    with uow.read() as conn:
        return [
            int(i)
            for i in conn.execute(sa.text("SELECT id FROM audit_events ORDER BY id")).scalars()
        ]


def test_an_intact_chain_verifies_and_the_cli_prints_the_count(
    uow: UnitOfWork, db_url: str, tmp_path: Path
) -> None:
    with uow.read() as conn:
        assert audit.verify(conn).intact and audit.head(conn) == GENESIS
    _append(uow, 5)
    with uow.read() as conn:
        report = audit.verify(conn)
        first = next(audit.in_chain_order(conn))
    assert report.intact and report.events == 5
    assert first.prev_hash == GENESIS
    done = _verify_cli(db_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"audit chain intact: 5 events, head {report.head}" in done.stdout


def test_an_edited_row_breaks_the_chain_at_that_row(
    uow: UnitOfWork, db_url: str, tmp_path: Path
) -> None:
    _append(uow, 5)
    ids = _ids(uow)
    with uow.write() as conn:
        conn.execute(
            sa.text("UPDATE audit_events SET target_id = 'ord_other' WHERE id = :id"),
            {"id": ids[2]},
        )
    done = _verify_cli(db_url, tmp_path)
    assert done.returncode == 1
    assert f"broken at event {ids[2]}: its fields do not match its hash" in done.stderr


def test_an_edit_that_recomputes_the_hash_breaks_the_next_row(uow: UnitOfWork) -> None:
    from checkout.domain.audit_chain import chain_hash

    _append(uow, 4)
    with uow.write() as conn:
        events = list(audit.in_chain_order(conn))
        forged = audit.StoredEvent(
            **{**{f: getattr(events[1], f) for f in events[1].__slots__}, "target_id": "ord_x"}
        )
        conn.execute(
            sa.text("UPDATE audit_events SET target_id = 'ord_x', hash = :h WHERE id = :id"),
            {"h": chain_hash(forged.fields(), forged.prev_hash), "id": events[1].id},
        )
        report = audit.verify(conn)
    assert report.broken == audit.ChainBreak(events[2].id, "does not follow the event before it")
    assert report.events == 2


def test_a_deleted_row_breaks_the_chain_at_the_row_after_it(
    uow: UnitOfWork, db_url: str, tmp_path: Path
) -> None:
    _append(uow, 5)
    ids = _ids(uow)
    with uow.write() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    done = _verify_cli(db_url, tmp_path)
    assert done.returncode == 1
    assert f"broken at event {ids[2]}: does not follow the event before it" in done.stderr
    # Deleting the first row is caught as well: the new first does not chain from genesis.
    with uow.write() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[0]})
        assert audit.verify(conn).broken == audit.ChainBreak(
            ids[2], "does not follow the event before it"
        )


def test_swapped_rows_break_the_chain(uow: UnitOfWork, db_url: str, tmp_path: Path) -> None:
    _append(uow, 5)
    ids = _ids(uow)
    a, b = ids[1], ids[3]
    with uow.write() as conn:
        # Swap the two rows' positions (ids) through a free id.
        conn.execute(sa.text("UPDATE audit_events SET id = -1 WHERE id = :a"), {"a": a})
        conn.execute(sa.text("UPDATE audit_events SET id = :a WHERE id = :b"), {"a": a, "b": b})
        conn.execute(sa.text("UPDATE audit_events SET id = :b WHERE id = -1"), {"b": b})
    done = _verify_cli(db_url, tmp_path)
    assert done.returncode == 1
    assert f"broken at event {a}: does not follow the event before it" in done.stderr


def test_concurrent_appenders_keep_one_chain(uow: UnitOfWork) -> None:
    """Eight writers (threads with their own connections; on PostgreSQL, real concurrent
    transactions) append at once: every event lands, in one unforked chain."""
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            _append(uow, 15, name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with uow.read() as conn:
        report = audit.verify(conn)
        prevs = conn.execute(sa.text("SELECT COUNT(DISTINCT prev_hash) FROM audit_events"))
        distinct_prev = prevs.scalar_one()
    assert report.intact, report
    assert report.events == 8 * 15 == distinct_prev


def test_a_fork_is_refused_by_the_database(uow: UnitOfWork) -> None:
    _append(uow, 1)
    with uow.write() as conn:
        row = conn.execute(sa.text("SELECT * FROM audit_events")).mappings().one()
    with pytest.raises(sa.exc.IntegrityError), uow.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_events (occurred_at, actor_type, action, target_type,"
                " target_id, prev_hash, hash) VALUES (:at, 'system', 'forged', 'order',"
                " 'ord_x', :prev, :h)"
            ),
            {"at": row["occurred_at"], "prev": row["prev_hash"], "h": "f" * 64},
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_chains_events_written_before_it(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL not configured")
        schema = f"checkout_mig_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url, cleanup = _pg_url_with_schema(PG_URL, schema), (admin, schema)
    db = make_database(url, pool_size=1)
    zone = "+00:00" if db.is_postgres else ""
    try:
        upgrade(db.engine, "0008")
        with db.engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    sa.text(
                        "INSERT INTO audit_events (occurred_at, actor_type, action,"
                        " target_type, target_id, details) VALUES (:at, 'system',"
                        " 'customer.erased', 'customer', :t, :d)"
                    ),
                    {
                        "at": f"2026-12-0{i + 1} 10:00:00.123456{zone}",
                        "t": f"cus_{i}",
                        "d": '{"orders": 2}',
                    },
                )
        upgrade(db.engine)
        with db.engine.connect() as conn:
            report = audit.verify(conn)
            assert report.intact and report.events == 3
        # New events follow the migrated ones.
        with db.engine.begin() as conn:
            audit.record(conn, audit.Actor("cli"), audit.AuditEvent("x.y", "order", "ord_1"))
        with db.engine.connect() as conn:
            assert audit.verify(conn).events == 4
    finally:
        db.dispose()
        if cleanup is not None:
            admin, schema = cleanup
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

"""Engine construction, with the per-dialect settings that matter for correctness.

Two facades share one pool: ``Database.reader`` for read-only units of work and
``Database.writer`` for those that write. On SQLite the writer takes the write lock at
BEGIN (``BEGIN IMMEDIATE``): a deferred transaction that reads and then writes fails with
SQLITE_BUSY under contention instead of waiting its turn, and readers must not queue
behind writers, which is why reads keep a plain BEGIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import ConnectionPoolEntry

from checkout.db.checkpoint import WalCheckpointer

_WRITE = "checkout_write"


@dataclass(frozen=True)
class Database:
    engine: Engine
    reader: Engine
    writer: Engine
    checkpointer: WalCheckpointer | None = field(default=None, repr=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def make_database(url: str, *, pool_size: int = 10) -> Database:
    engine = make_engine(url, pool_size=pool_size)
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    # A file-backed SQLite database checkpoints off the event loop (checkout/db/checkpoint.py).
    checkpointer = WalCheckpointer(path) if path and path != ":memory:" else None
    return Database(engine, engine, engine.execution_options(**{_WRITE: True}), checkpointer)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if not url.startswith("sqlite"):
        parsed = sa.engine.make_url(url)
        # A database host that does not answer (down, or its network gone) would otherwise
        # hold each connect for the kernel's TCP timeout, minutes, with the request waiting
        # on it: give up after a few seconds and answer 503 instead (checkout/db/outage.py).
        # A timeout named in the URL wins.
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 5}
        return sa.create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            # A connection the database dropped (a restart) is found by the ping before use
            # and replaced, so the first request after a restart does not fail on it.
            pool_pre_ping=True,
            pool_timeout=10,
            connect_args=connect_args,
            json_serializer=_json_text,
            json_deserializer=orjson.loads,
        )
    engine = sa.create_engine(
        url,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
        connect_args={"check_same_thread": False, "timeout": 15},
        # No overflow: a connection opened past the pool would be closed on return, and
        # each new one pays its PRAGMAs; waiting briefly for a pooled one is cheaper.
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's begin event below issue BEGIN itself; pysqlite's implicit one
        # cannot be made IMMEDIATE (SQLAlchemy docs, pysqlite "Serializable isolation").
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # WAL lets readers run beside the one writer; NORMAL survives an application
        # crash, which is the failure a single-file deployment has to survive.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")
        # Checkpoints run on a thread of their own (Database.checkpointer), never in a
        # COMMIT on the event loop.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        # When a writer starts the log over (after the checkpointer's RESTART), a log
        # that a burst grew past this is cut back to it, not kept at its largest.
        cur.execute("PRAGMA journal_size_limit=67108864")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        # Straight to the driver: this runs for every transaction, and SQLAlchemy's own
        # statement machinery would cost more than the BEGIN itself.
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # type: ignore[union-attr]

    return engine

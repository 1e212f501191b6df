"""Units of work: a connection in a transaction that commits only when the block ends
cleanly, and the choice of where blocking database work runs.

- PostgreSQL: on a worker thread, with a pooled connection per unit of work, since every
  statement waits on the network.
- SQLite: inline on the event loop, on connections each thread keeps open. A statement on
  a local file takes tens of microseconds; a thread hop costs several times that (about
  280 us on the benchmark machine), and so does checking a connection out of the pool and
  back (an empty transaction: 80 us pooled, 30 us on a kept connection). WAL readers never
  wait; the one wait left, another process holding the write lock, is bounded by the busy
  timeout. Writers take turns on an in-process lock before they BEGIN, so writers on other
  threads (the CLI, tests) queue fairly instead of sleeping in SQLite's busy handler with
  back-off while the lock sits idle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine

from checkout.db.engine import Database

T = TypeVar("T")


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._inline = not db.is_postgres
        self._write_turn = threading.Lock()
        self._local = threading.local()
        self._kept: list[Connection] = []
        self._kept_lock = threading.Lock()

    def _kept_connection(self, kind: str, engine: Engine) -> Connection:
        conn: Connection | None = getattr(self._local, kind, None)
        if conn is None or conn.closed or conn.invalidated:
            conn = engine.connect()
            setattr(self._local, kind, conn)
            with self._kept_lock:
                self._kept.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if not self._inline:
            with self.db.writer.begin() as conn:
                yield conn
            return
        with self._write_turn:
            conn = self._kept_connection("writer", self.db.writer)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        if not self._inline:
            with self.db.reader.begin() as conn:
                yield conn
            return
        conn = self._kept_connection("reader", self.db.reader)
        with conn.begin():
            yield conn

    @property
    def is_postgres(self) -> bool:
        return self.db.is_postgres

    async def run(self, fn: Callable[[], T]) -> T:
        """Run a unit of database work where it costs least (see the module docstring)."""
        if self._inline:
            return fn()
        return await anyio.to_thread.run_sync(fn)

    def close(self) -> None:
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for conn in kept:
            conn.close()

"""Units of work: a connection in a transaction that commits only when the block ends
cleanly, and the thread hop that keeps blocking database work off the event loop.

Where the work runs depends on the database:

- PostgreSQL: on a worker thread, since every statement waits on the network.
- SQLite: inline on the event loop. A statement on a local file takes tens of
  microseconds, a thread hop several times that (about 280 us on the benchmark machine
  against 130 us for a whole empty write transaction), and WAL readers never wait. The
  one wait left, another process holding the write lock, is bounded by the busy timeout.
  Writers still take turns on an in-process lock before they BEGIN, so a future caller
  from a thread (the CLI, the worker) queues fairly instead of sleeping in SQLite's busy
  handler with back-off while the lock sits idle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Connection

from checkout.db.engine import Database

T = TypeVar("T")


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._write_turn: threading.Lock | None = None if db.is_postgres else threading.Lock()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._write_turn or nullcontext(), self.db.writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.db.reader.begin() as conn:
            yield conn

    async def run(self, fn: Callable[[], T]) -> T:
        """Run a unit of database work where it costs least (see the module docstring)."""
        if self._write_turn is not None:
            return fn()
        return await anyio.to_thread.run_sync(fn)

"""Units of work: a session that commits only when the block finishes cleanly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session

from checkout.db.engine import Database

T = TypeVar("T")


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def write(self) -> Iterator[Session]:
        with Session(self.db.writer, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.db.reader) as session, session.begin():
            yield session

    async def run(self, fn: Callable[[], T]) -> T:
        """Run blocking database work off the event loop."""
        return await anyio.to_thread.run_sync(fn)

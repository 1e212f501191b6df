"""Group commit: rows that arrive together are written in one transaction.

Each caller awaits its own row's result, which it gets only after the transaction that
holds its row has committed, so an answer still means "stored". Under load, every
delivery read in one turn of the event loop (and, while a transaction is running, every
one that arrives meanwhile) shares the next transaction: the BEGIN and the COMMIT, and on
PostgreSQL the thread hop and the round trips, are paid once per group instead of once
per row. A group whose transaction fails is written again row by row, so one bad row
fails only its own caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Connection

from webhooks.transactions import Transactions

Row = TypeVar("Row")
Result = TypeVar("Result")

MAX_GROUP = 200  # rows per transaction; the rest wait for the next one


class GroupCommit(Generic[Row, Result]):
    def __init__(
        self,
        tx: Transactions,
        write: Callable[[Connection, Row], Result],
        write_many: Callable[[Connection, list[Row]], list[Result]] | None = None,
    ) -> None:
        self._tx = tx
        self._write = write
        # One statement for the whole group, where the writer can: a row at a time costs
        # more in statement execution than the commit saves.
        self._write_many = write_many
        self._waiting: list[tuple[Row, asyncio.Future[Result]]] = []
        self._scheduled = False
        self._task: asyncio.Task[None] | None = None

    async def submit(self, row: Row) -> Result:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((row, done))
        if not self._scheduled:
            self._scheduled = True
            # After the callbacks already due: the other requests read in this turn of
            # the loop submit theirs first.
            loop.call_soon(self._start)
        return await done

    def _start(self) -> None:
        # The loop keeps only a weak reference to tasks; this one must finish its groups.
        self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                await self._commit(group)
        finally:
            self._scheduled = False

    async def _commit(self, group: list[tuple[Row, asyncio.Future[Result]]]) -> None:
        rows = [row for row, _ in group]

        def together() -> list[Result]:
            with self._tx.write() as conn:
                if self._write_many is not None and len(rows) > 1:
                    return self._write_many(conn, rows)
                return [self._write(conn, row) for row in rows]

        try:
            results = await self._tx.run(together)
        except Exception as exc:
            if len(group) == 1:
                _answer(group[0][1], error=exc)
                return
            for one in group:  # one by one: a bad row fails only its own caller
                await self._commit([one])
            return
        for (_, done), result in zip(group, results, strict=True):
            _answer(done, result=result)


def _answer(
    done: asyncio.Future[Result], *, result: Result | None = None, error: Exception | None = None
) -> None:
    if done.done():  # the caller went away (a client that hung up)
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)  # type: ignore[arg-type]

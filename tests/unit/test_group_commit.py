"""Group commit: rows submitted together share a transaction; a bad row fails only its own
caller; nobody is answered before the transaction holding their row committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import pytest

from webhooks.group_commit import GroupCommit

pytestmark = pytest.mark.anyio
T = TypeVar("T")


class FakeTransactions:
    """Records each transaction's rows; a transaction fails if it holds a "bad" row."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self._open: list[str] | None = None
        self.in_flight = anyio.Event()
        self.release: anyio.Event | None = None  # when set, transactions wait for it

    @contextmanager
    def write(self) -> Iterator[Any]:
        self._open = []
        yield self
        if "bad" in self._open:
            self._open = None
            raise RuntimeError("constraint violated")
        self.committed.append(self._open)
        self._open = None

    def read(self) -> Any:
        raise NotImplementedError

    async def run(self, fn: Callable[[], T]) -> T:
        self.in_flight.set()
        await anyio.sleep(0)  # a thread hop's worth of waiting, as on PostgreSQL
        if self.release is not None:
            await self.release.wait()
        return fn()

    @property
    def is_postgres(self) -> bool:
        return True

    def insert(self, conn: Any, row: str) -> str:
        assert self._open is not None, "written outside a transaction"
        self._open.append(row)
        return row.upper()


async def test_rows_submitted_together_share_one_transaction() -> None:
    tx = FakeTransactions()
    group: GroupCommit[str, str] = GroupCommit(tx, tx.insert)
    results: dict[str, str] = {}

    async def submit(row: str) -> None:
        results[row] = await group.submit(row)

    async with anyio.create_task_group() as tg:
        for row in ("a", "b", "c"):
            tg.start_soon(submit, row)

    assert results == {"a": "A", "b": "B", "c": "C"}
    assert tx.committed == [["a", "b", "c"]]


async def test_a_bad_row_fails_only_its_own_caller() -> None:
    tx = FakeTransactions()
    group: GroupCommit[str, str] = GroupCommit(tx, tx.insert)
    outcomes: dict[str, str] = {}

    async def submit(row: str) -> None:
        try:
            outcomes[row] = await group.submit(row)
        except RuntimeError as exc:
            outcomes[row] = f"failed: {exc}"

    async with anyio.create_task_group() as tg:
        for row in ("a", "bad", "c"):
            tg.start_soon(submit, row)

    assert outcomes == {"a": "A", "bad": "failed: constraint violated", "c": "C"}
    assert tx.committed == [["a"], ["c"]]


async def test_rows_arriving_during_a_transaction_go_into_the_next_one() -> None:
    tx = FakeTransactions()
    tx.release = anyio.Event()
    group: GroupCommit[str, str] = GroupCommit(tx, tx.insert)

    async def late_ones() -> None:
        await tx.in_flight.wait()  # the first transaction is under way
        async with anyio.create_task_group() as tg:
            tg.start_soon(group.submit, "late 1")
            tg.start_soon(group.submit, "late 2")
            await anyio.sleep(0)
            assert tx.release is not None
            tx.release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(group.submit, "first")
        tg.start_soon(late_ones)

    assert tx.committed == [["first"], ["late 1", "late 2"]]

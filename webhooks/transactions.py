"""What the inbox needs from the database, as the composition root hands it in.

``checkout.services.uow.UnitOfWork`` satisfies this; the webhooks package never imports
the checkout package (DESIGN.md's import table).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")


class Transactions(Protocol):
    def write(self) -> AbstractContextManager[Connection]: ...

    def read(self) -> AbstractContextManager[Connection]: ...

    async def run(self, fn: Callable[[], T]) -> T: ...

    @property
    def is_postgres(self) -> bool: ...

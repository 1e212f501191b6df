"""Reading and proving the audit log (appends happen in each use case's own transaction,
through ``checkout.store.audit.record``)."""

from __future__ import annotations

from checkout.services.uow import UnitOfWork
from checkout.store import audit


class AuditLog:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def __repr__(self) -> str:
        return "AuditLog()"

    async def page(
        self, *, limit: int, starting_after: int | None
    ) -> tuple[list[audit.StoredEvent], bool]:
        def work() -> tuple[list[audit.StoredEvent], bool]:
            with self._uow.read() as conn:
                return audit.newest_first(conn, limit=limit, starting_after=starting_after)

        return await self._uow.run(work)

    def verify(self) -> audit.ChainReport:
        """Walk the whole chain (blocking; for the CLI)."""
        with self._uow.read() as conn:
            return audit.verify(conn)

"""A customer's record read by an integration (``customers:read``): decrypted, and the
read written to the audit log in the same unit of work (who and which request; never
a value)."""

from __future__ import annotations

from checkout.services.errors import NotFoundError
from checkout.services.uow import UnitOfWork
from checkout.store import audit
from customers.accounts import Customer, Customers
from customers.vault import Vault


class CustomerRecords:
    def __init__(self, uow: UnitOfWork, vault: Vault) -> None:
        self._uow = uow
        self._customers = Customers(vault)

    async def read(self, customer_id: str, actor: audit.Actor) -> Customer:
        def work() -> Customer:
            with self._uow.read() as conn:
                found = self._customers.get(conn, customer_id)
            if found is None:  # unknown and erased alike
                raise NotFoundError("No such customer.")
            with self._uow.write() as conn:
                audit.record(
                    conn,
                    actor,
                    audit.AuditEvent(
                        action="customer.pii_read",
                        target_type="customer",
                        target_id=customer_id,
                        details={"fields": ["email", "name", "phone", "addresses"]},
                    ),
                )
            return found

        return await self._uow.run(work)

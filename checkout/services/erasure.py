"""Erasing a customer (API.md, "ERASURE"): ``DELETE /v1/me`` and ``checkout customers
erase``.

One transaction nulls every personal field held about the customer (customer row,
their checkouts and orders, queued emails, verification tokens, the email's blind
index), deletes their saved methods, ends their sessions, writes an audit record (ids
and counts, no values) and queues the steps that live elsewhere: destroying the
customer's data keys in the key store, detaching each saved token and deleting the
provider customer. Those steps run at once after the commit and, whatever fails
(a crash, the provider down), again from the worker until done, so an erasure is
never left half done. Amounts, lines and payment ids stay for accounting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from checkout.services.errors import NotFoundError
from checkout.services.uow import UnitOfWork
from checkout.store import audit, erasure_tasks
from checkout.store import erasure as store
from checkout.store import payment_methods as pm_store
from checkout.store.erasure_tasks import ErasureTask
from customers.sessions import Sessions
from customers.vault import Vault
from providers.base import ProviderError, ProviderRejected, ProviderUnavailable, SavedMethods

log = logging.getLogger("checkout.erasure")

Clock = Callable[[], datetime]

# A claimed step may be waiting on the provider's retries; past this it is tried again.
_LEASE = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ErasureDone:
    customer_id: str
    # Steps outside the main database still waiting (the provider did not answer).
    pending_steps: int


class ErasureService:
    def __init__(
        self,
        uow: UnitOfWork,
        vault: Vault,
        sessions: Sessions,
        providers: Mapping[str, SavedMethods],
        *,
        clock: Clock = _now,
    ) -> None:
        self._uow = uow
        self._vault = vault
        self._sessions = sessions
        self._providers = providers
        self._clock = clock

    def __repr__(self) -> str:
        return "ErasureService()"

    async def erase(self, customer_id: str, actor: audit.Actor) -> ErasureDone:
        """Erase a customer; erasing one already erased finishes what is left."""

        def scrub() -> bool:
            now = self._clock()
            with self._uow.write() as conn:
                found = store.lock_customer(conn, customer_id)
                if found is None:
                    return False
                already, stripe_customer = found
                counts = store.scrub_customer(conn, customer_id, now=now)
                counts["sessions"] = self._sessions.revoke_all(conn, customer_id)
                methods = pm_store.delete_all(conn, customer_id)
                counts["payment_methods"] = len(methods)
                for m in methods:
                    erasure_tasks.enqueue(conn, erasure_tasks.DETACH_METHOD, m.provider, m.token)
                if stripe_customer is not None:
                    erasure_tasks.enqueue(
                        conn, erasure_tasks.DELETE_PROVIDER_CUSTOMER, "stripe", stripe_customer
                    )
                erasure_tasks.enqueue(
                    conn, erasure_tasks.DESTROY_KEYS, erasure_tasks.VAULT, customer_id
                )
                if not already:
                    audit.record(
                        conn,
                        actor,
                        audit.AuditEvent("customer.erased", "customer", customer_id, counts),
                    )
                return True

        if not await self._uow.run(scrub):
            raise NotFoundError("No such customer.")
        await self.run_once()

        def left() -> int:
            with self._uow.read() as conn:
                return erasure_tasks.pending(conn)

        return ErasureDone(customer_id, await self._uow.run(left))

    async def run_once(self, limit: int = 50) -> int:
        """Run the due erasure steps (the worker calls this each pass); how many finished."""

        def claim() -> list[ErasureTask]:
            with self._uow.write() as conn:
                return erasure_tasks.claim(conn, now=self._clock(), lease=_LEASE, limit=limit)

        finished = 0
        for task in await self._uow.run(claim):
            error = await self._step(task)

            def settle(task: ErasureTask = task, error: str | None = error) -> None:
                with self._uow.write() as conn:
                    if error is None:
                        erasure_tasks.done(conn, task.id)
                    else:
                        erasure_tasks.failed(conn, task, error, now=self._clock())

            await self._uow.run(settle)
            finished += error is None
        return finished

    async def _step(self, task: ErasureTask) -> str | None:
        """Do one step; None when done, else why not (an error type, never a message)."""
        if task.kind == erasure_tasks.DESTROY_KEYS:
            self._vault.forget(task.ref)
            return None
        provider = self._providers.get(task.provider)
        if provider is None:
            log.error("erasure step for a provider not configured", extra={"task": task.id})
            return "provider_not_configured"
        try:
            if task.kind == erasure_tasks.DETACH_METHOD:
                await provider.detach(task.ref)
            elif task.kind == erasure_tasks.DELETE_PROVIDER_CUSTOMER:
                await provider.delete_customer(task.ref)
            else:
                return "unknown_step"
        except ProviderUnavailable as exc:
            log.warning("erasure step deferred: provider unavailable", extra={"task": task.id})
            return type(exc).__name__
        except ProviderRejected:
            # Detach and delete succeed when already done; a token or customer the
            # provider does not know holds nothing that could pay.
            log.warning(
                "erasure step refused by the provider; nothing left there", extra={"task": task.id}
            )
            return None
        except ProviderError as exc:
            log.error("erasure step failed", extra={"task": task.id})
            return type(exc).__name__
        return None

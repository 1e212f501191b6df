"""Reconciliation: payments left unsettled are settled by asking the provider.

Webhooks can be late, lost, or never configured; this pass does not depend on them.

- It first reads the providers' event lists since where it last stopped
  (``webhooks/catchup.py``) into the webhook inbox, so events no webhook brought are
  applied by the worker like delivered ones. That is the only way to learn of a change to
  a payment that looks settled here: captured or refunded in the provider's dashboard.
- Every payment still ``processing`` or ``requires_action`` after ``older_than`` is looked
  up at its provider and the answer applied through the state machine; a charge whose
  outcome never reached us (no provider reference) is re-sent under its own key once its
  lease has run out, which the provider answers with what it already did.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from checkout.db.tables import PaymentRow, utcnow
from checkout.domain.payment import PaymentStatus
from checkout.services.errors import PaymentDeclined, ServiceError
from checkout.services.payments import PaymentService
from checkout.services.uow import UnitOfWork
from providers.base import PaymentProvider, ProviderError
from webhooks.catchup import EventCatchUp

log = logging.getLogger("checkout.reconciliation")
_PAY: sa.Table = PaymentRow.__table__  # type: ignore[attr-defined]
_UNSETTLED = ("processing", "requires_action")


@dataclass
class Report:
    checked: int = 0
    changed: dict[str, str] = field(default_factory=dict)  # payment id -> "old -> new"
    failed: int = 0
    # Events read from provider lists that no webhook had brought, now in the inbox.
    events_recovered: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "changed": dict(self.changed),
            "failed": self.failed,
            "events_recovered": self.events_recovered,
        }


class Reconciler:
    def __init__(
        self,
        uow: UnitOfWork,
        payments: PaymentService,
        providers: Mapping[str, PaymentProvider],
        *,
        catch_up: EventCatchUp | None = None,
        batch: int = 200,
    ) -> None:
        self._uow = uow
        self._payments = payments
        self._providers = providers
        self._catch_up = catch_up
        self._batch = batch

    async def run_once(self, older_than: timedelta = timedelta(minutes=10)) -> Report:
        cutoff = utcnow() - older_than

        def due() -> list[tuple[str, str, str | None, str]]:
            with self._uow.read() as conn:
                rows = conn.execute(
                    sa.select(_PAY.c.id, _PAY.c.provider, _PAY.c.provider_ref, _PAY.c.status)
                    .where(_PAY.c.status.in_(_UNSETTLED), _PAY.c.updated_at < cutoff)
                    .order_by(_PAY.c.updated_at)
                    .limit(self._batch)
                )
                return [(r[0], r[1], r[2], r[3]) for r in rows]

        report = Report()
        if self._catch_up is not None:
            caught = await self._catch_up.run_once()
            report.events_recovered = caught.recovered
            report.failed += caught.failed
        for payment_id, provider_name, ref, before in await self._uow.run(due):
            report.checked += 1
            provider = self._providers.get(provider_name)
            if provider is None:
                continue
            try:
                if ref is None:
                    after = await self._payments.resume(payment_id)
                else:
                    after = await self._payments.settle(payment_id, await provider.fetch(ref))
            except PaymentDeclined:
                report.changed[payment_id] = f"{before} -> failed"
                continue
            except (ProviderError, ServiceError) as exc:
                report.failed += 1
                log.warning(
                    "reconciliation could not settle a payment",
                    extra={"payment_id": payment_id, "error_type": type(exc).__name__},
                )
                continue
            if after is not None and after.status != PaymentStatus(before):
                report.changed[payment_id] = f"{before} -> {after.status}"
        if report.changed:
            log.info("reconciliation settled payments", extra={"count": len(report.changed)})
        return report

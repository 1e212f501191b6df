"""What a verified provider event does to our payments (the inbox worker's handler).

An event is a prompt, not the truth: events arrive late, twice and out of order, so the
handler asks the provider for the payment's current state and applies that through the
forward-only state machine. Applying the same event again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from checkout.domain.payment import Payment
from checkout.services.payments import PaymentService
from checkout.services.uow import UnitOfWork
from checkout.store import payments as store
from providers.base import PaymentProvider, ProviderEvent
from webhooks.worker import Outcome

# Event types that can change a payment; others are recorded and left alone.
_RELEVANT_PREFIXES = ("payment_intent.", "charge.", "PAYMENT.", "CHECKOUT.ORDER.")


class ProviderEvents:
    def __init__(
        self,
        uow: UnitOfWork,
        payments: PaymentService,
        providers: Mapping[str, PaymentProvider],
    ) -> None:
        self._uow = uow
        self._payments = payments
        self._providers = providers

    async def apply(self, event: ProviderEvent) -> Outcome:
        if not event.type.startswith(_RELEVANT_PREFIXES):
            return Outcome.IGNORED
        provider = self._providers.get(event.provider)
        if provider is None:
            return Outcome.IGNORED

        def find() -> Payment | None:
            with self._uow.read() as conn:
                if event.payment_id:
                    found = store.load(conn, event.payment_id)
                    if found is not None and found.provider == event.provider:
                        return found
                if event.provider_ref:
                    return store.by_provider_ref(conn, event.provider, event.provider_ref)
                return None

        payment = await self._uow.run(find)
        ref = (payment.provider_ref if payment else None) or event.provider_ref
        if payment is None or ref is None:
            return Outcome.UNKNOWN_OBJECT
        current = await provider.fetch(ref)
        await self._payments.settle(payment.id, current)
        return Outcome.APPLIED

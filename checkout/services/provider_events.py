"""What a verified provider event does to our payments (the inbox worker's handler).

An event is a prompt, not the truth: events arrive late, twice and out of order, so the
handler asks the provider for the payment's current state and applies that through the
forward-only state machine. Applying the same event again changes nothing.

Most events bring nothing new by the time they are handled (a late or repeated delivery,
a change our own request already recorded): when the provider's state would not move the
payment as we read it, no write transaction is opened at all. That read may be stale, but
only behind the truth: payments move forward only, so a state that does not move the
older copy cannot move the newer one either. The same holds for the batch lookup
(:meth:`ProviderEvents.for_batch`): the payments a claimed batch is about are read in one
query before any of its events is handled, instead of one read per event.

Within a batch, the provider is asked about each object once: every event of the batch
was stored before the batch was claimed, and the provider sent it after the change it
announces, so any answer obtained after the claim already shows that change. Several
prompts about one payment that were waiting together need one look, not one each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from checkout.domain.payment import SECURED, Payment, PaymentStatus, advance
from checkout.services.payments import PaymentService
from checkout.services.uow import UnitOfWork
from checkout.store import payments as store
from providers.base import PaymentProvider, ProviderEvent, ProviderPayment
from webhooks.worker import Handler, Outcome

# Event types that can change a payment; others are recorded and left alone.
_RELEVANT_PREFIXES = ("payment_intent.", "charge.", "PAYMENT.", "CHECKOUT.ORDER.")


class Known:
    """What a batch has learnt so far: payments read (by our id and by (provider,
    reference)) and the provider's answers obtained since the batch was claimed."""

    def __init__(self, payments: Sequence[Payment] = ()) -> None:
        self._by_id: dict[str, Payment] = {}
        self._by_ref: dict[tuple[str, str], Payment] = {}
        self.answers: dict[tuple[str, str], ProviderPayment] = {}
        for payment in payments:
            self.keep(payment)

    def keep(self, payment: Payment) -> None:
        self._by_id[payment.id] = payment
        if payment.provider_ref:
            self._by_ref[(payment.provider, payment.provider_ref)] = payment

    def find(self, event: ProviderEvent) -> Payment | None:
        if event.payment_id:
            found = self._by_id.get(event.payment_id)
            if found is not None and found.provider == event.provider:
                return found
        if event.provider_ref:
            return self._by_ref.get((event.provider, event.provider_ref))
        return None


def _relevant(event: ProviderEvent) -> bool:
    return event.type.startswith(_RELEVANT_PREFIXES)


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
        """Handle one event, looking its payment up on its own."""
        return await self._apply(event, None)

    async def for_batch(self, events: Sequence[ProviderEvent]) -> Handler:
        """The handler for one claimed batch: its payments read in one query up front.
        Call it once the batch is claimed: the provider's answers it keeps serve only
        events stored before them."""
        wanted = [e for e in events if _relevant(e) and e.provider in self._providers]
        ids = {e.payment_id for e in wanted if e.payment_id}
        refs = {(e.provider, e.provider_ref) for e in wanted if e.provider_ref}

        def load() -> list[Payment]:
            with self._uow.read() as conn:
                return store.load_many(conn, ids, refs)

        known = Known(await self._uow.run(load) if wanted else [])
        return partial(self._apply, known=known)

    async def _apply(self, event: ProviderEvent, known: Known | None) -> Outcome:
        if not _relevant(event):
            return Outcome.IGNORED
        provider = self._providers.get(event.provider)
        if provider is None:
            return Outcome.IGNORED
        payment = known.find(event) if known is not None else None
        if payment is None:
            # Not in the batch's lookup (or no lookup): it may have been written since.
            payment = await self._uow.run(partial(self._find, event))
        ref = (payment.provider_ref if payment else None) or event.provider_ref
        if payment is None or ref is None:
            return Outcome.UNKNOWN_OBJECT
        current = known.answers.get((event.provider, ref)) if known is not None else None
        if current is None:
            current = await provider.fetch(ref)
            if known is not None:
                known.answers[(event.provider, ref)] = current
        if is_news(payment, current):
            settled = await self._payments.settle(payment.id, current)
            if known is not None:
                # A later event of the batch about this payment compares with this state.
                known.keep(settled)
        return Outcome.APPLIED

    def _find(self, event: ProviderEvent) -> Payment | None:
        with self._uow.read() as conn:
            if event.payment_id:
                found = store.load(conn, event.payment_id)
                if found is not None and found.provider == event.provider:
                    return found
            if event.provider_ref:
                return store.by_provider_ref(conn, event.provider, event.provider_ref)
            return None


# Settling rewrites these statuses' details (decline code, next action) from the provider,
# so they are always settled, not compared field by field.
_ALWAYS_SETTLED = frozenset({PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION})


def is_news(payment: Payment, outcome: ProviderPayment) -> bool:
    """Whether settling ``outcome`` could change ``payment`` (False only when certain)."""
    status = advance(payment.status, PaymentStatus(outcome.status))
    return (
        status is not payment.status
        or status in _ALWAYS_SETTLED
        or payment.provider_ref != outcome.provider_ref
        or outcome.amount_captured > payment.amount_captured
        or outcome.amount_refunded > payment.amount_refunded
        # A secured payment without its order (one held back earlier) is settled again.
        or (status in SECURED and payment.order_id is None)
    )

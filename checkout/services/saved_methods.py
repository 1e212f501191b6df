"""Saved payment methods of signed-in customers (API.md, "Customers").

A method is saved by paying with ``save_payment_method: true``: the charge carries the
customer's provider customer and asks the provider to keep the card; once the payment
secures money (at once, or after 3-D Secure through a refresh, a webhook or
reconciliation) the provider reports the method and ``record`` keeps its token, brand,
last four digits and expiry. Only Stripe offers this (PayPal: 422).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Connection

from checkout.db.tables import CheckoutRow, utcnow
from checkout.domain.ids import new_id
from checkout.domain.payment import Payment
from checkout.services.errors import NotFoundError, PaymentRejected, ProviderUnreachable
from checkout.services.uow import UnitOfWork
from checkout.store import erasure_tasks
from checkout.store import payment_methods as store
from checkout.store.payment_methods import SavedPaymentMethod
from providers.base import ProviderError, ProviderRejected, SavedMethod, SavedMethods

if TYPE_CHECKING:
    from checkout.services.payments import PayCommand

_CHK: sa.Table = CheckoutRow.__table__  # type: ignore[attr-defined]


class SavedMethodService:
    def __init__(self, uow: UnitOfWork, providers: Mapping[str, SavedMethods]) -> None:
        # Only providers that offer saved methods are here (Stripe).
        self._uow = uow
        self._providers = providers

    def __repr__(self) -> str:
        return "SavedMethodService()"

    async def plan(self, cmd: PayCommand) -> PayCommand:
        """The charge a saving or saved-method payment sends: the token to charge and the
        customer's provider customer. A guest, an unknown method or another customer's
        (404), and a provider without saved methods (422) stop here."""
        customer_id = cmd.customer_id
        if customer_id is None:
            field = "saved_payment_method" if cmd.saved_method else "save_payment_method"
            raise PaymentRejected(
                "Saved payment methods need a signed-in customer.", field=field, payment_id=""
            )
        if cmd.saved_method is not None:
            return await self._plan_saved(cmd, customer_id, cmd.saved_method)
        provider = self._providers.get(cmd.provider)
        if provider is None:
            raise PaymentRejected(
                f"Payment methods cannot be saved with {cmd.provider}.",
                field="save_payment_method",
                payment_id="",
            )
        return replace(cmd, provider_customer=await self._provider_customer(customer_id, provider))

    async def _plan_saved(self, cmd: PayCommand, customer_id: str, method_id: str) -> PayCommand:
        def load() -> tuple[SavedPaymentMethod | None, str | None]:
            with self._uow.read() as conn:
                method = store.get(conn, customer_id, method_id)
                return method, store.stripe_customer(conn, customer_id)[1]

        method, provider_customer = await self._uow.run(load)
        if method is None or provider_customer is None:
            raise NotFoundError("No such payment method.")
        # The buyer is here (they chose the card on the page), so the charge is on
        # session: a card that asks for 3-D Secure gets the challenge, not a decline.
        return replace(
            cmd,
            provider=method.provider,
            token=method.token,
            provider_customer=provider_customer,
            save_method=False,
        )

    async def _provider_customer(self, customer_id: str, provider: SavedMethods) -> str:
        def read() -> tuple[bool, str | None]:
            with self._uow.read() as conn:
                return store.stripe_customer(conn, customer_id)

        live, known = await self._uow.run(read)
        if not live:
            raise NotFoundError("No such customer.")
        if known is not None:
            return known
        try:
            made = await provider.ensure_customer(customer_id)
        except ProviderRejected as exc:
            raise PaymentRejected(exc.message, field="save_payment_method", payment_id="") from None
        except ProviderError:
            raise ProviderUnreachable("The payment provider did not answer; try again.") from None

        def keep() -> str:
            with self._uow.write() as conn:
                return store.set_stripe_customer(conn, customer_id, made)

        return await self._uow.run(keep)

    def record(self, conn: Connection, payment: Payment, saved: SavedMethod) -> None:
        """Keep the method a secured payment saved (in the payment's transaction)."""
        if not payment.save_method or payment.provider_customer is None:
            return
        customer_id = conn.execute(
            sa.select(_CHK.c.customer_id).where(_CHK.c.id == payment.checkout_id)
        ).scalar()
        live, provider_customer = (
            (False, None) if customer_id is None else store.stripe_customer(conn, customer_id)
        )
        if not live or provider_customer != payment.provider_customer or customer_id is None:
            # The customer was erased while the payment was confirmed: the card must not
            # stay with the provider for nobody.
            erasure_tasks.enqueue(conn, erasure_tasks.DETACH_METHOD, payment.provider, saved.token)
            return
        store.insert_if_absent(
            conn,
            SavedPaymentMethod(
                id=new_id("pm"),
                customer_id=customer_id,
                provider=payment.provider,
                token=saved.token,
                brand=saved.brand,
                last4=saved.last4,
                exp_month=saved.exp_month,
                exp_year=saved.exp_year,
                created_at=utcnow(),
            ),
        )

    async def list(self, customer_id: str) -> list[SavedPaymentMethod]:
        def work() -> list[SavedPaymentMethod]:
            with self._uow.read() as conn:
                return store.for_customer(conn, customer_id)

        return await self._uow.run(work)

    async def delete(self, customer_id: str, method_id: str) -> None:
        """Detach the method at the provider, then forget it (a provider outage: 502, and
        the method stays listed, so the customer can try again)."""

        def load() -> SavedPaymentMethod | None:
            with self._uow.read() as conn:
                return store.get(conn, customer_id, method_id)

        method = await self._uow.run(load)
        if method is None:
            raise NotFoundError("No such payment method.")
        provider = self._providers.get(method.provider)
        if provider is not None:
            try:
                await provider.detach(method.token)
            except ProviderError:
                raise ProviderUnreachable(
                    "The payment provider did not answer; the method is still saved."
                ) from None

        def forget() -> None:
            with self._uow.write() as conn:
                store.delete(conn, method.id)

        await self._uow.run(forget)

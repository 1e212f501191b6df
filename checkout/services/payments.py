"""Paying a checkout: write ahead, call the provider, settle.

1. One transaction locks the checkout, re-prices it from the catalog, and inserts the
   payment as ``processing`` with its idempotency key; a partial unique index allows one
   active payment per checkout, so a double click cannot start a second charge.
2. The provider is called outside any transaction, with a key derived from our payment
   id, so a retry reaches the provider as the same request.
3. A second transaction applies the provider's answer through the state machine and,
   once money is secured, creates the order and completes the checkout, atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from checkout.db.tables import utcnow
from checkout.domain.checkout import Checkout
from checkout.domain.errors import PriceChanged
from checkout.domain.ids import new_id
from checkout.domain.money import Money
from checkout.domain.orders import order_status
from checkout.domain.payment import SECURED, Payment, PaymentStatus, advance
from checkout.domain.pricing import price_cart
from checkout.services.checkouts import CheckoutAccess, CheckoutService, requested_lines
from checkout.services.errors import (
    ConflictError,
    NotFoundError,
    PaymentDeclined,
    PaymentRejected,
    ProviderDown,
)
from checkout.services.order_events import follow_payment
from checkout.services.saved_methods import SavedMethodService
from checkout.services.uow import UnitOfWork
from checkout.store import catalog as catalog_store
from checkout.store import checkouts as checkout_store
from checkout.store import orders as order_store
from checkout.store import payments as store
from customers.pii import FieldCipher
from providers.base import (
    ChargeRequest,
    PaymentProvider,
    ProviderDeclined,
    ProviderError,
    ProviderPayment,
    ProviderRejected,
    ProviderUnavailable,
)

log = logging.getLogger("checkout.payments")


@dataclass(frozen=True, slots=True)
class PayCommand:
    provider: str
    token: str = field(repr=False)
    return_url: str | None = None
    # A signed-in customer's payment may keep its method (`save_method`) or use a saved
    # one (`saved_method`, our pm_ id); `provider_customer` is filled in by the plan.
    customer_id: str | None = None
    save_method: bool = False
    saved_method: str | None = None
    provider_customer: str | None = field(default=None, repr=False)


class PaymentService:
    def __init__(
        self,
        uow: UnitOfWork,
        checkouts: CheckoutService,
        cipher: FieldCipher,
        providers: Mapping[str, PaymentProvider],
        *,
        capture_mode: str,
        lease: timedelta,
        saved: SavedMethodService | None = None,
    ) -> None:
        self._uow = uow
        self._checkouts = checkouts
        self._order_codec = checkouts.codec.for_table(order_store.TABLE)
        self._providers = providers
        self._capture = capture_mode == "automatic"
        self._lease = lease
        self._saved = saved

    async def pay(self, checkout_id: str, access: CheckoutAccess, cmd: PayCommand) -> Payment:
        if cmd.save_method or cmd.saved_method is not None:
            if self._saved is None:
                raise PaymentRejected(
                    "Saved payment methods are not offered.",
                    field="save_payment_method",
                    payment_id="",
                )
            cmd = await self._saved.plan(cmd)
        provider = self._providers.get(cmd.provider)
        if provider is None:
            raise PaymentRejected(
                f"Provider {cmd.provider!r} is not enabled.", field="provider", payment_id=""
            )
        payment = await self._uow.run(lambda: self._write_ahead(checkout_id, access, cmd))
        if payment is None:
            raise PriceChanged("prices changed since the checkout was priced")
        return await self._send_charge(payment, provider)

    async def _send_charge(self, payment: Payment, provider: PaymentProvider) -> Payment:
        """Ask the provider to charge a written-ahead payment (again, under its own key,
        when taking one over) and record the answer."""
        checkout_id = payment.checkout_id
        try:
            outcome = await provider.charge(
                ChargeRequest(
                    payment_id=payment.id,
                    amount=payment.amount.amount,
                    currency=payment.amount.currency,
                    # The stored ones: a taken-over charge must be sent exactly as first.
                    token=payment.payment_token or "",
                    capture=payment.capture_method == "automatic",
                    idempotency_key=payment.key_for("charge"),
                    return_url=payment.return_url,
                    description=f"Checkout {checkout_id}",
                    reference=checkout_id,
                    customer=payment.provider_customer,
                    save_method=payment.save_method,
                    # Only the buyer at the page pays with a saved method here.
                    off_session=False,
                )
            )
        except ProviderDeclined as exc:
            await self._uow.run(
                partial(self._fail, payment, exc.decline_code, exc.message, exc.provider_ref)
            )
            raise PaymentDeclined(
                exc.message, decline_code=exc.decline_code, payment_id=payment.id
            ) from None
        except ProviderRejected as exc:
            await self._uow.run(partial(self._fail, payment, "invalid_request", exc.message, None))
            field = (
                "payment_token" if exc.param in (None, "payment_method", "payment_token") else None
            )
            raise PaymentRejected(exc.message, field=field, payment_id=payment.id) from None
        except ProviderUnavailable as exc:
            # The charge may or may not have happened: the payment stays processing, and
            # the same key settles it later (refresh, webhook or reconciliation).
            log.warning(
                "provider unavailable",
                extra={"payment_id": payment.id, "provider": payment.provider},
            )
            raise ProviderDown(exc.message, payment_id=payment.id) from None
        except ProviderError as exc:
            log.error(
                "provider refused our request",
                extra={"payment_id": payment.id, "provider": payment.provider},
            )
            await self._uow.run(partial(self._fail, payment, "provider_error", exc.message, None))
            raise ProviderDown(
                "The payment provider refused the request.", payment_id=payment.id
            ) from None
        settled = await self._uow.run(lambda: self._settle(payment.id, outcome))
        if settled.status is PaymentStatus.FAILED:
            raise PaymentDeclined(
                settled.failure_message or "The payment was declined.",
                decline_code=settled.decline_code or "declined",
                payment_id=settled.id,
            )
        return settled

    async def resume(self, payment_id: str) -> Payment | None:
        """Re-send a charge whose outcome never reached us, once its lease has run out
        (reconciliation); None when there is nothing to resume."""

        def take() -> Payment | None:
            with self._uow.write() as s:
                current = store.load(s, payment_id, for_update=True)
                return None if current is None else self._claim_lease(s, current)

        payment = await self._uow.run(take)
        provider = self._providers.get(payment.provider) if payment else None
        if payment is None or provider is None:
            return None
        return await self._send_charge(payment, provider)

    async def settle(self, payment_id: str, outcome: ProviderPayment) -> Payment:
        """Apply what the provider says about a payment (a webhook, reconciliation)."""
        return await self._uow.run(lambda: self._settle(payment_id, outcome))

    async def refresh(self, checkout_id: str, payment_id: str, access: CheckoutAccess) -> Payment:
        """Ask the provider where the payment stands (after 3-D Secure, say) and apply it."""

        def load() -> Payment:
            with self._uow.read() as s:
                self._checkouts.authorized(s, checkout_id, access)
                payment = store.load(s, payment_id)
            if payment is None or payment.checkout_id != checkout_id:
                raise NotFoundError("No such payment.")
            return payment

        payment = await self._uow.run(load)
        provider = self._providers.get(payment.provider)
        if payment.provider_ref is None or provider is None:
            # Nothing to ask about yet: the charge's outcome never reached us.
            return payment
        try:
            outcome = await provider.fetch(payment.provider_ref)
        except ProviderError as exc:
            raise ProviderDown(exc.message, payment_id=payment.id) from None
        return await self._uow.run(lambda: self._settle(payment.id, outcome))

    def _write_ahead(
        self, checkout_id: str, access: CheckoutAccess, cmd: PayCommand
    ) -> Payment | None:
        """The new processing payment, or None when the checkout had to be re-priced."""
        with self._uow.write() as s:
            checkout = self._checkouts.authorized(s, checkout_id, access, for_update=True)
            checkout.ensure_open()
            if cmd.provider_customer is not None and checkout.customer_id != cmd.customer_id:
                # A saved card pays, and is saved, only on the customer's own checkout.
                field = "saved_payment_method" if cmd.saved_method else "save_payment_method"
                raise PaymentRejected(
                    "Saved payment methods work on the signed-in customer's own checkouts.",
                    field=field,
                    payment_id="",
                )
            if self._repriced(s, checkout):
                return None
            active = store.active_for_checkout(s, checkout.id)
            if active is not None:
                return self._take_over(s, active, cmd)
            pay_id = new_id("pay")
            payment = Payment(
                id=pay_id,
                checkout_id=checkout.id,
                order_id=None,
                provider=cmd.provider,
                provider_ref=None,
                status=PaymentStatus.PROCESSING,
                amount=checkout.cart.total,
                amount_captured=0,
                amount_refunded=0,
                capture_method="automatic" if self._capture else "manual",
                idempotency_key=pay_id,
                payment_token=cmd.token,
                return_url=cmd.return_url,
                locked_until=utcnow() + self._lease,
                provider_customer=cmd.provider_customer,
                save_method=cmd.save_method,
            )
            try:
                # The partial unique index is the guard: one active payment per checkout,
                # whichever process or request gets there first. A violation ends this
                # transaction, so no savepoint is needed around it.
                store.insert(s, payment)
            except IntegrityError:
                raise ConflictError("A payment for this checkout is already in progress.") from None
            return payment

    def _take_over(self, s: Connection, active: Payment, cmd: PayCommand) -> Payment:
        """A second "Pay" for a checkout with a payment already started.

        While the first request may still be waiting on the provider, 409. Past its lease
        the charge's outcome never reached us (a crash, a timeout): this request re-sends
        the very same charge, same key and same parameters, so the provider answers with
        what it did the first time instead of charging again.
        """
        if active.status is PaymentStatus.PROCESSING and active.provider != cmd.provider:
            raise ConflictError("A payment with another provider is being confirmed.")
        taken = self._claim_lease(s, active)
        if taken is None:
            raise ConflictError("A payment for this checkout is already in progress.")
        return taken

    def _claim_lease(self, s: Connection, payment: Payment) -> Payment | None:
        """Take over a ``processing`` payment whose lease ran out (its request presumed
        dead): the payment with a fresh lease, or None if it is not ours to take."""
        now = utcnow()
        if payment.status is not PaymentStatus.PROCESSING or (
            payment.locked_until is not None and payment.locked_until > now
        ):
            return None
        taken = replace(payment, locked_until=now + self._lease)
        if not store.save(s, payment, taken):
            return None
        return replace(taken, version=payment.version + 1)

    def _repriced(self, s: Connection, checkout: Checkout) -> bool:
        lines = requested_lines(checkout.cart)
        catalog = catalog_store.products_by_sku(s, (ln.sku for ln in lines))
        fresh = price_cart(checkout.cart.currency, lines, catalog)
        if fresh == checkout.cart:
            return False
        # Charging a stale total would bill the buyer a price the shop no longer asks;
        # store the new one and let the buyer confirm it before paying.
        checkout_store.update(
            s, self._checkouts.codec, checkout, cart=fresh, contact=checkout.contact
        )
        return True

    def _fail(self, payment: Payment, code: str, message: str, ref: str | None) -> None:
        with self._uow.write() as s:
            current = store.load(s, payment.id, for_update=True)
            if current is None or current.status is not PaymentStatus.PROCESSING:
                return
            store.save(
                s,
                current,
                replace(
                    current,
                    status=advance(current.status, PaymentStatus.FAILED),
                    provider_ref=current.provider_ref or ref,
                    decline_code=code,
                    failure_message=message[:500],
                ),
            )

    def _settle(self, payment_id: str, outcome: ProviderPayment) -> Payment:
        with self._uow.write() as s:
            current = store.load(s, payment_id, for_update=True)
            if current is None:
                raise NotFoundError("No such payment.")
            status = advance(current.status, PaymentStatus(outcome.status))
            after = replace(
                current,
                provider_ref=outcome.provider_ref,
                status=status,
                amount_captured=max(current.amount_captured, outcome.amount_captured),
                amount_refunded=max(current.amount_refunded, outcome.amount_refunded),
                decline_code=outcome.decline_code if status is PaymentStatus.FAILED else None,
                failure_message=(
                    outcome.failure_message if status is PaymentStatus.FAILED else None
                ),
                next_action=_next_action(outcome)
                if status is PaymentStatus.REQUIRES_ACTION
                else None,
            )
            if status in SECURED and current.order_id is None:
                after = self._create_order(s, after, outcome)
            if status in SECURED and outcome.saved_method is not None and self._saved:
                self._saved.record(s, after, outcome.saved_method)
            if not store.save(s, current, after):
                # Unreachable while the row lock (or SQLite's write lock) is held; a silent
                # lost update here would be a payment state nobody recorded.
                raise ConflictError("The payment changed meanwhile; refresh it.")
            follow_payment(s, current, after)
            return after

    def _create_order(self, s: Connection, payment: Payment, outcome: ProviderPayment) -> Payment:
        reported = Money(outcome.amount, outcome.currency)
        if reported != payment.amount:
            # Never mark an order paid for money that does not match what was asked.
            log.error("provider amount mismatch", extra={"payment_id": payment.id})
            return replace(
                payment,
                failure_message="amount mismatch: held for review",
                review_reason=(
                    f"provider reported {reported.amount} {reported.currency}, "
                    f"asked {payment.amount.amount} {payment.amount.currency}"
                )[:100],
            )
        checkout_row = checkout_store.load(
            s, self._checkouts.codec, payment.checkout_id, for_update=True
        )
        if checkout_row is None:
            raise NotFoundError("No such checkout.")
        checkout = checkout_row[0]
        if checkout.cart.total != payment.amount:
            # The cart moved after this payment started: do not ship a cart nobody paid for.
            log.error("checkout total differs from payment", extra={"payment_id": payment.id})
            return replace(
                payment,
                failure_message="checkout changed: held for review",
                review_reason=(
                    f"checkout total is now {checkout.cart.total.amount} "
                    f"{checkout.cart.total.currency}"
                )[:100],
            )
        order_id = new_id("ord")
        status = order_status(payment.status)
        assert status is not None  # only secured payments get here
        order_store.insert_from_checkout(s, self._order_codec, checkout, order_id, status)
        if not checkout_store.complete(s, checkout, order_id):
            raise ConflictError("The checkout was completed by another payment.")
        return replace(payment, order_id=order_id)


def _next_action(outcome: ProviderPayment) -> dict[str, str] | None:
    action = outcome.next_action
    if action is None:
        return None
    if action.type == "redirect" and action.url:
        return {"type": "redirect", "url": action.url}
    return {"type": "provider_sdk", "client_secret": action.client_secret or ""}

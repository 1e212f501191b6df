"""Creating the PayPal order a buyer approves before a checkout is paid with PayPal.

The order is made server-side for the checkout's current total, tagged with the checkout
id; paying later checks the order still carries both (providers/paypal/adapter.py).
"""

from __future__ import annotations

from checkout.domain.checkout import Checkout
from checkout.services.checkouts import CheckoutAccess, CheckoutService
from checkout.services.errors import PaymentRejected, ProviderDown
from checkout.services.uow import UnitOfWork
from providers.base import ProviderError, ProviderRejected
from providers.paypal import PayPalProvider


class PayPalOrders:
    def __init__(
        self,
        uow: UnitOfWork,
        checkouts: CheckoutService,
        provider: PayPalProvider | None,
        *,
        capture_mode: str,
    ) -> None:
        self._uow = uow
        self._checkouts = checkouts
        self._provider = provider
        self._capture = capture_mode == "automatic"

    async def create(
        self,
        checkout_id: str,
        access: CheckoutAccess,
        *,
        return_url: str | None,
        cancel_url: str | None,
    ) -> tuple[str, str]:
        """A PayPal order for the checkout's current total: its id and approval URL."""
        if self._provider is None:
            raise PaymentRejected("PayPal is not enabled.", field="provider", payment_id="")

        def load() -> Checkout:
            with self._uow.read() as conn:
                checkout = self._checkouts.authorized(conn, checkout_id, access)
            checkout.ensure_open()
            return checkout

        checkout = await self._uow.run(load)
        total = checkout.cart.total
        try:
            return await self._provider.create_order(
                amount=total.amount,
                currency=total.currency,
                reference=checkout.id,
                capture=self._capture,
                # One order per version of the cart: a double click gets the same order,
                # a changed cart a new one.
                request_id=f"{checkout.id}:paypal-order:{checkout.version}",
                return_url=return_url,
                cancel_url=cancel_url,
            )
        except ProviderRejected as exc:
            raise PaymentRejected(exc.message, field=None, payment_id="") from None
        except ProviderError as exc:
            raise ProviderDown(exc.message, payment_id="") from None
